// The federation as the operator declares it in coordinator.toml: datasets with their shared
// schema, and each site's budget limit per dataset (in epsilon; kept in micro-epsilon).
//
//   listen = "127.0.0.1:7443"            # site API
//   admin_listen = "127.0.0.1:7444"      # admin API (admin certificate only)
//   database = "coordinator.db"
//   ca = "pki/ca.pem"  cert = "pki/coordinator.pem"  key = "pki/coordinator.key"
//   [[dataset]]  name = "heart"  schema = "heart_disease.schema.toml"  audit_canaries = 100
//   [[site]]     id = "cleveland"  budgets = { heart = 20.0 }
#ifndef FEDSYN_COORDINATOR_FEDERATION_H_
#define FEDSYN_COORDINATOR_FEDERATION_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/net/tls.h"

namespace fedsyn::coordinator {

struct DatasetDeclaration {
  std::string name;
  data::Schema schema;
  // Canaries per release for the canary audit (docs/audits.md); 0: releases are not audited.
  int audit_canaries = 0;
};

struct CoordinatorConfig {
  std::string listen = "127.0.0.1:7443";
  std::string admin_listen = "127.0.0.1:7444";
  std::string database = "coordinator.db";
  std::string ca_file, cert_file, key_file;
  // Optional: the CA's revocation list (deploy/pki/pki.sh crl), checked at every handshake and
  // re-read when it changes; without it no certificate is ever refused as revoked.
  std::string crl_file;
  std::vector<DatasetDeclaration> datasets;
  // site id -> dataset -> limit in micro-epsilon (rounded down: a limit never grows by rounding)
  std::map<std::string, std::map<std::string, int64_t>> limits;
  // Caps on open connections per listener (sites, admins), in total and from one IP address;
  // connections beyond them are closed at accept (docs/reliability.md, F3).
  int64_t max_connections = 256;
  int64_t max_connections_per_address = 16;
  // Deadlines in seconds (coordinator::ServerOptions): a TLS handshake; a session's next request
  // (its frame header, then its body, each within this — a peer trickling bytes is cut off);
  // writing a reply to a peer that does not read.
  int64_t handshake_timeout_seconds = 10;
  int64_t idle_timeout_seconds = 120;
  int64_t write_timeout_seconds = 30;

  const DatasetDeclaration* FindDataset(const std::string& name) const;
  // The listeners' certificate, key, trust anchor and revocation list.
  net::TlsFiles tls_files() const { return {ca_file, cert_file, key_file, crl_file}; }
};

// Parses and validates; relative paths are resolved against the config file's folder.
absl::StatusOr<CoordinatorConfig> LoadCoordinatorConfig(const std::string& path);

}  // namespace fedsyn::coordinator

#endif  // FEDSYN_COORDINATOR_FEDERATION_H_
