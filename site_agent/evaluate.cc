#include "site_agent/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "common/data/idx.h"
#include "common/data/table_io.h"
#include "common/eval/attacks.h"
#include "common/eval/fidelity.h"
#include "common/eval/logistic_regression.h"
#include "common/eval/metrics.h"
#include "common/eval/metrics_json.h"
#include "common/model/model_bundle.h"
#include "common/privacy/budget.h"
#include "site_agent/release.h"
#include "spdlog/spdlog.h"

namespace fedsyn::site {
namespace {

using Json = nlohmann::json;

// The records of the experiment in every form the steps need.
struct Dataset {
  model::DataKind kind = model::DataKind::kTable;
  data::Table table;        // tables
  data::ImageSet images;    // images
  std::vector<int> labels;  // class index per record
  data::Matrix features;    // classifier input: non-label columns in model space, or pixels
  data::Matrix encoded;     // the whole record in model space (attacks on synthetic records)
  int64_t size() const { return features.rows; }
};

// Shared by every subset: the schema and its transformer (tables), the class count.
struct Domain {
  model::DataKind kind = model::DataKind::kTable;
  std::optional<data::Schema> schema;
  std::optional<data::Transformer> transformer;
  int num_classes = 2;
};

absl::StatusOr<Dataset> FromTable(data::Table table, const Domain& domain) {
  Dataset d;
  d.kind = model::DataKind::kTable;
  ASSIGN_OR_RETURN(eval::LabelledData labelled, eval::ToLabelledData(table, *domain.schema));
  d.features = std::move(labelled.features);
  d.labels = std::move(labelled.labels);
  d.encoded = domain.transformer->Encode(table);
  d.table = std::move(table);
  return d;
}

Dataset FromImages(data::ImageSet images, const std::vector<uint8_t>& labels) {
  Dataset d;
  d.kind = model::DataKind::kImage;
  d.features = data::ImagesToMatrix(images);
  d.encoded = d.features;
  d.labels.assign(labels.begin(), labels.end());
  d.images = std::move(images);
  return d;
}

Dataset Subset(const Dataset& d, const std::vector<int64_t>& index) {
  Dataset s;
  s.kind = d.kind;
  s.features = d.features.SelectRows(index);
  s.encoded = d.encoded.SelectRows(index);
  for (int64_t i : index) s.labels.push_back(d.labels[static_cast<size_t>(i)]);
  if (d.kind == model::DataKind::kTable) {
    for (int64_t i : index) s.table.rows.push_back(d.table.rows[static_cast<size_t>(i)]);
  } else {
    s.images.height = d.images.height;
    s.images.width = d.images.width;
    s.images.count = static_cast<int64_t>(index.size());
    const size_t pixels = static_cast<size_t>(d.images.height * d.images.width);
    for (int64_t i : index) {
      const auto from =
          d.images.pixels.begin() + static_cast<int64_t>(static_cast<size_t>(i) * pixels);
      s.images.pixels.insert(s.images.pixels.end(), from, from + static_cast<int64_t>(pixels));
    }
  }
  return s;
}

absl::StatusOr<std::pair<Domain, Dataset>> Load(const EvaluateRequest& r) {
  Domain domain;
  if (!r.input_csvs.empty()) {
    ASSIGN_OR_RETURN(data::Schema schema, data::Schema::LoadFile(r.schema_path));
    ASSIGN_OR_RETURN(data::Transformer transformer, data::Transformer::FromSchema(schema));
    if (!schema.label_index)
      return absl::InvalidArgumentError("the schema declares no label column to classify");
    domain.num_classes = static_cast<int>(
        schema.columns[static_cast<size_t>(*schema.label_index)].categories.size());
    domain.schema = std::move(schema);
    domain.transformer = std::move(transformer);
    ASSIGN_OR_RETURN(data::Table pooled, data::ReadPooledCsvTables(r.input_csvs, *domain.schema));
    ASSIGN_OR_RETURN(Dataset d, FromTable(std::move(pooled), domain));
    return std::make_pair(std::move(domain), std::move(d));
  }
  if (r.images_idx.empty() || r.labels_idx.empty())
    return absl::InvalidArgumentError(
        "give a table (CSV files and a schema) or images with labels");
  domain.kind = model::DataKind::kImage;
  ASSIGN_OR_RETURN(data::ImageSet images, data::ReadIdxImages(r.images_idx, r.max_images));
  ASSIGN_OR_RETURN(std::vector<uint8_t> labels, data::ReadIdxLabels(r.labels_idx, r.max_images));
  if (static_cast<int64_t>(labels.size()) != images.count)
    return absl::InvalidArgumentError("image and label counts differ");
  if (images.height != 28 || images.width != 28)
    return absl::InvalidArgumentError("the convolutional models take 28x28 images");
  domain.num_classes = 1 + *std::max_element(labels.begin(), labels.end());
  Dataset d = FromImages(std::move(images), labels);
  return std::make_pair(std::move(domain), std::move(d));
}

// Joins two datasets' features, encodings and labels (the candidates: members, then
// non-members).
Dataset Concat(const Dataset& a, const Dataset& b) {
  Dataset c;
  c.kind = a.kind;
  c.features = a.features;
  c.features.rows += b.features.rows;
  c.features.values.insert(c.features.values.end(), b.features.values.begin(),
                           b.features.values.end());
  c.encoded = a.encoded;
  c.encoded.rows += b.encoded.rows;
  c.encoded.values.insert(c.encoded.values.end(), b.encoded.values.begin(), b.encoded.values.end());
  c.labels = a.labels;
  c.labels.insert(c.labels.end(), b.labels.begin(), b.labels.end());
  return c;
}

struct Split {
  Dataset members, nonmembers, test, pool;
  Dataset candidates;  // members, then non-members: what every attack scores
};

absl::StatusOr<Split> MakeSplit(const Dataset& all, const EvaluateRequest& r,
                                std::mt19937_64& gen) {
  const int64_t m = r.members, needed = 4 * r.members + r.test;
  if (m < 10 || r.test < 10)
    return absl::InvalidArgumentError("members and test need >= 10 records");
  if (all.size() < needed) {
    return absl::InvalidArgumentError("the data has " + std::to_string(all.size()) +
                                      " records; members, non-members, test and "
                                      "the attacker's pool (2 x members) need " +
                                      std::to_string(needed));
  }
  std::vector<int64_t> order(static_cast<size_t>(all.size()));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), gen);
  auto part = [&](int64_t from, int64_t count) {
    return Subset(all, std::vector<int64_t>(order.begin() + from, order.begin() + from + count));
  };
  Split split{part(0, m), part(m, m), part(2 * m, r.test), part(2 * m + r.test, 2 * m), {}};
  split.candidates = Concat(split.members, split.nonmembers);
  return split;
}

