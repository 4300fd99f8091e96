#include "coordinator/audit_runner.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "absl/strings/str_format.h"
#include "common/audit/canary_protocol.h"
#include "common/data/table_io.h"
#include "common/eval/logistic_regression.h"
#include "common/eval/model_attacks.h"
#include "common/model/classifier.h"
#include "common/privacy/budget.h"
#include "coordinator/audit_report.h"
#include "coordinator/canary_audit.h"
#include "coordinator/decoder.h"
#include "coordinator/export.h"
#include "spdlog/spdlog.h"

namespace fedsyn::coordinator {
namespace {

using Json = nlohmann::json;

// One committed release of the dataset as the audit sees it.
struct PooledRelease {
  ReleaseRecord record;
  std::optional<AuditRecord> audit;  // revealed audits only
  data::Table rows;                  // every row, canary-derived ones included
  std::set<int64_t> canary_rows;     // known once revealed
};

absl::StatusOr<data::Table> ParseRows(const std::string& rows, const data::Schema& schema,
                                      const std::string& source) {
  ASSIGN_OR_RETURN(data::ReadResult read,
                   data::ParseCsvTable(rows, schema, source, data::HeaderlessCsvFormat()));
  return std::move(read.table);
}

// The downstream audit: a target trained on everything the sites released of the dataset
// (canary-derived rows included), attacked with the included canaries as members and the
// excluded ones as non-members: the shared suite (common/eval/model_attacks.h) with reference
// models on halves of the pooled rows without any canary-derived row, thresholds at the median
// (a fair coin included each canary).
absl::StatusOr<DownstreamAudit> RunDownstream(const DatasetDeclaration& dataset,
                                              const std::vector<PooledRelease>& pool,
                                              const AuditRunOptions& options) {
  DownstreamAudit result;
  if (!dataset.schema.label_index) {
    result.skipped = "the dataset's schema declares no label to train a target on";
    return result;
  }
  data::Table pooled, candidates;
  std::vector<bool> is_member;
  data::Table without_canaries;  // the references' data: OUT for every canary
  for (const PooledRelease& p : pool) {
    for (int64_t i = 0; i < p.rows.num_rows(); ++i) {
      pooled.rows.push_back(p.rows.rows[static_cast<size_t>(i)]);
      if (!p.canary_rows.count(i))
        without_canaries.rows.push_back(p.rows.rows[static_cast<size_t>(i)]);
    }
    if (!p.audit) continue;
    ASSIGN_OR_RETURN(const data::Table canaries, ParseRows(p.audit->canaries, dataset.schema,
                                                           "canaries of " + p.record.release_id));
    const std::vector<bool> included = audit::IncludedCanaryFlags(p.audit->bits);
    if (included.size() != canaries.rows.size()) {
      return absl::DataLossError("audit of " + p.record.release_id +
                                 ": canaries and revealed bits differ in number");
    }
    for (size_t c = 0; c < canaries.rows.size(); ++c) {
      candidates.rows.push_back(canaries.rows[c]);
      is_member.push_back(included[c]);
    }
  }
  const int64_t members = std::count(is_member.begin(), is_member.end(), true);
  const int64_t nonmembers = static_cast<int64_t>(is_member.size()) - members;
  if (members == 0 || nonmembers == 0 || pooled.rows.empty()) {
    result.skipped = "needs included and excluded canaries and released rows";
    return result;
  }
  ASSIGN_OR_RETURN(const eval::LabelledData train, eval::ToLabelledData(pooled, dataset.schema));
  ASSIGN_OR_RETURN(const eval::LabelledData probe,
                   eval::ToLabelledData(candidates, dataset.schema));
  ASSIGN_OR_RETURN(const eval::LabelledData out_data,
                   eval::ToLabelledData(without_canaries, dataset.schema));
  model::ClassifierSpec spec;
  spec.architecture = model::ClassifierArchitecture::kMlp;
  spec.input_width = static_cast<int>(train.features.cols);
  spec.num_classes = train.num_classes;
  spec.hidden = options.target_hidden;
  const eval::Trainer fit = [&](const eval::LabelledData& data,
                                uint64_t seed) -> absl::StatusOr<eval::Predictor> {
    ASSIGN_OR_RETURN(std::shared_ptr<model::Classifier> classifier,
                     model::Classifier::Create(spec, seed));
    model::ClassifierTrainOptions o;
    o.epochs = options.target_epochs;
    o.seed = seed;
    RETURN_IF_ERROR(classifier->Train(data.features, data.labels, o));
    return [classifier](const data::Matrix& x) { return classifier->LogProbabilities(x); };
  };
  std::mt19937_64 design(options.seed);  // seeded: experiment design, not privacy noise
  ASSIGN_OR_RETURN(
      const eval::ModelAttackSuite suite,
      eval::ModelAttackSuite::Prepare(out_data, probe, options.reference_models, fit, design));
  ASSIGN_OR_RETURN(const eval::Predictor target, fit(train, options.seed));
  ASSIGN_OR_RETURN(result.attacks,
                   suite.Attack(target(probe.features), is_member, eval::ThresholdRule::kMedian,
                                options.bootstrap, options.seed));
  for (const eval::NamedAttack& attack : result.attacks) {
    if (attack.metrics.tpr_at_01pct_fpr.estimate >= result.worst_tpr) {
      result.worst_tpr = attack.metrics.tpr_at_01pct_fpr.estimate;
      result.worst_attack = attack.name;
    }
  }
  result.ran = true;
  result.pooled_rows = pooled.num_rows();
  result.members = members;
  result.nonmembers = nonmembers;
  result.target_hidden = options.target_hidden;
  result.target_epochs = options.target_epochs;
  result.reference_models = options.reference_models;
  result.exceeds_threshold = result.worst_tpr > options.max_tpr_at_01pct_fpr;
  return result;
}

// The canaries' membership scores against one release: in record space from its rows, or for
// a codes-mode release in its latent space (released codes against the canaries' codes under
// its published encoder: sharper than comparing with decoded samples).
// What the coordinator can tell from a release about its canaries: their scores and, in codes
// mode with a stated mechanism, whether they are present at all.
struct ReleaseEvidence {
  CanaryScores scores;
  std::optional<PresenceTest> presence;
};

absl::StatusOr<ReleaseEvidence> ScoreRelease(Storage& storage, const DatasetDeclaration& dataset,
                                             const ReleaseRecord& release, const AuditRecord& audit,
                                             const data::Table& canaries,
                                             const data::Table& released_rows,
                                             const data::Table& reference) {
  ReleaseEvidence evidence;
  if (release.mode != privacy::ReleaseMode::kCodes) {
    evidence.scores = ScoreCanaries(canaries, released_rows, reference, dataset.schema);
    return evidence;
  }
  ASSIGN_OR_RETURN(const std::optional<std::string> model,
                   storage.ModelBytes(release.charge.model_sha256));
  if (!model)
    return absl::DataLossError("the decoder of release " + release.release_id + " is missing");
  ASSIGN_OR_RETURN(const data::Matrix canary_codes,
                   EncodeRecords(*model, canaries, dataset.schema));
  ASSIGN_OR_RETURN(const std::string content, storage.ReleaseContent(release.release_id));
  ASSIGN_OR_RETURN(const data::Matrix released_codes,
                   data::ParseMatrixCsv(content, canary_codes.cols, /*header=*/false,
                                        "codes of " + release.release_id));
  evidence.scores = ScoreCanaryCodes(canary_codes, released_codes);
  if (!release.mechanism.empty()) {
    ASSIGN_OR_RETURN(const privacy::MetricMechanismParams params,
                     privacy::ParseMechanismParams(release.mechanism));
    ASSIGN_OR_RETURN(const privacy::MetricMechanism mechanism,
                     privacy::MetricMechanism::Create(params));
    ASSIGN_OR_RETURN(
        evidence.presence,
        TestCanaryPresence(mechanism, canary_codes, released_codes,
                           audit::CanaryPositions(audit.salt, release.rows_received,
                                                  static_cast<int64_t>(audit.bits.size())),
                           audit.bits));
  }
  return evidence;
}

// Why a release fails; empty when it passes.
std::string FailureReasons(const CanaryVerdict& verdict,
                           const std::optional<PresenceTest>& presence,
                           const DownstreamAudit& downstream, const AuditRunOptions& options) {
  std::vector<std::string> reasons;
  if (presence && !presence->passed) {
    reasons.push_back(absl::StrFormat(
        "canaries missing or the mechanism is not as stated: the codes at the revealed positions "
        "are not the canaries' codes plus the stated noise (KS %.3f > %.3f over %d pairs)",
        presence->ks_statistic, presence->critical_value, presence->pairs));
  }
  if (verdict.exceeds_claim) {
    reasons.push_back(absl::StrFormat(
        "empirical epsilon >= %.3f at %.0f%% exceeds the claimed %.3f: a bug in the site's "
        "mechanism or accounting",
        verdict.empirical_lower_bound, 100 * options.confidence, verdict.claimed_epsilon));
  }
  for (const auto& [name, metrics] :
       {std::pair<const char*, const eval::AttackMetrics*>{"nearest_row", &verdict.nearest_row},
        {"density_ratio", &verdict.density_ratio}}) {
    if (metrics->tpr_at_01pct_fpr.estimate > options.max_tpr_at_01pct_fpr) {
      reasons.push_back(absl::StrFormat("%s attack on its canaries: TPR %.3f at 0.1%% FPR > %.3f",
                                        name, metrics->tpr_at_01pct_fpr.estimate,
                                        options.max_tpr_at_01pct_fpr));
    }
  }
  if (downstream.exceeds_threshold) {
    reasons.push_back(absl::StrFormat(
        "downstream %s attack on the pooled data: TPR %.3f at 0.1%% FPR > %.3f",
        downstream.worst_attack.c_str(), downstream.worst_tpr, options.max_tpr_at_01pct_fpr));
  }
  std::string joined;
  for (const std::string& why : reasons) joined += (joined.empty() ? "" : "; ") + why;
  return joined;
}

// Per site: every audited release of the dataset with a verdict, judged now or before.
absl::StatusOr<std::vector<SiteAuditSummary>> SiteSummaries(
    Storage& storage, const std::vector<PooledRelease>& pool) {
  std::map<std::string, SiteAuditSummary> sites;
  for (const PooledRelease& p : pool) {
    if (!p.audit) continue;
    ASSIGN_OR_RETURN(const std::optional<AuditVerdictRecord> v,
                     storage.GetVerdict(p.record.release_id));
    if (!v) continue;
    SiteAuditSummary& site = sites[p.record.site_id];
    site.site_id = p.record.site_id;
    ++site.releases;
    ++(v->passed ? site.passed : site.failed);
    site.max_lower_bound =
        std::max(site.max_lower_bound, privacy::MicrosToEpsilon(v->lower_bound_micros));
  }
  std::vector<SiteAuditSummary> out;
  for (auto& [id, site] : sites) out.push_back(std::move(site));
  return out;
}

absl::StatusOr<DatasetAudit> AuditDataset(Storage& storage, const DatasetDeclaration& dataset,
                                          const AuditRunOptions& options,
                                          privacy::RandomSource& rng, int64_t now_unix) {
  DatasetAudit result;
  result.dataset = dataset.name;
  ASSIGN_OR_RETURN(const std::vector<ReleaseRecord> releases, storage.ListReleases());
  std::vector<PooledRelease> pool;
  std::vector<size_t> to_judge;
  for (const ReleaseRecord& r : releases) {
    if (r.dataset != dataset.name || r.status != ReleaseStatus::kCommitted) continue;
    PooledRelease p;
    p.record = r;
    ASSIGN_OR_RETURN(const std::string csv, ReleaseRecordsCsv(storage, dataset, r, rng));
    ASSIGN_OR_RETURN(p.rows, ParseRows(csv, dataset.schema, "release " + r.release_id));
    ASSIGN_OR_RETURN(std::optional<AuditRecord> audit, storage.GetAudit(r.release_id));
    if (audit && audit->state == AuditState::kRevealed) {
      const std::vector<int64_t> positions = ReleasedCanaryRows(r, *audit);
      p.canary_rows.insert(positions.begin(), positions.end());
      p.audit = std::move(audit);
      ASSIGN_OR_RETURN(const std::optional<AuditVerdictRecord> verdict,
                       storage.GetVerdict(r.release_id));
      if (!verdict) to_judge.push_back(pool.size());
    }
    pool.push_back(std::move(p));
  }
  if (to_judge.empty()) return result;

  AuditReport& report = result.report;
  report.dataset = dataset.name;
  report.created_unix = now_unix;
  report.parameters = {options.confidence, dataset.audit_canaries, options.max_tpr_at_01pct_fpr,
                       options.bootstrap};
  ASSIGN_OR_RETURN(report.downstream, RunDownstream(dataset, pool, options));
  const DownstreamAudit& downstream = report.downstream;
  for (const size_t index : to_judge) {
    const PooledRelease& p = pool[index];
    const ReleaseRecord& r = p.record;
    ASSIGN_OR_RETURN(const data::Table canaries,
                     ParseRows(p.audit->canaries, dataset.schema, "canaries of " + r.release_id));
    // The density ratio's reference: the other sites' releases, without their canary rows.
    data::Table reference;
    for (const PooledRelease& other : pool) {
      if (other.record.site_id == r.site_id) continue;
      for (int64_t i = 0; i < other.rows.num_rows(); ++i)
        if (!other.canary_rows.count(i))
          reference.rows.push_back(other.rows.rows[static_cast<size_t>(i)]);
    }
    ASSIGN_OR_RETURN(const ReleaseEvidence evidence,
                     ScoreRelease(storage, dataset, r, *p.audit, canaries, p.rows, reference));
    // What the release claims per record: its model's epsilon plus its own, both as reserved.
    ASSIGN_OR_RETURN(const int64_t claimed_micros, r.charge.ClaimedMicros());
    const CanaryVerdict verdict =
        JudgeCanaries(evidence.scores, p.audit->bits, privacy::MicrosToEpsilon(claimed_micros),
                      r.charge.model_delta, options.confidence);
    ReleaseAuditEntry entry;
    entry.release_id = r.release_id;
    entry.site_id = r.site_id;
    entry.mode = r.mode;
    entry.epsilon_model = privacy::MicrosToEpsilon(r.charge.model_micros);
    entry.epsilon_release = privacy::MicrosToEpsilon(r.charge.release_micros);
    entry.verdict = verdict;
    entry.rows = r.rows_received;
    entry.neighbouring_relation = r.relation;
    entry.presence = evidence.presence;
    entry.reason = FailureReasons(verdict, evidence.presence, downstream, options);
    entry.passed = entry.reason.empty();
    AuditVerdictRecord record;
    record.release_id = r.release_id;
    record.passed = entry.passed;
    record.claimed_micros = claimed_micros;
    ASSIGN_OR_RETURN(record.lower_bound_micros,
                     privacy::LowerBoundMicros(verdict.empirical_lower_bound));
    record.reason = entry.reason;
    record.report_json =
        Json{{"release", entry.ToJson()}, {"downstream", downstream.ToJson()}}.dump();
    record.judged_unix = now_unix;
    RETURN_IF_ERROR(storage.RecordVerdict(record));
    spdlog::info("audit of {} ({}): {} (bound {:.3f}, claim {:.3f})", r.release_id, r.site_id,
                 entry.passed ? "passed" : "failed", verdict.empirical_lower_bound,
                 verdict.claimed_epsilon);
    report.releases.push_back(std::move(entry));
    record.report_json.clear();  // kept in storage and in `report`; the summary needs none
    result.judged.push_back({r.site_id, std::move(record)});
  }

  ASSIGN_OR_RETURN(report.sites, SiteSummaries(storage, pool));
  if (!options.report_dir.empty()) {
    result.json_path = options.report_dir + "/" + dataset.name + "-audit.json";
    result.html_path = options.report_dir + "/" + dataset.name + "-audit.html";
    RETURN_IF_ERROR(
        data::WriteFileAtomically(result.json_path, result.report.ToJson().dump(1) + "\n"));
    RETURN_IF_ERROR(data::WriteFileAtomically(result.html_path, RenderAuditHtml(result.report)));
  }
  return result;
}

}  // namespace

int64_t DatasetAudit::failed() const {
  return std::count_if(judged.begin(), judged.end(),
                       [](const Judged& j) { return !j.verdict.passed; });
}

absl::StatusOr<std::vector<DatasetAudit>> RunAudits(Storage& storage,
                                                    const CoordinatorConfig& config,
                                                    const AuditRunOptions& options,
                                                    privacy::RandomSource& rng, int64_t now_unix) {
  std::vector<DatasetAudit> out;
  for (const DatasetDeclaration& dataset : config.datasets) {
    ASSIGN_OR_RETURN(DatasetAudit audit, AuditDataset(storage, dataset, options, rng, now_unix));
    if (!audit.judged.empty()) out.push_back(std::move(audit));
  }
  return out;
}

}  // namespace fedsyn::coordinator
