// The audit's HTML report renders in a real browser: Debian's chromium, headless, takes a
// screenshot, and the screenshot holds the ROC curves (pixels in the plot series' colours) —
// while the same page without any attack data holds none, so the check can fail.
#include <png.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/data/table_io.h"
#include "coordinator/audit_report.h"
#include "gtest/gtest.h"
#include "tests/support/test_paths.h"

namespace fedsyn::coordinator {
namespace {

// The first two series colours of common/report/svg_plot.cc.
struct Rgb {
  int r, g, b;
};
constexpr Rgb kFirstSeries{0x1b, 0x6c, 0xa8};
constexpr Rgb kSecondSeries{0xd1, 0x49, 0x5b};

eval::Interval Around(double v) { return {v, v / 2, std::min(1.0, v * 1.5)}; }

eval::AttackMetrics Attack(double auc, double bend) {
  eval::AttackMetrics m;
  m.auc = Around(auc);
  m.balanced_accuracy = Around(0.6);
  m.tpr_at_1pct_fpr = Around(0.2);
  m.tpr_at_01pct_fpr = Around(0.1);
  for (int i = 0; i <= 50; ++i) {
    const double fpr = i / 50.0;
    m.roc.push_back({fpr, std::pow(fpr, bend)});
  }
  return m;
}

AuditReport Report(bool with_attacks) {
  AuditReport report;
  report.dataset = "heart";
  report.created_unix = 1'796'083'200;  // 2026-12-01
  report.parameters = {0.95, 100, 0.3, 200};
  report.downstream.skipped = "no label";
  if (with_attacks) {
    ReleaseAuditEntry r;
    r.release_id = "r-1";
    r.site_id = "cleveland";
    r.epsilon_release = 1.0;
    r.verdict.claimed_epsilon = 1.0;
    r.verdict.canaries = 100;
    r.verdict.included = 52;
    r.verdict.empirical_lower_bound = 2.1;
    r.verdict.estimates = {{"nearest_row", "one-run", 10, 2.1}};
    r.verdict.nearest_row = Attack(0.95, 0.2);
    r.verdict.density_ratio = Attack(0.8, 0.5);
    r.rows = 355;
    r.reason = "empirical epsilon exceeds the claim";
    report.releases.push_back(r);
  }
  return report;
}

struct Screenshot {
  int width = 0, height = 0;
  std::vector<uint8_t> rgba;
  int CountNear(Rgb c, int tolerance = 24) const {
    int count = 0;
    for (size_t i = 0; i + 3 < rgba.size(); i += 4) {
      if (std::abs(rgba[i] - c.r) <= tolerance && std::abs(rgba[i + 1] - c.g) <= tolerance &&
          std::abs(rgba[i + 2] - c.b) <= tolerance)
        ++count;
    }
    return count;
  }
  int CountNonWhite() const {
    int count = 0;
    for (size_t i = 0; i + 3 < rgba.size(); i += 4)
      if (rgba[i] < 200 || rgba[i + 1] < 200 || rgba[i + 2] < 200) ++count;
    return count;
  }
};

Screenshot ReadPng(const std::string& path) {
  Screenshot shot;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str())) {
    ADD_FAILURE() << "cannot read " << path << ": " << image.message;
    return shot;
  }
  image.format = PNG_FORMAT_RGBA;
  shot.width = static_cast<int>(image.width);
  shot.height = static_cast<int>(image.height);
  shot.rgba.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, shot.rgba.data(), 0, nullptr)) {
    ADD_FAILURE() << "cannot decode " << path << ": " << image.message;
    shot.rgba.clear();
  }
  return shot;
}

Screenshot Render(const std::string& dir, const std::string& name, const AuditReport& report) {
  const std::string html = dir + "/" + name + ".html", png = dir + "/" + name + ".png";
  EXPECT_TRUE(data::WriteFileAtomically(html, RenderAuditHtml(report)).ok());
  std::filesystem::remove(png);
  // --no-sandbox: CI runs as root in a container, where chromium's sandbox cannot start;
  // --disable-dev-shm-usage: containers often have a tiny /dev/shm; a profile folder of its own
  // so that nothing depends on $HOME.
  const std::string command =
      "chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars "
      "--user-data-dir=" +
      dir + "/profile --window-size=1200,1600 --screenshot=" + png + " file://" + html + " > " +
      dir + "/" + name + ".log 2>&1";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return ReadPng(png);
}

TEST(AuditReportRender, HeadlessChromiumDrawsTheRocCurves) {
  const std::string dir = fedsyn::testing::ScratchDir("audit_report_render");
  const Screenshot plotted = Render(dir, "with_attacks", Report(true));
  ASSERT_EQ(plotted.width, 1200);
  ASSERT_EQ(plotted.height, 1600);
  const int blue = plotted.CountNear(kFirstSeries), red = plotted.CountNear(kSecondSeries);
  std::printf("non-white %d px, first series %d px, second series %d px\n", plotted.CountNonWhite(),
              blue, red);
  EXPECT_GT(blue, 300) << "the first ROC curve is drawn";
  EXPECT_GT(red, 300) << "the second ROC curve is drawn";

  // The same page without attack data: tables and text, but no curve colours.
  const Screenshot empty = Render(dir, "without_attacks", Report(false));
  EXPECT_GT(empty.CountNonWhite(), 1000) << "the page itself renders";
  EXPECT_LT(empty.CountNear(kFirstSeries), 20);
  EXPECT_LT(empty.CountNear(kSecondSeries), 20);
}

}  // namespace
}  // namespace fedsyn::coordinator
