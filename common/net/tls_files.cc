// CheckTlsFiles (tls.h): what `--check-config` verifies of a program's TLS files, with OpenSSL
// and nothing of Asio.
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <utility>

#include "common/net/openssl_handles.h"
#include "common/net/revocation.h"
#include "common/net/tls.h"

namespace fedsyn::net {
std::vector<std::string> CheckTlsFiles(const TlsFiles& files, int warn_days) {
  std::vector<std::string> problems;
  struct stat info {};
  for (const auto& [what, path] :
       {std::pair<const char*, const std::string&>{"CA certificate", files.ca_file},
        {"certificate", files.cert_file},
        {"private key", files.key_file}}) {
    if (path.empty()) {
      problems.push_back(std::string("no ") + what + " file is named");
    } else if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) {
      problems.push_back(std::string(what) + " " + path + ": no such file");
    }
  }
  if (!problems.empty()) return problems;

  if (stat(files.key_file.c_str(), &info) == 0 && (info.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", static_cast<unsigned>(info.st_mode & 0777));
    problems.push_back("private key " + files.key_file + " is readable by others (mode " + mode +
                       "); chmod 600 it");
  }
  const auto ca = ReadCertificate(files.ca_file);
  const auto certificate = ReadCertificate(files.cert_file);
  const auto key = ReadPrivateKey(files.key_file);
  if (!ca) problems.push_back("CA certificate " + files.ca_file + " is not a PEM certificate");
  if (!certificate)
    problems.push_back("certificate " + files.cert_file + " is not a PEM certificate");
  if (!key) problems.push_back("private key " + files.key_file + " is not a PEM private key");
  if (certificate && key && X509_check_private_key(certificate.get(), key.get()) != 1)
    problems.push_back("private key " + files.key_file + " does not belong to " + files.cert_file);
  if (certificate) {
    const std::time_t now = std::time(nullptr);
    const std::time_t soon = now + static_cast<std::time_t>(warn_days) * 86400;
    std::time_t at = now;
    if (X509_cmp_time(X509_get0_notBefore(certificate.get()), &at) > 0) {
      problems.push_back("certificate " + files.cert_file + " is not valid yet");
    } else if (X509_cmp_time(X509_get0_notAfter(certificate.get()), &at) < 0) {
      problems.push_back("certificate " + files.cert_file + " has expired");
    } else if (std::time_t later = soon;
               X509_cmp_time(X509_get0_notAfter(certificate.get()), &later) < 0) {
      problems.push_back("certificate " + files.cert_file + " expires within " +
                         std::to_string(warn_days) + " days; renew it");
    }
  }
  if (ca && certificate) {
    OpenSslPtr<X509_STORE> store(X509_STORE_new());
    OpenSslPtr<X509_STORE_CTX> context(X509_STORE_CTX_new());
    // Signature and chain only: validity dates are reported above, in words.
    bool signed_by_ca = false;
    if (store && context && X509_STORE_add_cert(store.get(), ca.get()) == 1 &&
        X509_STORE_CTX_init(context.get(), store.get(), certificate.get(), nullptr) == 1) {
      X509_STORE_CTX_set_flags(context.get(), X509_V_FLAG_NO_CHECK_TIME);
      signed_by_ca = X509_verify_cert(context.get()) == 1;
    }
    if (!signed_by_ca) {
      problems.push_back("certificate " + files.cert_file + " is not signed by the CA " +
                         files.ca_file);
    }
  }
  if (!files.crl_file.empty()) {
    const absl::StatusOr<RevocationList> crl = LoadRevocationList(files.crl_file, files.ca_file);
    if (!crl.ok()) {
      problems.push_back(std::string(crl.status().message()));
    } else if (crl->next_update_unix != 0 && crl->next_update_unix < std::time(nullptr)) {
      problems.push_back("CRL " + files.crl_file +
                         " is past its next update; regenerate it (deploy/pki/pki.sh crl)");
    }
  }
  return problems;
}

std::vector<std::string> CheckServiceFiles(
    const TlsFiles& files, const std::vector<std::pair<std::string, std::string>>& created) {
  std::vector<std::string> problems = CheckTlsFiles(files);
  for (const auto& [what, path] : created) {
    struct stat info {};
    const std::string folder = std::filesystem::absolute(path).parent_path().string();
    if (stat(folder.c_str(), &info) != 0 || !S_ISDIR(info.st_mode))
      problems.push_back(what + " " + path + ": its folder " + folder + " does not exist");
  }
  return problems;
}

}  // namespace fedsyn::net
