#include "leakwatch/alert/slack.h"

#include <gtest/gtest.h>

#include <fstream>

using namespace leakwatch;
using namespace leakwatch::alert;
using nlohmann::json;

namespace {

constexpr std::uint64_t MiB = 1 << 20;

Event leak_event() {
  Event e;
  e.type = EventType::leak_suspected;
  e.time = core::from_unix_seconds(1'700'000'000);
  e.target = "web";
  e.instance = "9f8e7d";
  e.memory = {812 * MiB, 700 * MiB, 1024 * MiB};
  LeakFigures l;
  l.slope_bytes_per_hour = 38.0 * MiB;
  l.forecast_seconds = 7800;
  l.confidence = 0.92;
  l.window = std::chrono::hours(3);
  l.explanation = "floor rising 38 MiB/h for 3h; limit in ~2h 10m";
  e.leak = l;
  e.id = "evt_1";
  e.incident_id = "inc_1";
  e.incident_opened = e.time;
  return e;
}

json fixture(const std::string& name) {
  std::ifstream in(std::string(LEAKWATCH_FIXTURES_DIR) + "/slack/requests/" + name);
  return json::parse(in);
}

}  // namespace

TEST(SlackMessage, ExactLayoutOfALeakAlert) {
  json expected = json::parse(R"JSON({
    "text": "Memory leak suspected in web: +38 MiB/h, limit in ~2h 10m. Next: leakwatch captures a heap snapshot when there is enough headroom; two snapshots compared with `leakwatch diff BASE TARGET` show what grows.",
    "blocks": [
      {"type": "header", "text": {"type": "plain_text", "text": ":warning: Memory leak suspected: web", "emoji": true}},
      {"type": "section",
       "text": {"type": "mrkdwn", "text": "*web* (`9f8e7d`): floor rising 38 MiB/h for 3h; limit in ~2h 10m"},
       "fields": [
         {"type": "mrkdwn", "text": "*Growth*\n+38 MiB/h"},
         {"type": "mrkdwn", "text": "*OOM in*\n~2h 10m"},
         {"type": "mrkdwn", "text": "*Usage*\n812 MiB of 1.0 GiB (79%)"},
         {"type": "mrkdwn", "text": "*Working set*\n700 MiB"},
         {"type": "mrkdwn", "text": "*Confidence*\n92%"},
         {"type": "mrkdwn", "text": "*Trend over*\n3h"}
       ]},
      {"type": "section", "text": {"type": "mrkdwn", "text": "*Next:* leakwatch captures a heap snapshot when there is enough headroom; two snapshots compared with `leakwatch diff BASE TARGET` show what grows."}},
      {"type": "context", "elements": [{"type": "mrkdwn", "text": "leakwatch · 2023-11-14T22:13:20Z · incident `inc_1`"}]}
    ]
  })JSON");
  json got = slack_message(leak_event());
  EXPECT_EQ(got, expected) << got.dump(2);
  EXPECT_TRUE(check_slack_message(got).empty());
}

TEST(SlackMessage, CaptureWithGrowersProposesTheDiffCommand) {
  Event e = leak_event();
  e.type = EventType::capture_completed;
  e.capture = CaptureFigures{};
  e.capture->archive_ids = {"web/20231114T200000Z", "web/20231114T221320Z"};
  e.capture->size_bytes = 180 * MiB;
  e.capture->top_growers = {
      {"Array",
       12 * static_cast<std::int64_t>(MiB),
       3120,
       {"(GC roots)", "global", "sessions (property)", "Map"},
       {}},
      {"<closure>", 2048, std::nullopt, {}, {}},
  };
  json got = slack_message(e, {"https://lw.example:9464/"});
  auto problems = check_slack_message(got);
  EXPECT_TRUE(problems.empty()) << problems.front();
  std::string all = got.dump();
  EXPECT_NE(all.find("```leakwatch diff web/20231114T200000Z web/20231114T221320Z```"),
            std::string::npos);
  EXPECT_NE(all.find("`Array` +12 MiB (+3120 objects)"), std::string::npos);
  EXPECT_NE(all.find("(GC roots) \xE2\x86\x92 global \xE2\x86\x92 sessions (property)"),
            std::string::npos);
  EXPECT_NE(all.find("&lt;closure&gt;"), std::string::npos);  // user data escaped
  EXPECT_NE(all.find("<https://lw.example:9464/|Open the dashboard>"), std::string::npos);
  EXPECT_NE(got["text"].get<std::string>().find("See what grew: leakwatch diff"),
            std::string::npos);
}

