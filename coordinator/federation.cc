#include "coordinator/federation.h"

#include <cctype>

#include "common/base/names.h"
#include "common/data/toml_file.h"
#include "common/privacy/budget.h"
#include "coordinator/storage.h"

namespace fedsyn::coordinator {

namespace {

// Enough for tight bounds; more would only swell every audited release.
constexpr int64_t kMaxCanaries = 10000;

}  // namespace

const DatasetDeclaration* CoordinatorConfig::FindDataset(const std::string& name) const {
  for (const DatasetDeclaration& d : datasets) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

absl::StatusOr<CoordinatorConfig> LoadCoordinatorConfig(const std::string& path) {
  ASSIGN_OR_RETURN(const data::TomlFile file, data::TomlFile::Load(path));
  const toml::table& root = file.root();
  RETURN_IF_ERROR(file.CheckKeys(
      root, {"listen", "admin_listen", "database", "ca", "cert", "key", "crl", "max_connections",
             "max_connections_per_address", "handshake_timeout_seconds", "idle_timeout_seconds",
             "write_timeout_seconds", "dataset", "site"}));
  CoordinatorConfig config;
  config.listen = file.String("listen", config.listen);
  config.admin_listen = file.String("admin_listen", config.admin_listen);
  // A PostgreSQL URI is kept as written; a file name is resolved like every other path.
  const std::string database = file.String("database", config.database);
  config.database =
      IsPostgresDatabase(database) ? database : file.Path("database", config.database);
  config.ca_file = file.Path("ca");
  config.cert_file = file.Path("cert");
  config.key_file = file.Path("key");
  config.crl_file = file.Path("crl");
  if (config.ca_file.empty() || config.cert_file.empty() || config.key_file.empty()) {
    return absl::InvalidArgumentError(path + ": ca, cert and key are required");
  }
  config.max_connections =
      root["max_connections"].value<int64_t>().value_or(config.max_connections);
  config.max_connections_per_address =
      root["max_connections_per_address"].value<int64_t>().value_or(
          config.max_connections_per_address);
  constexpr int64_t kMostConnections = 1'000'000;
  if (config.max_connections < 1 || config.max_connections > kMostConnections ||
      config.max_connections_per_address < 1 ||
      config.max_connections_per_address > config.max_connections) {
    return absl::InvalidArgumentError(
        path +
        ": max_connections must be in 1..1000000 and max_connections_per_address in "
        "1..max_connections");
  }
  for (auto [key, seconds] :
       {std::pair{"handshake_timeout_seconds", &config.handshake_timeout_seconds},
        std::pair{"idle_timeout_seconds", &config.idle_timeout_seconds},
        std::pair{"write_timeout_seconds", &config.write_timeout_seconds}}) {
    *seconds = root[key].value<int64_t>().value_or(*seconds);
    if (*seconds < 1 || *seconds > 86'400)
      return absl::InvalidArgumentError(path + ": " + key + " must be in 1..86400");
  }
  if (const toml::array* datasets = root["dataset"].as_array()) {
    for (const toml::node& node : *datasets) {
      const toml::table* t = node.as_table();
      if (t)
        RETURN_IF_ERROR(file.CheckKeys(*t, {"name", "schema", "audit_canaries"}, "[[dataset]]"));
      const auto name = t ? (*t)["name"].value<std::string>() : std::nullopt;
      const auto schema_path = t ? (*t)["schema"].value<std::string>() : std::nullopt;
      if (!name || !schema_path)
        return absl::InvalidArgumentError(path + ": [[dataset]] needs name and schema");
      ASSIGN_OR_RETURN(data::Schema schema, data::Schema::LoadFile(file.Resolve(*schema_path)));
      if (!base::IsSafeName(*name)) {
        return absl::InvalidArgumentError(
            path + ": [[dataset]] name must be 1-64 characters of [A-Za-z0-9_-]");
      }
      if (config.FindDataset(*name))
        return absl::InvalidArgumentError(path + ": dataset " + *name + " declared twice");
      const int64_t canaries = (*t)["audit_canaries"].value<int64_t>().value_or(0);
      if (canaries < 0 || canaries > kMaxCanaries || canaries % 2 != 0) {
        return absl::InvalidArgumentError(path + ": dataset " + *name +
                                          ": audit_canaries must be an even number (pairs) in 0.." +
                                          std::to_string(kMaxCanaries));
      }
      config.datasets.push_back({*name, std::move(schema), static_cast<int>(canaries)});
    }
  }
  if (config.datasets.empty())
    return absl::InvalidArgumentError(path + ": declare at least one [[dataset]]");
  if (const toml::array* sites = root["site"].as_array()) {
    for (const toml::node& node : *sites) {
      const toml::table* t = node.as_table();
      if (t) RETURN_IF_ERROR(file.CheckKeys(*t, {"id", "budgets"}, "[[site]]"));
      const auto id = t ? (*t)["id"].value<std::string>() : std::nullopt;
      const toml::table* budgets = t ? (*t)["budgets"].as_table() : nullptr;
      if (!id || !budgets)
        return absl::InvalidArgumentError(path + ": [[site]] needs id and budgets");
      if (!base::IsSafeName(*id)) {
        return absl::InvalidArgumentError(path +
                                          ": [[site]] id must be 1-64 characters of [A-Za-z0-9_-]");
      }
      for (const auto& [dataset, value] : *budgets) {
        if (!config.FindDataset(std::string(dataset.str()))) {
          return absl::InvalidArgumentError(path + ": site " + *id +
                                            " has a budget for undeclared dataset " +
                                            std::string(dataset.str()));
        }
        const auto limit = privacy::EpsilonToLimitMicros(value.value<double>().value_or(-1));
        if (!limit.ok())
          return absl::InvalidArgumentError(path + ": site " + *id + ": " +
                                            std::string(limit.status().message()));
        config.limits[*id][std::string(dataset.str())] = *limit;
      }
    }
  }
  return config;
}

}  // namespace fedsyn::coordinator
