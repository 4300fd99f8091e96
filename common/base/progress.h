// Progress reporting for long jobs (training). On a terminal it draws a one-line bar that is
// redrawn in place; otherwise (CI, logs piped to a file) it writes one log line per update so
// that nothing depends on carriage returns.
#ifndef FEDSYN_COMMON_BASE_PROGRESS_H_
#define FEDSYN_COMMON_BASE_PROGRESS_H_

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

namespace fedsyn::base {

// One unit of progress: `done` of `total` steps finished, plus a short summary of the
// current figures (e.g. "train 12.3 val 13.1"). The summary must not contain data values.
struct ProgressUpdate {
  int done = 0;
  int total = 0;
  std::string summary;
};

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void Update(const ProgressUpdate& update) = 0;
  // Called once when the job ends (early stop included) to finish the line.
  virtual void Finish(const std::string& summary) = 0;
};

// Chooses the bar or log-line form from whether `stream` is a terminal.
class ConsoleProgress final : public ProgressSink {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  // `label` prefixes every line ("train"). `clock` is injectable for tests.
  ConsoleProgress(std::string label, std::FILE* stream, Clock clock = nullptr);

  void Update(const ProgressUpdate& update) override;
  void Finish(const std::string& summary) override;

  // Formats the estimated time left from the elapsed time and the fraction done:
  // "12s", "3m04s", "1h02m"; "?" when nothing is done yet.
  static std::string FormatTimeLeft(std::chrono::duration<double> elapsed, int done, int total);

 private:
  std::string label_;
  std::FILE* stream_;
  Clock clock_;
  bool is_terminal_;
  std::chrono::steady_clock::time_point start_;
  int last_logged_decile_ = -1;
};

// Discards updates (library use, tests).
class NullProgress final : public ProgressSink {
 public:
  void Update(const ProgressUpdate&) override {}
  void Finish(const std::string&) override {}
};

}  // namespace fedsyn::base

#endif  // FEDSYN_COMMON_BASE_PROGRESS_H_
