#include "common/synth/marginal_model.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <string>

#include "common/privacy/zcdp.h"

namespace fedsyn::synth {
namespace {

using Codes = std::vector<int32_t>;

void AddDiscreteGaussian(std::vector<double>& counts, double sigma, privacy::RandomSource& rng) {
  for (double& count : counts)
    count += static_cast<double>(privacy::SampleDiscreteGaussian(rng, sigma));
}

// Cumulative sums of max(weights, 0), normalised; uniform when nothing is positive.
std::vector<double> Cumulative(const std::vector<double>& weights) {
  std::vector<double> out(weights.size());
  double total = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    total += std::max(0.0, weights[i]);
    out[i] = total;
  }
  if (total <= 0) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(i + 1);
    total = static_cast<double>(out.size());
  }
  for (double& v : out) v /= total;
  out.back() = 1.0;
  return out;
}

int Draw(const std::vector<double>& cumulative, privacy::RandomSource& rng) {
  const double u = rng.UniformOpen01();
  const auto it = std::lower_bound(cumulative.begin(), cumulative.end(), u);
  return static_cast<int>(
      std::min<ptrdiff_t>(it - cumulative.begin(), static_cast<ptrdiff_t>(cumulative.size()) - 1));
}

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(int n) : parent(static_cast<size_t>(n)) {
    std::iota(parent.begin(), parent.end(), 0);
  }
  int Find(int x) {
    while (parent[static_cast<size_t>(x)] != x) {
      parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
      x = parent[static_cast<size_t>(x)];
    }
    return x;
  }
  void Join(int a, int b) { parent[static_cast<size_t>(Find(a))] = Find(b); }
};

// One half-step of iterative proportional fitting on a (y, a, b) table (row-major, b fastest):
// scales the y-slice so that its margin over a (along_a) or over b matches `margin` (indexed
// y * size + value). A margin cell whose table line sums to zero is spread evenly.
void ScaleToMargin(std::vector<double>& table, int y, int da, int db, bool along_a,
                   const std::vector<double>& margin) {
  const int outer = along_a ? da : db, inner = along_a ? db : da;
  for (int o = 0; o < outer; ++o) {
    auto cell = [&](int k) -> double& {
      const int i = along_a ? o : k, j = along_a ? k : o;
      return table[static_cast<size_t>((y * da + i) * db + j)];
    };
    double sum = 0;
    for (int k = 0; k < inner; ++k) sum += cell(k);
    const double target = margin[static_cast<size_t>(y * outer + o)];
    for (int k = 0; k < inner; ++k) cell(k) = sum > 0 ? cell(k) * target / sum : target / inner;
  }
}

// Step 1's post-processing for one attribute: which of its fine codes share a code in the later
// steps. The label keeps every value. A numeric column with more values than numeric_groups is
// cut into runs of consecutive values holding about n / numeric_groups measured rows (a heavy
// value is a run of its own, with any unmeasured values just before it; a light tail joins the
// run before it; the missing code stays alone); any other column keeps its values measured at or
// above `rare_below` and merges the rest into one code. `noisy` are the noisy counts, `measured`
// their projection onto n rows.
std::vector<std::vector<int>> GroupCodes(const AttributeCoding& coding, bool is_label,
                                         const std::vector<double>& noisy,
                                         const std::vector<double>& measured, double n,
                                         const MarginalOptions& options, double rare_below) {
  const int size = coding.size;
  const int values = size - (coding.has_missing_code ? 1 : 0);
  std::vector<std::vector<int>> groups;
  if (is_label) {
    for (int v = 0; v < size; ++v) groups.push_back({v});
    return groups;
  }
  const bool numeric =
      (coding.type == data::ColumnType::kContinuous || coding.type == data::ColumnType::kInteger) &&
      values > options.numeric_groups;
  if (!numeric) {
    std::vector<int> rare;
    for (int v = 0; v < size; ++v) {
      if (noisy[static_cast<size_t>(v)] < rare_below) {
        rare.push_back(v);
      } else {
        groups.push_back({v});
      }
    }
    if (!rare.empty()) groups.push_back(rare);  // one code for them all
    return groups;
  }
  const double target = n / options.numeric_groups;
  std::vector<int> run;
  double mass = 0;
  for (int v = 0; v < values; ++v) {
    const double m = measured[static_cast<size_t>(v)];
    // A heavy value closes the run before it — unless that run has no measured mass: such codes
    // (an unsupported bound, say) join the heavy value's run with weight 0 instead of becoming
    // a code of their own that the later, noisy tables would give mass to.
    if (m >= target && !run.empty() && mass > 0) {
      groups.push_back(run);
      run.clear();
      mass = 0;
    }
    run.push_back(v);
    mass += m;
    if (mass >= target) {
      groups.push_back(run);
      run.clear();
      mass = 0;
    }
  }
  if (!run.empty()) {
    if (!groups.empty() && mass < rare_below) {
      groups.back().insert(groups.back().end(), run.begin(), run.end());
    } else {
      groups.push_back(run);
    }
  }
  if (coding.has_missing_code) groups.push_back({coding.MissingCode()});
  return groups;
}

