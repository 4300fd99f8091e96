#include "site_agent/submit.h"

#include <filesystem>

#include "common/audit/canary_protocol.h"
#include "common/data/table_io.h"
#include "common/privacy/budget.h"
#include "common/privacy/digest.h"
#include "protocol/codec.h"
#include "site_agent/audit_job.h"
#include "site_agent/local_ledger.h"
#include "spdlog/spdlog.h"

namespace fedsyn::site {
namespace {

// Room for the envelope of an uploadModel message around the model bytes.
constexpr size_t kMessageOverheadBytes = 64 << 10;

// A committed release that carries canaries reveals its audit job's secrets, once.
absl::Status RevealIfAudited(CoordinatorClient& client, LocalLedger& ledger,
                             const std::string& release_id) {
  ASSIGN_OR_RETURN(const std::optional<AuditJobRecord> job, ledger.FindAuditJob(release_id));
  if (!job || job->state != AuditJobState::kCommitted) return absl::OkStatus();
  return RevealAuditJob(client, ledger, *job);
}

absl::Status UploadAndCommit(CoordinatorClient& client, LocalLedger& ledger,
                             const LocalRelease& release, int max_chunks, bool& committed) {
  ASSIGN_OR_RETURN(const std::string rows, SpoolRows(release.spool_path));
  if (privacy::Sha256Hex(rows) != release.sha256) {
    return absl::DataLossError("spooled release " + release.spool_path +
                               " no longer matches its recorded hash");
  }
  if (release.mode == ReleaseMode::kCodes) {
    // The coordinator checks these bytes against the reservation's model SHA-256.
    ASSIGN_OR_RETURN(const std::string model,
                     data::ReadFileToString(PublishedModelPath(release.spool_path)));
    RETURN_IF_ERROR(client.UploadModel(release.release_id, model));
  }
  ASSIGN_OR_RETURN(const bool complete,
                   client.Upload(release.release_id, rows, static_cast<size_t>(release.chunk_bytes),
                                 max_chunks));
  if (!complete) return absl::OkStatus();  // stopped early on purpose; ResumePending finishes
  spdlog::debug("release {}: uploaded; committing", release.release_id);
  RETURN_IF_ERROR(client.Commit(release.release_id, release.rows, release.sha256));
  spdlog::debug("release {}: committed at the coordinator; recording it", release.release_id);
  RETURN_IF_ERROR(ledger.SetState(release.release_id, SiteReleaseState::kCommitted));
  committed = true;
  return RevealIfAudited(client, ledger, release.release_id);
}

}  // namespace

absl::StatusOr<std::string> SpoolRows(const std::string& spool_path) {
  ASSIGN_OR_RETURN(const std::string text, data::ReadFileToString(spool_path));
  const size_t header_end = text.find('\n');
  if (header_end == std::string::npos)
    return absl::DataLossError(spool_path + " has no header line");
  return text.substr(header_end + 1);
}

namespace {

// A release ready for the ledgers: what they record, all decided before any noise is drawn, and
// the step that draws it. The generators (a VAE through the metric mechanism or from its prior,
// the marginal model) differ only in how they fill this in.
struct PlannedRelease {
  ReleaseMode mode = ReleaseMode::kSynthetic;
  int64_t rows = 0;
  privacy::Charge charge;                                   // as prepared, with the model's hash
  std::optional<privacy::MetricMechanismParams> mechanism;  // none: model-only
  const data::Schema* schema = nullptr;                     // compared with the federation's
  std::string guarantee;
  // Draws the noise and writes the spool file (header line first). Returns the rows written.
  std::function<absl::StatusOr<int64_t>()> generate;
};

// What every submission starts from: the site's budget for the dataset, the spool, the release
// id (the audit job's, when audited) and the site's ledger.
struct Submission {
  int64_t limit_micros = 0;
  std::optional<AuditJobRecord> audit_job;
  std::string release_id, spool_path;
  std::unique_ptr<LocalLedger> ledger;
};

absl::StatusOr<Submission> BeginSubmission(const SiteKit& kit, const std::string& dataset,
                                           const std::string& audit_job_id,
                                           privacy::RandomSource& rng,
                                           const ClientOptions& options) {
  Submission submission;
  const auto limit = kit.limits_micros.find(dataset);
  if (limit == kit.limits_micros.end()) {
    return absl::FailedPreconditionError(
        "the site kit declares no budget of its own for dataset '" + dataset +
        "' ([budgets] in site.toml)");
  }
  submission.limit_micros = limit->second;
  std::error_code error;
  std::filesystem::create_directories(kit.spool_dir, error);
  if (error)
    return absl::PermissionDeniedError("cannot create spool " + kit.spool_dir + ": " +
                                       error.message());
  ASSIGN_OR_RETURN(submission.ledger, OpenLedger(kit, options));
  if (!audit_job_id.empty()) {
    ASSIGN_OR_RETURN(submission.audit_job, LoadOpenAuditJob(*submission.ledger, audit_job_id));
    if (submission.audit_job->dataset != dataset) {
      return absl::InvalidArgumentError("audit job " + audit_job_id + " is for dataset " +
                                        submission.audit_job->dataset + ", not " + dataset);
    }
  }
  // An audited release carries its job's id: that is how the coordinator pairs them.
  submission.release_id = submission.audit_job
                              ? submission.audit_job->release_id
                              : audit::NewReleaseId([&rng] { return rng.NextU64(); });
  submission.spool_path =
      (std::filesystem::path(kit.spool_dir) / (submission.release_id + ".csv")).string();
  return submission;
}

// Steps 2 to 5 of submit.h, the same for every generator.
absl::StatusOr<SubmitSummary> SubmitPlanned(const PlannedRelease& plan, Submission& submission,
                                            const SiteKit& kit, const std::string& dataset,
                                            privacy::RandomSource& rng,
                                            const ClientOptions& options, int max_chunks) {
  SubmitSummary summary;
  summary.release_id = submission.release_id;
  summary.spool_path = submission.spool_path;
  summary.charge_micros = plan.charge.release_micros;
  summary.guarantee = plan.guarantee;
  summary.rows = plan.rows;
  LocalLedger& ledger = *submission.ledger;

  // 2. The federation's schema must be the release's, or the release is refused here.
  ASSIGN_OR_RETURN(auto client, CoordinatorClient::Connect(kit, options,
                                                           [&rng] { return rng.UniformOpen01(); }));
  ASSIGN_OR_RETURN(const protocol::DatasetGrant grant, client->Grant(dataset));
  ASSIGN_OR_RETURN(const data::Schema federation_schema,
                   data::Schema::Parse(grant.schema_toml, "federation schema of " + dataset));
  if (absl::Status same = data::CheckSameDomains(*plan.schema, federation_schema); !same.ok()) {
    return absl::FailedPreconditionError(
        "the release's schema does not match the federation's schema for " + dataset + ": " +
        std::string(same.message()));
  }
  if (submission.audit_job) {
    // The commitment again (idempotent): `audit-job` recorded the job before sending it, so a
    // connection lost right then leaves a job the coordinator never saw committed.
    RETURN_IF_ERROR(
        client->CommitCanaries(submission.audit_job->release_id, submission.audit_job->commitment));
  }

  // 3. The site's own ledger first, then the coordinator's.
  ASSIGN_OR_RETURN(
      const int64_t local_charge,
      ledger.BeginRelease(summary.release_id, dataset, plan.charge, submission.limit_micros));
  // Debug lines mark each step of a release (bench/reliability/fault_injection.sh kills on them).
  spdlog::debug("release {}: reserving at the coordinator", summary.release_id);
  protocol::Reserve reserve{summary.release_id, dataset, plan.charge, plan.rows, plan.mode};
  reserve.relation = privacy::kReleaseRelation;
  reserve.mechanism = plan.mechanism;
  auto reserved = client->Reserve(reserve);
  if (!reserved.ok()) {
    // Refused before any noise was drawn: nothing left the site, the local charge is returned.
    // A lost connection leaves the outcome unknown: ResumePending settles it.
    if (reserved.status().code() != absl::StatusCode::kUnavailable &&
        reserved.status().code() != absl::StatusCode::kDeadlineExceeded) {
      RETURN_IF_ERROR(ledger.SetState(summary.release_id, SiteReleaseState::kRefused));
    }
    return reserved.status();
  }
  summary.coordinator_remaining_micros = reserved->remaining_micros;
  summary.charged_micros = reserved->charged_micros;
  if (reserved->charged_micros != local_charge) {
    // Both ledgers keep their own (conservative) record; a difference is worth a look.
    spdlog::warn("release {}: the coordinator charged {} micro-epsilon, this site's ledger {}",
                 summary.release_id, reserved->charged_micros, local_charge);
  }
  RETURN_IF_ERROR(ledger.SetState(summary.release_id, SiteReleaseState::kReserved));
  spdlog::debug("release {}: reserved; generating", summary.release_id);

  // 4. Only now: draw the noise and persist the result before anything is sent. The session
  // is closed meanwhile (generation can outlast the coordinator's idle deadline) and dialled
  // again for the upload.
  client.reset();
  ASSIGN_OR_RETURN(const int64_t generated_rows, plan.generate());
  ASSIGN_OR_RETURN(const std::string rows, SpoolRows(summary.spool_path));
  const LocalRelease local{summary.release_id,
                           dataset,
                           plan.charge.release_micros,
                           SiteReleaseState::kGenerated,
                           summary.spool_path,
                           privacy::Sha256Hex(rows),
                           generated_rows,
                           static_cast<int64_t>(options.chunk_bytes),
                           plan.mode};
  RETURN_IF_ERROR(ledger.MarkGenerated(local));
  spdlog::info("release {} generated and spooled ({} rows); uploading", summary.release_id,
               generated_rows);

  // 5. Upload and commit.
  ASSIGN_OR_RETURN(
      client, CoordinatorClient::Connect(kit, options, [&rng] { return rng.UniformOpen01(); }));
  RETURN_IF_ERROR(UploadAndCommit(*client, ledger, local, max_chunks, summary.committed));
  return summary;
}

}  // namespace

absl::StatusOr<SubmitSummary> SubmitRelease(ReleaseRequest request, const SiteKit& kit,
                                            const std::string& dataset, privacy::RandomSource& rng,
                                            const ClientOptions& options, int max_chunks) {
  ASSIGN_OR_RETURN(Submission submission,
                   BeginSubmission(kit, dataset, request.audit_job, rng, options));
  request.output = submission.spool_path;
  // The spool holds the rows to upload, for programs: values verbatim (the export neutralises).
  request.formula_cells = data::FormulaCells::kKeep;

  // 1. Prepare: read and put the records in a random order (no noise drawn yet).
  ASSIGN_OR_RETURN(PreparedRelease prepared, PrepareRelease(request, rng));
  if (prepared.bundle.kind != model::DataKind::kTable) {
    return absl::UnimplementedError("only table releases federate in this version");
  }
  const std::string trained_for = model::TrainingParameterText(prepared.bundle, "dataset");
  if (prepared.bundle.model_private && trained_for != dataset) {
    // The model's epsilon is charged once, to the dataset whose records trained it.
    return absl::FailedPreconditionError(
        trained_for.empty()
            ? "the model does not name the dataset it was trained on, so its epsilon cannot be "
              "charged to the right budget: train it with --dataset " +
                  dataset
            : "the model was trained for dataset '" + trained_for +
                  "' and its epsilon is charged "
                  "there; it cannot release to '" +
                  dataset + "'");
  }
  std::optional<AuditJobRecord>& audit_job = submission.audit_job;
  if (audit_job &&
      model::TrainingParameterText(prepared.bundle, "audit_job") != audit_job->release_id) {
    // A model trained before the job was opened cannot hold the job's canaries.
    return absl::FailedPreconditionError("the model was not trained under audit job " +
                                         audit_job->release_id + ": train it with --audit-job " +
                                         audit_job->release_id + " (after the job was opened)");
  }
  const bool model_only = request.mode == ReleaseMode::kModelOnly;
  if (audit_job) {
    // Model-only: the canaries are in the model's training data, and nothing else is read.
    RETURN_IF_ERROR(
        CarryCanaries(*audit_job, *submission.ledger, *prepared.bundle.schema,
                      model_only ? nullptr : &prepared.table->table,
                      model_only ? CanaryPlacement::kModelOnly : CanaryPlacement::kRevealedRows));
    prepared.rows = prepared.table->table.num_rows();
  }

  // A DP-trained model's epsilon is paid once per model, identified by the SHA-256 of its
  // published form (what codes mode ships; the coordinator can check it).
  ASSIGN_OR_RETURN(const std::string published, model::PublishedModelBytes(prepared.bundle));
  if (published.size() + kMessageOverheadBytes > protocol::kMaxMessageBytes) {
    return absl::InvalidArgumentError("the published decoder (" + std::to_string(published.size()) +
                                      " bytes) is larger than a protocol message may be");
  }
  PlannedRelease plan;
  plan.mode = request.mode;
  plan.rows = prepared.rows;
  plan.charge = prepared.charge;
  plan.charge.model_sha256 = privacy::Sha256Hex(published);
  if (prepared.mechanism) plan.mechanism = prepared.mechanism->params();
  plan.schema = &*prepared.bundle.schema;
  plan.guarantee = prepared.guarantee.Describe();
  plan.generate = [&]() -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(const ReleaseSummary generated, GenerateRelease(request, prepared, rng));
    return generated.rows;
  };
  return SubmitPlanned(plan, submission, kit, dataset, rng, options, max_chunks);
}

