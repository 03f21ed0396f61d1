#include "leakwatch/alert/delivery.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

using namespace leakwatch;
using namespace leakwatch::alert;
using namespace std::chrono_literals;

namespace {

core::Result<http::Response> answer(int status, std::string body = {}, http::Headers headers = {}) {
  http::Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

Event event(const std::string& id) {
  Event e;
  e.type = EventType::leak_suspected;
  e.id = id;
  return e;
}

RetryPolicy policy() {
  RetryPolicy p;
  p.initial_backoff = 2s;
  p.max_backoff = 60s;
  p.jitter = 0.2;
  p.give_up_after = 10min;
  return p;
}

}  // namespace

TEST(Classify, SlackResponsesFromTheFixtures) {
  std::ifstream in(std::string(LEAKWATCH_FIXTURES_DIR) + "/slack/responses/error-responses.json");
  ASSERT_TRUE(in) << "fixture missing";
  auto doc = nlohmann::json::parse(in);
  for (const auto& s : doc["success"])
    EXPECT_EQ(classify(answer(s["http_status"], s["body"])).verdict, Verdict::delivered);
  int checked = 0;
  for (const auto& e : doc["errors"]) {
    if (!e["http_status"].is_number() || !e["body"].is_string()) continue;
    int status = e["http_status"];
    auto r = classify(answer(status, e["body"]));
    if (status == 429 || status >= 500)
      EXPECT_EQ(r.verdict, Verdict::retry) << status;
    else
      EXPECT_EQ(r.verdict, Verdict::rejected) << status << " " << e["body"];
    EXPECT_NE(r.detail.find(e["body"].get<std::string>()), std::string::npos) << r.detail;
    ++checked;
  }
  EXPECT_GE(checked, 6);
}

TEST(Classify, StatusClasses) {
  EXPECT_EQ(classify(answer(200, "ok")).verdict, Verdict::delivered);
  EXPECT_EQ(classify(answer(204)).verdict, Verdict::delivered);
  EXPECT_EQ(classify(answer(400, "invalid_payload")).verdict, Verdict::rejected);
  EXPECT_EQ(classify(answer(403, "action_prohibited")).verdict, Verdict::rejected);
  EXPECT_EQ(classify(answer(410, "channel_is_archived")).verdict, Verdict::rejected);
  EXPECT_EQ(classify(answer(302)).verdict, Verdict::rejected);  // a token posted instead of a URL
  EXPECT_EQ(classify(answer(408)).verdict, Verdict::retry);
  EXPECT_EQ(classify(answer(500, "rollup_error")).verdict, Verdict::retry);
  EXPECT_EQ(classify(answer(503)).verdict, Verdict::retry);
  auto limited = classify(answer(429, "", {{"retry-after", "30"}}));
  EXPECT_EQ(limited.verdict, Verdict::retry);
  ASSERT_TRUE(limited.retry_after);
  EXPECT_EQ(*limited.retry_after, 30s);
  EXPECT_FALSE(classify(answer(429)).retry_after);
  EXPECT_EQ(classify(core::make_error(core::Errc::timeout, "x")).verdict, Verdict::retry);
  EXPECT_EQ(classify(core::make_error(core::Errc::connect, "x")).verdict, Verdict::retry);
  EXPECT_EQ(classify(core::make_error(core::Errc::invalid_url, "x")).verdict, Verdict::rejected);
}

TEST(Classify, PeerBodyIsCutAndCleaned) {
  auto r = classify(answer(400, std::string(5000, 'x') + "\n\x01"));
  EXPECT_LT(r.detail.size(), 260u);
  EXPECT_EQ(r.detail.find('\n'), std::string::npos);
}

TEST(RetryAfter, SecondsAndHttpDate) {
  auto now = core::from_unix_seconds(1'700'000'000);  // Tue, 14 Nov 2023 22:13:20 GMT
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:14:20 GMT", now), 60s);
  EXPECT_EQ(parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now), 0s);
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("", now));
}

TEST(Backoff, ExponentialCappedWithBoundedJitter) {
  RetryPolicy p = policy();
  EXPECT_EQ(backoff_delay(p, 1, 0.5), 2s);
  EXPECT_EQ(backoff_delay(p, 2, 0.5), 4s);
  EXPECT_EQ(backoff_delay(p, 3, 0.5), 8s);
  EXPECT_EQ(backoff_delay(p, 10, 0.5), 60s);  // capped
  EXPECT_EQ(backoff_delay(p, 1, 0.0), 1600ms);
  EXPECT_EQ(backoff_delay(p, 1, 1.0), 2400ms);
  EXPECT_EQ(backoff_delay(p, 10, 1.0), 72s);
}

TEST(DeliveryQueue, RetriesOn5xxWithBackoffThenDelivers) {
  core::ManualClock clock;
  DeliveryQueue q("s", policy(), 10, 99);
  q.push(event("a"), clock.now());
  ASSERT_EQ(q.due(), clock.now());
  std::vector<core::Duration> waits;
  for (int i = 0; i < 4; ++i) {
    q.begin(clock.now());
    EXPECT_FALSE(q.due());  // one attempt in flight at a time
    auto r = q.finish(classify(answer(500)), clock.now());
    ASSERT_EQ(r.fate, Fate::retrying);
    ASSERT_TRUE(r.next_attempt);
    waits.push_back(*r.next_attempt - clock.now());
    EXPECT_EQ(q.due(), r.next_attempt);
    clock.set(*r.next_attempt);
  }
  // 2s, 4s, 8s, 16s, each within +-20%.
  double expected = 2;
  for (auto w : waits) {
    EXPECT_GE(core::to_seconds(w), expected * 0.8 - 1e-6);
    EXPECT_LE(core::to_seconds(w), expected * 1.2 + 1e-6);
    expected *= 2;
  }
  q.begin(clock.now());
  auto r = q.finish(classify(answer(200, "ok")), clock.now());
  EXPECT_EQ(r.fate, Fate::delivered);
  EXPECT_EQ(r.attempts, 5);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.stats().delivered, 1u);
  EXPECT_EQ(q.stats().retries, 4u);
  EXPECT_EQ(q.stats().attempts, 5u);
}

