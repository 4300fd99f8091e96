// Utility of a synthetic table against real records (issue #13's "which should I use?"): a
// classifier trained on the synthetic rows and tested on real ones, and how far the synthetic
// distribution is from the real one — 1-way and 2-way marginal distances (total variation over
// the discretisation of common/synth) and, per numeric column, the share of values sitting at a
// declared bound (a generator that saturates piles them there).
#ifndef FEDSYN_COMMON_EVAL_TABLE_UTILITY_H_
#define FEDSYN_COMMON_EVAL_TABLE_UTILITY_H_

#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"
#include "common/eval/logistic_regression.h"

namespace fedsyn::eval {

struct BoundShare {
  std::string column;
  double real = 0;       // share of the real rows at the column's min or max
  double synthetic = 0;  // the same in the synthetic rows
};

// One marginal's distance, for profiling where a generator loses.
struct MarginalDistance {
  std::vector<std::string> columns;  // one or two
  double tvd = 0;
};

struct TableUtility {
  double accuracy = 0;  // logistic regression trained on synthetic, tested on real
  double auc = 0;       // ROC AUC of its probabilities on the real test rows
  // Always predicting the reference rows' majority label, on the test rows.
  double majority_accuracy = 0;
  double mean_tvd_1way = 0, max_tvd_1way = 0;
  double mean_tvd_2way = 0, max_tvd_2way = 0;
  std::vector<MarginalDistance> one_way, two_way;  // every column; every pair of columns
  std::vector<BoundShare> bounds;                  // numeric columns
  // The largest excess of a column's synthetic bound share over 2x its real share + 1%:
  // <= 0 means no column piles up at its bounds (issue #13's target).
  double worst_bound_excess = 0;
};

// `reference` is the real table the marginal distances compare to (the training file); `test`
// the held-out real rows the classifier is scored on. The schema needs a label; one of more than
// two categories is probed as its first category against the rest (Heart: no disease against
// any degree of it).
absl::StatusOr<TableUtility> MeasureTableUtility(const data::Table& synthetic,
                                                 const data::Table& reference,
                                                 const data::Table& test,
                                                 const data::Schema& schema);

// Logistic regression's accuracy and AUC on `test` after training on `train`. Its features are
// the one-hot codes of every non-label column on the distance bins (32 equal-width interior
// bins and the bounds for numeric columns; categories; missing), the probe of the MST and AIM
// papers, so the figures compare with theirs.
struct ClassifierScore {
  double accuracy = 0, auc = 0;
};
// The probe's inputs: those one-hot features, and the label (binary, or a label of more
// categories as its first category against the rest). For other probes on the same footing.
absl::StatusOr<LabelledData> ProbeData(const data::Table& table, const data::Schema& schema);
// Accuracy and AUC of probabilities p(label = 1) against the probe labels of `test`.
ClassifierScore ScoreProbabilities(const std::vector<double>& positive_probability,
                                   const LabelledData& test);
absl::StatusOr<ClassifierScore> LogisticScore(const data::Table& train, const data::Table& test,
                                              const data::Schema& schema);

}  // namespace fedsyn::eval

#endif  // FEDSYN_COMMON_EVAL_TABLE_UTILITY_H_
