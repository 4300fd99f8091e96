// Plain C++ messages of the site API and the admin API. Cap'n Proto types stay inside
// codec.cc: everything above the protocol layer sees only these structs.
#ifndef FEDSYN_PROTOCOL_MESSAGES_H_
#define FEDSYN_PROTOCOL_MESSAGES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "common/audit/canary_protocol.h"
#include "common/privacy/budget.h"
#include "common/privacy/metric_mechanism.h"
#include "common/privacy/rdp_accountant.h"
#include "common/privacy/release_mode.h"

namespace fedsyn::protocol {

// Bumped on any incompatible change; a peer speaking another version is refused in the hello
// with a message naming both versions. Version 2 carries modes, states, inclusion bits and
// canary positions as enums and lists instead of text.
inline constexpr uint32_t kProtocolVersion = 2;

// ---- site API: agent -> coordinator
struct Hello {
  uint32_t protocol_version = kProtocolVersion;
  std::string agent_version;
};
struct Reserve {
  std::string release_id;
  std::string dataset;
  privacy::Charge charge;  // the release's own epsilon and its model's, as the site prepared them
  int64_t rows = 0;
  privacy::ReleaseMode mode = privacy::ReleaseMode::kSynthetic;
  // The relation the claim is stated under; none when the agent did not state one.
  std::optional<privacy::NeighbouringRelation> relation;
  // The metric mechanism behind charge.release_micros; none for a model-only release. The
  // codec carries what the peer sent; privacy::MetricMechanism::Create judges it.
  std::optional<privacy::MetricMechanismParams> mechanism;
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
  audit::InclusionBits bits;
  std::string salt;
  std::vector<int64_t> positions;  // ascending; empty for a model-only release
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
// How far the coordinator got with a release: unknown (never reserved, or refused), reserved
// (chunks may be missing), committed.
enum class ReleaseProgress { kUnknown, kReserved, kCommitted };
inline const char* ReleaseProgressName(ReleaseProgress progress) {
  switch (progress) {
    case ReleaseProgress::kReserved:
      return "reserved";
    case ReleaseProgress::kCommitted:
      return "committed";
    case ReleaseProgress::kUnknown:
      break;
  }
  return "unknown";
}
struct ReleaseState {
  std::string release_id;
  ReleaseProgress state = ReleaseProgress::kUnknown;
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
  audit::AuditState state = audit::AuditState::kIssued;
};
using SiteResponse = std::variant<Error, Welcome, Reserved, ChunkAck, Committed, HeartbeatReply,
                                  ReleaseState, ModelStored, AuditJob, AuditStateReply>;

// ---- admin API
// The dashboard's reads: sites, budgets, releases, every canary audit, one audit in full.
enum class AdminQuery { kStatus, kBudgets, kReleases, kAudits, kAudit };
struct AdminRequest {
  uint32_t protocol_version = kProtocolVersion;
  AdminQuery query = AdminQuery::kStatus;
  std::string release_id;  // kAudit only
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
  std::string certificate_serial;          // the certificate the site last connected with (hex)
  int64_t certificate_not_after_unix = 0;  // its expiry; 0: the site never connected
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
  ReleaseProgress state = ReleaseProgress::kReserved;
  int64_t charge_micros = 0;
  int64_t rows = 0;
  std::string sha256;
  int64_t created_unix = 0;
  bool model_private = false;
  privacy::ReleaseMode mode = privacy::ReleaseMode::kSynthetic;
  audit::AuditStatus audit = audit::AuditStatus::kPending;
  bool approved = false;
};
// One canary audit and where its release stands at the gate (docs/audits.md).
struct AuditInfo {
  std::string release_id;
  std::string site_id;
  std::string dataset;
  audit::AuditState state = audit::AuditState::kIssued;
  int64_t canaries = 0;
  int64_t included = 0;                                      // one per pair once revealed; 0 before
  audit::AuditStatus status = audit::AuditStatus::kPending;  // pending until its release exists
  std::string why;                                           // the gate's one-line reason
  int64_t claimed_micros = -1;                               // -1 until judged
  int64_t lower_bound_micros = -1;                           // -1 until judged
  bool approved = false;
  std::string approved_by, approval_reason;
  int64_t approved_unix = 0;
  // kAudit only: the verdict's whole report (JSON) and when it was made; empty until judged.
  std::string verdict_json;
  int64_t judged_unix = 0;
};
using AdminResponse = std::variant<Error, std::vector<SiteStatus>, std::vector<Budget>,
                                   std::vector<ReleaseInfo>, std::vector<AuditInfo>>;

}  // namespace fedsyn::protocol

#endif  // FEDSYN_PROTOCOL_MESSAGES_H_
