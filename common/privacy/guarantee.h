// What one release promises per unit of privacy, in epsilon: the per-row terms of the metric
// mechanism and of label randomized response, the private model's part, and their basic
// composition. privacy::Charge (budget.h) is its exact micro-epsilon form for ledgers and wire.
#ifndef FEDSYN_COMMON_PRIVACY_GUARANTEE_H_
#define FEDSYN_COMMON_PRIVACY_GUARANTEE_H_

#include <algorithm>
#include <string>

namespace fedsyn::privacy {

// What one release promises per unit of privacy: a row, or a person (a schema's person_id).
struct Guarantee {
  double epsilon_codes = 0;    // per row: eps_d * (2R + slack)
  double epsilon_labels = 0;   // per row: randomized response on image labels; 0 for tables
  bool model_private = false;  // false: the decoder saw the data in the clear
  double epsilon_model = 0;    // DP-SGD's epsilon when model_private (per unit: person-level
                               // sampling and clipping when the schema names a person)
  double delta_model = 0;
  // 0: the unit is a row. L > 0: the unit is a person with at most L rows, each row noised on
  // its own, so a person's release epsilon is L times a row's (basic composition).
  int rows_per_person = 0;
  double EpsilonRelease() const {
    return std::max(1, rows_per_person) * (epsilon_codes + epsilon_labels);
  }
  // Basic composition: the model's epsilon plus the release's; meaningful only if model_private.
  double EpsilonTotal() const { return epsilon_model + EpsilonRelease(); }
  // e.g. "eps_total = 9.01 (model 3, release 6.01) per record, delta 1e-5", or "...; MODEL NOT
  // PRIVATE, so no end-to-end guarantee".
  std::string Describe() const;
};

}  // namespace fedsyn::privacy

#endif  // FEDSYN_COMMON_PRIVACY_GUARANTEE_H_
