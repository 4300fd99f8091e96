// The utility page for tables (issue #13, item 5): every generator and release mode scored the same
// way, beside real data, the majority class and a classifier trained with DP-SGD on the real rows.
// Each synthetic file is scored by two probes trained on it and tested on the real test file —
// logistic regression and an MLP on the same one-hot features (common/eval/table_utility.h) —
// and by its distance to the real training rows (1-/2-way TVD, values at declared bounds).
//
//   fedsyn_bench_utility_grid --train adult.data --test adult.test --test-skip-rows 1
//       --schema adult.schema.toml --entry "marginals:1:/tmp/m1.csv" ... --dp-epsilons 0.5,1,3,8
//       --markdown table.md
//
// An entry is CONFIGURATION:EPSILON:PATH (EPSILON "-" when it has none). The probes' seeds and
// the DP-SGD classifier's noise: the secure generator (keys) and fixed seeds (initialisation).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/data/table_io.h"
#include "common/eval/table_utility.h"
#include "common/model/classifier.h"
#include "common/privacy/random.h"

namespace {

using namespace fedsyn;

// The MLP probe: one hidden layer of 64, Adam, fixed epochs (not tuned on the test file).
constexpr int kMlpHidden = 64;
constexpr int kMlpEpochs = 10;
constexpr int kMlpBatch = 256;
// The DP-SGD classifier: the same MLP and a linear model, privately; settings fixed in advance.
constexpr int kDpEpochs = 20;
constexpr int kDpBatch = 1024;
constexpr double kDpClip = 1.0;
constexpr double kDpLearningRate = 5e-3;

struct Probes {
  eval::ClassifierScore lr, mlp;
};

std::vector<double> PositiveProbabilities(const model::Classifier& classifier,
                                          const data::Matrix& features) {
  const data::Matrix log_p = classifier.LogProbabilities(features);
  std::vector<double> out(static_cast<size_t>(log_p.rows));
  for (int64_t i = 0; i < log_p.rows; ++i) out[static_cast<size_t>(i)] = std::exp(log_p.Row(i)[1]);
  return out;
}

absl::StatusOr<eval::ClassifierScore> TrainAndScore(model::ClassifierArchitecture architecture,
                                                    const eval::LabelledData& train,
                                                    const eval::LabelledData& test,
                                                    const model::DpSgdOptions* dp,
                                                    privacy::RandomSource& secure) {
  model::ClassifierSpec spec;
  spec.architecture = architecture;
  spec.input_width = static_cast<int>(train.features.cols);
  spec.num_classes = 2;
  spec.hidden = {kMlpHidden};
  ASSIGN_OR_RETURN(auto classifier, model::Classifier::Create(spec, /*seed=*/1));
  model::ClassifierTrainOptions options;
  options.seed = 1;
  if (dp != nullptr) {
    options.epochs = dp->epochs;
    options.learning_rate = kDpLearningRate;
    RETURN_IF_ERROR(
        classifier->TrainPrivately(train.features, train.labels, *dp, options, secure).status());
  } else {
    options.epochs = kMlpEpochs;
    options.batch_size = kMlpBatch;
    RETURN_IF_ERROR(classifier->Train(train.features, train.labels, options));
  }
  return eval::ScoreProbabilities(PositiveProbabilities(*classifier, test.features), test);
}

std::string Cell(double v) {
  char out[32];
  std::snprintf(out, sizeof out, "%.3f", v);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"utility grid: every generator scored by the same probes"};
  std::string train_path, test_path, schema_path, markdown;
  int test_skip_rows = 0;
  std::vector<std::string> entries;
  std::vector<double> dp_epsilons;
  double delta = 1e-6;
  app.add_option("--train", train_path)->required();
  app.add_option("--test", test_path)->required();
  app.add_option("--test-skip-rows", test_skip_rows);
  app.add_option("--schema", schema_path)->required();
  app.add_option("--entry", entries, "CONFIGURATION:EPSILON:PATH");
  app.add_option("--dp-epsilons", dp_epsilons)->delimiter(',');
  app.add_option("--delta", delta);
  app.add_option("--markdown", markdown);
  CLI11_PARSE(app, argc, argv);

  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  };
  auto schema = data::Schema::LoadFile(schema_path);
  if (!schema.ok()) return fail(schema.status());
  auto train = data::ReadCsvTable(train_path, *schema);
  if (!train.ok()) return fail(train.status());
  data::CsvFormat test_format = schema->csv;
  test_format.skip_rows = test_skip_rows;
  auto test = data::ReadCsvTable(test_path, *schema, test_format);
  if (!test.ok()) return fail(test.status());
  auto test_probe = eval::ProbeData(test->table, *schema);
  if (!test_probe.ok()) return fail(test_probe.status());
  privacy::SecureRandom secure;

  std::string table =
      "| configuration | total ε | LR accuracy | LR AUC | MLP accuracy | MLP AUC | 1-way TVD | "
      "2-way TVD | worst bound excess |\n|---|---|---|---|---|---|---|---|---|\n";
  auto add_row = [&](const std::string& name, const std::string& epsilon, const Probes& p,
                     const eval::TableUtility* u) {
    table += "| " + name + " | " + epsilon + " | " + Cell(p.lr.accuracy) + " | " + Cell(p.lr.auc) +
             " | " + Cell(p.mlp.accuracy) + " | " + Cell(p.mlp.auc) + " | " +
             (u ? Cell(u->mean_tvd_1way) : "–") + " | " + (u ? Cell(u->mean_tvd_2way) : "–") +
             " | " + (u ? Cell(u->worst_bound_excess) : "–") + " |\n";
    std::printf("%s eps %s: LR %.4f/%.4f MLP %.4f/%.4f", name.c_str(), epsilon.c_str(),
                p.lr.accuracy, p.lr.auc, p.mlp.accuracy, p.mlp.auc);
    if (u)
      std::printf(" tvd1 %.4f tvd2 %.4f bound-excess %.3f", u->mean_tvd_1way, u->mean_tvd_2way,
                  u->worst_bound_excess);
    std::printf("\n");
    std::fflush(stdout);
  };
  auto score_table = [&](const data::Table& rows) -> absl::StatusOr<Probes> {
    Probes p;
    ASSIGN_OR_RETURN(p.lr, eval::LogisticScore(rows, test->table, *schema));
    ASSIGN_OR_RETURN(const eval::LabelledData probe, eval::ProbeData(rows, *schema));
    ASSIGN_OR_RETURN(p.mlp, TrainAndScore(model::ClassifierArchitecture::kMlp, probe, *test_probe,
                                          nullptr, secure));
    return p;
  };

  // Real rows and the majority class.
  auto real = score_table(train->table);
  if (!real.ok()) return fail(real.status());
  auto floor = eval::MeasureTableUtility(test->table, train->table, test->table, *schema);
  if (!floor.ok()) return fail(floor.status());
  add_row("real training rows", "–", *real, nullptr);
  Probes majority;
  majority.lr.accuracy = majority.mlp.accuracy = floor->majority_accuracy;
  majority.lr.auc = majority.mlp.auc = 0.5;
  add_row("majority class", "–", majority, nullptr);
  std::printf("real test rows vs training rows: tvd1 %.4f tvd2 %.4f (sampling floor)\n",
              floor->mean_tvd_1way, floor->mean_tvd_2way);

  // Classifiers trained with DP-SGD on the real rows (no synthetic data at all).
  auto train_probe = eval::ProbeData(train->table, *schema);
  if (!train_probe.ok()) return fail(train_probe.status());
  for (const double epsilon : dp_epsilons) {
    model::DpSgdOptions dp;
    dp.target_epsilon = epsilon;
    dp.delta = delta;
    dp.clip_norm = kDpClip;
    dp.expected_batch_size = kDpBatch;
    dp.epochs = kDpEpochs;
    Probes p;
    auto lr = TrainAndScore(model::ClassifierArchitecture::kLinear, *train_probe, *test_probe, &dp,
                            secure);
    if (!lr.ok()) return fail(lr.status());
    auto mlp =
        TrainAndScore(model::ClassifierArchitecture::kMlp, *train_probe, *test_probe, &dp, secure);
    if (!mlp.ok()) return fail(mlp.status());
    p.lr = *lr;
    p.mlp = *mlp;
    char eps[32];
    std::snprintf(eps, sizeof eps, "%g", epsilon);
    add_row("DP-SGD classifier on real rows (no synthetic data)", eps, p, nullptr);
  }

  data::CsvFormat synthetic_format = data::OutputCsvFormat();
  for (const std::string& entry : entries) {
    const size_t first = entry.find(':'), second = entry.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) {
      std::fprintf(stderr, "entry '%s' is not CONFIGURATION:EPSILON:PATH\n", entry.c_str());
      return 2;
    }
    const std::string name = entry.substr(0, first);
    const std::string epsilon = entry.substr(first + 1, second - first - 1);
    const std::string path = entry.substr(second + 1);
    auto synthetic = data::ReadCsvTable(path, *schema, synthetic_format);
    if (!synthetic.ok()) return fail(synthetic.status());
    auto probes = score_table(synthetic->table);
    if (!probes.ok()) return fail(probes.status());
    auto utility = eval::MeasureTableUtility(synthetic->table, train->table, test->table, *schema);
    if (!utility.ok()) return fail(utility.status());
    add_row(name, epsilon, *probes, &*utility);
  }
  std::printf("\n%s", table.c_str());
  if (!markdown.empty()) {
    if (absl::Status s = data::WriteFileAtomically(markdown, table); !s.ok()) return fail(s);
  }
  return 0;
}
