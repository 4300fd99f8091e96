#include "common/base/logging.h"

#include <string>

#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace fedsyn::base {
namespace {

std::string MoreBytes(size_t count) { return "...(+" + std::to_string(count) + " bytes)"; }

constexpr const char* kPattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v";

// Escapes the message, then formats it with the usual pattern (time, level, message).
class EscapingFormatter final : public spdlog::formatter {
 public:
  EscapingFormatter() : inner_(std::make_unique<spdlog::pattern_formatter>(kPattern)) {}

  void format(const spdlog::details::log_msg& message, spdlog::memory_buf_t& destination) override {
    const std::string escaped =
        EscapeForLog(std::string_view(message.payload.data(), message.payload.size()));
    spdlog::details::log_msg copy = message;
    copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
    inner_->format(copy, destination);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<EscapingFormatter>();
  }

 private:
  std::unique_ptr<spdlog::pattern_formatter> inner_;
};

}  // namespace

std::string EscapeForLog(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string_view shown = text.substr(0, max_bytes);
  std::string out;
  out.reserve(shown.size() + 16);
  for (const char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (byte >= 0x20 && byte < 0x7f) {
          out += c;
        } else {
          out += "\\x";
          out += kHex[byte >> 4];
          out += kHex[byte & 0xf];
        }
    }
  }
  if (text.size() > shown.size()) out += MoreBytes(text.size() - shown.size());
  return out;
}

std::string Truncated(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  return std::string(text.substr(0, max_bytes)) + MoreBytes(text.size() - max_bytes);
}

void UseEscapingFormatter(spdlog::logger& logger) {
  logger.set_formatter(std::make_unique<EscapingFormatter>());
}

absl::Status SetUpLogging(std::string_view level) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError("unknown log level '" + std::string(level) +
                                      "' (use trace, debug, info, warn, error or off)");
  }
  // A second call (tests run several command lines in one process) replaces the logger:
  // spdlog refuses, with an exception, to register a name twice.
  spdlog::drop("fedsyn");
  auto logger = spdlog::stderr_color_mt("fedsyn");
  UseEscapingFormatter(*logger);
  logger->set_level(parsed);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

}  // namespace fedsyn::base
