// The capture-time histogram: the same numbers whatever the chunking, bounded memory, and hostile
// input that never aborts and never yields invalid UTF-8.
#include "leakwatch/heapsnap/stream_histogram.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace leakwatch::heapsnap {
namespace {

const char* kMeta =
    R"({"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count",)"
    R"("trace_node_id","detachedness"],"node_types":[["hidden","array","string","object",)"
    R"("code","closure","regexp","number","native","synthetic","concatenated string",)"
    R"("sliced string","symbol","bigint","object shape"],"string","number","number",)"
    R"("number","number","number"],"edge_fields":["type","name_or_index","to_node"],)"
    R"("edge_types":[["context","element"],"string_or_number","node"]},)"
    R"("node_count":6,"edge_count":0,"trace_function_count":0},)";

// type 3 = object, 2 = string, 5 = closure; names index `strings`.
std::string snapshot(const std::string& nodes, const std::string& strings) {
  return std::string(kMeta) + "\n\"nodes\":[" + nodes +
         "],\n\"edges\":[],\"trace_function_infos\":[],\"trace_tree\":[],\"samples\":[],"
         "\"locations\":[],\n\"strings\":[" +
         strings + "]}";
}

const std::string kSmall = snapshot(
    "3,1,1,32,0,0,0, 3,1,3,32,0,0,0, 3,1,5,40,0,0,0, 3,2,7,16,0,0,0,\n"
    "2,3,9,24,0,0,0, 5,4,11,56,0,0,0",
    R"("","Foo","Bar","hello \"x\"","cb")");

const HistogramEntry* find(const Histogram& h, const std::string& name) {
  for (const auto& e : h.classes)
    if (e.name == name) return &e;
  return nullptr;
}

Histogram feed_in_chunks(const std::string& text, std::size_t chunk,
                         StreamHistogram::Limits limits = {}) {
  StreamHistogram s(limits);
  for (std::size_t i = 0; i < text.size(); i += chunk)
    s.feed(std::string_view(text).substr(i, chunk));
  return s.result();
}

TEST(StreamHistogram, CountsAndSizesPerConstructorWhateverTheChunking) {
  for (std::size_t chunk : {1u, 2u, 7u, 64u, 100000u}) {
    auto h = feed_in_chunks(kSmall, chunk);
    EXPECT_TRUE(h.complete) << chunk;
    EXPECT_EQ(h.nodes, 6u);
    EXPECT_EQ(h.total_self_size, 200u);
    auto foo = find(h, "Foo");
    ASSERT_TRUE(foo) << chunk;
    EXPECT_EQ(foo->count, 3u);
    EXPECT_EQ(foo->self_size, 104u);
    ASSERT_TRUE(find(h, "Bar"));
    EXPECT_EQ(find(h, "Bar")->count, 1u);
    // Other node types are grouped by type, as in DevTools' Summary.
    ASSERT_TRUE(find(h, "(string)"));
    EXPECT_EQ(find(h, "(string)")->self_size, 24u);
    ASSERT_TRUE(find(h, "Function"));
    EXPECT_EQ(h.classes.front().name, "Foo");  // biggest first
  }
}

TEST(StreamHistogram, DeltaShowsTheGrowersBySizeWithCounts) {
  auto base = feed_in_chunks(kSmall, 4096);
  auto grown =
      feed_in_chunks(snapshot("3,1,1,32,0,0,0, 3,1,3,32,0,0,0, 3,1,5,40,0,0,0, 3,1,13,40,0,0,0,"
                              "3,1,15,40,0,0,0, 2,3,9,24,0,0,0",
                              R"("","Foo","Bar","hello","cb")"),
                     4096);
  auto d = histogram_delta(base, grown, 10);
  ASSERT_EQ(d.size(), 1u);  // only growth is listed
  EXPECT_EQ(d[0].name, "Foo");
  EXPECT_EQ(d[0].count_delta, 2);
  EXPECT_EQ(d[0].size_delta, 80);
  auto round = histogram_from_json(to_json(grown));
  EXPECT_TRUE(round.complete);
  ASSERT_TRUE(find(round, "Foo"));
  EXPECT_EQ(find(round, "Foo")->count, 5u);
  EXPECT_FALSE(histogram_from_json(nlohmann::json("junk")).complete);
  EXPECT_TRUE(
      histogram_from_json(nlohmann::json::parse(R"({"classes":[1,{"name":2}]})")).classes.empty());
}

TEST(StreamHistogram, NamesAreValidUtf8AndCutOnCharacterBoundaries) {
  // A raw 0xFF byte, a lone surrogate escape, and a long Japanese name.
  std::string jp;
  for (int i = 0; i < 100; ++i)
    jp += "\xE3\x81\x82";  // あ
  auto text = snapshot("3,1,1,8,0,0,0, 3,2,3,8,0,0,0, 3,3,5,8,0,0,0",
                       "\"\",\"Bad\xFF name\",\"Lone \\uD800 x\",\"" + jp + "\"");
  StreamHistogram::Limits limits;
  limits.max_name_bytes = 100;
  auto h = feed_in_chunks(text, 3, limits);
  ASSERT_TRUE(h.complete);
  ASSERT_EQ(h.classes.size(), 3u);
  for (const auto& e : h.classes) {
    EXPECT_NO_THROW((void)nlohmann::json(e.name).dump()) << e.name;
    EXPECT_LE(e.name.size(), 100u);
  }
  EXPECT_TRUE(find(h, "Bad\xEF\xBF\xBD name"));
  EXPECT_TRUE(find(h, "Lone \xEF\xBF\xBD x"));
  std::string cut = jp.substr(0, 99);  // 33 whole characters
  EXPECT_TRUE(find(h, cut));
}

TEST(StreamHistogram, DistinctNamesAreCappedSoMemoryFollowsNamesNotTheHeap) {
  std::string nodes, strings = "\"\"";
  for (int i = 1; i <= 300; ++i) {
    nodes += (i > 1 ? "," : "") + std::string("3,") + std::to_string(i) + ",1,10,0,0,0";
    strings += ",\"C" + std::to_string(i) + "\"";
  }
  StreamHistogram::Limits limits;
  limits.max_classes = 100;
  auto h = feed_in_chunks(snapshot(nodes, strings), 512, limits);
  ASSERT_TRUE(h.complete);
  EXPECT_EQ(h.nodes, 300u);
  auto other = find(h, "(other)");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->count, 200u);
  EXPECT_EQ(h.classes.size(), 101u);
}

