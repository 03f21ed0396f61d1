// Every alert sink shows where the target runs (core/identity.h): Slack (a context line and the
// notification fallback), the webhook (an `identity` object) and Alertmanager (labels and
// annotations); outside ECS, the host.
#include <gtest/gtest.h>

#include "leakwatch/alert/alertmanager.h"
#include "leakwatch/alert/slack.h"
#include "leakwatch/alert/webhook.h"
#include "support/json_text.h"

using namespace leakwatch;
using namespace leakwatch::alert;
using nlohmann::json;

namespace {

TaskInfo ecs_identity() {
  TaskInfo t;
  t.platform = "ecs";
  t.cluster = "prod";
  t.service = "web-svc";
  t.family = "web-api";
  t.revision = "42";
  t.task_arn = "arn:aws:ecs:eu-west-1:111122223333:task/prod/5f2c9d0e";
  t.task_id = "5f2c9d0e";
  t.container = "app";
  t.container_id = "5f2c9d0e-3935363592";
  t.image_digest = "sha256:e68d4993ccda3a65a72cf4213e8edf9ce1b36ca0fbfdd9029e504715354cb4fe";
  t.availability_zone = "eu-west-1b";
  t.launch_type = "FARGATE";
  return t;
}

Event event(EventType type, TaskInfo task) {
  Event e;
  e.type = type;
  e.time = core::from_unix_seconds(1'700'000'000);
  e.target = "web";
  e.task = std::move(task);
  e.memory = {100u << 20, 90u << 20, 512u << 20};
  e.reason = "the kernel OOM-killed a process of web";
  e.oom_kill_count = 1;
  e.id = "evt_1";
  return e;
}

using leakwatch::testing::all_text;

}  // namespace

TEST(IdentityInAlerts, WebhookCarriesEveryFieldUnderTheSameNames) {
  json j = webhook_payload(event(EventType::oom_kill, ecs_identity()), {});
  ASSERT_TRUE(j["identity"].is_object()) << j.dump();
  EXPECT_EQ(j["identity"]["platform"], "ecs");
  EXPECT_EQ(j["identity"]["cluster"], "prod");
  EXPECT_EQ(j["identity"]["service"], "web-svc");
  EXPECT_EQ(j["identity"]["task_family"], "web-api");
  EXPECT_EQ(j["identity"]["task_revision"], "42");
  EXPECT_EQ(j["identity"]["task_arn"], "arn:aws:ecs:eu-west-1:111122223333:task/prod/5f2c9d0e");
  EXPECT_EQ(j["identity"]["task_id"], "5f2c9d0e");
  EXPECT_EQ(j["identity"]["container"], "app");
  EXPECT_EQ(j["identity"]["container_id"], "5f2c9d0e-3935363592");
  EXPECT_EQ(j["identity"]["availability_zone"], "eu-west-1b");
  EXPECT_EQ(j["identity"].size(), ecs_identity().fields().size());
  // Unknown identity: null, not an empty object.
  EXPECT_TRUE(webhook_payload(event(EventType::oom_kill, {}), {})["identity"].is_null());
}

TEST(IdentityInAlerts, SlackNamesTheTaskInAContextLineAndInTheNotificationText) {
  json m = slack_message(event(EventType::oom_kill, ecs_identity()), {});
  EXPECT_TRUE(check_slack_message(m).empty()) << m.dump();
  std::string blocks = all_text(m["blocks"]);
  for (const char* want : {"ECS cluster `prod`", "service `web-svc`", "task `5f2c9d0e`",
                           "`web-api:42`", "container `app`", "`eu-west-1b`"})
    EXPECT_NE(blocks.find(want), std::string::npos) << want << " in " << blocks;
  std::string fallback = m["text"];
  EXPECT_NE(fallback.find("prod/web-api:42 task 5f2c9d0e"), std::string::npos) << fallback;

  TaskInfo host;
  host.platform = "host";
  host.host = "build-7";
  json h = slack_message(event(EventType::oom_kill, host), {});
  EXPECT_NE(all_text(h["blocks"]).find("host `build-7`"), std::string::npos);
  EXPECT_NE(h["text"].get<std::string>().find("(host build-7)"), std::string::npos);
  // Without an identity the message has no identity line (layout unchanged).
  json none = slack_message(event(EventType::oom_kill, {}), {});
  EXPECT_EQ(none["blocks"].size() + 1, m["blocks"].size());
}

TEST(IdentityInAlerts, SlackMarkupInIdentityValuesIsDefused) {
  TaskInfo t = ecs_identity();
  t.cluster = "<!channel> `x`";
  json m = slack_message(event(EventType::oom_kill, t), {});
  std::string blocks = all_text(m["blocks"]);
  EXPECT_EQ(blocks.find("<!channel>"), std::string::npos) << blocks;
  EXPECT_NE(blocks.find("`&lt;!channel&gt; 'x'`"), std::string::npos) << blocks;
  EXPECT_TRUE(check_slack_message(m).empty());
}

TEST(IdentityInAlerts, AlertmanagerLabelsTheTaskOnEcsAndTheHostElsewhere) {
  auto am = alertmanager_alerts(event(EventType::oom_kill, ecs_identity()), {},
                                core::from_unix_seconds(1'700'000'100));
  ASSERT_EQ(am.size(), 1u);
  EXPECT_EQ(am[0]["labels"]["cluster"], "prod");
  EXPECT_EQ(am[0]["labels"]["task"], "5f2c9d0e");
  EXPECT_EQ(am[0]["labels"]["container"], "app");
  EXPECT_FALSE(am[0]["labels"].contains("host"));
  EXPECT_EQ(am[0]["annotations"]["task_family"], "web-api:42");
  EXPECT_EQ(am[0]["annotations"]["availability_zone"], "eu-west-1b");

  TaskInfo host;
  host.platform = "host";
  host.host = "build-7";
  auto h = alertmanager_alerts(event(EventType::oom_kill, host), {},
                               core::from_unix_seconds(1'700'000'100));
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0]["labels"]["host"], "build-7");
  EXPECT_FALSE(h[0]["labels"].contains("cluster"));
}
