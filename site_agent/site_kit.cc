#include "site_agent/site_kit.h"

#include <cmath>
#include <filesystem>

#include "common/privacy/budget.h"
#include "toml++/toml.h"

namespace fedsyn::site {

absl::StatusOr<SiteKit> LoadSiteKit(const std::string& path) {
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(path + ":" + std::to_string(e.source().begin.line) + ": " +
                                      std::string(e.description()));
  }
  const std::filesystem::path base = std::filesystem::path(path).parent_path();
  auto resolve = [&base](const std::string& p) {
    return p.empty() || std::filesystem::path(p).is_absolute() ? p : (base / p).string();
  };
  SiteKit kit;
  kit.site_id = root["site_id"].value_or(std::string());
  kit.coordinator = root["coordinator"].value_or(std::string());
  kit.ca_file = resolve(root["ca"].value_or(std::string()));
  kit.cert_file = resolve(root["cert"].value_or(std::string()));
  kit.key_file = resolve(root["key"].value_or(std::string()));
  kit.ledger_path = resolve(root["ledger"].value_or(std::string("site-ledger.db")));
  kit.spool_dir = resolve(root["spool"].value_or(std::string("spool")));
  if (kit.site_id.empty() || kit.coordinator.empty() || kit.ca_file.empty() ||
      kit.cert_file.empty() || kit.key_file.empty()) {
    return absl::InvalidArgumentError(path +
                                      ": site_id, coordinator, ca, cert and key are required");
  }
  if (const toml::table* budgets = root["budgets"].as_table()) {
    for (const auto& [dataset, value] : *budgets) {
      const auto epsilon = value.value<double>();
      if (!epsilon || !std::isfinite(*epsilon) || *epsilon < 0 || *epsilon > 1e6) {
        return absl::InvalidArgumentError(path + ": budget for " + std::string(dataset.str()) +
                                          " must be a number in [0, 1e6]");
      }
      kit.limits_micros[std::string(dataset.str())] =
          static_cast<int64_t>(std::floor(*epsilon * privacy::kMicrosPerEpsilon));
    }
  }
  return kit;
}

}  // namespace fedsyn::site
