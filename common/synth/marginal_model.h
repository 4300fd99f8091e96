// The marginal-based generator: a differentially private graphical model fitted to noisy
// low-order marginals, then sampled (the family of MST and AIM, McKenna et al. 2021/2022;
// written from their papers for fedsyn). docs/privacy.md derives its guarantee; in short,
// under the replace-one relation and zCDP (privacy/zcdp.h):
//
//  1. every attribute's 1-way marginal on fine codes, Gaussian noise  rho_1 = share_1 rho
//     -> post-processing: a numeric column's fine codes grouped into runs of similar measured
//     mass, a declared bound keeping values only where its count clears the rare threshold; a
//     categorical column's values measured below a few sigma merged into one "rare" code;
//  2. with a label y: every (attribute, y) marginal on those codes    rho_2 = share_2 rho
//  3. a tree over the attributes, picked edge by edge by the exponential mechanism (Kruskal,
//     as MST), scoring a pair (a, b) by how far its (y, a, b) counts are from what steps 1-2
//     predict (the L1 error, sensitivity 2), less the noise its measurement would add; a
//     "stop" candidate (score 0) lets the tree stay a forest           rho_3 = share_3 rho
//  4. the chosen (y, a, b) marginals, Gaussian noise                  rho_4 = the rest
//  5. estimation, no data: the label's distribution and every (a, y) table projected onto
//     non-negative counts summing to n (n is public under replace-one); every (y, a, b) table
//     made non-negative and fitted to those two margins by iterative proportional fitting, so
//     all tables agree on shared columns; the model is P(y) * prod P(a | parent(a), y).
//  6. sampling with the caller's generator (the secure one in production).
//
// Every noise draw is a discrete Gaussian on integer counts. With a person identifier each
// person contributes up to `contribution_bound` rows: the sensitivities scale with it.
#ifndef FEDSYN_COMMON_SYNTH_MARGINAL_MODEL_H_
#define FEDSYN_COMMON_SYNTH_MARGINAL_MODEL_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/base/status.h"
#include "common/data/schema.h"
#include "common/data/table.h"
#include "common/privacy/random.h"
#include "common/synth/discretizer.h"

namespace fedsyn::synth {

struct MarginalOptions {
  // The fine codes step 1 measures (discretizer.h): interior bins of a numeric column, and
  // one code per value for integer columns with at most this many values.
  int interior_bins = 64;
  int per_value_limit = 128;
  // Step 1 then groups a numeric column's fine codes into runs of about n / numeric_groups
  // measured rows (a heavy value, such as zero capital gain, is a run of its own): the codes the
  // later steps use. A run's values are drawn by their measured counts.
  int numeric_groups = 32;
  // Shares of rho for steps 1-3; step 4 gets the rest. Without a label, step 2's share goes
  // to step 4.
  double one_way_share = 0.1;
  double label_share = 0.3;
  double selection_share = 0.1;
  // Step 1: a value whose noisy count is below this many sigma joins its attribute's rare code.
  double rare_threshold_sigmas = 3.0;
  // Step 5: each (y, a, b) table starts as its clipped noisy counts plus this fraction of the
  // table steps 1-2 predict, which keeps cells that noise zeroed reachable.
  double prior_weight = 0.01;
  // Step 3 never considers a (y, a, b) table with more cells than this.
  int64_t max_clique_cells = 1 << 14;
  int ipf_iterations = 30;
  // Rows one privacy unit may contribute (a schema's max_rows_per_person; 1: a row).
  int contribution_bound = 1;
};

// What a fit did. Every field is a function of public parameters or of the private
// measurements' noisy outcome (the tree), so it may be published with the release.
struct MarginalFitReport {
  double epsilon = 0, delta = 0;  // the guarantee the fit was held to
  double rho = 0;                 // the zCDP budget that (epsilon, delta) allows
  double sigma_one_way = 0, sigma_label = 0, sigma_clique = 0;
  double selection_epsilon_per_step = 0;
  int selection_steps = 0;
  std::vector<std::pair<std::string, std::string>> edges;  // the (a, b) tables measured
};

class MarginalModel {
 public:
  // Fits to `table` (rows validated against `schema`) under (epsilon, delta)-DP. Every noise
  // draw and every selection comes from `rng`. InvalidArgument for bad options, an empty table
  // or a label column that is not categorical.
  static absl::StatusOr<MarginalModel> Fit(const data::Table& table, const data::Schema& schema,
                                           double epsilon, double delta,
                                           const MarginalOptions& options,
                                           privacy::RandomSource& rng);

  // `rows` synthetic records in the schema's layout (ignored columns empty).
  data::Table Sample(int64_t rows, privacy::RandomSource& rng) const;

  const MarginalFitReport& report() const { return report_; }

 private:
  // Codes after step 1's merging; `members` of a merged code are drawn by their noisy counts.
  struct Compression {
    int size = 0;
    std::vector<int32_t> compressed_of;                  // original code -> compressed code
    std::vector<std::vector<int>> members;               // compressed code -> original codes
    std::vector<std::vector<double>> member_cumulative;  // their cumulative weights
  };
  // One conditional distribution per attribute, rows of cumulative probabilities over the
  // attribute's compressed codes, indexed by y * parent_size + parent_code (parent_size 1
  // without a parent).
  struct Conditional {
    int parent = -1;
    int parent_size = 1;
    std::vector<std::vector<double>> cumulative;
  };

  MarginalModel(Discretizer discretizer) : discretizer_(std::move(discretizer)) {}

  Discretizer discretizer_;
  std::vector<Compression> compression_;
  std::vector<double> label_cumulative_;  // over the label's codes ({1} without a label)
  std::vector<int> order_;                // sampling order of the non-label attributes
  std::vector<Conditional> conditional_;  // by attribute
  MarginalFitReport report_;
};

// Euclidean projection of `values` onto {x >= 0, sum x = total} (total >= 0): the closest
// non-negative table with the right sum. Exposed for tests.
std::vector<double> ProjectOntoSimplex(const std::vector<double>& values, double total);

}  // namespace fedsyn::synth

#endif  // FEDSYN_COMMON_SYNTH_MARGINAL_MODEL_H_
