// Utility of the marginal generator on a labelled table (issue #13): fit at each epsilon, sample
// as many rows as the training file, train logistic regression on them, test on real rows.
//
//   fedsyn_bench_utility --train adult.data --test adult.test --test-skip-rows 1
//       --schema adult.schema.toml --epsilons 0.5,1,3,8 --delta 1e-6 --repeats 3
//
// --tune holds out the training file's last quarter as the test set (the test file is never
// read), for choosing defaults without touching the test file.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/data/table_io.h"
#include "common/eval/table_utility.h"
#include "common/privacy/random.h"
#include "common/synth/marginal_model.h"

namespace {

bool WriteFile(const std::string& path, const std::string& text) {
  FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) return false;
  const bool written = std::fputs(text.c_str(), out) >= 0;
  return std::fclose(out) == 0 && written;
}

// Where the distances are: each column's 1-way TVD, and the `pairs` worst pairs at the first
// epsilon, for the sampling floor (real test rows against the training rows) and one fit per
// epsilon. Rows follow the utility's order of columns and pairs, so `fits` line up.
std::string ProfileMarkdown(const fedsyn::eval::TableUtility& floor,
                            const std::vector<double>& epsilons,
                            const std::vector<fedsyn::eval::TableUtility>& fits, int pairs) {
  using fedsyn::eval::MarginalDistance;
  auto header = [&](const char* first) {
    std::string h = std::string("| ") + first + " | sampling floor |";
    char cell[32];
    for (double e : epsilons) {
      std::snprintf(cell, sizeof cell, " ε %g |", e);
      h += cell;
    }
    h += "\n|---|---|";
    for (size_t i = 0; i < epsilons.size(); ++i) h += "---|";
    return h + "\n";
  };
  auto rows = [&](const std::vector<MarginalDistance> fedsyn::eval::TableUtility::*part,
                  const std::vector<size_t>& order) {
    std::string out;
    char cell[32];
    for (size_t i : order) {
      const MarginalDistance& d = (floor.*part)[i];
      std::string name = d.columns[0];
      for (size_t c = 1; c < d.columns.size(); ++c) name += " × " + d.columns[c];
      std::snprintf(cell, sizeof cell, " %.3f |", d.tvd);
      out += "| " + name + " |" + cell;
      for (const auto& fit : fits) {
        std::snprintf(cell, sizeof cell, " %.3f |", (fit.*part)[i].tvd);
        out += cell;
      }
      out += "\n";
    }
    return out;
  };
  std::vector<size_t> columns(floor.one_way.size());
  for (size_t i = 0; i < columns.size(); ++i) columns[i] = i;
  std::vector<size_t> worst(floor.two_way.size());
  for (size_t i = 0; i < worst.size(); ++i) worst[i] = i;
  if (!fits.empty()) {
    std::sort(worst.begin(), worst.end(),
              [&](size_t a, size_t b) { return fits[0].two_way[a].tvd > fits[0].two_way[b].tvd; });
  }
  worst.resize(std::min(worst.size(), static_cast<size_t>(pairs)));
  std::string out =
      header("column (1-way TVD)") + rows(&fedsyn::eval::TableUtility::one_way, columns);
  char mean[96];
  std::string means = "| mean 2-way TVD |";
  std::snprintf(mean, sizeof mean, " %.4f |", floor.mean_tvd_2way);
  means += mean;
  for (const auto& fit : fits) {
    std::snprintf(mean, sizeof mean, " %.4f |", fit.mean_tvd_2way);
    means += mean;
  }
  out += "\n" + header("pair (2-way TVD), worst first") + means + "\n" +
         rows(&fedsyn::eval::TableUtility::two_way, worst);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fedsyn;
  CLI::App app{"marginal generator utility"};
  std::string train_path, test_path, schema_path;
  int test_skip_rows = 0, repeats = 1;
  std::vector<double> epsilons = {1.0};
  double delta = 1e-6;
  bool tune = false;
  std::string markdown;
  std::vector<std::string> synthetic_files;
  synth::MarginalOptions options;
  app.add_option("--train", train_path)->required();
  app.add_option("--test", test_path);
  app.add_option("--test-skip-rows", test_skip_rows);
  app.add_option("--schema", schema_path)->required();
  app.add_option("--epsilons", epsilons)->delimiter(',');
  app.add_option("--delta", delta);
  app.add_option("--repeats", repeats);
  app.add_flag("--tune", tune);
  app.add_option("--markdown", markdown, "also write the summary table here (Markdown)");
  app.add_option("--synthetic", synthetic_files,
                 "score these synthetic CSV files (with a header line) instead of fitting");
  app.add_option("--bins", options.interior_bins);
  app.add_option("--groups", options.numeric_groups);
  app.add_option("--per-value-limit", options.per_value_limit);
  app.add_option("--one-way-share", options.one_way_share);
  app.add_option("--label-share", options.label_share);
  app.add_option("--selection-share", options.selection_share);
  app.add_option("--rare-sigmas", options.rare_threshold_sigmas);
  app.add_option("--prior-weight", options.prior_weight);
  app.add_option("--max-clique-cells", options.max_clique_cells);
  std::string profile_markdown;
  int profile_pairs = 20;
  app.add_option("--profile-markdown", profile_markdown,
                 "also write where the marginal distances are (first fit per epsilon, beside the "
                 "sampling floor) here (Markdown)");
  app.add_option("--profile-pairs", profile_pairs, "pairs in the profile, worst first")
      ->check(CLI::Range(1, 10000));
  CLI11_PARSE(app, argc, argv);

  auto schema = data::Schema::LoadFile(schema_path);
  if (!schema.ok()) return std::fprintf(stderr, "%s\n", schema.status().ToString().c_str()), 1;
  auto train = data::ReadCsvTable(train_path, *schema);
  if (!train.ok()) return std::fprintf(stderr, "%s\n", train.status().ToString().c_str()), 1;
  data::Table fit_rows = train->table, test_rows;
  if (tune) {
    const size_t cut = fit_rows.rows.size() * 3 / 4;
    test_rows.rows.assign(fit_rows.rows.begin() + static_cast<ptrdiff_t>(cut), fit_rows.rows.end());
    fit_rows.rows.resize(cut);
  } else {
    data::CsvFormat format = schema->csv;
    format.skip_rows = test_skip_rows;
    auto test = data::ReadCsvTable(test_path, *schema, format);
    if (!test.ok()) return std::fprintf(stderr, "%s\n", test.status().ToString().c_str()), 1;
    test_rows = std::move(test->table);
  }
  auto real = eval::LogisticScore(fit_rows, test_rows, *schema);
  if (!real.ok()) return 1;
  std::printf("real rows: accuracy %.4f auc %.4f (fit %zu, test %zu)\n", real->accuracy, real->auc,
              fit_rows.rows.size(), test_rows.rows.size());
  // The distances between two real samples: the floor sampling alone puts under any generator.
  auto floor = eval::MeasureTableUtility(test_rows, fit_rows, test_rows, *schema);
  if (floor.ok()) {
    std::printf("real test rows vs training rows: tvd1 %.4f tvd2 %.4f (max %.3f)\n",
                floor->mean_tvd_1way, floor->mean_tvd_2way, floor->max_tvd_2way);
  }
  if (!synthetic_files.empty()) {
    data::CsvFormat format = schema->csv;
    format.header = true;
    format.delimiter = ',';
    format.skip_rows = 0;
    for (const std::string& path : synthetic_files) {
      auto synthetic = data::ReadCsvTable(path, *schema, format);
      if (!synthetic.ok()) {
        std::fprintf(stderr, "%s: %s\n", path.c_str(), synthetic.status().ToString().c_str());
        return 1;
      }
      auto utility = eval::MeasureTableUtility(synthetic->table, fit_rows, test_rows, *schema);
      if (!utility.ok()) return 1;
      std::printf("%s: accuracy %.4f auc %.4f tvd1 %.4f tvd2 %.4f bound-excess %.3f\n",
                  path.c_str(), utility->accuracy, utility->auc, utility->mean_tvd_1way,
                  utility->mean_tvd_2way, utility->worst_bound_excess);
    }
    return 0;
  }
  privacy::SecureRandom rng;
  std::string table =
      "| total ε | runs | LR accuracy | LR ROC AUC | mean 1-way TVD | mean 2-way TVD | worst bound "
      "excess | fit + sample (s) |\n|---|---|---|---|---|---|---|---|\n";
  char line[512];
  std::snprintf(line, sizeof line, "| real training rows | 1 | %.3f | %.3f | – | – | – | – |\n",
                real->accuracy, real->auc);
  table += line;
  auto range = [](const std::vector<double>& v) {
    char out[64];
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    std::snprintf(out, sizeof out, *lo == *hi ? "%.3f" : "%.3f–%.3f", *lo, *hi);
    return std::string(out);
  };
  std::vector<eval::TableUtility> first_fits;  // one per epsilon, for the profile
  for (double epsilon : epsilons) {
    std::vector<double> acc, auc, tvd1, tvd2, excess, secs;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      auto model = synth::MarginalModel::Fit(fit_rows, *schema, epsilon, delta, options, rng);
      if (!model.ok()) return std::fprintf(stderr, "%s\n", model.status().ToString().c_str()), 1;
      const data::Table synthetic = model->Sample(fit_rows.num_rows(), rng);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      auto utility = eval::MeasureTableUtility(synthetic, fit_rows, test_rows, *schema);
      if (!utility.ok())
        return std::fprintf(stderr, "%s\n", utility.status().ToString().c_str()), 1;
      std::printf(
          "eps %.2f: accuracy %.4f auc %.4f tvd1 %.4f tvd2 %.4f (max %.3f) bound-excess %.3f "
          "edges %zu %.2f s\n",
          epsilon, utility->accuracy, utility->auc, utility->mean_tvd_1way, utility->mean_tvd_2way,
          utility->max_tvd_2way, utility->worst_bound_excess, model->report().edges.size(),
          seconds);
      if (r == 0) first_fits.push_back(*utility);
      acc.push_back(utility->accuracy);
      auc.push_back(utility->auc);
      tvd1.push_back(utility->mean_tvd_1way);
      tvd2.push_back(utility->mean_tvd_2way);
      excess.push_back(utility->worst_bound_excess);
      secs.push_back(seconds);
      for (const auto& [a, b] : model->report().edges)
        std::printf("  edge %s - %s\n", a.c_str(), b.c_str());
      std::fflush(stdout);
    }
    std::snprintf(line, sizeof line, "| %g | %d | %s | %s | %s | %s | %s | %s |\n", epsilon,
                  repeats, range(acc).c_str(), range(auc).c_str(), range(tvd1).c_str(),
                  range(tvd2).c_str(), range(excess).c_str(), range(secs).c_str());
    table += line;
  }
  std::printf("\n%s", table.c_str());
  if (!markdown.empty() && !WriteFile(markdown, table)) return 1;
  if (!profile_markdown.empty()) {
    if (!floor.ok()) return std::fprintf(stderr, "%s\n", floor.status().ToString().c_str()), 1;
    const std::string profile = ProfileMarkdown(*floor, epsilons, first_fits, profile_pairs);
    std::printf("\n%s", profile.c_str());
    if (!WriteFile(profile_markdown, profile)) return 1;
  }
  return 0;
}