// The bound codes of a numeric attribute whose noisy count is below `rare_below`: a point mass at
// a declared bound is kept only where its measurement clears the rare threshold. Below it the
// count is indistinguishable from noise, and a bound would otherwise keep whatever noise lands on
// it — at a few hundred rows that piles synthetic values at bounds no real record sits on.
// (Post-processing of the noisy counts: free.)
std::vector<bool> UnsupportedBounds(const AttributeCoding& coding, const std::vector<double>& noisy,
                                    double rare_below) {
  std::vector<bool> unsupported(noisy.size(), false);
  const int values = coding.size - (coding.has_missing_code ? 1 : 0);
  const bool numeric =
      coding.type == data::ColumnType::kContinuous || coding.type == data::ColumnType::kInteger;
  if (!numeric || values < 3) return unsupported;
  for (const int bound : {0, values - 1}) {
    if (noisy[static_cast<size_t>(bound)] < rare_below)
      unsupported[static_cast<size_t>(bound)] = true;
  }
  return unsupported;
}

// The noisy counts projected onto n rows (ProjectOntoSimplex), codes marked `excluded` held at 0.
std::vector<double> ProjectExcluding(const std::vector<double>& noisy,
                                     const std::vector<bool>& excluded, double n) {
  std::vector<double> kept;
  for (size_t v = 0; v < noisy.size(); ++v)
    if (!excluded[v]) kept.push_back(noisy[v]);
  const std::vector<double> projected = ProjectOntoSimplex(kept, n);
  std::vector<double> out(noisy.size(), 0.0);
  size_t next = 0;
  for (size_t v = 0; v < noisy.size(); ++v)
    if (!excluded[v]) out[v] = projected[next++];
  return out;
}

