#include "leakwatch/alert/incident.h"

#include <gtest/gtest.h>

using namespace leakwatch;
using namespace leakwatch::alert;
using namespace std::chrono_literals;

namespace {

Event leak(bool imminent = false) {
  Event e;
  e.type = EventType::leak_suspected;
  e.target = "web";
  e.leak = LeakFigures{};
  e.leak->slope_bytes_per_hour = 38.0 * (1 << 20);
  e.leak->oom_imminent = imminent;
  return e;
}

Event of(EventType t) {
  Event e;
  e.type = t;
  e.target = "web";
  return e;
}

}  // namespace

TEST(IncidentTracker, OneAlertPerIncidentThenRemindersAtTheInterval) {
  core::ManualClock clock;
  IncidentTracker tracker(4h, 42);
  auto first = tracker.accept(leak(), clock.now());
  ASSERT_TRUE(first);
  EXPECT_FALSE(first->reminder);
  EXPECT_EQ(first->id.rfind("evt_", 0), 0u);
  EXPECT_EQ(first->incident_id.rfind("inc_", 0), 0u);
  std::string incident = first->incident_id;

  // Polled every 10 s for 4 hours: nothing more until the interval has passed.
  int sent = 0;
  for (int i = 1; i < 4 * 360; ++i) {
    clock.advance(10s);
    if (tracker.accept(leak(), clock.now())) ++sent;
  }
  EXPECT_EQ(sent, 0);
  clock.advance(10s);  // now exactly 4h after the first alert
  auto reminder = tracker.accept(leak(), clock.now());
  ASSERT_TRUE(reminder);
  EXPECT_TRUE(reminder->reminder);
  EXPECT_EQ(reminder->reminder_count, 1);
  EXPECT_EQ(reminder->incident_id, incident);
  EXPECT_NE(reminder->id, first->id);
  ASSERT_TRUE(reminder->incident_opened);
  EXPECT_EQ(clock.now() - *reminder->incident_opened, 4h);

  clock.advance(1h);
  EXPECT_FALSE(tracker.accept(leak(), clock.now()));
  clock.advance(3h);
  auto second = tracker.accept(leak(), clock.now());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->reminder_count, 2);
}

TEST(IncidentTracker, EscalationIsSentAtOnceAndOnlyOnce) {
  core::ManualClock clock;
  IncidentTracker tracker(4h, 1);
  ASSERT_TRUE(tracker.accept(leak(), clock.now()));
  clock.advance(5min);
  auto esc = tracker.accept(leak(true), clock.now());
  ASSERT_TRUE(esc);
  EXPECT_TRUE(esc->escalated);
  EXPECT_FALSE(esc->reminder);
  EXPECT_EQ(esc->severity(), Severity::critical);
  clock.advance(5min);
  EXPECT_FALSE(tracker.accept(leak(true), clock.now()));
  // Falling back to a plain suspicion is not news either.
  EXPECT_FALSE(tracker.accept(leak(false), clock.now()));
}

TEST(IncidentTracker, RecoveredClosesTheIncidentAndCarriesItsSeverity) {
  core::ManualClock clock;
  IncidentTracker tracker(4h, 7);
  auto opened = tracker.accept(leak(true), clock.now());
  ASSERT_TRUE(opened);
  clock.advance(3h);
  auto rec = tracker.accept(of(EventType::recovered), clock.now());
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->incident_id, opened->incident_id);
  EXPECT_EQ(rec->severity(), Severity::critical);  // reaches every sink that got the alert
  EXPECT_EQ(tracker.open_incidents(), 0u);
  // A second recovered (every poll while flat) is not sent.
  EXPECT_FALSE(tracker.accept(of(EventType::recovered), clock.now()));
  // A new leak is a new incident, alerted at once.
  clock.advance(1min);
  auto again = tracker.accept(leak(), clock.now());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->reminder);
  EXPECT_NE(again->incident_id, opened->incident_id);
}

