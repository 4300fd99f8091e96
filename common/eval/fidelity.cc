#include "common/eval/fidelity.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "common/data/transformer.h"

namespace fedsyn::eval {
namespace {

// Pearson correlations of the columns of `m`; NaN where a column does not vary.
std::vector<double> Correlations(const data::Matrix& m) {
  const int64_t n = m.rows, d = m.cols;
  std::vector<double> mean(static_cast<size_t>(d), 0.0), sd(static_cast<size_t>(d), 0.0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t j = 0; j < d; ++j) mean[static_cast<size_t>(j)] += m.Row(r)[j];
  for (double& x : mean) x /= static_cast<double>(std::max<int64_t>(1, n));
  std::vector<double> cov(static_cast<size_t>(d * d), 0.0);
  std::vector<double> c(static_cast<size_t>(d));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < d; ++j)
      c[static_cast<size_t>(j)] = m.Row(r)[j] - mean[static_cast<size_t>(j)];
    for (int64_t a = 0; a < d; ++a) {
      if (c[static_cast<size_t>(a)] == 0) continue;
      for (int64_t b = a; b < d; ++b)
        cov[static_cast<size_t>(a * d + b)] +=
            c[static_cast<size_t>(a)] * c[static_cast<size_t>(b)];
    }
  }
  for (int64_t j = 0; j < d; ++j)
    sd[static_cast<size_t>(j)] = std::sqrt(cov[static_cast<size_t>(j * d + j)]);
  std::vector<double> corr(static_cast<size_t>(d * d), std::nan(""));
  for (int64_t a = 0; a < d; ++a) {
    for (int64_t b = a + 1; b < d; ++b) {
      const double s = sd[static_cast<size_t>(a)] * sd[static_cast<size_t>(b)];
      if (s > 1e-12) corr[static_cast<size_t>(a * d + b)] = cov[static_cast<size_t>(a * d + b)] / s;
    }
  }
  return corr;
}

double Mean(const std::vector<ColumnDistance>& columns) {
  double sum = 0;
  for (const ColumnDistance& c : columns) sum += c.distance;
  return columns.empty() ? 0.0 : sum / static_cast<double>(columns.size());
}

}  // namespace

double KsStatistic(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty()) return a.empty() && b.empty() ? 0.0 : 1.0;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  size_t i = 0, j = 0;
  double best = 0;
  while (i < a.size() && j < b.size()) {
    const double x = std::min(a[i], b[j]);
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    best = std::max(best, std::abs(static_cast<double>(i) / static_cast<double>(a.size()) -
                                   static_cast<double>(j) / static_cast<double>(b.size())));
  }
  return best;
}

double CorrelationDifference(const data::Matrix& real, const data::Matrix& synthetic) {
  const std::vector<double> a = Correlations(real), b = Correlations(synthetic);
  double sum = 0;
  int64_t pairs = 0;
  for (size_t k = 0; k < a.size(); ++k) {
    if (std::isnan(a[k]) || std::isnan(b[k])) continue;
    sum += std::abs(a[k] - b[k]);
    ++pairs;
  }
  return pairs > 0 ? sum / static_cast<double>(pairs) : 0.0;
}

Fidelity CompareTables(const data::Table& real, const data::Table& synthetic,
                       const data::Schema& schema) {
  Fidelity f;
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    const data::ColumnSpec& column = schema.columns[c];
    if (column.type == data::ColumnType::kIgnored) continue;
    if (column.IsCategorical()) {
      // Total variation over the categories plus "missing" (-1).
      std::map<long, double> p, q;
      for (const data::Row& row : real.rows)
        p[row[c] ? std::lround(*row[c]) : -1] += 1.0 / static_cast<double>(real.rows.size());
      for (const data::Row& row : synthetic.rows)
        q[row[c] ? std::lround(*row[c]) : -1] += 1.0 / static_cast<double>(synthetic.rows.size());
      double tv = 0;
      for (long k = -1; k < static_cast<long>(column.categories.size()); ++k)
        tv += std::abs(p[k] - q[k]);
      f.columns.push_back({column.name, "tv", tv / 2});
    } else {
      std::vector<double> a, b;
      for (const data::Row& row : real.rows)
        if (row[c]) a.push_back(*row[c]);
      for (const data::Row& row : synthetic.rows)
        if (row[c]) b.push_back(*row[c]);
      f.columns.push_back({column.name, "ks", KsStatistic(a, b)});
    }
  }
  f.mean_column_distance = Mean(f.columns);
  if (auto transformer = data::Transformer::FromSchema(schema); transformer.ok()) {
    f.correlation_difference =
        CorrelationDifference(transformer->Encode(real), transformer->Encode(synthetic));
  }
  return f;
}

Fidelity CompareMatrices(const data::Matrix& real, const data::Matrix& synthetic) {
  Fidelity f;
  double sum = 0;
  for (int64_t j = 0; j < real.cols; ++j) {
    std::vector<double> a, b;
    for (int64_t r = 0; r < real.rows; ++r) a.push_back(real.Row(r)[j]);
    for (int64_t r = 0; r < synthetic.rows; ++r) b.push_back(synthetic.Row(r)[j]);
    sum += KsStatistic(a, b);
  }
  f.mean_column_distance = real.cols > 0 ? sum / static_cast<double>(real.cols) : 0.0;
  f.correlation_difference = CorrelationDifference(real, synthetic);
  return f;
}

}  // namespace fedsyn::eval