std::pair<eval::Scores, eval::Scores> SplitScores(const eval::Scores& all, size_t members) {
  return {eval::Scores(all.begin(), all.begin() + static_cast<int64_t>(members)),
          eval::Scores(all.begin() + static_cast<int64_t>(members), all.end())};
}

eval::LabelledData Labelled(const Dataset& d, int num_classes) {
  return {d.features, d.labels, num_classes};
}

// Test accuracy and ROC AUC (binary: of class 1; more classes: one-vs-rest, averaged).
void MeasureUtility(const model::Classifier& c, const Dataset& test, int num_classes,
                    EvaluationRun& run) {
  const data::Matrix p = c.LogProbabilities(test.features);
  int64_t right = 0;
  for (int64_t i = 0; i < p.rows; ++i) {
    const float* row = p.Row(i);
    right += (std::max_element(row, row + p.cols) - row) == test.labels[static_cast<size_t>(i)];
  }
  double auc_sum = 0;
  int auc_classes = 0;
  for (int k = (num_classes == 2 ? 1 : 0); k < num_classes; ++k) {
    eval::Scores positive, negative;
    for (int64_t i = 0; i < p.rows; ++i)
      (test.labels[static_cast<size_t>(i)] == k ? positive : negative).push_back(p.Row(i)[k]);
    if (positive.empty() || negative.empty()) continue;
    auc_sum += eval::Auc(positive, negative);
    ++auc_classes;
  }
  run.accuracy = static_cast<double>(right) / static_cast<double>(std::max<int64_t>(1, p.rows));
  run.auc = auc_classes > 0 ? auc_sum / auc_classes : 0.5;
}

