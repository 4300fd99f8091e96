#include "common/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fedsyn::report {
namespace {

constexpr double kWidth = 760, kHeight = 420;
constexpr double kLeft = 70, kRight = 250, kTop = 40, kBottom = 60;  // margins; legend on the right
const char* const kColours[] = {"#1b6ca8", "#d1495b", "#2e933c", "#edae49",
                                "#66462c", "#8c5fbf", "#00798c", "#555555"};

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

std::string Number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", v);
  return buffer;
}

std::string TickLabel(double v) {
  char buffer[32];
  if (v != 0 && (std::abs(v) < 0.01 || std::abs(v) >= 1e4)) {
    std::snprintf(buffer, sizeof buffer, "%g", v);
  } else {
    std::snprintf(buffer, sizeof buffer, "%g", std::round(v * 1000) / 1000);
  }
  return buffer;
}

double Scale(const Axis& axis, double v) {
  if (axis.log10) {
    const double lo = std::log10(axis.min), hi = std::log10(axis.max);
    const double lv = v > 0 ? std::log10(v) : lo;
    return std::clamp((lv - lo) / (hi - lo), 0.0, 1.0);
  }
  return std::clamp((v - axis.min) / (axis.max - axis.min), 0.0, 1.0);
}

}  // namespace

std::string RenderSvg(const Chart& chart) {
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + Scale(chart.x, x) * plot_w; };
  auto py = [&](double y) { return kTop + (1 - Scale(chart.y, y)) * plot_h; };
  std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"420\" viewBox=\"0 0 760 "
      "420\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"760\" height=\"420\" "
      "fill=\"white\"/>\n";
  svg += "<text x=\"" + Number(kLeft + plot_w / 2) +
         "\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">" + Escape(chart.title) + "</text>\n";
  svg += "<rect x=\"" + Number(kLeft) + "\" y=\"" + Number(kTop) + "\" width=\"" + Number(plot_w) +
         "\" height=\"" + Number(plot_h) + "\" fill=\"none\" stroke=\"#333\"/>\n";
  for (double t : chart.x.ticks) {
    const double x = px(t);
    svg += "<line x1=\"" + Number(x) + "\" y1=\"" + Number(kTop) + "\" x2=\"" + Number(x) +
           "\" y2=\"" + Number(kTop + plot_h) + "\" stroke=\"#ddd\"/>\n";
    svg += "<text x=\"" + Number(x) + "\" y=\"" + Number(kTop + plot_h + 16) +
           "\" text-anchor=\"middle\">" + TickLabel(t) + "</text>\n";
  }
  for (double t : chart.y.ticks) {
    const double y = py(t);
    svg += "<line x1=\"" + Number(kLeft) + "\" y1=\"" + Number(y) + "\" x2=\"" +
           Number(kLeft + plot_w) + "\" y2=\"" + Number(y) + "\" stroke=\"#ddd\"/>\n";
    svg += "<text x=\"" + Number(kLeft - 6) + "\" y=\"" + Number(y + 4) +
           "\" text-anchor=\"end\">" + TickLabel(t) + "</text>\n";
  }
  svg += "<text x=\"" + Number(kLeft + plot_w / 2) + "\" y=\"" + Number(kHeight - 18) +
         "\" text-anchor=\"middle\">" + Escape(chart.x.label) + "</text>\n";
  svg += "<text transform=\"translate(18," + Number(kTop + plot_h / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + Escape(chart.y.label) + "</text>\n";
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const Series& series = chart.series[s];
    const std::string colour = kColours[s % (sizeof kColours / sizeof *kColours)];
    std::string points;
    for (const auto& [x, y] : series.points) points += Number(px(x)) + "," + Number(py(y)) + " ";
    svg += "<polyline fill=\"none\" stroke=\"" + colour + "\" stroke-width=\"2\"" +
           (series.dashed ? " stroke-dasharray=\"6,4\"" : "") + " points=\"" + points + "\"/>\n";
    if (series.markers) {
      for (const auto& [x, y] : series.points)
        svg += "<circle cx=\"" + Number(px(x)) + "\" cy=\"" + Number(py(y)) +
               "\" r=\"3.5\" fill=\"" + colour + "\"/>\n";
    }
    const double ly = kTop + 10 + 20 * static_cast<double>(s);
    svg += "<line x1=\"" + Number(kLeft + plot_w + 12) + "\" y1=\"" + Number(ly) + "\" x2=\"" +
           Number(kLeft + plot_w + 36) + "\" y2=\"" + Number(ly) + "\" stroke=\"" + colour +
           "\" stroke-width=\"2\"" + (series.dashed ? " stroke-dasharray=\"6,4\"" : "") + "/>\n";
    svg += "<text x=\"" + Number(kLeft + plot_w + 42) + "\" y=\"" + Number(ly + 4) + "\">" +
           Escape(series.label) + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace fedsyn::report