absl::StatusOr<SubmitSummary> SubmitMarginalSynthesis(
    MarginalSynthesisRequest request, const std::string& audit_job_id, const SiteKit& kit,
    const std::string& dataset, privacy::RandomSource& rng, const ClientOptions& options,
    int max_chunks) {
  ASSIGN_OR_RETURN(Submission submission,
                   BeginSubmission(kit, dataset, audit_job_id, rng, options));
  request.output = submission.spool_path;
  request.formula_cells = data::FormulaCells::kKeep;
  // 1. Prepare: read, bound contributions, fix epsilon and delta (nothing measured yet).
  ASSIGN_OR_RETURN(PreparedMarginalSynthesis prepared, PrepareMarginalSynthesis(request, rng));
  if (submission.audit_job) {
    // The canaries join the records the marginals are measured on; no output row is theirs.
    RETURN_IF_ERROR(CarryCanaries(*submission.audit_job, *submission.ledger, prepared.schema,
                                  &prepared.input.table, CanaryPlacement::kModelOnly));
  }
  PlannedRelease plan;
  plan.mode = ReleaseMode::kModelOnly;
  plan.rows = prepared.RowsToSample(request);
  plan.charge = prepared.charge;  // every output row is the model's sample: no release part
  // A marginal model is fitted for this release and used by no other: it is identified by the
  // release, so its epsilon is charged exactly once, here.
  plan.charge.model_sha256 =
      privacy::Sha256Hex("fedsyn marginal model of release " + submission.release_id);
  plan.schema = &prepared.schema;
  plan.guarantee = prepared.guarantee_summary;
  plan.generate = [&]() -> absl::StatusOr<int64_t> {
    ASSIGN_OR_RETURN(const MarginalSynthesisSummary generated,
                     GenerateMarginalSynthesis(request, prepared, rng));
    return generated.rows;
  };
  return SubmitPlanned(plan, submission, kit, dataset, rng, options, max_chunks);
}

