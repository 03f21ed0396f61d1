#include "leakwatch/http/url.h"

#include <gtest/gtest.h>

using leakwatch::http::Url;

TEST(Url, ParsesHttpWithDefaultPort) {
  auto u = Url::parse("http://localhost/api/heapdump");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "localhost");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/api/heapdump");
  EXPECT_FALSE(u->tls());
}

TEST(Url, ParsesHttpsPortQueryAndDropsFragment) {
  auto u = Url::parse("HTTPS://app.internal:8443/dump?x=1#frag");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_TRUE(u->tls());
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/dump?x=1");
  EXPECT_EQ(Url::parse("https://h")->port, 443);
  EXPECT_EQ(Url::parse("https://h")->target, "/");
  EXPECT_EQ(Url::parse("http://h?q=1")->target, "/?q=1");
}

TEST(Url, ParsesIpv6) {
  auto u = Url::parse("http://[::1]:3000/x");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 3000);
  EXPECT_EQ(u->origin(), "http://[::1]:3000");
}

TEST(Url, OriginAndRedactedNeverShowThePath) {
  auto u = Url::parse("https://hooks.slack.com/services/T000/B000/SECRETPART");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->origin(), "https://hooks.slack.com");
  EXPECT_EQ(u->redacted().find("SECRETPART"), std::string::npos);
  EXPECT_EQ(Url::parse("http://h:81/")->redacted(), "http://h:81");
}

TEST(Url, RejectsBadInputWithAClearMessage) {
  struct Case {
    const char* text;
    const char* words;
  } cases[] = {
      {"localhost:3000/x", "must start with"},
      {"ftp://h/x", "unsupported URL scheme"},
      {"http://user:pw@h/x", "credentials"},
      {"http:///x", "no host"},
      {"http://h:0/", "invalid port"},
      {"http://h:70000/", "invalid port"},
      {"http://h:abc/", "invalid port"},
      {"http://[::1/", "IPv6"},
      {"http://:80/", "no host"},
      {"", "must start with"},
  };
  for (const auto& c : cases) {
    auto u = Url::parse(c.text);
    ASSERT_FALSE(u.ok()) << c.text;
    EXPECT_EQ(u.error().code, leakwatch::core::Errc::invalid_url);
    EXPECT_NE(u.error().message.find(c.words), std::string::npos)
        << c.text << ": " << u.error().message;
  }
}