class Experiment {
 public:
  // `delta`: resolved for the members (privacy::ResolveDelta).
  Experiment(const EvaluateRequest& r, const Domain& domain, double delta,
             privacy::RandomSource& noise)
      : r_(r), domain_(domain), delta_(delta), noise_(noise) {}

  absl::StatusOr<std::unique_ptr<model::Classifier>> TrainTarget(const Dataset& train,
                                                                 std::optional<double> dp_epsilon,
                                                                 uint64_t seed) {
    return TrainClassifier(train.features, train.labels, dp_epsilon, seed);
  }

  absl::StatusOr<std::unique_ptr<model::Classifier>> TrainClassifier(
      const data::Matrix& features, const std::vector<int>& labels,
      std::optional<double> dp_epsilon, uint64_t seed) {
    model::ClassifierSpec spec;
    spec.architecture = r_.target;
    spec.input_width = static_cast<int>(features.cols);
    spec.num_classes = domain_.num_classes;
    spec.hidden = r_.target_hidden;
    ASSIGN_OR_RETURN(auto classifier, model::Classifier::Create(spec, seed));
    model::ClassifierTrainOptions options = r_.classifier;
    options.seed = seed;
    if (dp_epsilon) {
      options.learning_rate = r_.dp_learning_rate;
      RETURN_IF_ERROR(
          classifier->TrainPrivately(features, labels, DpOptions(*dp_epsilon), options, noise_)
              .status());
    } else {
      RETURN_IF_ERROR(classifier->Train(features, labels, options));
    }
    return classifier;
  }

  model::DpSgdOptions DpOptions(double epsilon) const {
    model::DpSgdOptions dp;
    dp.target_epsilon = epsilon;
    dp.delta = Delta();
    dp.clip_norm = r_.dp_clip;
    dp.expected_batch_size = r_.dp_batch;
    dp.epochs = r_.dp_epochs;
    return dp;
  }
  double Delta() const { return delta_; }

  // The attacker's reference models (shadows, LiRA's OUT models) on halves of its own pool,
  // with their outputs on the candidates: once per seed, for every target of that seed.
  absl::StatusOr<eval::ModelAttackSuite> PrepareAttacks(const Split& split, std::mt19937_64& gen) {
    const eval::Trainer train = [this](const eval::LabelledData& data,
                                       uint64_t seed) -> absl::StatusOr<eval::Predictor> {
      ASSIGN_OR_RETURN(std::shared_ptr<model::Classifier> model,
                       TrainClassifier(data.features, data.labels, std::nullopt, seed));
      return [model](const data::Matrix& features) { return model->LogProbabilities(features); };
    };
    return eval::ModelAttackSuite::Prepare(Labelled(split.pool, domain_.num_classes),
                                           Labelled(split.candidates, domain_.num_classes),
                                           r_.shadow_models, train, gen);
  }

  // Attacks on the synthetic records. The attacker knows members and non-members are equally
  // many, so its threshold is the median score.
  std::vector<eval::NamedAttack> AttackSynthetic(const Dataset& synthetic, const Split& split,
                                                 uint64_t seed) const {
    const Dataset& candidates = split.candidates;
    auto evaluate = [&](const char* name, const eval::Scores& scores) {
      const auto [m, n] = SplitScores(scores, split.members.labels.size());
      return eval::NamedAttack{
          name, eval::EvaluateAttack(m, n, eval::MedianScore(scores), r_.bootstrap, seed)};
    };
    return {
        evaluate("density_ratio", eval::DensityRatioScores(candidates.encoded, synthetic.encoded,
                                                           split.pool.encoded)),
        evaluate("closest_record",
                 eval::ClosestRecordScores(candidates.encoded, synthetic.encoded))};
  }

