// The site's side of a canary audit (docs/audits.md). Before training, the site opens an audit
// job: the coordinator hands out canaries for the release id the site picks; the site draws
// one inclusion bit per canary and a salt with the secure generator, records them in its own
// ledger, and only then sends the commitment. The included canaries join the training records
// (`fedsyn-agent train --audit-job ID`) and the release's input at random positions
// (`fedsyn-agent submit --audit-job ID`, which releases under the job's id); once the release
// is committed, bits, salt and positions are revealed.
#ifndef FEDSYN_SITE_AGENT_AUDIT_JOB_H_
#define FEDSYN_SITE_AGENT_AUDIT_JOB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/data/schema.h"
#include "common/data/table.h"
#include "common/privacy/random.h"
#include "site_agent/coordinator_client.h"
#include "site_agent/local_ledger.h"
#include "site_agent/site_kit.h"

namespace fedsyn::site {

// Opens, records and commits an audit job for `dataset`. The returned job has no canaries
// (and nothing is recorded) when the federation does not audit the dataset.
absl::StatusOr<AuditJobRecord> OpenAuditJob(const SiteKit& kit, const std::string& dataset,
                                            privacy::RandomSource& rng,
                                            const ClientOptions& options);

// The job from the site's ledger; NotFound for an unknown id, FailedPrecondition once its
// release was revealed (one job, one release).
absl::StatusOr<AuditJobRecord> LoadOpenAuditJob(const SiteKit& kit, const std::string& job_id);
absl::StatusOr<AuditJobRecord> LoadOpenAuditJob(LocalLedger& ledger, const std::string& job_id);

// The canaries the job's bits include, one per pair (audit::IncludedCanaryIndex), as records of
// `schema` (for TrainRequest::extra_rows). DataLoss when the job's canaries are not two per bit.
absl::StatusOr<data::Table> IncludedCanaries(const AuditJobRecord& job, const data::Schema& schema);

// Inserts the job's included canaries into `records` where the job's secret salt places them
// (audit::CanaryPositions: uniformly random, hidden until the reveal, bound by the
// commitment). Returns the positions, ascending.
absl::StatusOr<std::vector<int64_t>> InsertIncludedCanaries(const AuditJobRecord& job,
                                                            const data::Schema& schema,
                                                            data::Table& records);

// Where a release's canaries end up. kRevealedRows: output row i comes from input row i (the
// metric mechanism), so the rows of included canaries are revealed and kept out of exports.
// kModelOnly: output rows are samples of a model the canaries helped fit; no row is theirs.
enum class CanaryPlacement { kRevealedRows, kModelOnly };

// Makes the next release the job's: refuses a job that already has a release (a second attempt
// could draw noise twice under one reservation); with `input`, inserts the included canaries
// into it (InsertIncludedCanaries; null: they are in the model's training data only); records
// the positions to reveal (none for kModelOnly) in the ledger before anything is reserved.
absl::Status CarryCanaries(AuditJobRecord& job, LocalLedger& ledger, const data::Schema& schema,
                           data::Table* input, CanaryPlacement placement);

// After the job's release is committed: sends bits, salt and positions; marks the job revealed.
absl::Status RevealAuditJob(CoordinatorClient& client, LocalLedger& ledger,
                            const AuditJobRecord& job);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_AUDIT_JOB_H_
