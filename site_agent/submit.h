// A release into the federation, in the order DESIGN.md §2.8 demands:
//   1. prepare (model, mechanism, exact charge; the site's records read; no noise drawn);
//   2. check the model's schema against the federation's declaration of the dataset;
//   3. charge the site's own ledger (refuses first), then reserve at the coordinator (the
//      authority; idempotent by release id) — both durable before anything else happens;
//   4. draw the noise, persist the synthetic rows to the spool (fsync) — only now;
//   5. upload in chunks, each acknowledged after the coordinator's durable write; commit with
//      row count and SHA-256.
// A crash after 4 is finished by ResumePending, which resends the persisted bytes: the noise is
// never drawn twice for one reservation.
#ifndef FEDSYN_SITE_AGENT_SUBMIT_H_
#define FEDSYN_SITE_AGENT_SUBMIT_H_

#include <functional>
#include <string>

#include "site_agent/coordinator_client.h"
#include "site_agent/marginal_release.h"
#include "site_agent/pipeline.h"
#include "site_agent/site_kit.h"

namespace fedsyn::site {

struct SubmitSummary {
  std::string release_id;
  int64_t charge_micros = 0;   // the release's own charge per record
  int64_t charged_micros = 0;  // what the coordinator charged: release + model on its first use
  int64_t rows = 0;
  int64_t coordinator_remaining_micros = 0;
  std::string guarantee;  // one line, as in the manifest
  std::string spool_path;
  bool committed = false;
};

// `request.output` is ignored: outputs go to the kit's spool. Only table models federate in
// this version. With `request.audit_job`, the release takes the job's id, carries its included
// canaries, and reveals the job after its commit (audit_job.h). `max_chunks` >= 0 stops the upload
// early (tests: an agent dying mid-upload).
absl::StatusOr<SubmitSummary> SubmitRelease(ReleaseRequest request, const SiteKit& kit,
                                            const std::string& dataset, privacy::RandomSource& rng,
                                            const ClientOptions& options, int max_chunks = -1);

// The marginal generator into the federation (marginal_release.h), in the same order: the
// release is model-only (no epsilon of its own; its model's epsilon and delta are the fit's,
// charged once) and its rows are samples. With `audit_job_id`, the job's included canaries join
// the measured records (no positions are revealed: no output row is theirs). `request.output`
// is ignored: outputs go to the kit's spool.
absl::StatusOr<SubmitSummary> SubmitMarginalSynthesis(
    MarginalSynthesisRequest request, const std::string& audit_job_id, const SiteKit& kit,
    const std::string& dataset, privacy::RandomSource& rng, const ClientOptions& options,
    int max_chunks = -1);

// Finishes every release that was persisted but not committed; settles releases interrupted
// before their noise was persisted (refused if the coordinator never reserved them,
// abandoned — charge kept — otherwise). Returns how many releases it committed.
absl::StatusOr<int> ResumePending(const SiteKit& kit, const ClientOptions& options,
                                  std::function<double()> uniform01);

// The CSV body of a synthetic output file (everything after its header line).
absl::StatusOr<std::string> SpoolRows(const std::string& spool_path);

}  // namespace fedsyn::site

#endif  // FEDSYN_SITE_AGENT_SUBMIT_H_
