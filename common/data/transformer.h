// Maps records to model space and back. Built from the schema alone (never fitted to data):
//   continuous / integer  -> one Gaussian coordinate, scaled from [min, max] to [-1, 1];
//                            plus a Bernoulli "missing" indicator if the column is nullable
//                            (the value coordinate is 0 when missing); plus (layout
//                            kBoundPositions) a 3-slot one-hot "position": at min, inside, at
//                            max (all zero when missing) — a value sitting exactly on a bound,
//                            such as Adult's capital gain of 0 for 92% of rows, is a point mass
//                            a Gaussian cannot carry;
//   categorical / binary  -> a one-hot block over the declared categories, with one extra
//                            slot for "missing" if the column is nullable;
//   ignored               -> nothing.
// The label column is encoded like any other column, so the decoder generates it jointly
// with the features (DESIGN.md §2.5): it is never copied from a source record.
#ifndef FEDSYN_COMMON_DATA_TRANSFORMER_H_
#define FEDSYN_COMMON_DATA_TRANSFORMER_H_

#include <functional>
#include <span>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"

namespace fedsyn::data {

// How the model's reconstruction loss treats a block of coordinates.
enum class BlockKind {
  kGaussian,     // one coordinate, squared error
  kCategorical,  // `width` logits, cross-entropy
  kBernoulli,    // one logit, binary cross-entropy
};

struct Block {
  BlockKind kind;
  int offset = 0;
  int width = 1;
};

// How a decoder's output distribution becomes values.
enum class DecodingMode {
  kSample,  // draw from it: categories, missingness and (given scales) continuous values
  kArgmax,  // its most likely value: argmax category, mean of continuous values
};

// How numeric columns are laid out. kGaussianOnly is the layout of model files written before
// bound positions existed (they state no layout); every new model uses kBoundPositions.
enum class NumericLayout { kGaussianOnly, kBoundPositions };
const char* NumericLayoutName(NumericLayout layout);  // "gaussian" | "bound-positions"

class Transformer {
 public:
  static absl::StatusOr<Transformer> FromSchema(
      const Schema& schema, NumericLayout numeric = NumericLayout::kBoundPositions);

  NumericLayout numeric_layout() const { return numeric_; }

  int width() const { return width_; }
  const std::vector<Block>& blocks() const { return blocks_; }

  // Records -> model space (rows x width). Cells must satisfy the schema (as ReadCsvTable
  // guarantees).
  Matrix Encode(const Table& table) const;
  // Rows [begin, begin + count) of Encode(table); the range must lie inside the table.
  Matrix EncodeRows(const Table& table, int64_t begin, int64_t count) const;

  // Exact inverse of Encode: Inverse(Encode(t)) == t up to float rounding of continuous values.
  Table Inverse(const Matrix& encoded) const;

  // Decoder outputs (Gaussian means, categorical logits, Bernoulli logits, same layout as
  // Encode) -> records in the schema's domain. `uniform01` returns uniform draws in (0, 1) and
  // is only called for kSample. `gaussian_scale` (empty, or one entry per model coordinate)
  // holds the decoder's standard deviation of each Gaussian coordinate: under kSample the
  // continuous values are drawn from N(mean, scale^2) conditioned on the declared bounds (the
  // likelihood restricted to the domain; clamping a free draw would pile the mass beyond a bound
  // onto it), instead of collapsing every record onto the mean. With bound positions the
  // position is drawn first: a bound is emitted exactly, an inside value is drawn conditioned on
  // the inside (integers: strictly between the bounds after rounding). Means are clamped and
  // integers rounded, so every output row satisfies the schema.
  Table DecodeLogits(const Matrix& logits, DecodingMode decoding,
                     const std::function<double()>& uniform01,
                     std::span<const float> gaussian_scale = {}) const;

 private:
  struct ColumnLayout {
    int column = 0;
    int value_offset = 0;       // Gaussian coordinate or first one-hot slot
    int indicator_offset = -1;  // Bernoulli missing indicator (numeric, nullable)
    int position_offset = -1;   // numeric, kBoundPositions: one-hot at min / inside / at max
  };
  template <typename ChooseCategory, typename IsMissing, typename ContinuousValue>
  Table DecodeWith(const Matrix& m, ChooseCategory choose, IsMissing is_missing,
                   ContinuousValue value) const;

  NumericLayout numeric_ = NumericLayout::kBoundPositions;
  std::vector<ColumnSpec> columns_;
  std::vector<ColumnLayout> layout_;
  std::vector<Block> blocks_;
  int width_ = 0;
};

}  // namespace fedsyn::data

#endif  // FEDSYN_COMMON_DATA_TRANSFORMER_H_
