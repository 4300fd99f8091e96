// The command table: exactly the command given runs, with its own options and the program's
// context; a command line CLI11 refuses, or a bad --log-level, is exit 2 and runs nothing.
#include "common/base/command_line.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace fedsyn::base {
namespace {

struct Calls {
  std::vector<std::string> ran;  // "name:value"
};

class Recording : public Command<Calls> {
 public:
  explicit Recording(std::string name) : name_(std::move(name)) {}
  void Define(CLI::App& app) override { app.add_option("--value", value_)->required(); }
  int Run(CLI::App&, Calls& calls) override {
    calls.ran.push_back(name_ + ":" + value_);
    return name_ == "fails" ? kExitInvalidInput : kExitOk;
  }

 private:
  std::string name_, value_;
};

int RunProgram(std::vector<std::string> args, Calls& calls) {
  const std::vector<CommandEntry<Calls>> table = {
      {"first", "the first",
       [] { return std::unique_ptr<Command<Calls>>(new Recording("first")); }},
      {"fails", "fails", [] { return std::unique_ptr<Command<Calls>>(new Recording("fails")); }}};
  std::vector<char*> argv;
  args.insert(args.begin(), "program");
  for (std::string& a : args) argv.push_back(a.data());
  CLI::App app{"test program"};
  return RunCommandLine("program", app, table, calls, static_cast<int>(argv.size()), argv.data());
}

TEST(CommandLine, RunsTheOneCommandGivenWithItsOptions) {
  Calls calls;
  EXPECT_EQ(RunProgram({"first", "--value", "x"}, calls), kExitOk);
  EXPECT_EQ(calls.ran, std::vector<std::string>{"first:x"});
  Calls failing;
  EXPECT_EQ(RunProgram({"--log-level", "off", "fails", "--value", "y"}, failing), kExitInvalidInput)
      << "the command's exit code is the program's";
  EXPECT_EQ(failing.ran, std::vector<std::string>{"fails:y"});
}

TEST(CommandLine, RefusedCommandLinesRunNothing) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{},
                                               {"first"},
                                               {"unknown", "--value", "x"},
                                               {"first", "--value", "x", "--other"},
                                               {"--log-level", "loud", "first", "--value", "x"}}) {
    Calls calls;
    EXPECT_EQ(RunProgram(args, calls), kExitUsage) << ::testing::PrintToString(args);
    EXPECT_TRUE(calls.ran.empty());
  }
  Calls help;
  EXPECT_EQ(RunProgram({"--help"}, help), kExitOk);
  EXPECT_TRUE(help.ran.empty());
}

}  // namespace
}  // namespace fedsyn::base
