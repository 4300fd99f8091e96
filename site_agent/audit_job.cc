#include "site_agent/audit_job.h"

#include <algorithm>

#include "common/audit/canary_protocol.h"
#include "common/data/table_io.h"
#include "spdlog/spdlog.h"

namespace fedsyn::site {

absl::StatusOr<AuditJobRecord> OpenAuditJob(const SiteKit& kit, const std::string& dataset,
                                            privacy::RandomSource& rng,
                                            const ClientOptions& options) {
  ASSIGN_OR_RETURN(auto client, CoordinatorClient::Connect(kit, options,
                                                           [&rng] { return rng.UniformOpen01(); }));
  RETURN_IF_ERROR(client->Grant(dataset).status());
  AuditJobRecord job;
  job.release_id = audit::NewReleaseId([&rng] { return rng.NextU64(); });
  job.dataset = dataset;
  ASSIGN_OR_RETURN(const protocol::AuditJob issued, client->OpenAudit(job.release_id, dataset));
  if (issued.count == 0) return job;  // the dataset is not audited
  if (issued.count % 2 != 0) {
    return absl::InvalidArgumentError("the coordinator issued " + std::to_string(issued.count) +
                                      " canaries; audits need pairs");
  }
  job.canaries = issued.canaries;
  const auto random_u64 = [&rng] { return rng.NextU64(); };
  job.bits = audit::DrawInclusionBits(static_cast<int>(issued.count / 2), random_u64);
  job.salt = audit::NewSalt(random_u64);
  job.commitment = audit::CommitToBits(job.bits, job.salt);
  ASSIGN_OR_RETURN(auto ledger, OpenLedger(kit, options));
  RETURN_IF_ERROR(ledger->AddAuditJob(job));  // durable before the commitment leaves
  RETURN_IF_ERROR(client->CommitCanaries(job.release_id, job.commitment));
  spdlog::info("audit job {} for {}: {} canaries, commitment sent", job.release_id, dataset,
               issued.count);
  return job;
}

absl::StatusOr<AuditJobRecord> LoadOpenAuditJob(const SiteKit& kit, const std::string& job_id) {
  ASSIGN_OR_RETURN(auto ledger, LocalLedger::Open(kit.ledger_path));
  return LoadOpenAuditJob(*ledger, job_id);
}

absl::StatusOr<AuditJobRecord> LoadOpenAuditJob(LocalLedger& ledger, const std::string& job_id) {
  ASSIGN_OR_RETURN(const std::optional<AuditJobRecord> job, ledger.FindAuditJob(job_id));
  if (!job) return absl::NotFoundError("no audit job " + job_id + " in the site's ledger");
  if (job->state != AuditJobState::kCommitted) {
    return absl::FailedPreconditionError("audit job " + job_id +
                                         " was used by its release already; open a new one");
  }
  return *job;
}

absl::StatusOr<data::Table> IncludedCanaries(const AuditJobRecord& job,
                                             const data::Schema& schema) {
  ASSIGN_OR_RETURN(data::ReadResult issued,
                   data::ParseCsvTable(job.canaries, schema, "canaries of " + job.release_id,
                                       data::HeaderlessCsvFormat()));
  return audit::SelectIncludedCanaries(std::move(issued.table), job.bits,
                                       "audit job " + job.release_id);
}

absl::StatusOr<std::vector<int64_t>> InsertIncludedCanaries(const AuditJobRecord& job,
                                                            const data::Schema& schema,
                                                            data::Table& records) {
  ASSIGN_OR_RETURN(data::Table canaries, IncludedCanaries(job, schema));
  return audit::PlaceCanaries(job.salt, std::move(canaries), records);
}

absl::Status CarryCanaries(AuditJobRecord& job, LocalLedger& ledger, const data::Schema& schema,
                           data::Table* input, CanaryPlacement placement) {
  ASSIGN_OR_RETURN(const std::vector<LocalRelease> known, ledger.Releases());
  for (const LocalRelease& r : known) {
    if (r.release_id == job.release_id && r.state != SiteReleaseState::kRefused) {
      return absl::FailedPreconditionError(
          "audit job " + r.release_id + " already has a release (" + SiteReleaseStateName(r.state) +
          "); open a new audit job");
    }
  }
  job.positions.clear();
  if (input != nullptr) {
    ASSIGN_OR_RETURN(std::vector<int64_t> positions, InsertIncludedCanaries(job, schema, *input));
    if (placement == CanaryPlacement::kRevealedRows) job.positions = std::move(positions);
  }
  return ledger.SetAuditJobPositions(job.release_id, job.positions);
}

absl::Status RevealAuditJob(CoordinatorClient& client, LocalLedger& ledger,
                            const AuditJobRecord& job) {
  RETURN_IF_ERROR(client.RevealCanaries({job.release_id, job.bits, job.salt, job.positions}));
  RETURN_IF_ERROR(ledger.SetAuditJobState(job.release_id, AuditJobState::kRevealed));
  spdlog::info("audit job {}: inclusion bits revealed", job.release_id);
  return absl::OkStatus();
}

}  // namespace fedsyn::site