  // fedsyn's VAE on the members, in the clear (epsilon unset) or with DP-SGD.
  absl::StatusOr<model::ModelBundle> TrainVae(const Dataset& members, std::optional<double> epsilon,
                                              uint64_t seed) {
    model::ModelBundle bundle;
    bundle.kind = domain_.kind;
    model::VaeSpec spec;
    const data::Matrix& encoded = members.encoded;
    if (domain_.kind == model::DataKind::kTable) {
      bundle.schema = domain_.schema;
      bundle.transformer = domain_.transformer;
      spec = model::TableVaeSpec(*domain_.transformer, r_.vae.latent_dim, r_.vae.hidden);
    } else {
      spec = model::ImageVaeSpec(r_.vae.latent_dim, r_.vae.hidden.front());
      bundle.image.num_classes = domain_.num_classes;
    }
    spec.beta = r_.vae.beta;
    ASSIGN_OR_RETURN(bundle.vae, model::Vae::Create(spec, seed));
    model::TrainOptions options;
    options.max_epochs = r_.vae_epochs;
    options.seed = seed;
    options.threads = r_.classifier.threads;
    base::NullProgress quiet;
    if (epsilon) {
      options.learning_rate = r_.dp_learning_rate;
      model::DpSgdOptions dp = DpOptions(*epsilon);
      ASSIGN_OR_RETURN(const model::DpTrainReport report,
                       bundle.vae->TrainPrivately(encoded, dp, options, noise_, quiet));
      bundle.model_private = true;
      bundle.model_epsilon = report.epsilon;
      bundle.model_delta = report.delta;
    } else {
      RETURN_IF_ERROR(bundle.vae->Train(encoded, options, quiet).status());
    }
    return bundle;
  }

  // The members released through fedsyn at epsilon_release (images: half on the codes, half on
  // the labels by randomized response).
  absl::StatusOr<Dataset> Synthesize(const model::ModelBundle& bundle, const Dataset& members,
                                     double epsilon_release) {
    const double codes_epsilon =
        domain_.kind == model::DataKind::kImage ? epsilon_release / 2 : epsilon_release;
    privacy::MetricMechanismParams params;
    params.clip_radius = r_.clip_radius;
    params.dimension = bundle.vae->spec().latent_dim;
    params.epsilon_per_unit = 1.0;
    ASSIGN_OR_RETURN(const privacy::MetricMechanism unit, privacy::MetricMechanism::Create(params));
    params.epsilon_per_unit = codes_epsilon / unit.RecordEpsilon();
    ASSIGN_OR_RETURN(const privacy::MetricMechanism mechanism,
                     privacy::MetricMechanism::Create(params));
    if (domain_.kind == model::DataKind::kTable) {
      ASSIGN_OR_RETURN(TableRelease released,
                       ReleaseTable(bundle, members.table, mechanism, data::DecodingMode::kSample,
                                    privacy::CodeDecoding::kNoisedCode, noise_));
      return FromTable(std::move(released.synthetic), domain_);
    }
    ASSIGN_OR_RETURN(const privacy::RandomizedResponse rr,
                     privacy::RandomizedResponse::Create(domain_.num_classes, epsilon_release / 2));
    std::vector<uint8_t> labels(members.labels.begin(), members.labels.end());
    ASSIGN_OR_RETURN(ImageRelease released,
                     ReleaseImages(bundle, members.images, labels, mechanism, rr,
                                   privacy::CodeDecoding::kNoisedCode, noise_));
    return FromImages(std::move(released.images), released.labels);
  }

  eval::Fidelity CompareToReal(const Dataset& real, const Dataset& synthetic) const {
    return domain_.kind == model::DataKind::kTable
               ? eval::CompareTables(real.table, synthetic.table, *domain_.schema)
               : eval::CompareMatrices(real.encoded, synthetic.encoded);
  }

 private:
  const EvaluateRequest& r_;
  const Domain& domain_;
  const double delta_;
  privacy::RandomSource& noise_;
};

Json FidelityJson(const eval::Fidelity& f) {
  Json columns = Json::array();
  for (const eval::ColumnDistance& c : f.columns)
    columns.push_back({{"column", c.column}, {"measure", c.measure}, {"distance", c.distance}});
  return {{"mean_column_distance", f.mean_column_distance},
          {"correlation_difference", f.correlation_difference},
          {"columns", columns}};
}

