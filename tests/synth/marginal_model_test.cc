#include "common/synth/marginal_model.h"

#include <cmath>
#include <map>
#include <numeric>

#include "common/data/table_io.h"
#include "common/eval/logistic_regression.h"
#include "common/eval/table_utility.h"
#include "common/privacy/zcdp.h"
#include "gtest/gtest.h"
#include "tests/support/seeded_random.h"
#include "tests/support/test_paths.h"

namespace fedsyn::synth {
namespace {

using testing::SeededRandom;

TEST(ProjectOntoSimplex, GivesTheClosestNonNegativeTableWithTheTotal) {
  EXPECT_EQ(ProjectOntoSimplex({3, 1, -2}, 2), (std::vector<double>{2, 0, 0}));
  EXPECT_EQ(ProjectOntoSimplex({1, 1, 1}, 6), (std::vector<double>{2, 2, 2}));
  SeededRandom rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> v(7);
    for (double& x : v) x = 20 * rng.UniformOpen01() - 8;
    const double total = 10 * rng.UniformOpen01();
    const std::vector<double> p = ProjectOntoSimplex(v, total);
    EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), total, 1e-9);
    double shift = NAN;
    for (size_t i = 0; i < v.size(); ++i) {
      EXPECT_GE(p[i], 0.0);
      if (p[i] > 0) {  // every kept entry moves by the same amount
        if (std::isnan(shift)) shift = v[i] - p[i];
        EXPECT_NEAR(v[i] - p[i], shift, 1e-9);
      }
    }
    // No feasible point (a random one on the simplex) is closer.
    auto distance = [&](const std::vector<double>& q) {
      double d = 0;
      for (size_t i = 0; i < v.size(); ++i) d += (q[i] - v[i]) * (q[i] - v[i]);
      return d;
    };
    std::vector<double> q(v.size());
    double sum = 0;
    for (double& x : q) sum += (x = rng.UniformOpen01());
    for (double& x : q) x *= total / sum;
    EXPECT_LE(distance(p), distance(q) + 1e-9);
  }
}

// y balanced; a agrees with y 90% of the time; b is a function of a; x (numeric) grows with b.
data::Schema StructuredSchema(bool with_label) {
  std::string toml = R"(
[dataset]
name = "s"
)";
  if (with_label) toml += "label = \"y\"\n";
  toml += R"(
[[column]]
name = "y"
type = "binary"
categories = ["no", "yes"]
[[column]]
name = "a"
type = "categorical"
categories = ["p", "q", "r"]
[[column]]
name = "skip"
type = "ignored"
[[column]]
name = "b"
type = "categorical"
categories = ["u", "v", "w", "z"]
[[column]]
name = "x"
type = "integer"
min = 0
max = 1000
)";
  auto schema = data::Schema::Parse(toml, "structured");
  EXPECT_TRUE(schema.ok()) << schema.status();
  return *schema;
}

data::Table StructuredTable(int64_t n, uint64_t seed) {
  SeededRandom rng(seed);
  data::Table t;
  for (int64_t i = 0; i < n; ++i) {
    const int y = static_cast<int>(rng.UniformBelow(2));
    const int a = rng.UniformOpen01() < 0.9 ? y : 2;
    const int b = a == 2 ? 3 : a;
    const double x = b == 3 ? 0.0 : 100.0 * b + static_cast<double>(rng.UniformBelow(100)) + 1;
    t.rows.push_back({double(y), double(a), std::nullopt, double(b), x});
  }
  return t;
}

double JointTvd(const data::Table& p, const data::Table& q, const std::vector<int>& columns) {
  auto distribution = [&](const data::Table& t) {
    std::map<std::vector<double>, double> out;
    for (const data::Row& row : t.rows) {
      std::vector<double> key;
      for (int c : columns) key.push_back(row[static_cast<size_t>(c)].value_or(-1));
      out[key] += 1.0 / static_cast<double>(t.rows.size());
    }
    return out;
  };
  auto dp = distribution(p), dq = distribution(q);
  double sum = 0;
  for (const auto& [k, v] : dp) sum += std::fabs(v - (dq.count(k) ? dq[k] : 0.0));
  for (const auto& [k, v] : dq)
    if (!dp.count(k)) sum += v;
  return sum / 2;
}