// A series of three: the growers come from the first and the newest snapshot (the engine's diff),
// so the command the alert proposes is that pair too, not the last two.
TEST(SlackMessage, ProposedDiffOfASeriesIsThePairTheGrowersComeFrom) {
  Event e = leak_event();
  e.type = EventType::capture_completed;
  e.capture = CaptureFigures{};
  e.capture->archive_ids = {"web/20231114T200000Z", "web/20231114T201000Z", "web/20231114T202000Z"};
  e.capture->top_growers = {{"Socket", 4 * static_cast<std::int64_t>(MiB), 900, {}, {}}};
  std::string all = slack_message(e).dump();
  EXPECT_NE(all.find("```leakwatch diff web/20231114T200000Z web/20231114T202000Z```"),
            std::string::npos)
      << all;
  EXPECT_EQ(all.find("web/20231114T201000Z"), std::string::npos) << all;
}

TEST(SlackMessage, EveryEventTypeIsValidBlockKit) {
  for (auto t :
       {EventType::leak_suspected, EventType::capture_completed, EventType::capture_skipped,
        EventType::capture_failed, EventType::oom_kill, EventType::restart, EventType::recovered,
        EventType::source_unavailable, EventType::test}) {
    Event e = leak_event();
    e.type = t;
    e.reason = "headroom 120 MiB < 300 MiB needed";
    e.oom_kill_count = 2;
    e.reminder = t == EventType::leak_suspected;
    json m = slack_message(e);
    auto problems = check_slack_message(m);
    EXPECT_TRUE(problems.empty()) << to_string(t) << ": " << problems.front();
    EXPECT_FALSE(m["text"].get<std::string>().empty());
  }
}

TEST(SlackMessage, LimitsHoldForHugeInputs) {
  Event e = leak_event();
  e.target = std::string(500, 'w') + "\xC3\xA9";  // multibyte at the end
  e.leak->explanation = std::string(10000, 'x');
  e.type = EventType::capture_completed;
  e.capture = CaptureFigures{};
  e.capture->archive_ids = {"a", "b"};
  for (int i = 0; i < 100; ++i)
    e.capture->top_growers.push_back(
        {std::string(1000, 'C'), 1, 1, std::vector<std::string>(50, "step"), {}});
  e.reason = std::string(5000, 'r');
  json m = slack_message(e);
  auto problems = check_slack_message(m);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_LE(char_count(m["blocks"][0]["text"]["text"].get<std::string>()), kSlackHeaderMax);
}

TEST(SlackMessage, MentionsInUserDataAreEscaped) {
  Event e = leak_event();
  e.target = "<!channel> & co";
  json m = slack_message(e);
  // mrkdwn texts and the fallback are parsed by Slack: user data must be escaped there. The header
  // is plain_text, which Slack does not parse, so it shows the name as it is.
  std::vector<std::string> parsed = {m["text"], m["blocks"][1]["text"]["text"]};
  for (const auto& s : parsed) {
    EXPECT_EQ(s.find("<!channel>"), std::string::npos) << s;
    EXPECT_NE(s.find("&lt;!channel&gt; &amp; co"), std::string::npos) << s;
  }
  EXPECT_EQ(m["blocks"][0]["text"]["type"], "plain_text");
}

TEST(SlackCheck, AcceptsSlacksOwnExamples) {
  for (const char* f : {"blocks-docs-example.json", "text-hello-world.json", "text-with-link.json",
                        "text-multiline-compact.json"}) {
    auto problems = check_slack_message(fixture(f));
    EXPECT_TRUE(problems.empty()) << f << ": " << problems.front();
  }
}

TEST(SlackCheck, RejectsBrokenMessages) {
  json m = fixture("blocks-docs-example.json");
  json too_many = m;
  too_many["blocks"][2]["fields"] = json::array();
  for (int i = 0; i < 11; ++i)
    too_many["blocks"][2]["fields"].push_back({{"type", "mrkdwn"}, {"text", "x"}});
  EXPECT_FALSE(check_slack_message(too_many).empty());
  json md_header = {
      {"text", "t"},
      {"blocks", {{{"type", "header"}, {"text", {{"type", "mrkdwn"}, {"text", "x"}}}}}}};
  EXPECT_FALSE(check_slack_message(md_header).empty());
  json long_header = {{"text", "t"},
                      {"blocks",
                       {{{"type", "header"},
                         {"text", {{"type", "plain_text"}, {"text", std::string(151, 'h')}}}}}}};
  EXPECT_FALSE(check_slack_message(long_header).empty());
  json no_fallback = m;
  no_fallback.erase("text");
  EXPECT_FALSE(check_slack_message(no_fallback).empty());
  EXPECT_FALSE(check_slack_message(json::array()).empty());
}

TEST(SlackText, TruncateCountsCharactersNotBytes) {
  EXPECT_EQ(truncate_chars("abc", 3), "abc");
  EXPECT_EQ(truncate_chars("abcd", 3), "ab\xE2\x80\xA6");
  std::string accents = "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";  // 4 x é
  EXPECT_EQ(char_count(accents), 4u);
  EXPECT_EQ(truncate_chars(accents, 3), "\xC3\xA9\xC3\xA9\xE2\x80\xA6");
}
