#include "common/eval/table_utility.h"

#include <algorithm>
#include <cmath>

#include "common/eval/logistic_regression.h"
#include "common/eval/metrics.h"
#include "common/synth/discretizer.h"

namespace fedsyn::eval {
namespace {

// The bins distances are measured on: 32 equal-width interior bins, as the baselines.
constexpr int kDistanceBins = 32;
// Full-batch gradient descent steps of the probe: enough for one-hot features to converge.
constexpr int kProbeIterations = 1500;

double TotalVariation(const std::vector<double>& p, const std::vector<double>& q) {
  double sum = 0;
  for (size_t i = 0; i < p.size(); ++i) sum += std::fabs(p[i] - q[i]);
  return 0.5 * sum;
}

// The joint distribution of some attributes' codes (all zero for no rows).
std::vector<double> Distribution(const std::vector<const std::vector<int32_t>*>& columns,
                                 const std::vector<int>& sizes) {
  std::vector<double> out = synth::JointCounts(columns, sizes);
  const auto rows = static_cast<double>(columns.front()->size());
  if (rows > 0)
    for (double& v : out) v /= rows;
  return out;
}

double BoundShareOf(const data::Table& table, int column, double min, double max) {
  if (table.rows.empty()) return 0;
  int64_t at_bound = 0;
  for (const data::Row& row : table.rows) {
    const data::Cell& cell = row[static_cast<size_t>(column)];
    if (cell && (*cell == min || *cell == max)) ++at_bound;
  }
  return static_cast<double>(at_bound) / static_cast<double>(table.rows.size());
}

absl::StatusOr<LabelledData> OneHotLabelledData(const synth::Discretizer& discretizer,
                                                const data::Table& table) {
  auto codes = discretizer.Encode(table);
  if (!codes.ok()) return codes.status();
  const int label = discretizer.label_attribute();
  const auto& attributes = discretizer.attributes();
  if (label < 0 || attributes[static_cast<size_t>(label)].size < 2) {
    return absl::InvalidArgumentError("the utility probe needs a label of two or more categories");
  }
  std::vector<int> offset(attributes.size(), 0);
  int width = 0;
  for (size_t a = 0; a < attributes.size(); ++a) {
    if (static_cast<int>(a) == label) continue;
    offset[a] = width;
    width += attributes[a].size;
  }
  LabelledData out;
  out.features = data::Matrix(table.num_rows(), width);
  out.labels.resize(table.rows.size());
  for (size_t r = 0; r < table.rows.size(); ++r) {
    for (size_t a = 0; a < attributes.size(); ++a) {
      const int32_t code = (*codes)[a][r];
      if (static_cast<int>(a) == label) {
        out.labels[r] = code == 0 ? 0 : 1;  // the first category against the rest
      } else {
        out.features.Row(static_cast<int64_t>(r))[offset[a] + code] = 1.0f;
      }
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<LabelledData> ProbeData(const data::Table& table, const data::Schema& schema) {
  auto discretizer = synth::Discretizer::FromSchema(schema, kDistanceBins);
  if (!discretizer.ok()) return discretizer.status();
  return OneHotLabelledData(*discretizer, table);
}

ClassifierScore ScoreProbabilities(const std::vector<double>& positive_probability,
                                   const LabelledData& test) {
  ClassifierScore score;
  Scores positives, negatives;
  int64_t correct = 0;
  for (size_t i = 0; i < positive_probability.size() && i < test.labels.size(); ++i) {
    const double p = positive_probability[i];
    const int label = test.labels[i];
    correct += (p >= 0.5 ? 1 : 0) == label;
    (label == 1 ? positives : negatives).push_back(p);
  }
  score.accuracy = test.labels.empty()
                       ? 0.0
                       : static_cast<double>(correct) / static_cast<double>(test.labels.size());
  score.auc = positives.empty() || negatives.empty() ? 0.5 : Auc(positives, negatives);
  return score;
}

absl::StatusOr<ClassifierScore> LogisticScore(const data::Table& train, const data::Table& test,
                                              const data::Schema& schema) {
  auto train_data = ProbeData(train, schema);
  if (!train_data.ok()) return train_data.status();
  auto test_data = ProbeData(test, schema);
  if (!test_data.ok()) return test_data.status();
  LogisticRegression::Options options;
  options.iterations = kProbeIterations;
  const LogisticRegression model = LogisticRegression::Fit(*train_data, options);
  std::vector<double> probabilities;
  for (int64_t i = 0; i < test_data->features.rows; ++i)
    probabilities.push_back(model.Probability(test_data->features.Row(i)));
  return ScoreProbabilities(probabilities, *test_data);
}

absl::StatusOr<TableUtility> MeasureTableUtility(const data::Table& synthetic,
                                                 const data::Table& reference,
                                                 const data::Table& test,
                                                 const data::Schema& schema) {
  if (synthetic.rows.empty() || reference.rows.empty() || test.rows.empty()) {
    return absl::InvalidArgumentError("utility needs synthetic, reference and test rows");
  }
  TableUtility out;
  auto classifier = LogisticScore(synthetic, test, schema);
  if (!classifier.ok()) return classifier.status();
  out.accuracy = classifier->accuracy;
  out.auc = classifier->auc;

  auto discretizer = synth::Discretizer::FromSchema(schema, kDistanceBins);
  if (!discretizer.ok()) return discretizer.status();
  auto reference_labels = OneHotLabelledData(*discretizer, reference);
  if (!reference_labels.ok()) return reference_labels.status();
  auto test_labels = OneHotLabelledData(*discretizer, test);
  if (!test_labels.ok()) return test_labels.status();
  out.majority_accuracy = MajorityBaselineAccuracy(*reference_labels, *test_labels);
  auto real_codes = discretizer->Encode(reference);
  if (!real_codes.ok()) return real_codes.status();
  auto synthetic_codes = discretizer->Encode(synthetic);
  if (!synthetic_codes.ok()) return synthetic_codes.status();
  const auto& attributes = discretizer->attributes();
  const size_t k = attributes.size();
  double sum1 = 0, sum2 = 0;
  int pairs = 0;
  for (size_t a = 0; a < k; ++a) {
    const std::vector<int> sizes = {attributes[a].size};
    const double tvd = TotalVariation(Distribution({&(*real_codes)[a]}, sizes),
                                      Distribution({&(*synthetic_codes)[a]}, sizes));
    sum1 += tvd;
    out.one_way.push_back({{attributes[a].name}, tvd});
    out.max_tvd_1way = std::max(out.max_tvd_1way, tvd);
    for (size_t b = a + 1; b < k; ++b) {
      const std::vector<int> pair_sizes = {attributes[a].size, attributes[b].size};
      const double tvd2 = TotalVariation(
          Distribution({&(*real_codes)[a], &(*real_codes)[b]}, pair_sizes),
          Distribution({&(*synthetic_codes)[a], &(*synthetic_codes)[b]}, pair_sizes));
      sum2 += tvd2;
      out.two_way.push_back({{attributes[a].name, attributes[b].name}, tvd2});
      out.max_tvd_2way = std::max(out.max_tvd_2way, tvd2);
      ++pairs;
    }
  }
  out.mean_tvd_1way = sum1 / static_cast<double>(k);
  out.mean_tvd_2way = pairs > 0 ? sum2 / pairs : 0.0;

  out.worst_bound_excess = -1.0;
  for (const synth::AttributeCoding& coding : attributes) {
    if (coding.type != data::ColumnType::kContinuous && coding.type != data::ColumnType::kInteger)
      continue;
    BoundShare share;
    share.column = coding.name;
    share.real = BoundShareOf(reference, coding.column, coding.min, coding.max);
    share.synthetic = BoundShareOf(synthetic, coding.column, coding.min, coding.max);
    out.worst_bound_excess =
        std::max(out.worst_bound_excess, share.synthetic - (2.0 * share.real + 0.01));
    out.bounds.push_back(std::move(share));
  }
  return out;
}

}  // namespace fedsyn::eval
