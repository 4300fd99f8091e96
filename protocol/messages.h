// Plain C++ messages of the site API and the admin API. Cap'n Proto types stay inside
// codec.cc: everything above the protocol layer sees only these structs.
#ifndef FEDSYN_PROTOCOL_MESSAGES_H_
#define FEDSYN_PROTOCOL_MESSAGES_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"

namespace fedsyn::protocol {

// Bumped on any incompatible change; a peer speaking another version is refused in the hello
// with a message naming both versions.
inline constexpr uint32_t kProtocolVersion = 1;

// ---- site API: agent -> coordinator
struct Hello {
  uint32_t protocol_version = kProtocolVersion;
  std::string agent_version;
};
enum class NeighbouringRelation { kUnstated, kReplaceOne };
enum class NoiseMetric { kL2, kL1 };
// The metric mechanism of a release (privacy::MetricMechanismParams on the wire).
struct Mechanism {
  NoiseMetric metric = NoiseMetric::kL2;
  double epsilon_per_unit = 0;
  double clip_radius = 0;
  int32_t grid_exponent = 0;
  uint32_t latent_dim = 0;
  bool operator==(const Mechanism&) const = default;
};
struct Reserve {
  std::string release_id;
  std::string dataset;
  int64_t charge_micros = 0;
  int64_t rows = 0;
  std::string mode = "synthetic";
  bool model_private = false;
  std::string model_sha256;
  int64_t model_epsilon_micros = 0;
  double model_delta = 0;
  NeighbouringRelation relation = NeighbouringRelation::kUnstated;
  Mechanism mechanism;
};
struct UploadChunk {
  std::string release_id;
  uint32_t index = 0;
  std::string rows;  // CSV rows without header
};
struct Commit {
  std::string release_id;
  int64_t row_count = 0;
  std::string sha256;
};
struct Heartbeat {};
struct ReleaseStateQuery {
  std::string release_id;
};
struct UploadModel {
  std::string release_id;
  std::string model;  // published model file bytes (codes mode)
};
struct AuditJobQuery {  // the openAudit request
  std::string release_id;
  std::string dataset;
};
struct CanaryCommitment {
  std::string release_id;
  std::string commitment;
};
struct CanaryReveal {
  std::string release_id;
  std::string bits;
  std::string salt;
  std::string positions;
};
using SiteRequest = std::variant<Hello, Reserve, UploadChunk, Commit, Heartbeat, ReleaseStateQuery,
                                 UploadModel, AuditJobQuery, CanaryCommitment, CanaryReveal>;

// ---- site API: coordinator -> agent
struct Error {
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;
  int64_t remaining_micros = -1;  // >= 0 when a reservation is refused for budget
};
// A status as the wire error the peer sees (the message is for the peer's operator), and back.
inline Error ErrorFromStatus(const absl::Status& status) {
  return {status.code(), std::string(status.message()), -1};
}
inline absl::Status StatusFromError(const Error& error) {
  return absl::Status(error.code, "coordinator: " + error.message);
}

struct DatasetGrant {
  std::string name;
  std::string schema_toml;
  int64_t limit_micros = 0;
  int64_t spent_micros = 0;
};
struct Welcome {
  uint32_t protocol_version = kProtocolVersion;
  std::string site_id;
  std::vector<DatasetGrant> datasets;
};
struct Reserved {
  std::string release_id;
  int64_t remaining_micros = 0;
  bool replayed = false;
  int64_t charged_micros = 0;
};
struct ChunkAck {
  std::string release_id;
  uint32_t next_index = 0;
};
struct Committed {};
struct HeartbeatReply {};
struct ReleaseState {
  std::string release_id;
  std::string state;  // "unknown" | "reserved" | "committed"
  uint32_t next_index = 0;
};
struct ModelStored {
  std::string release_id;
};
struct AuditJob {
  std::string release_id;
  std::string canaries;  // CSV rows, no header
  uint32_t count = 0;
};
struct AuditStateReply {
  std::string release_id;
  std::string state;
};
using SiteResponse = std::variant<Error, Welcome, Reserved, ChunkAck, Committed, HeartbeatReply,
                                  ReleaseState, ModelStored, AuditJob, AuditStateReply>;

// ---- admin API
enum class AdminQuery { kStatus, kBudgets, kReleases };
struct AdminRequest {
  uint32_t protocol_version = kProtocolVersion;
  AdminQuery query = AdminQuery::kStatus;
};
struct SiteStatus {
  std::string site_id;
  bool connected = false;
  int64_t last_seen_unix = 0;
  int64_t releases = 0;
  int64_t rows = 0;
  int64_t spent_micros = 0;
  int64_t limit_micros = 0;
  int64_t audits_passed = 0;
  int64_t audits_failed = 0;
  int64_t audits_pending = 0;
};
struct Budget {
  std::string site_id;
  std::string dataset;
  int64_t limit_micros = 0;
  int64_t spent_micros = 0;
};
struct ReleaseInfo {
  std::string release_id;
  std::string site_id;
  std::string dataset;
  std::string state;
  int64_t charge_micros = 0;
  int64_t rows = 0;
  std::string sha256;
  int64_t created_unix = 0;
  bool model_private = false;
  std::string mode = "synthetic";
  std::string audit = "pending";
  bool approved = false;
};
using AdminResponse =
    std::variant<Error, std::vector<SiteStatus>, std::vector<Budget>, std::vector<ReleaseInfo>>;

}  // namespace fedsyn::protocol

#endif  // FEDSYN_PROTOCOL_MESSAGES_H_
