// The site kit's configuration (site.toml, made by deploy/pki/pki.sh site): who this site is,
// where the coordinator is, its TLS files, its own ledger and spool, and its own limits.
#ifndef FEDSYN_SITE_AGENT_SITE_KIT_H_
#define FEDSYN_SITE_AGENT_SITE_KIT_H_

#include <cstdint>
#include <map>
#include <string>

#include "common/base/status.h"

namespace fedsyn::site {

struct SiteKit {
  std::string site_id;
  std::string coordinator;  // host:port
  std::string ca_file, cert_file, key_file;
  std::string ledger_path;
  std::string spool_dir;
  std::map<std::string, int64_t> limits_micros;  // dataset -> this site's own limit
};

// Relative paths resolve against the file's folder.
absl::StatusOr<SiteKit> LoadSiteKit(const std::string& path);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_SITE_KIT_H_
