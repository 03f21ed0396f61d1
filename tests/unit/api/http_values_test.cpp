#include <gtest/gtest.h>

#include "leakwatch/http/router.h"
#include "leakwatch/http/server.h"

namespace leakwatch::http {
namespace {

TEST(PercentDecode, Decodes) {
  EXPECT_EQ(percent_decode("web%2F2023-x").value(), "web/2023-x");
  EXPECT_EQ(percent_decode("a+b", true).value(), "a b");
  EXPECT_EQ(percent_decode("a+b", false).value(), "a+b");
  EXPECT_FALSE(percent_decode("%2"));
  EXPECT_FALSE(percent_decode("%"));
  EXPECT_FALSE(percent_decode("%zz"));
  EXPECT_EQ(percent_decode("%00").value(), std::string(1, '\0'));
}

TEST(ServerRequest, QueryParams) {
  auto r = ServerRequest::get("/api/v1/diff?base=web%2Fa&target=web/b&flag&x=1");
  EXPECT_EQ(r.path, "/api/v1/diff");
  EXPECT_EQ(r.query_param("base").value(), "web/a");
  EXPECT_EQ(r.query_param("target").value(), "web/b");
  EXPECT_EQ(r.query_param("flag").value(), "");
  EXPECT_FALSE(r.query_param("missing"));
  r.headers.emplace_back("authorization", "Bearer x");
  EXPECT_EQ(r.header("Authorization"), "Bearer x");
}

TEST(ParseListen, Forms) {
  auto a = parse_listen("127.0.0.1:9464");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 9464);
  EXPECT_EQ(parse_listen("[::1]:0")->first, "::1");
  EXPECT_EQ(parse_listen(":80")->first, "0.0.0.0");
  EXPECT_EQ(parse_listen("localhost:9464")->first, "127.0.0.1");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:99999", "host.example:80", "::1:80",
                          "[::1", "1.2.3.4:80x"}) {
    auto r = parse_listen(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, core::Errc::invalid_listen);
  }
}

// DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends
// "Host: evil.example"; it must not be served.
TEST(HostAllowed, LoopbackListenAcceptsOnlyLocalNames) {
  ServerOptions o;
  o.address = "127.0.0.1";
  for (const char* ok : {"127.0.0.1:9464", "127.0.0.1", "localhost:9464", "LOCALHOST", "[::1]:9464",
                         "127.0.0.2:9464", "localhost.", ""}) {
    EXPECT_TRUE(host_allowed(ok, o)) << ok;
  }
  for (const char* bad : {"evil.example", "evil.example:9464", "10.0.0.5:9464",
                          "localhost.evil.com", "[::1", "::1", "127.0.0.1:9464:1", ":9464", "[]"}) {
    EXPECT_FALSE(host_allowed(bad, o)) << bad;
  }
  o.allowed_hosts = {"leakwatch.internal"};
  EXPECT_TRUE(host_allowed("leakwatch.internal:9464", o));
  EXPECT_TRUE(host_allowed("LeakWatch.Internal", o));
  EXPECT_FALSE(host_allowed("other.internal", o));
  o.allowed_hosts = {"*"};
  EXPECT_TRUE(host_allowed("anything.example", o));
}

TEST(HostAllowed, SpecificAndWildcardListen) {
  ServerOptions o;
  o.address = "10.0.0.5";
  EXPECT_TRUE(host_allowed("10.0.0.5:9464", o));
  EXPECT_FALSE(host_allowed("10.0.0.6:9464", o));
  EXPECT_FALSE(host_allowed("127.0.0.1:9464", o));
  EXPECT_FALSE(host_allowed("evil.example", o));
  o.address = "0.0.0.0";
  EXPECT_TRUE(host_allowed("10.0.0.6:9464", o)) << "an IP literal cannot be rebound";
  EXPECT_TRUE(host_allowed("[fd00::1]:9464", o));
  EXPECT_FALSE(host_allowed("evil.example:9464", o));
}

TEST(RateLimiter, TokenBucketPerAddress) {
  RateLimiter rl(2.0, 3.0);
  auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  EXPECT_TRUE(rl.allow("a", t));
  EXPECT_TRUE(rl.allow("a", t));
  EXPECT_TRUE(rl.allow("a", t));
  double retry = 0;
  EXPECT_FALSE(rl.allow("a", t, &retry)) << "burst of 3 used up";
  EXPECT_NEAR(retry, 0.5, 1e-9);
  EXPECT_TRUE(rl.allow("b", t)) << "another address has its own bucket";
  t += std::chrono::milliseconds(500);
  EXPECT_TRUE(rl.allow("a", t)) << "refilled one token in 0.5 s at 2/s";
  EXPECT_FALSE(rl.allow("a", t));
  t += std::chrono::seconds(100);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(rl.allow("a", t));
  EXPECT_FALSE(rl.allow("a", t)) << "never more than the burst";
}

TEST(RateLimiter, MemoryIsBounded) {
  RateLimiter rl(1.0, 1.0, 100);
  auto t = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 10'000; ++i)
    rl.allow("10.0.0." + std::to_string(i), t);
  EXPECT_LE(rl.tracked_keys(), 100u);
}

TEST(RateLimiter, DisabledWithZeroRate) {
  RateLimiter rl(0, 1);
  auto t = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(rl.allow("a", t));
}

}  // namespace
}  // namespace leakwatch::http
