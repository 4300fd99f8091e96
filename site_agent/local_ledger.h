// The site's own ledger (SQLite, synchronous=FULL): every release this site ever started, its
// charge and how far it got. The site enforces its own limit here BEFORE asking the
// coordinator, and the spool path of a generated release lets a retry resend the same bytes.
//
// States: reserving (local charge taken, coordinator not yet asked) -> reserved (coordinator
// granted) -> generated (noise drawn, output persisted) -> committed; or refused (the
// coordinator said no before any noise was drawn: the local charge is returned) or abandoned
// (the agent stopped between reservation and persisting output: charge kept, since noise may
// have been drawn).
#ifndef FEDSYN_SITE_AGENT_LOCAL_LEDGER_H_
#define FEDSYN_SITE_AGENT_LOCAL_LEDGER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/audit/canary_protocol.h"
#include "common/base/status.h"
#include "common/privacy/budget.h"
#include "common/privacy/release_mode.h"

namespace fedsyn::site {

enum class SiteReleaseState { kReserving, kReserved, kGenerated, kCommitted, kRefused, kAbandoned };
// "reserving" | "reserved" | "generated" | "committed" | "refused" | "abandoned": the names the
// ledger stores; ParseSiteReleaseState is their inverse (nullopt for anything else).
const char* SiteReleaseStateName(SiteReleaseState state);
std::optional<SiteReleaseState> ParseSiteReleaseState(std::string_view name);

// An audit job: committed (commitment sent) -> revealed (after its release is committed).
enum class AuditJobState { kCommitted, kRevealed };
const char* AuditJobStateName(AuditJobState state);  // "committed" | "revealed"
std::optional<AuditJobState> ParseAuditJobState(std::string_view name);

struct LocalRelease {
  std::string release_id;
  std::string dataset;
  int64_t charge_micros = 0;
  SiteReleaseState state = SiteReleaseState::kReserving;
  std::string spool_path;
  std::string sha256;
  int64_t rows = 0;
  // The upload's chunking, fixed per release so a resume cuts the same chunks.
  int64_t chunk_bytes = 0;
  // A codes release also sends its published decoder, spooled beside the codes
  // (PublishedModelPath(spool_path)).
  privacy::ReleaseMode mode = privacy::ReleaseMode::kSynthetic;
  // The neighbouring relation the charge is stated under ("replace-one (n public)"; releases
  // recorded before issue #11 read "add/remove one").
  std::string relation;
};

// A canary audit job (docs/audits.md): the coordinator's canaries for the release that will
// carry `release_id`, this site's secret inclusion bits and salt (revealed only after that
// release is committed), and where the included canaries landed in the release.
struct AuditJobRecord {
  std::string release_id;
  std::string dataset;
  std::string canaries;       // CSV rows (no header) in the federation schema
  audit::InclusionBits bits;  // one per canary pair
  std::string salt;
  std::string commitment;
  std::vector<int64_t> positions;  // set when the release is generated
  AuditJobState state = AuditJobState::kCommitted;
};

class LocalLedger {
 public:
  static absl::StatusOr<std::unique_ptr<LocalLedger>> Open(const std::string& path);
  virtual ~LocalLedger() = default;

  // Charges the release's part of `charge` — plus the model's unless a release of this model
  // (by SHA-256) already paid for it on `dataset` (privacy::ModelPartDue) — against `limit`
  // (sum over releases not refused) and records the release as "reserving", atomically.
  // Returns the total charged. ResourceExhausted (with the remainder in the message) when it
  // would exceed the limit; InvalidArgument for a charge that fails privacy::Charge::Validate.
  virtual absl::StatusOr<int64_t> BeginRelease(const std::string& release_id,
                                               const std::string& dataset,
                                               const privacy::Charge& charge, int64_t limit) = 0;
  virtual absl::Status SetState(const std::string& release_id, SiteReleaseState state) = 0;
  // Records where `release` was spooled (path, hash, rows, chunking, mode) and its state
  // "generated".
  virtual absl::Status MarkGenerated(const LocalRelease& release) = 0;
  virtual absl::StatusOr<int64_t> Spent(const std::string& dataset) = 0;
  virtual absl::StatusOr<std::vector<LocalRelease>> Releases() = 0;

  // Stores a new audit job before its commitment is sent (a crash must not lose the bits the
  // commitment binds); AlreadyExists for a known id.
  virtual absl::Status AddAuditJob(const AuditJobRecord& job) = 0;
  virtual absl::StatusOr<std::optional<AuditJobRecord>> FindAuditJob(
      const std::string& release_id) = 0;
  virtual absl::Status SetAuditJobPositions(const std::string& release_id,
                                            const std::vector<int64_t>& positions) = 0;
  virtual absl::Status SetAuditJobState(const std::string& release_id, AuditJobState state) = 0;
};

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_LOCAL_LEDGER_H_