// Means and standard deviations over seeds, per method and epsilon.
std::vector<MethodSummary> Summarise(const std::vector<EvaluationRun>& runs) {
  std::map<std::pair<EvaluationMethod, double>, std::vector<const EvaluationRun*>> groups;
  for (const EvaluationRun& run : runs)
    groups[{run.method, run.epsilon.value_or(-1)}].push_back(&run);
  // One figure of every run of a group.
  auto over_seeds = [](const std::vector<const EvaluationRun*>& group, auto figure) {
    std::vector<double> values;
    for (const EvaluationRun* run : group) values.push_back(figure(*run));
    return SeedStat::Of(values);
  };
  std::vector<MethodSummary> summary;
  for (const auto& [key, group] : groups) {
    MethodSummary s;
    s.method = key.first;
    s.epsilon = group.front()->epsilon;
    s.accuracy = over_seeds(group, [](const EvaluationRun& r) { return r.accuracy; });
    s.auc = over_seeds(group, [](const EvaluationRun& r) { return r.auc; });
    if (group.front()->fidelity) {
      s.column_distance = over_seeds(
          group, [](const EvaluationRun& r) { return r.fidelity->mean_column_distance; });
      s.correlation_difference = over_seeds(
          group, [](const EvaluationRun& r) { return r.fidelity->correlation_difference; });
    }
    double strongest_auc = -1;
    // Every run of a group carries the same attacks in the same order.
    for (size_t a = 0; a < group.front()->attacks.size(); ++a) {
      auto metric = [&](eval::Interval eval::AttackMetrics::*field) {
        return over_seeds(
            group, [&](const EvaluationRun& r) { return (r.attacks[a].metrics.*field).estimate; });
      };
      const std::string& name = group.front()->attacks[a].name;
      AttackSummary& attack = s.attacks[name];
      attack.auc = metric(&eval::AttackMetrics::auc);
      attack.balanced_accuracy = metric(&eval::AttackMetrics::balanced_accuracy);
      attack.tpr_at_1pct_fpr = metric(&eval::AttackMetrics::tpr_at_1pct_fpr);
      attack.tpr_at_01pct_fpr = metric(&eval::AttackMetrics::tpr_at_01pct_fpr);
      // Distance to the closest record is a sanity check, not a privacy attack.
      if (name != "closest_record" && attack.auc.mean > strongest_auc) {
        strongest_auc = attack.auc.mean;
        s.strongest_attack = name;
      }
    }
    summary.push_back(std::move(s));
  }
  return summary;
}

}  // namespace

SeedStat SeedStat::Of(const std::vector<double>& values) {
  SeedStat stat;
  stat.n = values.size();
  if (values.empty()) return stat;
  for (const double x : values) stat.mean += x;
  stat.mean /= static_cast<double>(values.size());
  double square = 0;
  for (const double x : values) square += (x - stat.mean) * (x - stat.mean);
  stat.sd = values.size() > 1 ? std::sqrt(square / static_cast<double>(values.size() - 1)) : 0.0;
  return stat;
}

Json SeedStat::ToJson() const { return {{"mean", mean}, {"sd", sd}, {"n", n}}; }

const char* EvaluationMethodName(EvaluationMethod method) {
  switch (method) {
    case EvaluationMethod::kReal:
      return "real";
    case EvaluationMethod::kDpSgd:
      return "dpsgd";
    case EvaluationMethod::kPaper:
      return "paper";
    case EvaluationMethod::kE2e:
      return "e2e";
  }
  return "unknown";
}

std::optional<EvaluationMethod> ParseEvaluationMethod(std::string_view name) {
  for (const EvaluationMethod m : {EvaluationMethod::kReal, EvaluationMethod::kDpSgd,
                                   EvaluationMethod::kPaper, EvaluationMethod::kE2e}) {
    if (name == EvaluationMethodName(m)) return m;
  }
  return std::nullopt;
}

Json EvaluationRun::ToJson() const {
  Json j = {{"method", EvaluationMethodName(method)},
            {"epsilon", epsilon ? Json(*epsilon) : Json(nullptr)},
            {"guarantee", guarantee},
            {"seed", seed},
            {"utility", {{"accuracy", accuracy}, {"auc", auc}}}};
  if (fidelity) j["fidelity"] = FidelityJson(*fidelity);
  j["attacks"] = eval::NamedAttacksJson(attacks, with_roc);
  return j;
}

Json AttackSummary::ToJson() const {
  return {{"auc", auc.ToJson()},
          {"balanced_accuracy", balanced_accuracy.ToJson()},
          {"tpr_at_1pct_fpr", tpr_at_1pct_fpr.ToJson()},
          {"tpr_at_01pct_fpr", tpr_at_01pct_fpr.ToJson()}};
}

