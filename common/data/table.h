// In-memory tabular records, one cell per schema column. A cell is empty when the value is
// missing (or the column is ignored); numeric cells hold the value, categorical cells hold the
// index of the category in the schema's declared list.
#ifndef FEDSYN_COMMON_DATA_TABLE_H_
#define FEDSYN_COMMON_DATA_TABLE_H_

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

namespace fedsyn::data {

using Cell = std::optional<double>;
using Row = std::vector<Cell>;

struct Table {
  std::vector<Row> rows;
  int64_t num_rows() const { return static_cast<int64_t>(rows.size()); }
};

// Dense row-major float matrix: the model-space representation of a table or image set.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;

  Matrix() = default;
  Matrix(int64_t r, int64_t c) : rows(r), cols(c), values(static_cast<size_t>(r * c), 0.0f) {}
  float* Row(int64_t i) { return values.data() + i * cols; }
  const float* Row(int64_t i) const { return values.data() + i * cols; }

  // The rows at `index`, in that order (a subset, a resample, a permutation).
  Matrix SelectRows(const std::vector<int64_t>& index) const {
    Matrix out(static_cast<int64_t>(index.size()), cols);
    for (size_t i = 0; i < index.size(); ++i)
      std::copy(Row(index[i]), Row(index[i]) + cols, out.Row(static_cast<int64_t>(i)));
    return out;
  }
};

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_TABLE_H_
