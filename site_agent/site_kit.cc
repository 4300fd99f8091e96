#include "site_agent/site_kit.h"

#include "common/data/toml_file.h"
#include "common/privacy/budget.h"

namespace fedsyn::site {

absl::StatusOr<SiteKit> LoadSiteKit(const std::string& path) {
  ASSIGN_OR_RETURN(const data::TomlFile file, data::TomlFile::Load(path));
  RETURN_IF_ERROR(file.CheckKeys(
      file.root(), {"site_id", "coordinator", "ca", "cert", "key", "ledger", "spool", "budgets"}));
  SiteKit kit;
  kit.site_id = file.String("site_id");
  kit.coordinator = file.String("coordinator");
  kit.ca_file = file.Path("ca");
  kit.cert_file = file.Path("cert");
  kit.key_file = file.Path("key");
  kit.ledger_path = file.Path("ledger", "site-ledger.db");
  kit.spool_dir = file.Path("spool", "spool");
  if (kit.site_id.empty() || kit.coordinator.empty() || kit.ca_file.empty() ||
      kit.cert_file.empty() || kit.key_file.empty()) {
    return absl::InvalidArgumentError(path +
                                      ": site_id, coordinator, ca, cert and key are required");
  }
  if (const toml::table* budgets = file.root()["budgets"].as_table()) {
    for (const auto& [dataset, value] : *budgets) {
      const auto limit = privacy::EpsilonToLimitMicros(value.value<double>().value_or(-1));
      if (!limit.ok()) {
        return absl::InvalidArgumentError(path + ": budget for " + std::string(dataset.str()) +
                                          ": " + std::string(limit.status().message()));
      }
      kit.limits_micros[std::string(dataset.str())] = *limit;
    }
  }
  return kit;
}

}  // namespace fedsyn::site