Json MethodSummary::ToJson() const {
  Json j = {{"method", EvaluationMethodName(method)},
            {"epsilon", epsilon ? Json(*epsilon) : Json(nullptr)},
            {"utility", {{"accuracy", accuracy.ToJson()}, {"auc", auc.ToJson()}}}};
  if (column_distance && correlation_difference) {
    j["fidelity"] = {{"mean_column_distance", column_distance->ToJson()},
                     {"correlation_difference", correlation_difference->ToJson()}};
  }
  for (const auto& [name, attack] : attacks) j["attacks"][name] = attack.ToJson();
  j["strongest_attack"] = strongest_attack;
  return j;
}

Json EvaluationReport::ToJson() const {
  Json summary_json = Json::array();
  for (const MethodSummary& s : summary) summary_json.push_back(s.ToJson());
  Json runs_json = Json::array();
  for (const EvaluationRun& run : runs) runs_json.push_back(run.ToJson());
  return {{"format", "fedsyn-evaluation"},
          {"version", 1},
          {"site_only", true},
          {"privacy_note",
           "Aggregates of the site's real records without differential privacy (accuracies, "
           "AUCs, attack figures). Site-only: no ledger charges for them; anything from this "
           "file that leaves the site must be charged by hand."},
          {"settings", settings},
          {"seconds", seconds},
          {"runs", runs_json},
          {"summary", summary_json}};
}

