#include "common/privacy/guarantee.h"

#include <cstdio>

namespace fedsyn::privacy {

std::string Guarantee::Describe() const {
  char unit[64] = "record";
  if (rows_per_person > 0)
    std::snprintf(unit, sizeof unit, "person (<= %d rows, codes/labels per row)", rows_per_person);
  char buffer[400];
  if (model_private) {
    std::snprintf(
        buffer, sizeof buffer,
        "eps_total = %.6g per %s, delta %.3g (model %.6g, private training + release %.6g: codes "
        "%.6g, labels %.6g; basic composition)",
        EpsilonTotal(), unit, delta_model, epsilon_model, EpsilonRelease(), epsilon_codes,
        epsilon_labels);
  } else {
    std::snprintf(buffer, sizeof buffer,
                  "eps_release = %.6g per %s (codes %.6g, labels %.6g); MODEL NOT PRIVATE: the "
                  "decoder was trained on the records in the clear, so there is no end-to-end "
                  "guarantee",
                  EpsilonRelease(), unit, epsilon_codes, epsilon_labels);
  }
  return buffer;
}

}  // namespace fedsyn::privacy
