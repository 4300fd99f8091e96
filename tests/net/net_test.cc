#include "common/net/backoff.h"
#include "common/net/tls.h"
#include "gtest/gtest.h"

namespace fedsyn::net {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsExponentiallyUpToTheCapWithFullJitter) {
  double u = 1.0 - 1e-12;  // the top of the jitter range shows the ceiling
  Backoff backoff(milliseconds(100), milliseconds(1000), [&u] { return u; });
  EXPECT_EQ(backoff.Next(), milliseconds(99));   // 100 * 2^0
  EXPECT_EQ(backoff.Next(), milliseconds(199));  // 100 * 2^1
  EXPECT_EQ(backoff.Next(), milliseconds(399));
  EXPECT_EQ(backoff.Next(), milliseconds(799));
  EXPECT_EQ(backoff.Next(), milliseconds(999));  // capped
  EXPECT_EQ(backoff.Next(), milliseconds(999));
  u = 0.25;
  EXPECT_EQ(backoff.Next(), milliseconds(250));  // jitter scales the capped ceiling
  backoff.Reset();
  EXPECT_EQ(backoff.Next(), milliseconds(25));
}

TEST(HostPort, ParsesAndRejects) {
  auto ok = ParseHostPort("localhost:7443");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->first, "localhost");
  EXPECT_EQ(ok->second, 7443);
  for (const char* bad : {"localhost", ":7443", "host:", "host:70000", "host:12a", "host:-1"}) {
    EXPECT_FALSE(ParseHostPort(bad).ok()) << bad;
  }
}

TEST(TlsContext, RefusesMissingFiles) {
  auto context = MakeTlsContext({"/nonexistent/ca.pem", "/nonexistent/c.pem", "/nonexistent/k.pem"},
                                Role::kClient);
  ASSERT_FALSE(context.ok());
  EXPECT_EQ(context.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fedsyn::net
