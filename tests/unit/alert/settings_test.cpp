#include "leakwatch/alert/settings.h"

#include <gtest/gtest.h>

using namespace leakwatch;
using namespace leakwatch::alert;

namespace {
bool mentions(const std::vector<std::string>& problems, const std::string& what) {
  for (const auto& p : problems)
    if (p.find(what) != std::string::npos) return true;
  return false;
}
}  // namespace

TEST(AlertSettings, DefaultsAreValid) {
  AlertSettings s;
  EXPECT_TRUE(validate(s).empty());
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.reminder_interval, std::chrono::hours(4));
}

TEST(AlertSettings, ProblemsNameTheKeyAndNeverTheSecret) {
  AlertSettings s;
  s.slack.push_back({"", core::Secret("http://hooks.slack.com/services/T0/B0/SECRETTOKEN", "env X"),
                     std::nullopt, true, ""});
  s.slack.push_back({"", core::Secret("not a url SECRETTOKEN", "env Y"), std::nullopt, true, ""});
  s.slack.push_back({"", core::Secret(), std::nullopt, true, ""});
  s.webhooks.push_back({"dup", "ftp://x", core::Secret(), std::nullopt, true, ""});
  s.webhooks.push_back({"dup", "https://ok.example/h", core::Secret(), std::nullopt, true, ""});
  s.delivery.queue_size = 0;
  s.delivery.max_backoff = std::chrono::milliseconds(1);
  auto p = validate(s);
  EXPECT_TRUE(mentions(p, "alerts.slack[0].webhook_url (env X): must be an https URL"));
  EXPECT_TRUE(mentions(p, "alerts.slack[1].webhook_url (env Y): not a valid URL"));
  EXPECT_TRUE(mentions(p, "alerts.slack[2].webhook_url: required"));
  EXPECT_TRUE(mentions(p, "alerts.webhooks[0].url: not a valid URL"));
  EXPECT_TRUE(mentions(p, "alerts.webhooks[1].name: 'dup'"));
  EXPECT_TRUE(mentions(p, "alerts.delivery.queue_size"));
  EXPECT_TRUE(mentions(p, "alerts.delivery.max_backoff"));
  for (const auto& x : p)
    EXPECT_EQ(x.find("SECRETTOKEN"), std::string::npos) << x;
}

TEST(AlertSettings, LoopbackHttpIsAllowedForSlack) {
  AlertSettings s;
  s.slack.push_back(
      {"", core::Secret("http://127.0.0.1:8080/services/x", "t"), std::nullopt, true, ""});
  EXPECT_TRUE(validate(s).empty());
}

TEST(AlertSettings, DefaultNames) {
  AlertSettings s;
  s.slack.resize(2);
  s.webhooks.resize(1);
  s.slack[1].name = "ops";
  assign_default_names(s);
  EXPECT_EQ(s.slack[0].name, "slack-1");
  EXPECT_EQ(s.slack[1].name, "ops");
  EXPECT_EQ(s.webhooks[0].name, "webhook-1");
}

TEST(Severity, RoundTrip) {
  for (auto s : {Severity::info, Severity::warning, Severity::critical})
    EXPECT_EQ(severity_from_string(to_string(s)), s);
  EXPECT_FALSE(severity_from_string("loud"));
}
