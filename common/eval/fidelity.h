// Fidelity of synthetic data to the real data it stands for (issue #5): per-column distances
// and the difference of correlation structure. Utility (a classifier trained on the synthetic
// data, tested on real data) is measured by the evaluation itself.
#ifndef FEDSYN_COMMON_EVAL_FIDELITY_H_
#define FEDSYN_COMMON_EVAL_FIDELITY_H_

#include <string>
#include <vector>

#include "common/data/schema.h"
#include "common/data/table.h"

namespace fedsyn::eval {

struct ColumnDistance {
  std::string column;
  std::string measure;  // "ks" (numeric: Kolmogorov-Smirnov statistic) or "tv" (categories)
  double distance = 0;  // in [0, 1]
};

struct Fidelity {
  std::vector<ColumnDistance> columns;  // empty for matrices (images)
  double mean_column_distance = 0;
  // Mean |corr_real - corr_synthetic| over pairs of model-space coordinates that vary in both.
  double correlation_difference = 0;
};

// Tables: per schema column (missing values count as their own category; KS over present
// values), correlations of the transformer's encoding.
Fidelity CompareTables(const data::Table& real, const data::Table& synthetic,
                       const data::Schema& schema);
// Matrices (images in [0, 1]): per-coordinate KS, averaged; correlations of coordinates.
Fidelity CompareMatrices(const data::Matrix& real, const data::Matrix& synthetic);

// Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b|.
double KsStatistic(std::vector<double> a, std::vector<double> b);
double CorrelationDifference(const data::Matrix& real, const data::Matrix& synthetic);

}  // namespace fedsyn::eval

#endif  // FEDSYN_COMMON_EVAL_FIDELITY_H_
