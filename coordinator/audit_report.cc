#include "coordinator/audit_report.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_format.h"
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

std::string IntervalText(const Json& interval) {
  return Fixed(interval["estimate"].get<double>()) + " [" + Fixed(interval["low"].get<double>()) +
         ", " + Fixed(interval["high"].get<double>()) + "]";
}

// Log-log ROC curves of `attacks` (name -> metrics JSON with "roc"). Points at FPR 0 have no
// place on a log axis; the x axis starts at 1% since audits have tens to thousands of
// non-members.
std::string RocSvg(const std::string& title, const Json& attacks) {
  report::Chart chart;
  chart.title = title;
  chart.x = {"false-positive rate", 1e-2, 1, true, {0.01, 0.1, 1}};
  chart.y = {"true-positive rate", 1e-2, 1, true, {0.01, 0.1, 1}};
  for (const auto& [name, metrics] : attacks.items()) {
    report::Series series{
        name + " (AUC " + Fixed(metrics["auc"]["estimate"].get<double>()) + ")", {}, false, false};
    for (const Json& p : metrics["roc"]) {
      const double fpr = p[0].get<double>(), tpr = p[1].get<double>();
      if (fpr > 0) series.points.push_back({fpr, std::max(tpr, 1e-2)});
    }
    chart.series.push_back(std::move(series));
  }
  chart.series.push_back({"chance", {{1e-2, 1e-2}, {1, 1}}, false, true});
  return report::RenderSvg(chart);
}

std::string AttackTable(const Json& attacks) {
  std::string html =
      "<table><tr><th>attack</th><th>AUC</th><th>balanced accuracy</th><th>TPR at 1% FPR</th>"
      "<th>TPR at 0.1% FPR</th></tr>\n";
  for (const auto& [name, m] : attacks.items()) {
    html += "<tr>" + Cell(Escape(name)) + Cell(IntervalText(m["auc"])) +
            Cell(IntervalText(m["balanced_accuracy"])) + Cell(IntervalText(m["tpr_at_1pct_fpr"])) +
            Cell(IntervalText(m["tpr_at_01pct_fpr"])) + "</tr>\n";
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

}  // namespace

std::string RenderAuditHtml(const Json& report) {
  const std::string dataset = Escape(report["dataset"].get<std::string>());
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
      "fedsyn audit: " +
      dataset + "</title>\n<style>" + kStyle +
      "</style></head><body>\n<h1>Privacy audit of dataset " + dataset + "</h1>\n";
  html += "<p>Created " + Escape(report["created_utc"].get<std::string>()) +
          ". Each release's canaries were scored using only what the coordinator received; the "
          "empirical epsilon is a lower bound that holds with the stated confidence, so the "
          "interval is one-sided: [bound, &infin;). A bound above the claim means the site's "
          "mechanism or accounting is wrong.</p>\n";

  html +=
      "<h2>Releases judged in this run</h2>\n<table><tr><th>site</th><th>release</th>"
      "<th>mode</th><th>claimed &epsilon; (model + release)</th><th>&delta;</th>"
      "<th>canaries (included)</th><th>empirical &epsilon; at " +
      Fixed(100 * report["parameters"]["confidence"].get<double>(), 0) +
      "%</th><th>status</th><th>reason</th></tr>\n";
  for (const Json& r : report["releases"]) {
    const std::string status = r["status"].get<std::string>();
    html += "<tr>" + Cell(Escape(r["site"].get<std::string>())) +
            Cell(Escape(r["release_id"].get<std::string>())) +
            Cell(Escape(r["mode"].get<std::string>())) +
            Cell(Fixed(r["claimed_epsilon"].get<double>()) + " (" +
                 Fixed(r["epsilon_model"].get<double>()) + " + " +
                 Fixed(r["epsilon_release"].get<double>()) + ")") +
            Cell(Escape(Json(r["delta"]).dump())) +
            Cell(std::to_string(r["canaries"].get<int>()) + " (" +
                 std::to_string(r["included"].get<int>()) + ")") +
            Cell("[" + Fixed(r["empirical_lower_bound"].get<double>()) + ", &infin;)") +
            "<td class=\"" + status + "\">" + status + "</td>" +
            Cell(Escape(r["reason"].get<std::string>())) + "</tr>\n";
  }
  html +=
      "</table>\n<h2>Per site</h2>\n<table><tr><th>site</th><th>audited releases</th>"
      "<th>passed</th><th>failed</th><th>largest empirical &epsilon;</th></tr>\n";
  for (const Json& s : report["sites"]) {
    html += "<tr>" + Cell(Escape(s["site"].get<std::string>())) +
            Cell(std::to_string(s["releases"].get<int>())) +
            Cell(std::to_string(s["passed"].get<int>())) +
            Cell(std::to_string(s["failed"].get<int>())) +
            Cell(Fixed(s["max_lower_bound"].get<double>())) + "</tr>\n";
  }
  html += "</table>\n";

  for (const Json& r : report["releases"]) {
    const std::string id = Escape(r["release_id"].get<std::string>());
    html += "<h2>Release " + id + " (" + Escape(r["site"].get<std::string>()) + ")</h2>\n";
    html +=
        "<h3>Epsilon estimates</h3>\n<table><tr><th>score</th><th>method</th><th>k</th>"
        "<th>lower bound</th></tr>\n";
    for (const Json& e : r["estimates"]) {
      html += "<tr>" + Cell(Escape(e["score"].get<std::string>())) +
              Cell(Escape(e["method"].get<std::string>())) +
              Cell(std::to_string(e["k"].get<int>())) +
              Cell(Fixed(e["lower_bound"].get<double>())) + "</tr>\n";
    }
    html += "</table>\n<h3>Canary attacks</h3>\n" + AttackTable(r["attacks"]);
    html +=
        "<figure>" +
        RocSvg("Release " + r["release_id"].get<std::string>() + ": canary attacks, ROC (log-log)",
               r["attacks"]) +
        "</figure>\n";
  }

  const Json& downstream = report["downstream"];
  html += "<h2>Downstream audit</h2>\n";
  if (downstream.value("ran", false)) {
    html += "<p>An MLP trained on the dataset's pooled synthetic data (" +
            std::to_string(downstream["pooled_rows"].get<int64_t>()) +
            " rows, canary-derived rows included), attacked with the " +
            std::to_string(downstream["members"].get<int64_t>()) +
            " included canaries as members and the " +
            std::to_string(downstream["nonmembers"].get<int64_t>()) +
            " excluded ones as non-members. Threshold on TPR at 0.1% FPR: " +
            Fixed(report["parameters"]["max_tpr_at_01pct_fpr"].get<double>()) + ".</p>\n";
    html += AttackTable(downstream["attacks"]);
    html += "<figure>" + RocSvg("Downstream attacks, ROC (log-log)", downstream["attacks"]) +
            "</figure>\n";
  } else {
    html += "<p>Not run: " + Escape(downstream.value("skipped", std::string("no candidates"))) +
            ".</p>\n";
  }
  html += "<h2>Parameters</h2>\n<pre>" + Escape(report["parameters"].dump(2)) + "</pre>\n";
  return html + "</body></html>\n";
}

}  // namespace fedsyn::coordinator
