#include "common/data/transformer.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

namespace fedsyn::data {
namespace {

double Scale(double value, const ColumnSpec& c) {
  return 2.0 * (value - c.min) / (c.max - c.min) - 1.0;
}
double Unscale(double scaled, const ColumnSpec& c) {
  const double value = (scaled + 1.0) * 0.5 * (c.max - c.min) + c.min;
  return std::clamp(value, c.min, c.max);
}
// The mean, within [low, high] (model space).
double MeanValue(const float* row, int offset, double low, double high) {
  return std::clamp(static_cast<double>(row[offset]), low, high);
}
int ArgMax(const float* v, int n) { return static_cast<int>(std::max_element(v, v + n) - v); }
int CategorySlots(const ColumnSpec& c) {
  return static_cast<int>(c.categories.size()) + (c.nullable ? 1 : 0);
}

// Standard normal draws by Box-Muller from the caller's uniforms. Both values of a pair are
// used: they are independent standard normals, and the release draws millions of them.
class NormalDraws {
 public:
  explicit NormalDraws(const std::function<double()>& uniform01) : uniform01_(uniform01) {}
  double Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double radius = std::sqrt(-2.0 * std::log(uniform01_()));
    const double angle = 2.0 * std::numbers::pi * uniform01_();
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }
  double Uniform() { return uniform01_(); }

