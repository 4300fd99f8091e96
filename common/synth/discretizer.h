// Records <-> small integer codes, one attribute per modelled schema column: what the marginal
// generator (marginal_model.h) counts and samples. Every bin edge comes from the schema's
// declared bounds and categories, never from the data (a data-derived edge would leak).
//
// Numeric columns: the declared minimum and maximum are bins of their own (data pile up at
// bounds: zero capital gain, top-coded ages), the open interval between them is cut into
// `interior_bins` equal-width bins; an integer column with at most `per_value_limit` values (at
// least interior_bins + 2) gets one code per value instead. Categorical columns: one code per
// declared category. A nullable column has one more code for "missing".
#ifndef FEDSYN_COMMON_SYNTH_DISCRETIZER_H_
#define FEDSYN_COMMON_SYNTH_DISCRETIZER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"
#include "common/privacy/random.h"

namespace fedsyn::synth {

// The largest number of interior bins a numeric column may be cut into.
inline constexpr int kMaxInteriorBins = 4096;

struct AttributeCoding {
  int column = 0;  // index into the schema's columns
  std::string name;
  data::ColumnType type = data::ColumnType::kCategorical;
  int size = 0;  // number of codes, the missing code included
  bool has_missing_code = false;
  // Numeric: bound codes and the interior cut. `per_value`: code = value - min.
  bool per_value = false;
  int interior_bins = 0;
  double min = 0, max = 0;
  int MissingCode() const { return size - 1; }
};

class Discretizer {
 public:
  // InvalidArgument for interior_bins outside [1, kMaxInteriorBins] or a schema without a
  // modelled column.
  static absl::StatusOr<Discretizer> FromSchema(const data::Schema& schema, int interior_bins,
                                                int per_value_limit = 0);

  const std::vector<AttributeCoding>& attributes() const { return attributes_; }
  // The attribute of the schema's label column, -1 if none.
  int label_attribute() const { return label_attribute_; }
  size_t num_columns() const { return num_columns_; }

  // Column-major codes: codes[attribute][row]. InvalidArgument for a value the schema does not
  // allow (a reader that validated against the same schema never produces one).
  absl::StatusOr<std::vector<std::vector<int32_t>>> Encode(const data::Table& table) const;

  // A value of the code's bin: the bound itself for a bound code, uniform within an interior
  // bin (integers: a uniform integer of the bin), the category, or missing.
  data::Cell Decode(int attribute, int code, privacy::RandomSource& rng) const;

 private:
  int Code(const AttributeCoding& coding, const data::Cell& cell) const;

  std::vector<AttributeCoding> attributes_;
  int label_attribute_ = -1;
  size_t num_columns_ = 0;
};

// Counts of the joint values of some attributes' codes: `columns` of equal length (codes as from
// Discretizer::Encode), `sizes` their numbers of codes. Row-major over the cells, the first
// column slowest.
std::vector<double> JointCounts(const std::vector<const std::vector<int32_t>*>& columns,
                                const std::vector<int>& sizes);

}  // namespace fedsyn::synth

#endif  // FEDSYN_COMMON_SYNTH_DISCRETIZER_H_