TEST(MarginalModel, AtALargeEpsilonReproducesTheJointDistribution) {
  for (bool with_label : {true, false}) {
    const data::Schema schema = StructuredSchema(with_label);
    const data::Table real = StructuredTable(20'000, 1);
    SeededRandom rng(2);
    auto model = MarginalModel::Fit(real, schema, 1e4, 1e-6, {}, rng);
    ASSERT_TRUE(model.ok()) << model.status();
    const data::Table synthetic = model->Sample(20'000, rng);
    ASSERT_EQ(synthetic.rows.size(), 20'000u);
    for (const data::Row& row : synthetic.rows) {
      ASSERT_EQ(row.size(), schema.columns.size());
      EXPECT_FALSE(row[2].has_value()) << "an ignored column was filled";
    }
    std::string edges;
    for (const auto& [a, b] : model->report().edges) edges += a + "-" + b + " ";
    EXPECT_LT(JointTvd(real, synthetic, {0, 1, 3}), 0.03) << "label " << with_label << " " << edges;
    // x is numeric: compare it by hundreds, which is what b decides.
    data::Table real_h = real, synthetic_h = synthetic;
    for (data::Table* t : {&real_h, &synthetic_h})
      for (data::Row& row : t->rows) row[4] = std::floor(*row[4] / 100.0);
    EXPECT_LT(JointTvd(real_h, synthetic_h, {3, 4}), 0.06) << "label " << with_label;
  }
}

// A declared bound no record sits on gets no synthetic values, however much noise lands on its
// count at a few hundred rows (issue #13: hospital files came back pinned at age 18 or thalach
// 220); a real point mass at a bound survives the same rule.
TEST(MarginalModel, PutsValuesAtABoundOnlyWhereTheMeasurementSupportsIt) {
  const data::Schema schema = StructuredSchema(true);
  int64_t at_bound = 0, sampled = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    data::Table small = StructuredTable(300, seed);
    for (data::Row& row : small.rows) row[4] = *row[4] + 1;  // x in [1, 401]: never a bound
    SeededRandom rng(seed + 100);
    auto model = MarginalModel::Fit(small, schema, 1.0, 1e-6, {}, rng);
    ASSERT_TRUE(model.ok()) << model.status();
    for (const data::Row& row : model->Sample(2'000, rng).rows) {
      at_bound += *row[4] == 0.0 || *row[4] == 1000.0;
      ++sampled;
    }
  }
  EXPECT_EQ(at_bound, 0) << "of " << sampled << " rows";
  // 10% of the rows sit at x = 0 (b = z): at 20,000 rows that mass is far above the noise.
  const data::Table large = StructuredTable(20'000, 3);
  SeededRandom rng(4);
  auto model = MarginalModel::Fit(large, schema, 1.0, 1e-6, {}, rng);
  ASSERT_TRUE(model.ok()) << model.status();
  const data::Table synthetic = model->Sample(20'000, rng);
  double at_min = 0, real_at_min = 0;
  for (const data::Row& row : synthetic.rows) at_min += *row[4] == 0.0;
  for (const data::Row& row : large.rows) real_at_min += *row[4] == 0.0;
  EXPECT_NEAR(at_min / 20'000, real_at_min / 20'000, 0.03);
}

TEST(MarginalModel, SpendsNoMoreThanItsBudgetAndScalesNoiseWithTheContributionBound) {
  const data::Schema schema = StructuredSchema(true);
  const data::Table real = StructuredTable(5'000, 3);
  for (double epsilon : {0.5, 1.0, 8.0}) {
    SeededRandom rng(4);
    MarginalOptions options;
    auto model = MarginalModel::Fit(real, schema, epsilon, 1e-6, options, rng);
    ASSERT_TRUE(model.ok());
    const MarginalFitReport& r = model->report();
    const double sensitivity = std::sqrt(2.0);
    // Four attributes (y, a, b, x); three of them carry a (y, attribute) table.
    double spent =
        4 * privacy::GaussianRho(sensitivity, r.sigma_one_way) +
        3 * privacy::GaussianRho(sensitivity, r.sigma_label) +
        r.selection_steps * privacy::ExponentialMechanismRho(r.selection_epsilon_per_step);
    if (!r.edges.empty())
      spent += r.edges.size() * privacy::GaussianRho(sensitivity, r.sigma_clique);
    EXPECT_LE(spent, r.rho * (1 + 1e-12)) << "epsilon " << epsilon;
    EXPECT_GE(spent, r.rho * 0.5) << "most of the budget should be used";
    EXPECT_LE(privacy::ZcdpDelta(r.rho, epsilon), 1e-6);
    EXPECT_LE(r.selection_steps, 2);

    options.contribution_bound = 3;
    SeededRandom rng3(4);
    auto per_person = MarginalModel::Fit(real, schema, epsilon, 1e-6, options, rng3);
    ASSERT_TRUE(per_person.ok());
    EXPECT_NEAR(per_person->report().sigma_one_way, 3 * r.sigma_one_way, 1e-9 * r.sigma_one_way);
  }
}

TEST(MarginalModel, RefusesBadInput) {
  const data::Schema schema = StructuredSchema(true);
  const data::Table real = StructuredTable(100, 5);
  SeededRandom rng(6);
  EXPECT_FALSE(MarginalModel::Fit(data::Table{}, schema, 1, 1e-6, {}, rng).ok());
  EXPECT_FALSE(MarginalModel::Fit(real, schema, 0, 1e-6, {}, rng).ok());
  EXPECT_FALSE(MarginalModel::Fit(real, schema, 1, 0, {}, rng).ok());
  MarginalOptions bad;
  bad.one_way_share = 0.5;
  bad.label_share = 0.5;
  EXPECT_FALSE(MarginalModel::Fit(real, schema, 1, 1e-6, bad, rng).ok());
  bad = {};
  bad.contribution_bound = 0;
  EXPECT_FALSE(MarginalModel::Fit(real, schema, 1, 1e-6, bad, rng).ok());
  data::Table out_of_domain = real;
  out_of_domain.rows[0][4] = 5000.0;
  EXPECT_FALSE(MarginalModel::Fit(out_of_domain, schema, 1, 1e-6, {}, rng).ok());
}

// The utility the defaults were chosen for (docs/results.md), with room for noise: on UCI Adult
// at epsilon 1, delta 1e-6, a logistic regression trained on the synthetic rows scores close to
// one trained on the real rows (measured: 0.845-0.847 accuracy, AUC 0.895-0.900, real 0.860 /
// 0.911).
TEST(MarginalModel, AdultAtEpsilonOneKeepsAClassifierCloseToRealData) {
  auto schema = data::Schema::LoadFile(testing::DemoDataDir() + "/adult/adult.schema.toml");
  ASSERT_TRUE(schema.ok());
  auto train = data::ReadCsvTable(testing::DemoDataDir() + "/adult/adult.data", *schema);
  ASSERT_TRUE(train.ok());
  data::CsvFormat test_format = schema->csv;
  test_format.skip_rows = 1;
  auto test =
      data::ReadCsvTable(testing::DemoDataDir() + "/adult/adult.test", *schema, test_format);
  ASSERT_TRUE(test.ok());
  SeededRandom rng(7);
  auto model = MarginalModel::Fit(train->table, *schema, 1.0, 1e-6, {}, rng);
  ASSERT_TRUE(model.ok()) << model.status();
  const data::Table synthetic = model->Sample(train->table.num_rows(), rng);
  auto utility = eval::MeasureTableUtility(synthetic, train->table, test->table, *schema);
  ASSERT_TRUE(utility.ok()) << utility.status();
  EXPECT_GT(utility->accuracy, 0.83);
  EXPECT_GT(utility->auc, 0.88);
  EXPECT_LT(utility->mean_tvd_1way, 0.03);
  EXPECT_LE(utility->worst_bound_excess, 0.0) << "a column piles up at a declared bound";
}

}  // namespace
}  // namespace fedsyn::synth
