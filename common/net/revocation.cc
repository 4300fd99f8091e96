#include "common/net/revocation.h"

#include <sys/stat.h>

#include "common/net/openssl_handles.h"
#include "spdlog/spdlog.h"

namespace fedsyn::net {
absl::StatusOr<RevocationList> LoadRevocationList(const std::string& crl_file,
                                                  const std::string& ca_file) {
  const OpenSslPtr<X509_CRL> crl = ReadCrl(crl_file);
  if (!crl) return absl::InvalidArgumentError("CRL " + crl_file + " is missing or not a PEM CRL");
  const OpenSslPtr<X509> ca = ReadCertificate(ca_file);
  if (!ca)
    return absl::InvalidArgumentError("CA certificate " + ca_file + " is not a PEM certificate");
  if (X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())) != 0 ||
      X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())) != 1) {
    return absl::InvalidArgumentError("CRL " + crl_file + " is not signed by the CA " + ca_file);
  }
  RevocationList list;
  list.last_update_unix = UnixTime(X509_CRL_get0_lastUpdate(crl.get()));
  list.next_update_unix = UnixTime(X509_CRL_get0_nextUpdate(crl.get()));
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
  for (int i = 0; i < sk_X509_REVOKED_num(revoked); ++i) {
    const std::string serial =
        SerialHex(X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(revoked, i)));
    if (serial.empty())
      return absl::InvalidArgumentError("CRL " + crl_file + " holds an unreadable serial number");
    list.serials.insert(serial);
  }
  return list;
}

bool RevocationWatcher::FileSignature::operator==(const FileSignature& other) const {
  return inode == other.inode && size == other.size && modified.tv_sec == other.modified.tv_sec &&
         modified.tv_nsec == other.modified.tv_nsec;
}

RevocationWatcher::FileSignature RevocationWatcher::Look(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return {};
  return {info.st_ino, info.st_size, info.st_mtim};
}

absl::StatusOr<std::unique_ptr<RevocationWatcher>> RevocationWatcher::Open(std::string crl_file,
                                                                           std::string ca_file) {
  const FileSignature seen = Look(crl_file);
  ASSIGN_OR_RETURN(RevocationList list, LoadRevocationList(crl_file, ca_file));
  return std::unique_ptr<RevocationWatcher>(
      new RevocationWatcher(std::move(crl_file), std::move(ca_file), std::move(list), seen));
}

RevocationWatcher::RevocationWatcher(std::string crl_file, std::string ca_file, RevocationList list,
                                     FileSignature seen)
    : crl_file_(std::move(crl_file)),
      ca_file_(std::move(ca_file)),
      in_force_(std::move(list)),
      seen_(seen) {}

void RevocationWatcher::RefreshLocked() {
  const FileSignature now = Look(crl_file_);
  if (now == seen_) return;
  // Remember this version whatever its fate, so a bad file is reported once, not per handshake.
  seen_ = now;
  absl::StatusOr<RevocationList> loaded = LoadRevocationList(crl_file_, ca_file_);
  if (!loaded.ok()) {
    spdlog::error("{}; the CRL loaded before stays in force ({} revoked)",
                  std::string(loaded.status().message()), in_force_.serials.size());
    return;
  }
  if (loaded->last_update_unix < in_force_.last_update_unix) {
    spdlog::error("CRL {} is older than the one in force (a rollback); the newer one stays",
                  crl_file_);
    return;
  }
  in_force_ = std::move(*loaded);
  spdlog::info("CRL {} reloaded: {} revoked certificate(s)", crl_file_, in_force_.serials.size());
  if (in_force_.next_update_unix != 0 && in_force_.next_update_unix < std::time(nullptr)) {
    spdlog::warn(
        "CRL {} is past its next update; it is still enforced — regenerate it "
        "(deploy/pki/pki.sh crl)",
        crl_file_);
  }
}

bool RevocationWatcher::IsRevoked(const std::string& serial_hex) {
  std::lock_guard lock(mutex_);
  RefreshLocked();
  return in_force_.serials.contains(serial_hex);
}

}  // namespace fedsyn::net
