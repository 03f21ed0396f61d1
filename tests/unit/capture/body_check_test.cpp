#include "leakwatch/capture/body_check.h"

#include <gtest/gtest.h>

using leakwatch::capture::SnapshotBodyCheck;
using State = SnapshotBodyCheck::State;

namespace {
// Feeds `body` in pieces of `step` bytes.
SnapshotBodyCheck run(const std::string& body, std::size_t step) {
  SnapshotBodyCheck c;
  for (std::size_t i = 0; i < body.size(); i += step)
    c.feed(std::string_view(body).substr(i, step));
  return c;
}
}  // namespace

TEST(SnapshotBodyCheck, AcceptsSnapshotsWhateverTheChunking) {
  for (std::string body : {std::string(R"({"snapshot":{"meta":{}},"nodes":[]})"),
                           std::string("\n  {\n \"snapshot\" :\t{ \"meta\":{}}}\n"),
                           std::string("\xEF\xBB\xBF{\"snapshot\":{}}")}) {
    for (std::size_t step : {1u, 2u, 5u, 64u}) {
      auto c = run(body, step);
      EXPECT_EQ(c.state(), State::ok) << body << " step " << step;
      EXPECT_EQ(c.finish(), "") << body;
    }
  }
}

TEST(SnapshotBodyCheck, RejectsOtherBodiesEarly) {
  for (std::string body : {std::string("<html><body>hi</body></html>"),
                           std::string(R"({"error":"nope"})"), std::string(R"({"snapshots":{}})"),
                           std::string("[1,2,3]"), std::string(R"({"snapshot":[]})")}) {
    SnapshotBodyCheck c;
    auto s = c.feed(body);
    EXPECT_EQ(s, State::reject) << body;
    EXPECT_NE(c.finish().find("does not start like a heap snapshot"), std::string::npos) << body;
  }
  auto c = run("<html>", 1);
  EXPECT_NE(c.seen().find("<html>"), std::string::npos);
}

TEST(SnapshotBodyCheck, EmptyShortAndTruncatedBodies) {
  SnapshotBodyCheck empty;
  EXPECT_EQ(empty.finish(), "the body is empty");
  auto shortc = run("{\"snap", 3);
  EXPECT_EQ(shortc.state(), State::need_more);
  EXPECT_NE(shortc.finish().find("ends before"), std::string::npos);
  auto cut = run(R"({"snapshot":{"meta":{}},"nodes":[1,2,3)", 7);
  EXPECT_EQ(cut.state(), State::ok);
  EXPECT_NE(cut.finish().find("ends abruptly"), std::string::npos);
}

TEST(SnapshotBodyCheck, EndlessWhitespaceIsRejected) {
  SnapshotBodyCheck c;
  State s = State::need_more;
  for (int i = 0; i < 100 && s == State::need_more; ++i)
    s = c.feed(std::string(1000, ' '));
  EXPECT_EQ(s, State::reject);
}
