#include "common/data/transformer.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace fedsyn::data {
namespace {

double Scale(double value, const ColumnSpec& c) {
  return 2.0 * (value - c.min) / (c.max - c.min) - 1.0;
}
double Unscale(double scaled, const ColumnSpec& c) {
  const double value = (scaled + 1.0) * 0.5 * (c.max - c.min) + c.min;
  return std::clamp(value, c.min, c.max);
}
double MeanValue(const float* row, int offset) { return row[offset]; }
int ArgMax(const float* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }
int CategorySlots(const ColumnSpec& c) {
  return static_cast<int>(c.categories.size()) + (c.nullable ? 1 : 0);
}

}  // namespace

absl::StatusOr<Transformer> Transformer::FromSchema(const Schema& schema) {
  Transformer t;
  t.columns_ = schema.columns;
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    const ColumnSpec& column = schema.columns[c];
    if (column.type == ColumnType::kIgnored) continue;
    ColumnLayout layout;
    layout.column = static_cast<int>(c);
    layout.value_offset = t.width_;
    if (column.IsNumeric()) {
      t.blocks_.push_back({BlockKind::kGaussian, t.width_, 1});
      t.width_ += 1;
      if (column.nullable) {
        layout.indicator_offset = t.width_;
        t.blocks_.push_back({BlockKind::kBernoulli, t.width_, 1});
        t.width_ += 1;
      }
    } else {
      const int slots = CategorySlots(column);
      t.blocks_.push_back({BlockKind::kCategorical, t.width_, slots});
      t.width_ += slots;
    }
    t.layout_.push_back(layout);
  }
  if (t.width_ == 0) return absl::InvalidArgumentError("schema has no modelled columns");
  return t;
}

Matrix Transformer::Encode(const Table& table) const {
  Matrix m(table.num_rows(), width_);
  for (int64_t r = 0; r < table.num_rows(); ++r) {
    float* out = m.Row(r);
    const Row& row = table.rows[static_cast<size_t>(r)];
    for (const ColumnLayout& l : layout_) {
      const ColumnSpec& column = columns_[static_cast<size_t>(l.column)];
      const Cell& cell = row[static_cast<size_t>(l.column)];
      if (column.IsNumeric()) {
        out[l.value_offset] = cell ? static_cast<float>(Scale(*cell, column)) : 0.0f;
        if (l.indicator_offset >= 0) out[l.indicator_offset] = cell ? 0.0f : 1.0f;
      } else {
        const int slot = cell ? static_cast<int>(*cell) : CategorySlots(column) - 1;
        out[l.value_offset + slot] = 1.0f;
      }
    }
  }
  return m;
}

template <typename ChooseCategory, typename IsMissing, typename ContinuousValue>
Table Transformer::DecodeWith(const Matrix& m, ChooseCategory choose, IsMissing is_missing,
                              ContinuousValue continuous_value) const {
  Table table;
  table.rows.resize(static_cast<size_t>(m.rows), Row(columns_.size()));
  for (int64_t r = 0; r < m.rows; ++r) {
    const float* in = m.Row(r);
    Row& row = table.rows[static_cast<size_t>(r)];
    for (const ColumnLayout& l : layout_) {
      const ColumnSpec& column = columns_[static_cast<size_t>(l.column)];
      Cell& cell = row[static_cast<size_t>(l.column)];
      if (column.IsNumeric()) {
        if (l.indicator_offset >= 0 && is_missing(in[l.indicator_offset])) continue;
        double value = Unscale(continuous_value(in, l.value_offset), column);
        if (column.type == ColumnType::kInteger)
          value = std::clamp(std::round(value), column.min, column.max);
        cell = value;
      } else {
        const int slots = CategorySlots(column);
        const int slot = choose(in + l.value_offset, slots);
        if (column.nullable && slot == slots - 1) continue;  // the "missing" slot
        cell = static_cast<double>(slot);
      }
    }
  }
  return table;
}

Table Transformer::Inverse(const Matrix& encoded) const {
  return DecodeWith(
      encoded, ArgMax, [](float indicator) { return indicator > 0.5f; }, MeanValue);
}

Table Transformer::DecodeLogits(const Matrix& logits, DecodingMode decoding,
                                const std::function<double()>& uniform01,
                                std::span<const float> gaussian_scale) const {
  if (decoding == DecodingMode::kArgmax) {
    return DecodeWith(
        logits, ArgMax, [](float logit) { return logit > 0.0f; }, MeanValue);
  }
  const auto sample = [&uniform01](const float* v, int n) {
    // Softmax with the max subtracted for stability, then inverse-CDF sampling.
    const float top = *std::max_element(v, v + n);
    double total = 0.0;
    for (int i = 0; i < n; ++i) total += std::exp(static_cast<double>(v[i] - top));
    double u = uniform01() * total;
    for (int i = 0; i < n; ++i) {
      u -= std::exp(static_cast<double>(v[i] - top));
      if (u <= 0.0) return i;
    }
    return n - 1;
  };
  const auto sample_missing = [&uniform01](float logit) {
    return uniform01() < 1.0 / (1.0 + std::exp(-static_cast<double>(logit)));
  };
  const auto sample_value = [&uniform01, gaussian_scale](const float* row, int offset) {
    if (gaussian_scale.empty()) return static_cast<double>(row[offset]);
    // Box-Muller from two uniforms of the caller's generator.
    const double normal =
        std::sqrt(-2.0 * std::log(uniform01())) * std::cos(2.0 * std::numbers::pi * uniform01());
    return row[offset] + gaussian_scale[static_cast<size_t>(offset)] * normal;
  };
  return DecodeWith(logits, sample, sample_missing, sample_value);
}

}  // namespace fedsyn::data