TEST(StreamHistogram, HostileInputNeverAbortsAndIsNeverComplete) {
  std::vector<std::string> bad = {
      "",
      "not json",
      R"({"nodes":[3,1,1,8,0,0,0],"strings":["","x"]})",  // nodes before the meta
      kSmall.substr(0, kSmall.size() / 2),                // truncated
      snapshot("3,1,1,8,0,0", R"("","x")"),               // a node cut short
      snapshot("3,1,1,-8,0,0,0", R"("","x")"),            // a negative size
      snapshot("3,1,1,99999999999999999999999,0,0,0", R"("","x")"),
      std::string(100000, '['),
      std::string(kMeta) + "\"nodes\":[3,1,1,8,0,0,0]]]]]",
  };
  for (const auto& b : bad) {
    StreamHistogram s;
    s.feed(b);
    auto h = s.result();
    EXPECT_FALSE(h.complete) << b.substr(0, 80);
    EXPECT_NO_THROW((void)to_json(h).dump());
  }
  // Random mutations of a valid snapshot.
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::string t = kSmall;
    for (int k = 0; k < 4; ++k)
      t[rng() % t.size()] = static_cast<char>(rng() % 256);
    StreamHistogram s;
    s.feed(t);
    EXPECT_NO_THROW((void)to_json(s.result()).dump());
  }
}

}  // namespace
}  // namespace leakwatch::heapsnap
