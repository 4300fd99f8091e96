#include "coordinator/audit_report.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_format.h"
#include "common/base/utc_time.h"
#include "common/eval/metrics_json.h"
#include "common/privacy/budget.h"
#include "common/report/svg_plot.h"

namespace fedsyn::coordinator {
namespace {

using Json = nlohmann::json;

std::string Escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Fixed(double value, int digits = 3) { return absl::StrFormat("%.*f", digits, value); }

std::string Cell(const std::string& text) { return "<td>" + text + "</td>"; }

std::string IntervalText(const eval::Interval& interval) {
  return Fixed(interval.estimate) + " [" + Fixed(interval.low) + ", " + Fixed(interval.high) + "]";
}

// Log-log ROC curves of `attacks`. Points at FPR 0 have no place on a log axis; the x axis
// starts at 1% since audits have tens to thousands of non-members.
std::string RocSvg(const std::string& title, const std::vector<eval::NamedAttack>& attacks) {
  report::Chart chart;
  chart.title = title;
  chart.x = {"false-positive rate", 1e-2, 1, true, {0.01, 0.1, 1}};
  chart.y = {"true-positive rate", 1e-2, 1, true, {0.01, 0.1, 1}};
  for (const eval::NamedAttack& attack : attacks) {
    report::Series series{
        attack.name + " (AUC " + Fixed(attack.metrics.auc.estimate) + ")", {}, false, false};
    for (const eval::RocPoint& p : attack.metrics.roc) {
      if (p.fpr > 0) series.points.push_back({p.fpr, std::max(p.tpr, 1e-2)});
    }
    chart.series.push_back(std::move(series));
  }
  chart.series.push_back({"chance", {{1e-2, 1e-2}, {1, 1}}, false, true});
  return report::RenderSvg(chart);
}

std::string AttackTable(const std::vector<eval::NamedAttack>& attacks) {
  std::string html =
      "<table><tr><th>attack</th><th>AUC</th><th>balanced accuracy</th><th>TPR at 1% FPR</th>"
      "<th>TPR at 0.1% FPR</th></tr>\n";
  for (const eval::NamedAttack& a : attacks) {
    html += "<tr>" + Cell(Escape(a.name)) + Cell(IntervalText(a.metrics.auc)) +
            Cell(IntervalText(a.metrics.balanced_accuracy)) +
            Cell(IntervalText(a.metrics.tpr_at_1pct_fpr)) +
            Cell(IntervalText(a.metrics.tpr_at_01pct_fpr)) + "</tr>\n";
  }
  return html + "</table>\n";
}

constexpr char kStyle[] = R"css(
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
th { background: #eee; }
.passed { color: #1e7b34; font-weight: bold; }
.failed { color: #b00020; font-weight: bold; }
figure { margin: 0.5em 0 2em; }
)css";

// The canary attacks of a release, named as in the report.
std::vector<eval::NamedAttack> CanaryAttacks(const CanaryVerdict& v) {
  return {{"nearest_row", v.nearest_row}, {"density_ratio", v.density_ratio}};
}

const char* StatusName(bool passed) { return passed ? "passed" : "failed"; }

}  // namespace

Json ReleaseAuditEntry::ToJson() const {
  Json estimates = Json::array();
  for (const EpsilonEstimate& e : verdict.estimates)
    estimates.push_back(
        {{"score", e.score}, {"method", e.method}, {"k", e.k}, {"lower_bound", e.lower_bound}});
  Json j = {
      {"release_id", release_id},
      {"site", site_id},
      {"mode", privacy::ReleaseModeName(mode)},
      {"claimed_epsilon", verdict.claimed_epsilon},
      {"epsilon_release", epsilon_release},
      {"epsilon_model", epsilon_model},
      {"delta", verdict.delta},
      {"canaries", verdict.canaries},
      {"included", verdict.included},
      {"rows", rows},
      {"empirical_lower_bound", verdict.empirical_lower_bound},
      // One-sided: epsilon is at least the bound with this confidence; nothing bounds it
      // from above.
      {"interval",
       {{"low", verdict.empirical_lower_bound},
        {"high", nullptr},
        {"confidence", verdict.confidence}}},
      {"estimates", estimates},
      {"attacks", eval::NamedAttacksJson(CanaryAttacks(verdict), /*with_roc=*/true)},
      {"scored_in",
       mode == privacy::ReleaseMode::kCodes ? "latent codes (the published encoder)" : "records"},
      {"neighbouring_relation", neighbouring_relation}};
  if (presence) {
    j["presence_test"] = {{"pairs", presence->pairs},
                          {"ks_statistic", presence->ks_statistic},
                          {"critical_value", presence->critical_value},
                          {"alpha", kPresenceTestAlpha},
                          {"passed", presence->passed}};
  } else {
    j["presence_test"] = mode == privacy::ReleaseMode::kCodes
                             ? "not run: the reservation stated no mechanism"
                         : mode == privacy::ReleaseMode::kModelOnly
                             ? "not possible: the canaries trained the model, no row is theirs"
                             : "not possible for synthetic records (no known output law)";
  }
  j["status"] = StatusName(passed);
  j["reason"] = reason;
  return j;
}

Json SiteAuditSummary::ToJson() const {
  return {{"site", site_id},
          {"releases", releases},
          {"passed", passed},
          {"failed", failed},
          {"max_lower_bound", max_lower_bound}};
}

Json DownstreamAudit::ToJson() const {
  if (!ran) {
    Json j = {{"ran", false}};
    if (!skipped.empty()) j["skipped"] = skipped;
    return j;
  }
  return {
      {"ran", true},
      {"pooled_rows", pooled_rows},
      {"members", members},
      {"nonmembers", nonmembers},
      {"target", {{"architecture", "mlp"}, {"hidden", target_hidden}, {"epochs", target_epochs}}},
      {"reference_models", reference_models},
      {"attacks", eval::NamedAttacksJson(attacks, /*with_roc=*/true)},
      {"exceeds_threshold", exceeds_threshold}};
}

Json AuditParameters::ToJson() const {
  return {{"confidence", confidence},
          {"canaries_per_release", canaries_per_release},
          {"k", "m/10, m/4, m/2 (Bonferroni over k x 2 scores x 2 methods)"},
          {"bounds",
           {"one-run (Steinke, Nasr, Jagielski 2023)",
            "threshold (Jagielski, Ullman, Oprea 2020; Clopper-Pearson)"}},
          {"max_tpr_at_01pct_fpr", max_tpr_at_01pct_fpr},
          {"bootstrap", bootstrap}};
}

Json AuditReport::ToJson() const {
  Json releases_json = Json::array(), sites_json = Json::array();
  for (const ReleaseAuditEntry& r : releases) releases_json.push_back(r.ToJson());
  for (const SiteAuditSummary& s : sites) sites_json.push_back(s.ToJson());
  return {{"format", "fedsyn-audit-report"},
          {"version", 1},
          {"dataset", dataset},
          {"created_utc", base::Iso8601Utc(created_unix)},
          {"parameters", parameters.ToJson()},
          {"releases", releases_json},
          {"sites", sites_json},
          {"downstream", downstream.ToJson()}};
}

std::string RenderAuditHtml(const AuditReport& report) {
  const std::string dataset = Escape(report.dataset);
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
      "fedsyn audit: " +
      dataset + "</title>\n<style>" + kStyle +
      "</style></head><body>\n<h1>Privacy audit of dataset " + dataset + "</h1>\n";
  html += "<p>Created " + Escape(base::Iso8601Utc(report.created_unix)) +
          ". Each release's canaries were scored using only what the coordinator received; the "
          "empirical epsilon is a lower bound that holds with the stated confidence, so the "
          "interval is one-sided: [bound, &infin;). A bound above the claim means the site's "
          "mechanism or accounting is wrong.</p>\n";

  html +=
      "<h2>Releases judged in this run</h2>\n<table><tr><th>site</th><th>release</th>"
      "<th>mode</th><th>claimed &epsilon; (model + release)</th><th>&delta;</th>"
      "<th>canaries (included)</th><th>empirical &epsilon; at " +
      Fixed(100 * report.parameters.confidence, 0) + "%</th><th>status</th><th>reason</th></tr>\n";
  for (const ReleaseAuditEntry& r : report.releases) {
    const std::string status = StatusName(r.passed);
    html +=
        "<tr>" + Cell(Escape(r.site_id)) + Cell(Escape(r.release_id)) +
        Cell(Escape(privacy::ReleaseModeName(r.mode))) +
        Cell(Fixed(r.verdict.claimed_epsilon) + " (" + Fixed(r.epsilon_model) + " + " +
             Fixed(r.epsilon_release) + ")") +
        Cell(Escape(Json(r.verdict.delta).dump())) +
        Cell(std::to_string(r.verdict.canaries) + " (" + std::to_string(r.verdict.included) + ")") +
        Cell("[" + Fixed(r.verdict.empirical_lower_bound) + ", &infin;)") + "<td class=\"" +
        status + "\">" + status + "</td>" + Cell(Escape(r.reason)) + "</tr>\n";
  }
  html +=
      "</table>\n<h2>Per site</h2>\n<table><tr><th>site</th><th>audited releases</th>"
      "<th>passed</th><th>failed</th><th>largest empirical &epsilon;</th></tr>\n";
  for (const SiteAuditSummary& s : report.sites) {
    html += "<tr>" + Cell(Escape(s.site_id)) + Cell(std::to_string(s.releases)) +
            Cell(std::to_string(s.passed)) + Cell(std::to_string(s.failed)) +
            Cell(Fixed(s.max_lower_bound)) + "</tr>\n";
  }
  html += "</table>\n";

  for (const ReleaseAuditEntry& r : report.releases) {
    const std::string id = Escape(r.release_id);
    html += "<h2>Release " + id + " (" + Escape(r.site_id) + ")</h2>\n";
    html +=
        "<h3>Epsilon estimates</h3>\n<table><tr><th>score</th><th>method</th><th>k</th>"
        "<th>lower bound</th></tr>\n";
    for (const EpsilonEstimate& e : r.verdict.estimates) {
      html += "<tr>" + Cell(Escape(e.score)) + Cell(Escape(e.method)) + Cell(std::to_string(e.k)) +
              Cell(Fixed(e.lower_bound)) + "</tr>\n";
    }
    const std::vector<eval::NamedAttack> attacks = CanaryAttacks(r.verdict);
    html += "</table>\n<h3>Canary attacks</h3>\n" + AttackTable(attacks);
    html += "<figure>" +
            RocSvg("Release " + r.release_id + ": canary attacks, ROC (log-log)", attacks) +
            "</figure>\n";
  }

  const DownstreamAudit& downstream = report.downstream;
  html += "<h2>Downstream audit</h2>\n";
  if (downstream.ran) {
    html += "<p>An MLP trained on the dataset's pooled synthetic data (" +
            std::to_string(downstream.pooled_rows) +
            " rows, canary-derived rows included), attacked with the " +
            std::to_string(downstream.members) + " included canaries as members and the " +
            std::to_string(downstream.nonmembers) +
            " excluded ones as non-members. Threshold on TPR at 0.1% FPR: " +
            Fixed(report.parameters.max_tpr_at_01pct_fpr) + ".</p>\n";
    html += AttackTable(downstream.attacks);
    html += "<figure>" + RocSvg("Downstream attacks, ROC (log-log)", downstream.attacks) +
            "</figure>\n";
  } else {
    html += "<p>Not run: " +
            Escape(downstream.skipped.empty() ? std::string("no candidates") : downstream.skipped) +
            ".</p>\n";
  }
  html += "<h2>Parameters</h2>\n<pre>" + Escape(report.parameters.ToJson().dump(2)) + "</pre>\n";
  return html + "</body></html>\n";
}

}  // namespace fedsyn::coordinator