 private:
  const std::function<double()>& uniform01_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// A draw of the standard normal restricted to [a, +inf), a > 0: Robert's (1995) rejection from
// a translated exponential with the optimal rate, accepted with probability > 0.75 for any a.
double UpperTailNormal(double a, NormalDraws& draws) {
  const double rate = 0.5 * (a + std::sqrt(a * a + 4.0));
  for (;;) {
    const double z = a - std::log(draws.Uniform()) / rate;
    const double d = z - rate;
    if (draws.Uniform() <= std::exp(-0.5 * d * d)) return z;
  }
}

// How many plain normal draws to try before switching to the tail sampler: plain rejection
// accepts with probability P(a <= Z <= b); below ~5% the tail sampler is the faster exact one.
constexpr int kPlainNormalTries = 64;
// Tail draws before giving up on an interval that holds almost none of the tail (see below).
constexpr int kTailTries = 10000;

// A draw of N(mean, sd^2) conditioned on [lo, hi], exactly: plain rejection while the interval
// holds a fair share of the mass, else (the mean is outside and far from it) the tail sampler
// at the nearer end, rejected again past the far end.
double TruncatedNormal(double mean, double sd, double lo, double hi, NormalDraws& draws) {
  for (int i = 0; i < kPlainNormalTries; ++i) {
    const double x = mean + sd * draws.Next();
    if (x >= lo && x <= hi) return x;
  }
  const bool above = mean > hi;  // the interval lies below the mean: mirror it
  const double a = above ? (mean - hi) / sd : (lo - mean) / sd;
  const double b = above ? (mean - lo) / sd : (hi - mean) / sd;
  if (a <= 0) {
    // The mean is inside yet 64 draws missed: an interval of negligible mass around it.
    return std::clamp(mean, lo, hi);
  }
  for (int i = 0; i < kTailTries; ++i) {
    const double z = UpperTailNormal(a, draws);
    if (z <= b) return above ? mean - sd * z : mean + sd * z;
  }
  // The interval is a sliver far in the tail (a mean ~1e6 standard deviations... from a damaged
  // or hostile model): its nearer end, where nearly all of the conditioned mass sits.
  return above ? hi : lo;
}

// Slots of the position block.
constexpr int kAtMin = 0, kInside = 1, kAtMax = 2, kPositionSlots = 3;

// The inside of a numeric column in model space: where an inside value is drawn. For integers
// the half-units next to the bounds are left out, so rounding never lands on a bound.
std::pair<double, double> InsideInterval(const ColumnSpec& c) {
  if (c.type == ColumnType::kInteger && c.max - c.min >= 2)
    return {Scale(c.min + 0.5, c), Scale(c.max - 0.5, c)};
  return {-1.0, 1.0};
}

}  // namespace

const char* NumericLayoutName(NumericLayout layout) {
  return layout == NumericLayout::kBoundPositions ? "bound-positions" : "gaussian";
}

absl::StatusOr<Transformer> Transformer::FromSchema(const Schema& schema, NumericLayout numeric) {
  Transformer t;
  t.numeric_ = numeric;
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
      if (numeric == NumericLayout::kBoundPositions) {
        layout.position_offset = t.width_;
        t.blocks_.push_back({BlockKind::kCategorical, t.width_, kPositionSlots});
        t.width_ += kPositionSlots;
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
  return EncodeRows(table, 0, table.num_rows());
}

Matrix Transformer::EncodeRows(const Table& table, int64_t begin, int64_t count) const {
  Matrix m(count, width_);
  for (int64_t r = 0; r < count; ++r) {
    float* out = m.Row(r);
    const Row& row = table.rows[static_cast<size_t>(begin + r)];
    for (const ColumnLayout& l : layout_) {
      const ColumnSpec& column = columns_[static_cast<size_t>(l.column)];
      const Cell& cell = row[static_cast<size_t>(l.column)];
      if (column.IsNumeric()) {
        out[l.value_offset] = cell ? static_cast<float>(Scale(*cell, column)) : 0.0f;
        if (l.indicator_offset >= 0) out[l.indicator_offset] = cell ? 0.0f : 1.0f;
        if (l.position_offset >= 0 && cell) {
          const int slot = *cell <= column.min ? kAtMin : *cell >= column.max ? kAtMax : kInside;
          out[l.position_offset + slot] = 1.0f;
        }
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
        const int position =
            l.position_offset >= 0 ? choose(in + l.position_offset, kPositionSlots) : -1;
        if (position == kAtMin || position == kAtMax) {
          cell = position == kAtMin ? column.min : column.max;
          continue;
        }
        const auto [low, high] =
            position == kInside ? InsideInterval(column) : std::pair<double, double>{-1.0, 1.0};
        double value = Unscale(continuous_value(in, l.value_offset, low, high), column);
        if (column.type == ColumnType::kInteger) {
          value = std::clamp(std::round(value), column.min, column.max);
          if (position == kInside && column.max - column.min >= 2)
            value = std::clamp(value, column.min + 1, column.max - 1);
        }
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
  // Softmax weights of the current block, computed once per slot.
  std::vector<double> weights;
  const auto sample = [&uniform01, &weights](const float* v, int n) {
    // Softmax with the max subtracted for stability, then inverse-CDF sampling.
    const float top = *std::max_element(v, v + n);
    weights.resize(static_cast<size_t>(n));
    double total = 0.0;
    for (int i = 0; i < n; ++i) {
      weights[static_cast<size_t>(i)] = std::exp(static_cast<double>(v[i] - top));
      total += weights[static_cast<size_t>(i)];
    }
    double u = uniform01() * total;
    for (int i = 0; i < n; ++i) {
      u -= weights[static_cast<size_t>(i)];
      if (u <= 0.0) return i;
    }
    return n - 1;
  };
  const auto sample_missing = [&uniform01](float logit) {
    return uniform01() < 1.0 / (1.0 + std::exp(-static_cast<double>(logit)));
  };
  NormalDraws normal(uniform01);
  const auto sample_value = [&normal, gaussian_scale](const float* row, int offset, double low,
                                                      double high) {
    const double mean = row[offset];
    if (gaussian_scale.empty()) return MeanValue(row, offset, low, high);
    const double sd = gaussian_scale[static_cast<size_t>(offset)];
    if (!(sd > 0) || !std::isfinite(mean) || !std::isfinite(sd))
      return MeanValue(row, offset, low, high);
    // The likelihood conditioned on [low, high] (the domain, or its inside): clamping a free
    // draw instead would pile all the mass beyond a bound onto the bound itself.
    return TruncatedNormal(mean, sd, low, high, normal);
  };
  return DecodeWith(logits, sample, sample_missing, sample_value);
}

}  // namespace fedsyn::data
