// A small L2-regularised logistic regression, trained by full-batch gradient descent: the
// utility probe for synthetic tables ("train on synthetic, test on real"). Plain C++: no
// LibTorch needed to evaluate a release.
#ifndef FEDSYN_COMMON_EVAL_LOGISTIC_REGRESSION_H_
#define FEDSYN_COMMON_EVAL_LOGISTIC_REGRESSION_H_

#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"

namespace fedsyn::eval {

struct LabelledData {
  data::Matrix features;    // rows x width, the schema's non-label columns in model space
  std::vector<int> labels;  // the label's category index (binary: the second category is 1)
  int num_classes = 2;
};

// Features from every modelled column but the label (through data::Transformer), labels from a
// categorical or binary label column. InvalidArgument if the schema has none, or a record
// lacks its label.
absl::StatusOr<LabelledData> ToLabelledData(const data::Table& table, const data::Schema& schema);

// Binary labels only (0/1).
class LogisticRegression {
 public:
  struct Options {
    int iterations = 400;
    double learning_rate = 0.5;
    double l2 = 1e-4;
  };
  static LogisticRegression Fit(const LabelledData& train, const Options& options);
  static LogisticRegression Fit(const LabelledData& train) { return Fit(train, Options{}); }

  double Probability(const float* features) const;
  // Share of records whose thresholded (0.5) prediction equals the label.
  double Accuracy(const LabelledData& test) const;

 private:
  std::vector<double> weights_;
  double bias_ = 0;
};

// Accuracy of always predicting the majority label of `train` on `test`.
double MajorityBaselineAccuracy(const LabelledData& train, const LabelledData& test);

}  // namespace fedsyn::eval

#endif  // FEDSYN_COMMON_EVAL_LOGISTIC_REGRESSION_H_
