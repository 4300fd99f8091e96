#include "coordinator/cli/coordinator_command.h"

#include <cstdio>

#include "common/base/exit_codes.h"
#include "coordinator/admin.h"
#include "coordinator/admin_client.h"
#include "coordinator/cli/dashboard_view.h"
#include "coordinator/federation.h"

namespace fedsyn::coordinator::cli {

int Fail(const absl::Status& status) { return base::ReportFailure("fedsyn-coordinator", status); }

absl::StatusOr<std::unique_ptr<Storage>> OpenDatabase(const std::string& config_path,
                                                      const std::string& db_path, bool read_only) {
  if (!db_path.empty()) return OpenSqliteStorage(db_path, read_only);
  ASSIGN_OR_RETURN(const CoordinatorConfig config, LoadCoordinatorConfig(config_path));
  return OpenStorage(config.database, read_only);
}

void ReadTarget::Add(CLI::App& cmd) {
  cmd.add_option("--config", config_path,
                 "coordinator.toml (admin address and CA; alone: its database, read-only)")
      ->check(CLI::ExistingFile);
  cmd.add_option("--admin-cert", admin_cert, "admin certificate (from deploy/pki/pki.sh admin)");
  cmd.add_option("--admin-key", admin_key, "admin private key");
  cmd.add_option("--db", db_path, "read a stopped coordinator's database directly (read-only)")
      ->check(CLI::ExistingFile);
}

std::string ReadTarget::Missing() const {
  if (live() && (config_path.empty() || admin_cert.empty() || admin_key.empty()))
    return "give --config with both --admin-cert and --admin-key";
  if (!live() && config_path.empty() && db_path.empty())
    return "give --config with --admin-cert and --admin-key (a running coordinator), or --db "
           "or --config alone (its database, read-only)";
  return "";
}

absl::StatusOr<protocol::AdminResponse> ReadTarget::Read(
    const protocol::AdminRequest& request) const {
  if (live()) {
    ASSIGN_OR_RETURN(const CoordinatorConfig config, LoadCoordinatorConfig(config_path));
    return QueryAdmin(config.admin_listen, {config.ca_file, admin_cert, admin_key}, request);
  }
  ASSIGN_OR_RETURN(auto storage, OpenDatabase(config_path, db_path, /*read_only=*/true));
  protocol::AdminResponse response = HandleAdminRequest(request, *storage, {});
  if (const auto* error = std::get_if<protocol::Error>(&response))
    return absl::Status(error->code, error->message);
  return response;
}

int ReadTarget::ReadThen(const protocol::AdminRequest& request,
                         const std::function<int(const protocol::AdminResponse&)>& use) const {
  if (const std::string missing = Missing(); !missing.empty()) {
    std::fprintf(stderr, "fedsyn-coordinator: %s\n", missing.c_str());
    return base::kExitUsage;
  }
  auto response = Read(request);
  if (!response.ok()) return Fail(response.status());
  return use(*response);
}

int ReadTarget::ReadAndShow(const protocol::AdminRequest& request, bool json, bool one) const {
  return ReadThen(request, [&](const protocol::AdminResponse& response) -> int {
    Show(response, json, one);
    return base::kExitOk;
  });
}

}  // namespace fedsyn::coordinator::cli
