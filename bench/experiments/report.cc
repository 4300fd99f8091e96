// fedsyn-results: turns `fedsyn-agent evaluate` reports (JSON) into the results page: per data
// set, the paper's two claims side by side with what was measured, the full table, a
// privacy-utility chart and the ROC curves of the strongest attack on log-log axes (SVG).
//
//   fedsyn-results --out docs/results.md --figures docs/results REPORT.json...
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "common/data/table_io.h"
#include "common/report/svg_plot.h"
#include "nlohmann/json.hpp"

namespace {

using Json = nlohmann::json;
using fedsyn::report::Axis;
using fedsyn::report::Chart;
using fedsyn::report::Series;

// "Attack accuracy about 0.5": the largest mean balanced accuracy of the attacks on the target
// model stays within this of 0.5.
constexpr double kChanceMargin = 0.05;
const char* const kTargetAttacks[] = {"loss_threshold", "shadow_models", "lira_offline"};

std::string Format(const char* format, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}
std::string MeanSd(const Json& stat, const char* format = "%.3f") {
  return Format(format, stat["mean"].get<double>()) + " ± " +
         Format(format, stat["sd"].get<double>());
}

const Json* Find(const Json& summary, const std::string& method, const Json& epsilon) {
  for (const Json& entry : summary) {
    if (entry["method"] == method && entry["epsilon"] == epsilon) return &entry;
  }
  return nullptr;
}

double MaxTargetBalancedAccuracy(const Json& entry, std::string* which) {
  double best = 0;
  for (const char* attack : kTargetAttacks) {
    if (!entry["attacks"].contains(attack)) continue;
    const double v = entry["attacks"][attack]["balanced_accuracy"]["mean"].get<double>();
    if (v > best) {
      best = v;
      *which = attack;
    }
  }
  return best;
}

// Short names for chart legends.
std::string ShortName(const std::string& method) {
  if (method == "real") return "real data";
  if (method == "dpsgd") return "DP-SGD";
  if (method == "paper") return "fedsyn paper mode";
  return "fedsyn end to end";
}
std::string ShortAttack(const std::string& attack) {
  if (attack == "loss_threshold") return "loss";
  if (attack == "shadow_models") return "shadow";
  if (attack == "lira_offline") return "LiRA";
  if (attack == "density_ratio") return "density";
  return attack;
}

std::vector<double> Ticks(double lo, double hi, double step) {
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push_back(t);
  return ticks;
}

std::string UtilityChart(const Json& report) {
  const Json& summary = report["summary"];
  const std::vector<double> epsilons = report["settings"]["epsilons"].get<std::vector<double>>();
  Chart chart;
  chart.title = report["settings"]["name"].get<std::string>() + ": test accuracy against epsilon";
  // Paper mode's decoder is not private, so its total epsilon is unbounded: it is plotted at its
  // release epsilon, and its legend says so.
  chart.x = {"epsilon, log scale (DP-SGD, end to end: total; paper mode: release only)",
             epsilons.front() / 1.3, epsilons.back() * 1.3, true, epsilons};
  double lo = 1, hi = 0;
  for (const Json& e : summary) {
    lo = std::min(lo, e["utility"]["accuracy"]["mean"].get<double>());
    hi = std::max(hi, e["utility"]["accuracy"]["mean"].get<double>());
  }
  lo = std::floor((lo - 0.03) * 20) / 20;
  hi = std::ceil((hi + 0.03) * 20) / 20;
  chart.y = {"test accuracy (mean over seeds)", lo, hi, false,
             Ticks(lo, hi, hi - lo > 0.4 ? 0.1 : 0.05)};
  for (const char* method : {"dpsgd", "paper", "e2e"}) {
    // The legend has room for about 30 characters.
    const std::string name =
        std::string(method) == "paper" ? "paper mode (release ε only)" : ShortName(method);
    Series s{name, {}, true, false};
    for (double eps : epsilons) {
      if (const Json* e = Find(summary, method, Json(eps)))
        s.points.push_back({eps, (*e)["utility"]["accuracy"]["mean"].get<double>()});
    }
    if (!s.points.empty()) chart.series.push_back(s);
  }
  if (const Json* real = Find(summary, "real", Json(nullptr))) {
    const double a = (*real)["utility"]["accuracy"]["mean"].get<double>();
    chart.series.push_back({ShortName("real"), {{chart.x.min, a}, {chart.x.max, a}}, false, true});
  }
  return fedsyn::report::RenderSvg(chart);
}

std::string RocChart(const Json& report) {
  const Json& summary = report["summary"];
  const Json eps_max = Json(report["settings"]["epsilons"].back().get<double>());
  const Json first_seed = report["settings"]["seeds"].front();
  Chart chart;
  chart.title = report["settings"]["name"].get<std::string>() + ": strongest attack, ROC (log-log)";
  const std::vector<double> ticks = {0.001, 0.01, 0.1, 1};
  chart.x = {"false-positive rate", 1e-3, 1, true, ticks};
  chart.y = {"true-positive rate", 1e-3, 1, true, ticks};
  for (const auto& [method, epsilon] : std::vector<std::pair<std::string, Json>>{
           {"real", Json(nullptr)}, {"dpsgd", eps_max}, {"paper", eps_max}, {"e2e", eps_max}}) {
    const Json* entry = Find(summary, method, epsilon);
    if (entry == nullptr) continue;
    const std::string attack = (*entry)["strongest_attack"].get<std::string>();
    for (const Json& run : report["runs"]) {
      if (run["method"] != method || run["epsilon"] != epsilon || run["seed"] != first_seed)
        continue;
      if (!run["attacks"][attack].contains("roc")) continue;
      Series s{
          ShortName(method) + (epsilon.is_null() ? "" : " ε" + Format("%g", epsilon.get<double>())),
          {},
          false,
          false};
      for (const Json& p : run["attacks"][attack]["roc"]) {
        const double fpr = p[0].get<double>(), tpr = p[1].get<double>();
        if (fpr > 0) s.points.push_back({fpr, std::max(tpr, 1e-3)});
      }
      s.label += " (" + ShortAttack(attack) + ")";
      chart.series.push_back(s);
    }
  }
  chart.series.push_back({"chance", {{1e-3, 1e-3}, {1, 1}}, false, true});
  return fedsyn::report::RenderSvg(chart);
}

std::string DatasetSection(const Json& report, const std::string& figures_rel,
                           const std::string& slug) {
  const Json& s = report["settings"];
  const Json& summary = report["summary"];
  std::string md =
      "## " + s["name"].get<std::string>() + " — " + s["target"].get<std::string>() + " target\n\n";
  md += "Records " + s["records"].dump() + "; per seed " + s["members"].dump() + " members, " +
        s["nonmembers"].dump() + " non-members, " + s["test"].dump() +
        " test records, an attacker pool of " + s["attacker_pool"].dump() + "; " +
        s["classes"].dump() + " classes; seeds " + s["seeds"].dump() +
        "; δ = " + Format("%.3g", s["delta"].get<double>()) +
        "; every ε replace-one (n public); DP-SGD clip " + s["dp_sgd"]["clip"].dump() +
        ", expected batch " + s["dp_sgd"]["expected_batch"].dump() + ", " +
        s["dp_sgd"]["epochs"].dump() + " epochs, step size " +
        s["dp_sgd"].value("learning_rate", Json(0.001)).dump() + "; VAE latent " +
        s["vae"]["latent_dim"].dump() + ", hidden " + s["vae"]["hidden"].dump() +
        "; clip radius R = " + s["clip_radius"].dump() + "; " + s["shadow_models"].dump() +
        " shadow/reference models; target trained " + s["target_epochs"].dump() +
        " epochs. Run time " + Format("%.0f", report["seconds"].get<double>()) + " s.\n\n";

  const Json* real = Find(summary, "real", Json(nullptr));
  std::string real_attack;
  const double real_bacc = real ? MaxTargetBalancedAccuracy(*real, &real_attack) : 0;
  md += "### The paper's claims, measured\n\n";
  if (real) {
    md += "Baseline without defence: test accuracy " + MeanSd((*real)["utility"]["accuracy"]) +
          ", best attack balanced accuracy " + Format("%.3f", real_bacc) + " (" + real_attack +
          ").";
    if (real_bacc <= 0.5 + kChanceMargin) {
      md +=
          " The undefended model already leaks little on this data, so claim 1 cannot discriminate "
          "between defences here.";
    }
    md += "\n\n";
  }
  std::string rows;
  int settings = 0, claim1 = 0, claim2 = 0, e2e_above = 0;
  for (const Json& eps : s["epsilons"]) {
    const Json* paper = Find(summary, "paper", eps);
    const Json* dpsgd = Find(summary, "dpsgd", eps);
    const Json* e2e = Find(summary, "e2e", eps);
    if (!paper || !dpsgd) continue;
    std::string which;
    const double bacc = MaxTargetBalancedAccuracy(*paper, &which);
    const double pa = (*paper)["utility"]["accuracy"]["mean"].get<double>();
    const double da = (*dpsgd)["utility"]["accuracy"]["mean"].get<double>();
    const bool e2e_better = e2e && (*e2e)["utility"]["accuracy"]["mean"].get<double>() > da;
    ++settings;
    claim1 += bacc <= 0.5 + kChanceMargin;
    claim2 += pa > da;
    e2e_above += e2e_better;
    rows += "| " + Format("%g", eps.get<double>()) + " | " + Format("%.3f", bacc) + " (" + which +
            ") | " + (bacc <= 0.5 + kChanceMargin ? "yes" : "**no**") + " | " +
            MeanSd((*paper)["utility"]["accuracy"]) + " vs " +
            MeanSd((*dpsgd)["utility"]["accuracy"]) + " | " + (pa > da ? "yes" : "**no**") + " | ";
    rows += e2e ? MeanSd((*e2e)["utility"]["accuracy"]) + (e2e_better ? " (above)" : " (**below**)")
                : "-";
    rows += " |\n";
  }
  md += "In short: claim 1 holds at " + std::to_string(claim1) + " of " + std::to_string(settings) +
        " ε settings, claim 2 at " + std::to_string(claim2) + " of " + std::to_string(settings) +
        "; the end-to-end mode beats DP-SGD at " + std::to_string(e2e_above) + " of " +
        std::to_string(settings) + ".\n\n";
  md +=
      "| ε | claim 1: attack accuracy on the paper-mode target ≈ 0.5 (best attack) | holds? | "
      "claim 2: paper-mode accuracy vs DP-SGD | holds? | end to end vs DP-SGD "
      "|\n|---|---|---|---|---|---|\n";
  md += rows;
  md +=
      "\nClaim 1 counts as holding when the best mean balanced accuracy of the loss-threshold, "
      "shadow-model and LiRA attacks is at most " +
      Format("%.2f", 0.5 + kChanceMargin) +
      ". Paper mode's ε is the release's only: its decoder saw the members in the clear, so its "
      "total ε is unbounded, and the charts plot it at its release ε. End to end spends ε/2 on "
      "DP-SGD for the VAE and ε/2 on the release.\n\n";

  md +=
      "### All results (mean ± sd over seeds)\n\n| method | ε | test accuracy | test AUC | "
      "strongest attack | "
      "attack AUC | balanced acc. | TPR @ 1% FPR | TPR @ 0.1% FPR | column distance | corr. diff. "
      "|\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const char* method : {"real", "dpsgd", "paper", "e2e"}) {
    for (const Json& e : summary) {
      if (e["method"] != method) continue;
      const std::string attack = e["strongest_attack"].get<std::string>();
      const Json& a = e["attacks"][attack];
      md += "| " + std::string(method) + " | " +
            (e["epsilon"].is_null() ? "-" : Format("%g", e["epsilon"].get<double>())) + " | " +
            MeanSd(e["utility"]["accuracy"]) + " | " + MeanSd(e["utility"]["auc"]) + " | " +
            attack + " | " + MeanSd(a["auc"]) + " | " + MeanSd(a["balanced_accuracy"]) + " | " +
            MeanSd(a["tpr_at_1pct_fpr"]) + " | " + MeanSd(a["tpr_at_01pct_fpr"]) + " | ";
      if (e.contains("fidelity")) {
        md += MeanSd(e["fidelity"]["mean_column_distance"]) + " | " +
              MeanSd(e["fidelity"]["correlation_difference"]) + " |\n";
      } else {
        md += "- | - |\n";
      }
    }
  }
  md +=
      "\nStrongest attack: the highest mean AUC among loss threshold, shadow models, LiRA "
      "(offline) "
      "and, for synthetic data, the density ratio on the synthetic records (distance to the "
      "closest "
      "record is a sanity check and never counts). Thresholds for balanced accuracy come from the "
      "attacker's shadow models (density ratio: the median score, the attacker knowing half the "
      "candidates are members).\n\n";
  md += "![" + s["name"].get<std::string>() + ": privacy-utility](" + figures_rel + "/" + slug +
        "-utility.svg)\n";
  md += "![" + s["name"].get<std::string>() + ": ROC of the strongest attack](" + figures_rel +
        "/" + slug + "-roc.svg)\n\n";
  return md;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fedsyn-results: the results page from fedsyn-agent evaluate reports"};
  std::string out, figures, command;
  std::vector<std::string> reports;
  app.add_option("--out", out, "markdown page to write")->required();
  app.add_option("--figures", figures, "folder for the SVG figures")->required();
  app.add_option("--command", command,
                 "the command that produced the reports (quoted on the page)");
  app.add_option("reports", reports, "evaluation reports (JSON)")
      ->required()
      ->check(CLI::ExistingFile);
  CLI11_PARSE(app, argc, argv);