absl::Status CheckOptions(const MarginalOptions& o) {
  auto share_ok = [](double s) { return std::isfinite(s) && s >= 0.0 && s < 1.0; };
  if (!share_ok(o.one_way_share) || !share_ok(o.label_share) || !share_ok(o.selection_share) ||
      o.one_way_share <= 0.0 || o.one_way_share + o.label_share + o.selection_share >= 1.0) {
    return absl::InvalidArgumentError(
        "budget shares must be non-negative, the 1-way share positive, and together below 1");
  }
  if (!(o.rare_threshold_sigmas >= 0.0 && o.rare_threshold_sigmas <= 100.0)) {
    return absl::InvalidArgumentError("the rare threshold must be in [0, 100] sigma");
  }
  if (!(o.prior_weight > 0.0 && o.prior_weight <= 10.0)) {
    return absl::InvalidArgumentError("the prior weight must be in (0, 10]");
  }
  if (o.max_clique_cells < 1 || o.max_clique_cells > (int64_t{1} << 24)) {
    return absl::InvalidArgumentError("max clique cells must be in [1, 2^24]");
  }
  if (o.numeric_groups < 1 || o.numeric_groups > kMaxInteriorBins) {
    return absl::InvalidArgumentError("numeric groups must be in [1, 4096]");
  }
  if (o.ipf_iterations < 1 || o.ipf_iterations > 10000) {
    return absl::InvalidArgumentError("IPF iterations must be in [1, 10000]");
  }
  if (o.contribution_bound < 1 || o.contribution_bound > 1'000'000) {
    return absl::InvalidArgumentError("the contribution bound must be in [1, 10^6]");
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<double> ProjectOntoSimplex(const std::vector<double>& values, double total) {
  std::vector<double> sorted(values);
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  // The largest k with sorted[k-1] - (prefix_k - total) / k > 0 sets the threshold.
  double prefix = 0, threshold = 0;
  for (size_t k = 0; k < sorted.size(); ++k) {
    prefix += sorted[k];
    const double candidate = (prefix - total) / static_cast<double>(k + 1);
    if (sorted[k] - candidate > 0) threshold = candidate;
  }
  std::vector<double> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = std::max(0.0, values[i] - threshold);
  return out;
}

absl::StatusOr<MarginalModel> MarginalModel::Fit(const data::Table& table,
                                                 const data::Schema& schema, double epsilon,
                                                 double delta, const MarginalOptions& options,
                                                 privacy::RandomSource& rng) {
  if (absl::Status st = CheckOptions(options); !st.ok()) return st;
  auto rho = privacy::ZcdpRhoFor(epsilon, delta);
  if (!rho.ok()) return rho.status();
  if (table.rows.empty()) return absl::InvalidArgumentError("no records to fit");
  auto discretizer =
      Discretizer::FromSchema(schema, options.interior_bins, options.per_value_limit);
  if (!discretizer.ok()) return discretizer.status();
  auto codes = discretizer->Encode(table);
  if (!codes.ok()) return codes.status();

  MarginalModel model(std::move(*discretizer));
  const std::vector<AttributeCoding>& attributes = model.discretizer_.attributes();
  const int num_attributes = static_cast<int>(attributes.size());
  const int label = model.discretizer_.label_attribute();
  const double n = static_cast<double>(table.rows.size());
  const double bound = options.contribution_bound;
  // Replace-one sensitivities for one unit's `bound` rows: a histogram loses up to `bound` in
  // one cell and gains as many in another (L2 sqrt(2) bound); an L1 distance to a fixed table
  // moves by at most 2 bound.
  const double histogram_sensitivity = std::numbers::sqrt2 * bound;
  const double l1_sensitivity = 2.0 * bound;

  MarginalFitReport& report = model.report_;
  report.epsilon = epsilon;
  report.delta = delta;
  report.rho = *rho;

  std::vector<int> others;  // non-label attributes
  for (int a = 0; a < num_attributes; ++a)
    if (a != label) others.push_back(a);
  const bool has_label = label >= 0;
  const int label_size = has_label ? attributes[static_cast<size_t>(label)].size : 1;
  const double label_share = has_label && !others.empty() ? options.label_share : 0.0;
  const double clique_share = 1.0 - options.one_way_share - label_share - options.selection_share;

  // Step 1: 1-way marginals, then group the codes of every non-label attribute (GroupCodes).
  report.sigma_one_way = privacy::GaussianSigmaFor(options.one_way_share * *rho / num_attributes,
                                                   histogram_sensitivity);
  std::vector<std::vector<double>> one_way(static_cast<size_t>(num_attributes));
  for (int a = 0; a < num_attributes; ++a) {
    one_way[static_cast<size_t>(a)] =
        JointCounts({&(*codes)[static_cast<size_t>(a)]}, {attributes[static_cast<size_t>(a)].size});
    AddDiscreteGaussian(one_way[static_cast<size_t>(a)], report.sigma_one_way, rng);
  }
  model.compression_.resize(static_cast<size_t>(num_attributes));
  for (int a = 0; a < num_attributes; ++a) {
    const AttributeCoding& coding = attributes[static_cast<size_t>(a)];
    const double rare_below = options.rare_threshold_sigmas * report.sigma_one_way;
    const std::vector<bool> unsupported =
        UnsupportedBounds(coding, one_way[static_cast<size_t>(a)], rare_below);
    const std::vector<double> measured =
        ProjectExcluding(one_way[static_cast<size_t>(a)], unsupported, n);
    const std::vector<std::vector<int>> groups = GroupCodes(
        coding, a == label, one_way[static_cast<size_t>(a)], measured, n, options, rare_below);
    Compression& comp = model.compression_[static_cast<size_t>(a)];
    comp.compressed_of.assign(static_cast<size_t>(coding.size), -1);
    for (const std::vector<int>& group : groups) {
      std::vector<double> weights;
      double total = 0;
      for (int v : group) {
        comp.compressed_of[static_cast<size_t>(v)] = static_cast<int32_t>(comp.members.size());
        weights.push_back(measured[static_cast<size_t>(v)]);
        total += measured[static_cast<size_t>(v)];
      }
      if (total <=
          0) {  // nothing measured in the group: uniform, but never on an unsupported bound
        for (size_t i = 0; i < group.size(); ++i)
          weights[i] = unsupported[static_cast<size_t>(group[i])] ? 0.0 : 1.0;
      }
      comp.member_cumulative.push_back(Cumulative(weights));
      comp.members.push_back(group);
    }
    comp.size = static_cast<int>(comp.members.size());
  }
  std::vector<Codes> compressed(static_cast<size_t>(num_attributes));
  for (int a = 0; a < num_attributes; ++a) {
    const Compression& comp = model.compression_[static_cast<size_t>(a)];
    const Codes& original = (*codes)[static_cast<size_t>(a)];
    Codes& out = compressed[static_cast<size_t>(a)];
    out.resize(original.size());
    for (size_t r = 0; r < original.size(); ++r)
      out[r] = comp.compressed_of[static_cast<size_t>(original[r])];
  }
  auto size_of = [&](int a) { return model.compression_[static_cast<size_t>(a)].size; };
  const Codes no_label(table.rows.size(), 0);
  const Codes& label_codes = has_label ? compressed[static_cast<size_t>(label)] : no_label;
  // The true (y, a, b) counts on the grouped codes.
  auto clique_counts = [&](int a, int b) {
    return JointCounts(
        {&label_codes, &compressed[static_cast<size_t>(a)], &compressed[static_cast<size_t>(b)]},
        {label_size, size_of(a), size_of(b)});
  };

  // The label's counts N(y), summing to n.
  std::vector<double> label_counts =
      has_label ? ProjectOntoSimplex(one_way[static_cast<size_t>(label)], n)
                : std::vector<double>{n};

  // Step 2 (or step 1's counts without a label): N(y, a) for every other attribute, each
  // y-slice projected to sum to N(y).
  std::vector<std::vector<double>> with_label(static_cast<size_t>(num_attributes));
  if (has_label && !others.empty()) {
    report.sigma_label = privacy::GaussianSigmaFor(
        label_share * *rho / static_cast<double>(others.size()), histogram_sensitivity);
  }
  for (int a : others) {
    const int da = size_of(a);
    std::vector<double> joint;
    if (has_label) {
      joint = JointCounts({&label_codes, &compressed[static_cast<size_t>(a)]}, {label_size, da});
      AddDiscreteGaussian(joint, report.sigma_label, rng);
    } else {
      joint.assign(static_cast<size_t>(da), 0.0);
      const Compression& comp = model.compression_[static_cast<size_t>(a)];
      for (size_t v = 0; v < comp.compressed_of.size(); ++v)
        joint[static_cast<size_t>(comp.compressed_of[v])] += one_way[static_cast<size_t>(a)][v];
    }
    for (int y = 0; y < label_size; ++y) {
      std::vector<double> slice(joint.begin() + y * da, joint.begin() + (y + 1) * da);
      slice = ProjectOntoSimplex(slice, label_counts[static_cast<size_t>(y)]);
      std::copy(slice.begin(), slice.end(), joint.begin() + y * da);
    }
    with_label[static_cast<size_t>(a)] = std::move(joint);
  }
  // What steps 1-2 predict for (y, a, b): N(y, a) N(y, b) / N(y).
  auto predicted = [&](int a, int b) {
    const int da = size_of(a), db = size_of(b);
    std::vector<double> table_ab(static_cast<size_t>(label_size) * da * db, 0.0);
    for (int y = 0; y < label_size; ++y) {
      const double ny = label_counts[static_cast<size_t>(y)];
      if (ny <= 0) continue;
      for (int i = 0; i < da; ++i) {
        const double nya = with_label[static_cast<size_t>(a)][static_cast<size_t>(y * da + i)];
        for (int j = 0; j < db; ++j) {
          table_ab[static_cast<size_t>((y * da + i) * db + j)] =
              nya * with_label[static_cast<size_t>(b)][static_cast<size_t>(y * db + j)] / ny;
        }
      }
    }
    return table_ab;
  };

  // Step 3: the tree, edge by edge.
  struct Candidate {
    int a, b;
    double score;
  };
  std::vector<Candidate> candidates;
  const int max_steps = std::max(0, static_cast<int>(others.size()) - 1);
  const double selection_rho = options.selection_share * *rho;
  const double clique_rho = clique_share * *rho;
  std::vector<std::pair<int, int>> chosen;
  if (max_steps > 0 && selection_rho > 0 && clique_rho > 0) {
    report.selection_epsilon_per_step =
        privacy::ExponentialMechanismEpsilonFor(selection_rho / max_steps);
    // The noise a measurement would add if every step chose an edge: its expected L1 size.
    const double assumed_sigma =
        privacy::GaussianSigmaFor(clique_rho / max_steps, histogram_sensitivity);
    for (size_t i = 0; i < others.size(); ++i) {
      for (size_t j = i + 1; j < others.size(); ++j) {
        const int a = others[i], b = others[j];
        const int64_t cells = int64_t{label_size} * size_of(a) * size_of(b);
        if (cells > options.max_clique_cells) continue;
        const std::vector<double> actual = clique_counts(a, b);
        const std::vector<double> expected = predicted(a, b);
        double error = 0;
        for (size_t c = 0; c < actual.size(); ++c) error += std::fabs(actual[c] - expected[c]);
        const double noise = std::sqrt(2.0 / std::numbers::pi) * assumed_sigma * cells;
        candidates.push_back({a, b, error - noise});
      }
    }
    UnionFind components(num_attributes);
    for (int step = 0; step < max_steps; ++step) {
      std::vector<const Candidate*> open;
      std::vector<double> scores;
      for (const Candidate& c : candidates) {
        if (components.Find(c.a) == components.Find(c.b)) continue;
        open.push_back(&c);
        scores.push_back(c.score);
      }
      scores.push_back(0.0);  // stop: the remaining attributes hang on the label only
      ++report.selection_steps;
      const size_t pick = privacy::ExponentialMechanism(
          rng, scores, report.selection_epsilon_per_step, l1_sensitivity);
      if (pick == open.size()) break;
      components.Join(open[pick]->a, open[pick]->b);
      chosen.emplace_back(open[pick]->a, open[pick]->b);
    }
  }

  // Step 4: measure the chosen (y, a, b) tables; step 5: fit them to the (y, a) and (y, b)
  // margins.
  std::vector<std::vector<int>> neighbours(static_cast<size_t>(num_attributes));
  std::vector<std::vector<double>> clique_tables;
  if (!chosen.empty()) {
    report.sigma_clique = privacy::GaussianSigmaFor(clique_rho / static_cast<double>(chosen.size()),
                                                    histogram_sensitivity);
  }
  for (const auto& [a, b] : chosen) {
    const int da = size_of(a), db = size_of(b);
    std::vector<double> noisy = clique_counts(a, b);
    AddDiscreteGaussian(noisy, report.sigma_clique, rng);
    const std::vector<double> prior = predicted(a, b);
    // The closest non-negative table of n rows: noise on cells the data leave empty is mostly
    // cut to zero (clipping alone would keep its positive half).
    std::vector<double> fitted = ProjectOntoSimplex(noisy, n);
    for (size_t c = 0; c < noisy.size(); ++c) fitted[c] += options.prior_weight * prior[c];
    const std::vector<double>& target_a = with_label[static_cast<size_t>(a)];
    const std::vector<double>& target_b = with_label[static_cast<size_t>(b)];
    for (int iteration = 0; iteration < options.ipf_iterations; ++iteration) {
      for (int y = 0; y < label_size; ++y) {
        ScaleToMargin(fitted, y, da, db, /*along_a=*/true, target_a);   // to N(y, a)
        ScaleToMargin(fitted, y, da, db, /*along_a=*/false, target_b);  // to N(y, b)
      }
    }
    neighbours[static_cast<size_t>(a)].push_back(static_cast<int>(clique_tables.size()));
    neighbours[static_cast<size_t>(b)].push_back(static_cast<int>(clique_tables.size()));
    clique_tables.push_back(std::move(fitted));
    report.edges.emplace_back(attributes[static_cast<size_t>(a)].name,
                              attributes[static_cast<size_t>(b)].name);
  }

  // The sampling order: every tree of the forest from its first attribute, breadth first; a
  // child's conditional given (y, parent) read off the fitted table.
  model.label_cumulative_ = Cumulative(label_counts);
  model.conditional_.resize(static_cast<size_t>(num_attributes));
  std::vector<bool> placed(static_cast<size_t>(num_attributes), false);
  for (int root : others) {
    if (placed[static_cast<size_t>(root)]) continue;
    placed[static_cast<size_t>(root)] = true;
    std::vector<int> queue = {root};
    {
      Conditional& cond = model.conditional_[static_cast<size_t>(root)];
      const int da = size_of(root);
      for (int y = 0; y < label_size; ++y) {
        const std::vector<double>& joint = with_label[static_cast<size_t>(root)];
        cond.cumulative.push_back(
            Cumulative(std::vector<double>(joint.begin() + y * da, joint.begin() + (y + 1) * da)));
      }
    }
    for (size_t q = 0; q < queue.size(); ++q) {
      const int parent = queue[q];
      model.order_.push_back(parent);
      for (int clique : neighbours[static_cast<size_t>(parent)]) {
        const auto [a, b] = chosen[static_cast<size_t>(clique)];
        const int child = a == parent ? b : a;
        if (placed[static_cast<size_t>(child)]) continue;
        placed[static_cast<size_t>(child)] = true;
        queue.push_back(child);
        Conditional& cond = model.conditional_[static_cast<size_t>(child)];
        cond.parent = parent;
        cond.parent_size = size_of(parent);
        const std::vector<double>& fitted = clique_tables[static_cast<size_t>(clique)];
        const int da = size_of(a), db = size_of(b);
        for (int y = 0; y < label_size; ++y) {
          for (int p = 0; p < cond.parent_size; ++p) {
            std::vector<double> weights(static_cast<size_t>(size_of(child)));
            for (int c = 0; c < size_of(child); ++c) {
              const int i = parent == a ? p : c, j = parent == a ? c : p;
              weights[static_cast<size_t>(c)] = fitted[static_cast<size_t>((y * da + i) * db + j)];
            }
            cond.cumulative.push_back(Cumulative(weights));
          }
        }
      }
    }
  }
  return model;
}

data::Table MarginalModel::Sample(int64_t rows, privacy::RandomSource& rng) const {
  const std::vector<AttributeCoding>& attributes = discretizer_.attributes();
  const int label = discretizer_.label_attribute();
  data::Table out;
  out.rows.reserve(static_cast<size_t>(std::max<int64_t>(rows, 0)));
  std::vector<int> code(attributes.size(), 0);
  auto emit = [&](int a, int compressed_code, data::Row& row) {
    const Compression& comp = compression_[static_cast<size_t>(a)];
    const std::vector<int>& group = comp.members[static_cast<size_t>(compressed_code)];
    const int original =
        group.size() == 1
            ? group.front()
            : group[static_cast<size_t>(
                  Draw(comp.member_cumulative[static_cast<size_t>(compressed_code)], rng))];
    row[static_cast<size_t>(attributes[static_cast<size_t>(a)].column)] =
        discretizer_.Decode(a, original, rng);
  };
  for (int64_t r = 0; r < rows; ++r) {
    data::Row row(discretizer_.num_columns());
    const int y = Draw(label_cumulative_, rng);
    if (label >= 0) emit(label, y, row);
    for (int a : order_) {
      const Conditional& cond = conditional_[static_cast<size_t>(a)];
      const int parent_code = cond.parent < 0 ? 0 : code[static_cast<size_t>(cond.parent)];
      code[static_cast<size_t>(a)] =
          Draw(cond.cumulative[static_cast<size_t>(y * cond.parent_size + parent_code)], rng);
      emit(a, code[static_cast<size_t>(a)], row);
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace fedsyn::synth
