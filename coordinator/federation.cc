#include "coordinator/federation.h"

#include <cmath>
#include <filesystem>

#include "common/privacy/budget.h"
#include "toml++/toml.h"

namespace fedsyn::coordinator {

const DatasetDeclaration* CoordinatorConfig::FindDataset(const std::string& name) const {
  for (const DatasetDeclaration& d : datasets) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

absl::StatusOr<CoordinatorConfig> LoadCoordinatorConfig(const std::string& path) {
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
  CoordinatorConfig config;
  config.listen = root["listen"].value_or(config.listen);
  config.admin_listen = root["admin_listen"].value_or(config.admin_listen);
  config.database = resolve(root["database"].value_or(config.database));
  config.ca_file = resolve(root["ca"].value_or(std::string()));
  config.cert_file = resolve(root["cert"].value_or(std::string()));
  config.key_file = resolve(root["key"].value_or(std::string()));
  if (config.ca_file.empty() || config.cert_file.empty() || config.key_file.empty()) {
    return absl::InvalidArgumentError(path + ": ca, cert and key are required");
  }
  if (const toml::array* datasets = root["dataset"].as_array()) {
    for (const toml::node& node : *datasets) {
      const toml::table* t = node.as_table();
      const auto name = t ? (*t)["name"].value<std::string>() : std::nullopt;
      const auto schema_path = t ? (*t)["schema"].value<std::string>() : std::nullopt;
      if (!name || !schema_path)
        return absl::InvalidArgumentError(path + ": [[dataset]] needs name and schema");
      ASSIGN_OR_RETURN(data::Schema schema, data::Schema::LoadFile(resolve(*schema_path)));
      if (config.FindDataset(*name))
        return absl::InvalidArgumentError(path + ": dataset " + *name + " declared twice");
      config.datasets.push_back({*name, std::move(schema)});
    }
  }
  if (config.datasets.empty())
    return absl::InvalidArgumentError(path + ": declare at least one [[dataset]]");
  if (const toml::array* sites = root["site"].as_array()) {
    for (const toml::node& node : *sites) {
      const toml::table* t = node.as_table();
      const auto id = t ? (*t)["id"].value<std::string>() : std::nullopt;
      const toml::table* budgets = t ? (*t)["budgets"].as_table() : nullptr;
      if (!id || !budgets)
        return absl::InvalidArgumentError(path + ": [[site]] needs id and budgets");
      for (const auto& [dataset, value] : *budgets) {
        const auto epsilon = value.value<double>();
        if (!config.FindDataset(std::string(dataset.str()))) {
          return absl::InvalidArgumentError(path + ": site " + *id +
                                            " has a budget for undeclared dataset " +
                                            std::string(dataset.str()));
        }
        if (!epsilon || !std::isfinite(*epsilon) || *epsilon < 0 || *epsilon > 1e6) {
          return absl::InvalidArgumentError(path + ": site " + *id +
                                            ": budget must be a number in [0, 1e6]");
        }
        config.limits[*id][std::string(dataset.str())] =
            static_cast<int64_t>(std::floor(*epsilon * privacy::kMicrosPerEpsilon));
      }
    }
  }
  return config;
}

}  // namespace fedsyn::coordinator