TEST(DeliveryQueue, HonoursRetryAfterOn429) {
  core::ManualClock clock;
  DeliveryQueue q("s", policy(), 10, 1);
  q.push(event("a"), clock.now());
  q.begin(clock.now());
  auto r = q.finish(classify(answer(429, "", {{"Retry-After", "37"}})), clock.now());
  ASSERT_EQ(r.fate, Fate::retrying);
  EXPECT_EQ(*q.due() - clock.now(), 37s);
  EXPECT_EQ(q.stats().rate_limited, 1u);
  // Shutdown does not hurry a rate-limited message.
  q.hurry(clock.now());
  EXPECT_EQ(*q.due() - clock.now(), 37s);
}

TEST(DeliveryQueue, RejectedIsNotRetried) {
  core::ManualClock clock;
  DeliveryQueue q("s", policy(), 10, 1);
  q.push(event("a"), clock.now());
  q.push(event("b"), clock.now());
  q.begin(clock.now());
  auto r = q.finish(classify(answer(400, "invalid_payload")), clock.now());
  EXPECT_EQ(r.fate, Fate::rejected);
  EXPECT_EQ(r.event_id, "a");
  EXPECT_NE(r.detail.find("invalid_payload"), std::string::npos);
  EXPECT_EQ(q.size(), 1u);  // b is next, right away
  EXPECT_EQ(q.due(), clock.now());
}

TEST(DeliveryQueue, GivesUpAfterTheConfiguredTime) {
  core::ManualClock clock;
  RetryPolicy p = policy();
  p.give_up_after = 30s;
  DeliveryQueue q("s", p, 10, 5);
  q.push(event("a"), clock.now());
  Report last;
  for (int i = 0; i < 20; ++i) {
    q.begin(clock.now());
    last = q.finish(classify(core::make_error(core::Errc::timeout, "t")), clock.now());
    if (last.fate != Fate::retrying) break;
    clock.set(*last.next_attempt);
  }
  EXPECT_EQ(last.fate, Fate::gave_up);
  EXPECT_LT(clock.now() - core::from_unix_seconds(1'700'000'000), 30s);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.stats().gave_up, 1u);
}

TEST(DeliveryQueue, WaitingMessagesExpire) {
  core::ManualClock clock;
  RetryPolicy p = policy();
  p.give_up_after = 60s;
  DeliveryQueue q("s", p, 10, 5);
  q.push(event("a"), clock.now());
  clock.advance(30s);
  q.push(event("b"), clock.now());
  q.begin(clock.now());  // a in flight: never expired under the attempt
  clock.advance(40s);
  auto expired = q.expire(clock.now());
  EXPECT_TRUE(expired.empty());
  clock.advance(60s);
  expired = q.expire(clock.now());
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].event_id, "b");
}

TEST(DeliveryQueue, BoundedDropsTheOldestWaitingMessage) {
  core::ManualClock clock;
  DeliveryQueue q("s", policy(), 3, 1);
  q.push(event("a"), clock.now());
  q.begin(clock.now());  // a in flight
  EXPECT_FALSE(q.push(event("b"), clock.now()));
  EXPECT_FALSE(q.push(event("c"), clock.now()));
  auto dropped = q.push(event("d"), clock.now());
  ASSERT_TRUE(dropped);
  EXPECT_EQ(dropped->event_id, "b");  // not a: it is in flight
  EXPECT_EQ(dropped->fate, Fate::dropped);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.stats().dropped, 1u);
  EXPECT_EQ(q.stats().enqueued, 4u);
  q.finish(classify(answer(200, "ok")), clock.now());
  EXPECT_EQ(q.size(), 2u);
}

TEST(DeliveryQueue, SlackSpacingBetweenMessages) {
  core::ManualClock clock;
  RetryPolicy p = policy();
  p.min_interval = 1s;
  DeliveryQueue q("s", p, 10, 1);
  q.push(event("a"), clock.now());
  q.push(event("b"), clock.now());
  q.begin(clock.now());
  q.finish(classify(answer(200, "ok")), clock.now());
  EXPECT_EQ(*q.due() - clock.now(), 1s);
}

TEST(DeliveryQueue, ShutdownHurriesBackoffAndAbandonsTheRest) {
  core::ManualClock clock;
  DeliveryQueue q("s", policy(), 10, 1);
  q.push(event("a"), clock.now());
  q.push(event("b"), clock.now());
  q.begin(clock.now());
  q.finish(classify(answer(503)), clock.now());
  EXPECT_GT(*q.due(), clock.now());
  q.hurry(clock.now());
  EXPECT_EQ(*q.due(), clock.now());
  auto left = q.abandon_all();
  EXPECT_EQ(left.size(), 2u);
  EXPECT_EQ(q.stats().abandoned, 2u);
  EXPECT_TRUE(q.empty());
}