  std::filesystem::create_directories(figures);
  const std::string figures_rel =
      std::filesystem::relative(figures, std::filesystem::path(out).parent_path()).string();
  std::string md = "# Results: utility and membership inference\n\n";
  md += "Generated by `fedsyn-results` from `fedsyn-agent evaluate` reports";
  if (!command.empty()) md += ", produced by `" + command + "`";
  md += ". Every figure below was measured in that run; nothing is typed in by hand.\n\n";
  md +=
      "**Which generator should I use?** For tables, the marginal generator (`fedsyn-agent "
      "synthesize --generator marginals`): on UCI Adult at total ε = 1 it trains classifiers "
      "close to real data, far above every VAE configuration below. The utility page, "
      "[results/utility-grid.md](results/utility-grid.md) (written by "
      "`bench/experiments/utility_grid.sh`), scores every generator and release mode at total "
      "ε 0.5–8 with two probes, beside real data, the majority class and DP-SGD classifiers, and "
      "the four Heart hospitals through the federation; the marginal generator's repeated runs "
      "are on [results/utility-adult.md](results/utility-adult.md) and the VAE's budget splits "
      "on [results/vae-adult.md](results/vae-adult.md). Two of issue #13's targets are missed. "
      "The mean 2-way marginal distance at ε = 1 (0.04 asked): where the distance comes from and "
      "what was tried is on [results/marginal-tvd-profile.md](results/marginal-tvd-profile.md). "
      "The bound target at ε 0.5 on the Heart hospitals: a few hundred records per hospital "
      "carry too little for that budget, the federation trains classifiers near the majority "
      "rate and, in some runs, a hospital's column piles up at a declared bound; the repeated "
      "runs and the cause are on "
      "[results/heart-small-epsilon.md](results/heart-small-epsilon.md).\n\n";
  std::set<std::string> slugs;
  for (const std::string& path : reports) {
    auto text = fedsyn::data::ReadFileToString(path);
    if (!text.ok()) {
      std::fprintf(stderr, "fedsyn-results: %s\n", std::string(text.status().message()).c_str());
      return 4;
    }
    const Json report = Json::parse(*text, nullptr, false);
    if (report.is_discarded() || report.value("format", "") != "fedsyn-evaluation") {
      std::fprintf(stderr, "fedsyn-results: %s is not an evaluation report\n", path.c_str());
      return 3;
    }
    std::string slug = std::filesystem::path(path).stem().string();
    while (!slugs.insert(slug).second) slug += "_";
    for (const auto& [name, svg] : {std::pair{"-utility.svg", UtilityChart(report)},
                                    std::pair{"-roc.svg", RocChart(report)}}) {
      if (auto st = fedsyn::data::WriteFileAtomically(figures + "/" + slug + name, svg); !st.ok()) {
        std::fprintf(stderr, "fedsyn-results: %s\n", std::string(st.message()).c_str());
        return 4;
      }
    }
    md += DatasetSection(report, figures_rel, slug);
  }
  if (auto st = fedsyn::data::WriteFileAtomically(out, md); !st.ok()) {
    std::fprintf(stderr, "fedsyn-results: %s\n", std::string(st.message()).c_str());
    return 4;
  }
  std::printf("wrote %s and %zu figures in %s\n", out.c_str(), 2 * reports.size(), figures.c_str());
  return 0;
}
