// Certificate revocation for the coordinator's listeners: the federation CA's certificate
// revocation list (CRL, written by deploy/pki/pki.sh), checked at every handshake and reloaded
// when its file changes, without a restart.
#ifndef FEDSYN_COMMON_NET_REVOCATION_H_
#define FEDSYN_COMMON_NET_REVOCATION_H_

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "common/base/status.h"

namespace fedsyn::net {

// What a CRL revokes, once checked: PEM, issued by the CA of `ca_file` and signed by its key.
struct RevocationList {
  std::set<std::string> serials;  // upper-case hex, as the CA's index and `openssl x509` print
  int64_t last_update_unix = 0;
  int64_t next_update_unix = 0;  // 0: the CRL names no next update
};

// InvalidArgument naming the file when it is missing, not a PEM CRL, issued by another CA or
// not signed by this CA's key.
absl::StatusOr<RevocationList> LoadRevocationList(const std::string& crl_file,
                                                  const std::string& ca_file);

// The CRL in force for a listener. Each IsRevoked call first looks at the file (one stat) and
// re-reads it if its inode, size or modification time changed. A changed file that does not
// load — a torn write, another CA's CRL, a bad signature, or an older CRL than the one in force
// (a rollback would un-revoke sites) — is logged once and the CRL in force stays: revocations
// are never forgotten because of a bad file. An expired CRL (past its next update) is still
// enforced, with a warning, because refusing every site over a missed regeneration would stop
// the federation; `--check-config` reports it.
class RevocationWatcher {
 public:
  // Fails as LoadRevocationList does: a coordinator configured with a CRL does not start
  // without a valid one.
  static absl::StatusOr<std::unique_ptr<RevocationWatcher>> Open(std::string crl_file,
                                                                 std::string ca_file);

  bool IsRevoked(const std::string& serial_hex);

 private:
  struct FileSignature {
    ino_t inode = 0;
    off_t size = -1;
    timespec modified{};
    bool operator==(const FileSignature& other) const;
  };
  RevocationWatcher(std::string crl_file, std::string ca_file, RevocationList list,
                    FileSignature seen);
  static FileSignature Look(const std::string& path);
  void RefreshLocked();

  const std::string crl_file_;
  const std::string ca_file_;
  std::mutex mutex_;  // guards everything below
  RevocationList in_force_;
  FileSignature seen_;
};

}  // namespace fedsyn::net

#endif  // FEDSYN_COMMON_NET_REVOCATION_H_
