// Minimal self-contained SVG line charts for reports (the results page, audit reports): linear or
// log10 axes, one polyline (optionally with markers) per series, a legend. Enough for
// privacy-utility curves and log-log ROC curves; not a plotting library.
#ifndef FEDSYN_COMMON_REPORT_SVG_PLOT_H_
#define FEDSYN_COMMON_REPORT_SVG_PLOT_H_

#include <string>
#include <utility>
#include <vector>

namespace fedsyn::report {

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;
  bool markers = true;
  bool dashed = false;
};

struct Axis {
  std::string label;
  double min = 0;
  double max = 1;
  bool log10 = false;
  std::vector<double> ticks;  // where to draw labelled ticks
};

struct Chart {
  std::string title;
  Axis x, y;
  std::vector<Series> series;
};

// A complete SVG document (760 x 420 px). Points outside the axes' ranges are clamped to them
// (log axes: non-positive values sit at the axis minimum).
std::string RenderSvg(const Chart& chart);

}  // namespace fedsyn::report

#endif  // FEDSYN_COMMON_REPORT_SVG_PLOT_H_