TEST(IncidentTracker, RecoveredWithoutAnIncidentIsNotSent) {
  core::ManualClock clock;
  IncidentTracker tracker(4h, 7);
  EXPECT_FALSE(tracker.accept(of(EventType::recovered), clock.now()));
}

TEST(IncidentTracker, SourceIncidentIsSeparateFromTheLeakIncident) {
  core::ManualClock clock;
  IncidentTracker tracker(1h, 3);
  auto l = tracker.accept(leak(), clock.now());
  auto s = tracker.accept(of(EventType::source_unavailable), clock.now());
  ASSERT_TRUE(l && s);
  EXPECT_NE(l->incident_id, s->incident_id);
  EXPECT_EQ(tracker.open_incidents(), 2u);
  Event back = of(EventType::recovered);
  back.recovered_from = EventType::source_unavailable;
  auto r = tracker.accept(back, clock.now());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->incident_id, s->incident_id);
  EXPECT_NE(tracker.find("leak:web"), nullptr);
  EXPECT_EQ(tracker.find("source:web"), nullptr);
}

TEST(IncidentTracker, OneOffEventsAreDedupedWithinTheInterval) {
  core::ManualClock clock;
  IncidentTracker tracker(4h, 9);
  Event skipped = of(EventType::capture_skipped);
  skipped.reason = "cooldown";
  ASSERT_TRUE(tracker.accept(skipped, clock.now()));
  clock.advance(10s);
  EXPECT_FALSE(tracker.accept(skipped, clock.now()));
  Event other = skipped;
  other.reason = "daily cap reached";
  EXPECT_TRUE(tracker.accept(other, clock.now()));  // a different reason is news
  clock.advance(4h);
  EXPECT_TRUE(tracker.accept(skipped, clock.now()));  // and the same one again after the interval

  Event oom = of(EventType::oom_kill);
  oom.oom_kill_count = 3;
  EXPECT_TRUE(tracker.accept(oom, clock.now()));
  EXPECT_FALSE(tracker.accept(oom, clock.now()));  // the same counter value seen on the next poll
  oom.oom_kill_count = 4;
  EXPECT_TRUE(tracker.accept(oom, clock.now()));

  Event cap = of(EventType::capture_completed);
  cap.capture = CaptureFigures{};
  cap.capture->archive_ids = {"web/20261124T080000Z"};
  EXPECT_TRUE(tracker.accept(cap, clock.now()));
  EXPECT_FALSE(tracker.accept(cap, clock.now()));
  cap.capture->archive_ids = {"web/20261124T080000Z", "web/20261124T100000Z"};
  EXPECT_TRUE(tracker.accept(cap, clock.now()));
}

TEST(IncidentTracker, OneOffsJoinTheOpenLeakIncident) {
  core::ManualClock clock;
  IncidentTracker tracker(4h, 11);
  auto l = tracker.accept(leak(), clock.now());
  Event cap = of(EventType::capture_completed);
  cap.capture = CaptureFigures{{"a"}, 1, {}, {}, {}, {}};
  auto c = tracker.accept(cap, clock.now());
  ASSERT_TRUE(l && c);
  EXPECT_EQ(c->incident_id, l->incident_id);
}

TEST(IncidentTracker, TestEventsAreAlwaysSent) {
  core::ManualClock clock;
  IncidentTracker tracker(4h, 5);
  EXPECT_TRUE(tracker.accept(of(EventType::test), clock.now()));
  EXPECT_TRUE(tracker.accept(of(EventType::test), clock.now()));
}

TEST(IncidentTracker, SeededIdsAreReproducibleAndUnique) {
  core::ManualClock clock;
  IncidentTracker a(4h, 123), b(4h, 123);
  auto x = a.accept(leak(), clock.now()), y = b.accept(leak(), clock.now());
  EXPECT_EQ(x->id, y->id);
  EXPECT_NE(x->id, x->incident_id.substr(0));
}
