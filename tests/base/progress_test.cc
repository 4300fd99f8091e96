#include "common/base/progress.h"

#include <cstdio>

#include "gtest/gtest.h"

namespace fedsyn::base {
namespace {

using std::chrono::duration;

TEST(Progress, EstimatesTimeLeftFromTheRateSoFar) {
  EXPECT_EQ(ConsoleProgress::FormatTimeLeft(duration<double>(10), 0, 10), "?");
  EXPECT_EQ(ConsoleProgress::FormatTimeLeft(duration<double>(10), 5, 10), "10s");
  EXPECT_EQ(ConsoleProgress::FormatTimeLeft(duration<double>(60), 1, 5), "4m00s");
  EXPECT_EQ(ConsoleProgress::FormatTimeLeft(duration<double>(3600), 1, 3), "2h00m");
  EXPECT_EQ(ConsoleProgress::FormatTimeLeft(duration<double>(10), 10, 10), "0s");
}

TEST(Progress, WritesNoCarriageReturnsWhenNotATerminal) {
  std::FILE* file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  auto now = std::chrono::steady_clock::now();
  ConsoleProgress progress("train", file, [&now] { return now; });
  progress.Update({1, 4, "loss 1.0"});
  progress.Finish("done");
  std::rewind(file);
  char buffer[256] = {};
  const size_t n = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  // Not a terminal: the bar is not drawn into the stream (log lines go to the logger).
  EXPECT_EQ(std::string(buffer, n).find('\r'), std::string::npos);
}

}  // namespace
}  // namespace fedsyn::base