absl::StatusOr<int> ResumePending(const SiteKit& kit, const ClientOptions& options,
                                  std::function<double()> uniform01) {
  ASSIGN_OR_RETURN(auto ledger, OpenLedger(kit, options));
  ASSIGN_OR_RETURN(const std::vector<LocalRelease> releases, ledger->Releases());
  std::unique_ptr<CoordinatorClient> client;
  int committed_count = 0;
  for (const LocalRelease& release : releases) {
    if (release.state == SiteReleaseState::kRefused ||
        release.state == SiteReleaseState::kAbandoned)
      continue;
    if (release.state == SiteReleaseState::kCommitted) {
      // Committed, but the reveal may have been cut off.
      ASSIGN_OR_RETURN(const std::optional<AuditJobRecord> job,
                       ledger->FindAuditJob(release.release_id));
      if (!job || job->state != AuditJobState::kCommitted) continue;
    }
    if (!client) {
      ASSIGN_OR_RETURN(client, CoordinatorClient::Connect(kit, options, uniform01));
    }
    if (release.state == SiteReleaseState::kCommitted) {
      RETURN_IF_ERROR(RevealIfAudited(*client, *ledger, release.release_id));
      continue;
    }
    if (release.state == SiteReleaseState::kGenerated) {
      bool committed = false;
      RETURN_IF_ERROR(UploadAndCommit(*client, *ledger, release, -1, committed));
      committed_count += committed;
      spdlog::info("release {} resumed and committed", release.release_id);
      continue;
    }
    // Interrupted before its output was persisted: the records must not be noised again
    // under this reservation. Settle it.
    ASSIGN_OR_RETURN(const protocol::ReleaseState state, client->State(release.release_id));
    const SiteReleaseState settled = state.state == protocol::ReleaseProgress::kUnknown
                                         ? SiteReleaseState::kRefused
                                         : SiteReleaseState::kAbandoned;
    RETURN_IF_ERROR(ledger->SetState(release.release_id, settled));
    spdlog::warn("release {} was interrupted before its output was persisted: {}",
                 release.release_id, SiteReleaseStateName(settled));
  }
  return committed_count;
}

}  // namespace fedsyn::site