absl::StatusOr<EvaluationReport> RunEvaluation(const EvaluateRequest& r,
                                               privacy::RandomSource& noise,
                                               base::ProgressSink& progress) {
  const auto start = std::chrono::steady_clock::now();
  for (double e : r.epsilons) {
    if (!(e > 0) || !std::isfinite(e))
      return absl::InvalidArgumentError("epsilons must be positive");
  }
  if (r.seeds.empty()) return absl::InvalidArgumentError("at least one seed is needed");
  if (r.methods.empty()) return absl::InvalidArgumentError("at least one method is needed");
  if (r.shadow_models < 2)
    return absl::InvalidArgumentError("at least two shadow models are needed");
  ASSIGN_OR_RETURN(auto loaded, Load(r));
  const Domain& domain = loaded.first;
  const Dataset& all = loaded.second;
  if (r.target == model::ClassifierArchitecture::kCnn28 && domain.kind != model::DataKind::kImage)
    return absl::InvalidArgumentError("the CNN target is for images");
  std::string delta_warning;
  ASSIGN_OR_RETURN(
      const double delta,
      privacy::ResolveDelta(r.delta > 0 ? std::optional<double>(r.delta) : std::nullopt, r.members,
                            &delta_warning));
  if (!delta_warning.empty()) spdlog::warn("{}", delta_warning);
  Experiment experiment(r, domain, delta, noise);
  auto uses = [&r](EvaluationMethod method) {
    return std::find(r.methods.begin(), r.methods.end(), method) != r.methods.end();
  };
  const int per_seed =
      (uses(EvaluationMethod::kReal) ? 1 : 0) +
      static_cast<int>(r.epsilons.size()) *
          ((uses(EvaluationMethod::kDpSgd) ? 1 : 0) + (uses(EvaluationMethod::kPaper) ? 1 : 0) +
           (uses(EvaluationMethod::kE2e) ? 1 : 0));
  const int total = per_seed * static_cast<int>(r.seeds.size());
  int done = 0;
  std::vector<EvaluationRun> runs;
  for (size_t seed_index = 0; seed_index < r.seeds.size(); ++seed_index) {
    const uint64_t seed = r.seeds[seed_index];
    std::mt19937_64 gen(seed);
    ASSIGN_OR_RETURN(const Split split, MakeSplit(all, r, gen));
    ASSIGN_OR_RETURN(const eval::ModelAttackSuite attacks, experiment.PrepareAttacks(split, gen));
    std::vector<bool> is_member(static_cast<size_t>(split.candidates.size()), false);
    std::fill_n(is_member.begin(), split.members.size(), true);  // members first
    // Measures `target` (trained by `run`'s method), attacks it and adds the run.
    auto record = [&](EvaluationRun run, const model::Classifier& target,
                      std::vector<eval::NamedAttack> on_synthetic = {}) -> absl::Status {
      run.seed = seed;
      run.with_roc = seed_index == 0;
      MeasureUtility(target, split.test, domain.num_classes, run);
      ASSIGN_OR_RETURN(run.attacks,
                       attacks.Attack(target.LogProbabilities(split.candidates.features), is_member,
                                      eval::ThresholdRule::kCalibrated, r.bootstrap, seed));
      for (eval::NamedAttack& a : on_synthetic) run.attacks.push_back(std::move(a));
      ++done;
      char line[160];
      std::snprintf(line, sizeof line, "seed %llu %s%s: accuracy %.3f",
                    static_cast<unsigned long long>(seed), EvaluationMethodName(run.method),
                    run.epsilon ? (" eps " + Json(*run.epsilon).dump()).c_str() : "", run.accuracy);
      progress.Update({done, total, line});
      runs.push_back(std::move(run));
      return absl::OkStatus();
    };
    if (uses(EvaluationMethod::kReal)) {
      ASSIGN_OR_RETURN(auto target, experiment.TrainTarget(split.members, std::nullopt, gen()));
      RETURN_IF_ERROR(record({EvaluationMethod::kReal, std::nullopt, "none"}, *target));
    }
    for (double eps : r.epsilons) {
      if (!uses(EvaluationMethod::kDpSgd)) break;
      ASSIGN_OR_RETURN(auto target, experiment.TrainTarget(split.members, eps, gen()));
      RETURN_IF_ERROR(record({EvaluationMethod::kDpSgd, eps, "(eps, delta)-DP target"}, *target));
    }
    std::optional<model::ModelBundle> clear_vae;
    if (uses(EvaluationMethod::kPaper)) {
      ASSIGN_OR_RETURN(clear_vae, experiment.TrainVae(split.members, std::nullopt, gen()));
    }
    for (const EvaluationMethod method : {EvaluationMethod::kPaper, EvaluationMethod::kE2e}) {
      if (!uses(method)) continue;
      const bool e2e = method == EvaluationMethod::kE2e;
      for (double eps : r.epsilons) {
        std::optional<model::ModelBundle> dp_vae;
        if (e2e) {
          ASSIGN_OR_RETURN(dp_vae, experiment.TrainVae(split.members, eps / 2, gen()));
        }
        const model::ModelBundle& bundle = e2e ? *dp_vae : *clear_vae;
        ASSIGN_OR_RETURN(const Dataset synthetic,
                         experiment.Synthesize(bundle, split.members, e2e ? eps / 2 : eps));
        ASSIGN_OR_RETURN(auto target, experiment.TrainTarget(synthetic, std::nullopt, gen()));
        EvaluationRun run{method, eps,
                          e2e ? "end to end: DP-SGD VAE (eps/2) + release (eps/2)"
                              : "release only: the VAE saw the members in the clear"};
        run.fidelity = experiment.CompareToReal(split.members, synthetic);
        RETURN_IF_ERROR(
            record(std::move(run), *target, experiment.AttackSynthetic(synthetic, split, seed)));
      }
    }
  }
  Json settings = {
      {"name", r.name},
      {"kind", domain.kind == model::DataKind::kTable ? "table" : "images"},
      {"records", all.size()},
      {"members", r.members},
      {"nonmembers", r.members},
      {"test", r.test},
      {"attacker_pool", 2 * r.members},
      {"classes", domain.num_classes},
      {"seeds", r.seeds},
      {"epsilons", r.epsilons},
      {"delta", experiment.Delta()},
      {"target", r.target == model::ClassifierArchitecture::kLinear ? "logistic regression"
                 : r.target == model::ClassifierArchitecture::kMlp  ? "MLP"
                                                                    : "CNN"},
      {"target_hidden", r.target_hidden},
      {"target_epochs", r.classifier.epochs},
      {"shadow_models", r.shadow_models},
      {"dp_sgd",
       {{"clip", r.dp_clip},
        {"expected_batch", r.dp_batch},
        {"epochs", r.dp_epochs},
        {"learning_rate", r.dp_learning_rate}}},
      {"vae",
       {{"latent_dim", r.vae.latent_dim}, {"hidden", r.vae.hidden}, {"epochs", r.vae_epochs}}},
      {"clip_radius", r.clip_radius},
      {"bootstrap_resamples", r.bootstrap}};
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress.Finish("evaluation done in " + std::to_string(static_cast<int>(seconds)) + " s");
  EvaluationReport report;
  report.summary = Summarise(runs);
  report.settings = std::move(settings);
  report.runs = std::move(runs);
  report.seconds = seconds;
  return report;
}

}  // namespace fedsyn::site
