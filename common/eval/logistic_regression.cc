#include "common/eval/logistic_regression.h"

#include <cmath>

#include "common/data/transformer.h"

namespace fedsyn::eval {

absl::StatusOr<LabelledData> ToLabelledData(const data::Table& table, const data::Schema& schema) {
  if (!schema.label_index ||
      !schema.columns[static_cast<size_t>(*schema.label_index)].IsCategorical()) {
    return absl::InvalidArgumentError("a categorical or binary label column is needed");
  }
  const size_t label = static_cast<size_t>(*schema.label_index);
  data::Schema features_only = schema;
  features_only.columns[label].type = data::ColumnType::kIgnored;
  features_only.label_index.reset();
  ASSIGN_OR_RETURN(const data::Transformer transformer,
                   data::Transformer::FromSchema(features_only));
  LabelledData out;
  out.features = transformer.Encode(table);
  out.num_classes = static_cast<int>(schema.columns[label].categories.size());
  for (const data::Row& row : table.rows) {
    if (!row[label]) return absl::InvalidArgumentError("a record has no label");
    out.labels.push_back(static_cast<int>(std::lround(*row[label])));
  }
  return out;
}

LogisticRegression LogisticRegression::Fit(const LabelledData& train, const Options& options) {
  LogisticRegression model;
  const int64_t n = train.features.rows, d = train.features.cols;
  model.weights_.assign(static_cast<size_t>(d), 0.0);
  std::vector<double> gradient(static_cast<size_t>(d));
  for (int it = 0; it < options.iterations; ++it) {
    std::fill(gradient.begin(), gradient.end(), 0.0);
    double bias_gradient = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float* x = train.features.Row(i);
      const double residual = model.Probability(x) - train.labels[static_cast<size_t>(i)];
      for (int64_t j = 0; j < d; ++j) gradient[static_cast<size_t>(j)] += residual * x[j];
      bias_gradient += residual;
    }
    for (int64_t j = 0; j < d; ++j) {
      double& w = model.weights_[static_cast<size_t>(j)];
      w -= options.learning_rate *
           (gradient[static_cast<size_t>(j)] / static_cast<double>(n) + options.l2 * w);
    }
    model.bias_ -= options.learning_rate * bias_gradient / static_cast<double>(n);
  }
  return model;
}

double LogisticRegression::Probability(const float* features) const {
  double z = bias_;
  for (size_t j = 0; j < weights_.size(); ++j) z += weights_[j] * features[j];
  return 1.0 / (1.0 + std::exp(-z));
}

double LogisticRegression::Accuracy(const LabelledData& test) const {
  int64_t correct = 0;
  for (int64_t i = 0; i < test.features.rows; ++i) {
    correct +=
        (Probability(test.features.Row(i)) >= 0.5 ? 1 : 0) == test.labels[static_cast<size_t>(i)];
  }
  return static_cast<double>(correct) / static_cast<double>(test.features.rows);
}

double MajorityBaselineAccuracy(const LabelledData& train, const LabelledData& test) {
  int64_t ones = 0;
  for (int label : train.labels) ones += label;
  const int majority = 2 * ones >= static_cast<int64_t>(train.labels.size()) ? 1 : 0;
  int64_t correct = 0;
  for (int label : test.labels) correct += label == majority;
  return static_cast<double>(correct) / static_cast<double>(test.labels.size());
}

}  // namespace fedsyn::eval
