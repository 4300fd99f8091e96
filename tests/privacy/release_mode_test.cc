#include "common/privacy/release_mode.h"

#include <string_view>

#include "gtest/gtest.h"

namespace fedsyn::privacy {
namespace {

TEST(ReleaseMode, EveryNameParsesBackAndNothingElseParses) {
  for (const ReleaseMode mode :
       {ReleaseMode::kSynthetic, ReleaseMode::kCodes, ReleaseMode::kModelOnly})
    EXPECT_EQ(ParseReleaseMode(ReleaseModeName(mode)), mode);
  EXPECT_STREQ(ReleaseModeName(ReleaseMode::kModelOnly), "model-only") << "the wire's name";
  for (const std::string_view other :
       {std::string_view(""), std::string_view("Synthetic"), std::string_view("model_only"),
        std::string_view("codes "), std::string_view("synthetic\0x", 11)})
    EXPECT_FALSE(ParseReleaseMode(other).has_value()) << other;
}

}  // namespace
}  // namespace fedsyn::privacy
