#include "common/base/progress.h"

#include <unistd.h>

#include <cmath>

#include "spdlog/spdlog.h"

namespace fedsyn::base {

ConsoleProgress::ConsoleProgress(std::string label, std::FILE* stream, Clock clock)
    : label_(std::move(label)),
      stream_(stream),
      clock_(clock ? std::move(clock) : [] { return std::chrono::steady_clock::now(); }),
      is_terminal_(stream != nullptr && isatty(fileno(stream)) == 1),
      start_(clock_()) {}

std::string ConsoleProgress::FormatTimeLeft(std::chrono::duration<double> elapsed, int done,
                                            int total) {
  if (done <= 0 || total <= 0) return "?";
  const double left = elapsed.count() * static_cast<double>(total - done) / done;
  const long seconds = std::lround(std::max(0.0, left));
  char buffer[32];
  if (seconds < 60) {
    std::snprintf(buffer, sizeof buffer, "%lds", seconds);
  } else if (seconds < 3600) {
    std::snprintf(buffer, sizeof buffer, "%ldm%02lds", seconds / 60, seconds % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%ldh%02ldm", seconds / 3600, (seconds % 3600) / 60);
  }
  return buffer;
}

void ConsoleProgress::Update(const ProgressUpdate& update) {
  const std::string left = FormatTimeLeft(clock_() - start_, update.done, update.total);
  if (!is_terminal_) {
    // Log lines: the first step, every tenth of the way, and the last, not every step.
    const int decile = update.total > 0 ? 10 * update.done / update.total : 0;
    if (update.done != 1 && update.done != update.total && decile == last_logged_decile_) return;
    last_logged_decile_ = decile;
    spdlog::info("{} {}/{} {} (time left {})", label_, update.done, update.total, update.summary,
                 left);
    return;
  }
  constexpr int kWidth = 30;
  const int filled = update.total > 0 ? kWidth * update.done / update.total : 0;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fprintf(stream_, "\r%s [%s] %d/%d %s  left %s\x1b[K", label_.c_str(), bar.c_str(),
               update.done, update.total, update.summary.c_str(), left.c_str());
  std::fflush(stream_);
}

void ConsoleProgress::Finish(const std::string& summary) {
  if (is_terminal_) {
    std::fprintf(stream_, "\n");
    std::fflush(stream_);
  }
  spdlog::info("{} finished: {}", label_, summary);
}

}  // namespace fedsyn::base
