#include "common/synth/discretizer.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fedsyn::synth {

absl::StatusOr<Discretizer> Discretizer::FromSchema(const data::Schema& schema, int interior_bins,
                                                    int per_value_limit) {
  if (interior_bins < 1 || interior_bins > kMaxInteriorBins) {
    return absl::InvalidArgumentError("interior bins must be in [1, " +
                                      std::to_string(kMaxInteriorBins) + "], got " +
                                      std::to_string(interior_bins));
  }
  if (per_value_limit > kMaxInteriorBins) {
    return absl::InvalidArgumentError("the per-value limit must be at most " +
                                      std::to_string(kMaxInteriorBins));
  }
  per_value_limit = std::max(per_value_limit, interior_bins + 2);
  Discretizer out;
  out.num_columns_ = schema.columns.size();
  for (size_t c = 0; c < schema.columns.size(); ++c) {
    const data::ColumnSpec& spec = schema.columns[c];
    if (spec.type == data::ColumnType::kIgnored) continue;
    AttributeCoding coding;
    coding.column = static_cast<int>(c);
    coding.name = spec.name;
    coding.type = spec.type;
    coding.min = spec.min;
    coding.max = spec.max;
    if (spec.IsCategorical()) {
      coding.size = static_cast<int>(spec.categories.size());
    } else if (spec.type == data::ColumnType::kInteger &&
               spec.max - spec.min + 1.0 <= static_cast<double>(per_value_limit)) {
      coding.per_value = true;
      coding.size = static_cast<int>(spec.max - spec.min) + 1;
    } else if (spec.max > spec.min) {
      coding.interior_bins = interior_bins;
      if (spec.type == data::ColumnType::kInteger) {
        // Never more interior bins than interior integers.
        const double interior_values = spec.max - spec.min - 1.0;
        if (interior_values < interior_bins)
          coding.interior_bins = static_cast<int>(interior_values);
      }
      coding.size = coding.interior_bins + 2;
    } else {
      coding.size = 1;  // a constant column
    }
    if (spec.nullable) {
      coding.has_missing_code = true;
      coding.size += 1;
    }
    if (schema.label_index && *schema.label_index == static_cast<int>(c)) {
      out.label_attribute_ = static_cast<int>(out.attributes_.size());
    }
    out.attributes_.push_back(std::move(coding));
  }
  if (out.attributes_.empty()) {
    return absl::InvalidArgumentError("the schema has no modelled column");
  }
  return out;
}

int Discretizer::Code(const AttributeCoding& coding, const data::Cell& cell) const {
  if (!cell) return coding.has_missing_code ? coding.MissingCode() : -1;
  const double v = *cell;
  if (!std::isfinite(v)) return -1;
  if (coding.type == data::ColumnType::kCategorical || coding.type == data::ColumnType::kBinary) {
    const int category = static_cast<int>(v);
    const int categories = coding.size - (coding.has_missing_code ? 1 : 0);
    return category >= 0 && category < categories && category == v ? category : -1;
  }
  if (v < coding.min || v > coding.max) return -1;
  if (coding.per_value) return static_cast<int>(std::llround(v - coding.min));
  const int values = coding.size - (coding.has_missing_code ? 1 : 0);
  if (values == 1) return 0;
  if (v == coding.min) return 0;
  if (v == coding.max) return coding.interior_bins + 1;
  int bin;
  if (coding.type == data::ColumnType::kInteger) {
    // Interior integers min+1 .. max-1, cut into equal runs.
    const double interior_values = coding.max - coding.min - 1.0;
    bin = static_cast<int>(
        std::floor((v - coding.min - 1.0) * coding.interior_bins / interior_values));
  } else {
    bin = static_cast<int>(
        std::floor((v - coding.min) / (coding.max - coding.min) * coding.interior_bins));
  }
  if (bin < 0) bin = 0;
  if (bin >= coding.interior_bins) bin = coding.interior_bins - 1;
  return bin + 1;
}

absl::StatusOr<std::vector<std::vector<int32_t>>> Discretizer::Encode(
    const data::Table& table) const {
  std::vector<std::vector<int32_t>> codes(attributes_.size(),
                                          std::vector<int32_t>(table.rows.size()));
  for (size_t r = 0; r < table.rows.size(); ++r) {
    const data::Row& row = table.rows[r];
    if (row.size() != num_columns_) {
      return absl::InvalidArgumentError("row " + std::to_string(r + 1) + " has " +
                                        std::to_string(row.size()) + " cells, the schema " +
                                        std::to_string(num_columns_));
    }
    for (size_t a = 0; a < attributes_.size(); ++a) {
      const int code = Code(attributes_[a], row[static_cast<size_t>(attributes_[a].column)]);
      if (code < 0) {
        return absl::InvalidArgumentError("row " + std::to_string(r + 1) + ", column " +
                                          attributes_[a].name +
                                          ": a value the schema does not "
                                          "allow");
      }
      codes[a][r] = code;
    }
  }
  return codes;
}

data::Cell Discretizer::Decode(int attribute, int code, privacy::RandomSource& rng) const {
  const AttributeCoding& coding = attributes_[static_cast<size_t>(attribute)];
  if (coding.has_missing_code && code == coding.MissingCode()) return std::nullopt;
  if (coding.type == data::ColumnType::kCategorical || coding.type == data::ColumnType::kBinary) {
    return static_cast<double>(code);
  }
  if (coding.per_value) return coding.min + code;
  const int values = coding.size - (coding.has_missing_code ? 1 : 0);
  if (values == 1 || code == 0) return coding.min;
  if (code == coding.interior_bins + 1) return coding.max;
  const int bin = code - 1;
  if (coding.type == data::ColumnType::kInteger) {
    const double interior_values = coding.max - coding.min - 1.0;
    // The integers v with floor((v - min - 1) * bins / interior_values) == bin.
    const double first = std::ceil(bin * interior_values / coding.interior_bins);
    const double end = std::ceil((bin + 1) * interior_values / coding.interior_bins);
    const auto count = static_cast<uint64_t>(std::fmax(1.0, end - first));
    return coding.min + 1.0 + first + static_cast<double>(rng.UniformBelow(count));
  }
  const double width = (coding.max - coding.min) / coding.interior_bins;
  const double low = coding.min + bin * width;
  double value = low + rng.UniformOpen01() * width;
  // Stay strictly inside (min, max): the bounds are bins of their own.
  if (value >= coding.max) value = std::nextafter(coding.max, coding.min);
  if (value <= coding.min) value = std::nextafter(coding.min, coding.max);
  return value;
}

std::vector<double> JointCounts(const std::vector<const std::vector<int32_t>*>& columns,
                                const std::vector<int>& sizes) {
  int64_t cells = 1;
  for (int size : sizes) cells *= size;
  std::vector<double> counts(static_cast<size_t>(cells), 0.0);
  const size_t rows = columns.front()->size();
  for (size_t r = 0; r < rows; ++r) {
    int64_t index = 0;
    for (size_t c = 0; c < columns.size(); ++c) index = index * sizes[c] + (*columns[c])[r];
    counts[static_cast<size_t>(index)] += 1.0;
  }
  return counts;
}

}  // namespace fedsyn::synth
