// Unit tests of the heap snapshot engine on small hand-written snapshots: exact numbers, dominators
// on tricky graphs, DevTools' naming and shallow-size rules, and malformed / hostile input.
#include <gtest/gtest.h>
#include <zstd.h>

#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "leakwatch/core/utf8.h"
#include "leakwatch/heapsnap/parser.h"
#include "leakwatch/heapsnap/report.h"

namespace leakwatch::heapsnap {
namespace {

// A tiny snapshot builder. Node types: 0 hidden 1 array 2 string 3 object 4 code 5 closure 6 regexp
// 7 number 8 native 9 synthetic 10 concatenated string 11 sliced string. Edge types: 0 context
// 1 element 2 property 3 internal 4 hidden 5 shortcut 6 weak.
struct Builder {
  struct N {
    int type;
    std::string name;
    unsigned id, size;
    std::vector<std::tuple<int, std::string, int>> edges;  // type, name (or index), target node
  };
  std::vector<N> nodes;
  int add(int type, std::string name, unsigned id, unsigned size) {
    nodes.push_back(N{type, std::move(name), id, size, {}});
    return static_cast<int>(nodes.size()) - 1;
  }
  void edge(int from, int type, std::string name, int to) {
    nodes[from].edges.emplace_back(type, name, to);
  }

  std::string json() const {
    std::vector<std::string> strings;
    std::map<std::string, int> index;
    auto s = [&](const std::string& v) {
      auto it = index.find(v);
      if (it != index.end()) return it->second;
      strings.push_back(v);
      return index[v] = static_cast<int>(strings.size()) - 1;
    };
    std::string n, e;
    std::size_t edge_count = 0;
    for (const auto& node : nodes) {
      if (!n.empty()) n += ",";
      n += std::to_string(node.type) + "," + std::to_string(s(node.name)) + "," +
           std::to_string(node.id) + "," + std::to_string(node.size) + "," +
           std::to_string(node.edges.size()) + ",0";
      for (const auto& [type, name, to] : node.edges) {
        if (!e.empty()) e += ",";
        int name_or_index = (type == 1 || type == 4) ? std::stoi(name) : s(name);
        e += std::to_string(type) + "," + std::to_string(name_or_index) + "," +
             std::to_string(to * 6);
        ++edge_count;
      }
    }
    std::string str;
    // Strings here are built with append rather than `"x" + std::string`: GCC 12 at -O3 reports a
    // false -Wrestrict inside operator+(const char*, std::string&&).
    for (const auto& v : strings)
      str.append(str.empty() ? "\"" : ",\"").append(v).append("\"");
    return R"({"snapshot":{"meta":{"node_fields":["type","name","id","self_size","edge_count","trace_node_id"],)"
           R"("node_types":[["hidden","array","string","object","code","closure","regexp","number","native",)"
           R"("synthetic","concatenated string","sliced string","symbol","bigint","object shape"],"string",)"
           R"("number","number","number","number"],"edge_fields":["type","name_or_index","to_node"],)"
           R"("edge_types":[["context","element","property","internal","hidden","shortcut","weak"],)"
           R"("string_or_number","node"]},"node_count":)" +
           std::to_string(nodes.size()) + R"(,"edge_count":)" + std::to_string(edge_count) +
           R"(},"nodes":[)" + n + R"(],"edges":[)" + e + R"(],"strings":[)" + str + "]}";
  }
};

const ClassSummary* find(const Summary& s, const std::string& name) {
  for (const auto& c : s.classes)
    if (c.name == name) return &c;
  return nullptr;
}

// root -> (GC roots) and root -> global (user root); global holds a Holder with two Items that
// share one Blob, plus a diamond, a weakly held object and a self edge.
Builder sample_graph() {
  Builder b;
  int root = b.add(9, "", 1, 0);
  int gc = b.add(9, "(GC roots)", 3, 0);
  int global = b.add(3, "global", 5, 10);
  int holder = b.add(3, "Holder", 7, 20);
  int item1 = b.add(3, "Item", 9, 30);
  int item2 = b.add(3, "Item", 11, 30);
  int blob = b.add(1, "(internal array)", 13, 100);  // shared: owned by nobody alone
  int own = b.add(1, "(object elements)", 15, 7);    // owned by item1 only
  int weakly = b.add(3, "Weakly", 17, 40);
  int str = b.add(2, "hello", 19, 16);
  b.edge(root, 1, "1", gc);
  b.edge(root, 5, "global", global);
  b.edge(gc, 1, "1", global);
  b.edge(global, 2, "holder", holder);
  b.edge(global, 6, "w", weakly);
  b.edge(holder, 2, "a", item1);
  b.edge(holder, 2, "b", item2);
  b.edge(item1, 3, "elements", own);
  b.edge(item1, 2, "blob", blob);
  b.edge(item2, 2, "blob", blob);
  b.edge(item2, 2, "self", item2);
  b.edge(item2, 2, "s", str);
  return b;
}

TEST(HeapSnapParse, ParsesColumnsAndStrings) {
  auto r = parse_snapshot(sample_graph().json());
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->node_count(), 10u);
  EXPECT_EQ(r->edge_count(), 12u);
  EXPECT_EQ(r->name(3), "Holder");
  EXPECT_EQ(r->kind(6), NodeKind::array);
  EXPECT_EQ(r->edge_to[r->first_edge[3]], 4u);
}

TEST(HeapSnapSummary, ExactNumbersWithSharedSubtreeAndOwnership) {
  auto snap = parse_snapshot(sample_graph().json());
  ASSERT_TRUE(snap.ok());
  Summary s = summarize(*snap);
  // The (object elements) array belongs to item1 alone: its 7 bytes move into Item's shallow size.
  const auto* item = find(s, "Item");
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->count, 2u);
  EXPECT_EQ(item->self_size, 67u);
  // Each Item retains itself (+ item2 its string); the shared blob is retained by Holder, not by an
  // Item.
  EXPECT_EQ(item->retained_size, 37u + 46u);
  const auto* holder = find(s, "Holder");
  ASSERT_NE(holder, nullptr);
  EXPECT_EQ(holder->retained_size, 20u + 37u + 46u + 100u);
  // Weak edges retain nothing: Weakly hangs off the root in the dominator tree.
  const auto* weakly = find(s, "Weakly");
  ASSERT_NE(weakly, nullptr);
  EXPECT_EQ(weakly->retained_size, 40u);
  const auto* global = find(s, "global");
  ASSERT_NE(global, nullptr);
  EXPECT_EQ(global->retained_size, 10u + 203u);
  EXPECT_EQ(find(s, "(array)")->count, 1u);  // the shared blob keeps its size; the owned one is 0
  EXPECT_EQ(find(s, "(string)")->self_size, 16u);
  EXPECT_EQ(s.total_size, 10u + 20u + 67u + 100u + 40u + 16u);
}

TEST(HeapSnapDominators, DiamondAndCycleAndUnreachable) {
  Builder b;
  int root = b.add(9, "", 1, 0);
  int a = b.add(3, "A", 3, 1);
  int bb = b.add(3, "B", 5, 2);
  int c = b.add(3, "C", 7, 4);
  int d = b.add(3, "D", 9, 8);
  int e = b.add(3, "E", 11, 16);  // unreachable cycle E <-> F
  int f = b.add(3, "F", 13, 32);
  b.edge(root, 1, "1", a);
  b.edge(root, 1, "2", bb);
  b.edge(a, 2, "c", c);
  b.edge(bb, 2, "c", c);
  b.edge(c, 2, "d", d);
  b.edge(d, 2, "c", c);  // back edge
  b.edge(e, 2, "f", f);
  b.edge(f, 2, "e", e);
  auto snap = parse_snapshot(b.json());
  ASSERT_TRUE(snap.ok());
  auto self = shallow_sizes(*snap);
  auto dom = compute_dominators(*snap, self);
  EXPECT_EQ(dom.idom[c], static_cast<std::uint32_t>(root));
  EXPECT_EQ(dom.idom[d], static_cast<std::uint32_t>(c));
  EXPECT_EQ(dom.retained[c], 12u);
  EXPECT_EQ(dom.retained[a], 1u);
  EXPECT_EQ(dom.unreachable, 2u);
  EXPECT_EQ(dom.retained[root], 63u);
}

// tests/data/heapsnap/weak-orphan.heapsnapshot, shaped like Node 18's snapshots: the hole Oddball
// is retained only by "(Read-only roots)" (not page-owned, so not an essential edge), by itself and
// by a WeakMap table whose edge to a value is dropped; it holds OrphanChild -> Leaf and reaches
// Shared, which global holds too. A WeakMap value (Value) is held by its key and its table, and
// CliqueA <-> CliqueB is retained by nothing else. The expected dominators and retained sizes are
// DevTools' own: the output of `node tests/integration/heapsnap/devtools_reference.mjs dominators`
// (chrome-devtools-frontend 1.0.1705227) on this file, identical on Node 18 and Node 20;
// Reference.WeakOrphanSnapshotMatchesDevTools checks the file against DevTools again.
TEST(HeapSnapDominators, WeakOnlyOrphanCliqueAndWeakMapValueAsDevTools) {
  auto snap =
      load_file(std::string(LEAKWATCH_TESTS_DIR) + "/data/heapsnap/weak-orphan.heapsnapshot");
  ASSERT_TRUE(snap.ok()) << snap.error().to_string();
  auto self = shallow_sizes(*snap);
  auto dom = compute_dominators(*snap, self);
  // node id -> {dominator's id, shallow size, retained size}
  const std::map<std::uint32_t, std::array<std::uint64_t, 3>> devtools = {
      {1, {1, 0, 870}},      // root
      {3, {1, 0, 0}},        // (GC roots)
      {5, {3, 0, 0}},        // (Read-only roots)
      {7, {1, 114, 174}},    // global (+ the table's 104 bytes it owns alone)
      {9, {1, 48, 448}},     // system / Oddball: only weak retainers, so the root's
      {11, {9, 100, 400}},   // OrphanChild
      {13, {7, 0, 0}},       // the WeakMap table
      {19, {7, 20, 60}},     // Key
      {21, {19, 40, 40}},    // Value: retained by its key, not by the table
      {15, {1, 200, 200}},   // Shared: held by global and by OrphanChild
      {23, {1, 16, 16}},     // CliqueA
      {25, {1, 32, 32}},     // CliqueB
      {17, {11, 300, 300}},  // Leaf
  };
  ASSERT_EQ(snap->node_count(), devtools.size());
  for (std::uint32_t v = 0; v < snap->node_count(); ++v) {
    auto it = devtools.find(snap->node_id[v]);
    ASSERT_NE(it, devtools.end()) << snap->node_id[v];
    EXPECT_EQ(snap->node_id[dom.idom[v]], it->second[0]) << "@" << it->first;
    EXPECT_EQ(self[v], it->second[1]) << "@" << it->first;
    EXPECT_EQ(dom.retained[v], it->second[2]) << "@" << it->first;
  }
  EXPECT_EQ(dom.unreachable, 5u);  // DevTools: "5 nodes are unreachable from the root"
}

TEST(HeapSnapNames, DevToolsClassNames) {
  Builder b;
  int root = b.add(9, "", 1, 0);
  int g = b.add(3, "global", 3, 8);
  int names[] = {b.add(5, "handler", 5, 32),          b.add(4, "code", 7, 10),
                 b.add(0, "system / Context", 9, 24), b.add(10, "cons", 11, 32),
                 b.add(11, "sliced", 13, 32),         b.add(7, "heap number", 15, 16),
                 b.add(6, "/ab+c/", 17, 32),          b.add(8, "<div id=x>", 19, 50)};
  int p1 = b.add(3, "Object", 21, 24);
  int p2 = b.add(3, "Object", 23, 24);
  int p3 = b.add(3, "Object", 25, 24);
  b.edge(root, 5, "global", g);
  int i = 0;
  for (int n : names)
    b.edge(g, 2, std::string("p").append(std::to_string(i++)), n);
  b.edge(names[0], 0, "context", names[2]);  // two owners: the context keeps its own size
  for (int p : {p1, p2, p3}) {
    b.edge(g, 2, std::string("p").append(std::to_string(i++)), p);
    b.edge(p, 2, "x", names[5]);
    b.edge(p, 2, "y", names[5]);
  }
  auto snap = parse_snapshot(b.json());
  ASSERT_TRUE(snap.ok());
  Summary s = summarize(*snap);
  for (const char* n : {"Function", "(compiled code)", "(system)", "(concatenated string)",
                        "(sliced string)", "(number)", "RegExp", "<div>", "{x, y}"})
    EXPECT_NE(find(s, n), nullptr) << n;
  EXPECT_EQ(find(s, "{x, y}")->count, 3u);
}

TEST(HeapSnapDiff, MatchesObjectsById) {
  Builder a;
  int ra = a.add(9, "", 1, 0);
  int ga = a.add(3, "global", 3, 8);
  a.edge(ra, 5, "global", ga);
  for (unsigned id : {100u, 102u, 104u})
    a.edge(ga, 2, std::string("s").append(std::to_string(id)), a.add(3, "Socket", id, 50));
  Builder b;
  int rb = b.add(9, "", 1, 0);
  int gb = b.add(3, "global", 3, 8);
  b.edge(rb, 5, "global", gb);
  for (unsigned id : {102u, 104u, 200u, 202u, 204u})
    b.edge(gb, 2, std::string("s").append(std::to_string(id)), b.add(3, "Socket", id, 50));
  b.edge(gb, 2, "t", b.add(3, "Timer", 206, 20));
  auto base = parse_snapshot(a.json());
  auto target = parse_snapshot(b.json());
  ASSERT_TRUE(base.ok() && target.ok());
  DiffReport r = diff_snapshots(*base, *target);
  ASSERT_GE(r.classes.size(), 2u);
  EXPECT_EQ(r.classes[0].name, "Socket");
  EXPECT_EQ(r.classes[0].new_count, 3u);
  EXPECT_EQ(r.classes[0].deleted_count, 1u);
  EXPECT_EQ(r.classes[0].delta_count, 2);
  EXPECT_EQ(r.classes[0].alloc_size, 150u);
  EXPECT_EQ(r.classes[0].freed_size, 50u);
  EXPECT_EQ(r.classes[0].size_delta, 100);
  ASSERT_FALSE(r.top_growers.empty());
  ASSERT_TRUE(r.top_growers[0].top_path.has_value());
  EXPECT_EQ(r.top_growers[0].top_path->text.substr(0, 6), "Socket");
  auto j = to_json(r);
  EXPECT_EQ(j["classes"][0]["name"], "Socket");
  EXPECT_EQ(j["classes"][0]["size_delta"], 100);
}

// A 42-character Japanese property key (126 bytes) on the retainer path is cut
// for display on a character boundary, and every JSON form dumps strictly (no exception, valid
// UTF-8) as the daemon writes a series' diff.
TEST(HeapSnapDiff, JapanesePropertyKeyOnThePathGivesValidJson) {
  std::string jp;
  for (int i = 0; i < 42; ++i)
    jp += (i % 2) ? "鍵" : "値";
  auto make = [&](unsigned items) {
    Builder b;
    int r = b.add(9, "", 1, 0);
    int g = b.add(3, "global", 3, 8);
    b.edge(r, 5, "global", g);
    int holder = b.add(3, "Holder", 5, 16);
    b.edge(g, 2, jp, holder);
    for (unsigned i = 0; i < items; ++i)
      b.edge(holder, 2, jp + std::to_string(i), b.add(3, "Session", 100 + 2 * i, 64));
    return b.json();
  };
  auto base = parse_snapshot(make(2));
  auto target = parse_snapshot(make(12));
  ASSERT_TRUE(base.ok() && target.ok());
  DiffOptions o;
  o.retainer_paths_for = 3;
  DiffReport r = diff_snapshots(*base, *target, o);
  ASSERT_FALSE(r.top_growers.empty());
  ASSERT_TRUE(r.top_growers[0].top_path.has_value());
  const RetainerPath& p = *r.top_growers[0].top_path;
  EXPECT_TRUE(leakwatch::core::is_valid_utf8(p.text)) << p.text;
  // The key is cut after 26 characters (78 bytes), never inside one.
  EXPECT_NE(p.text.find(std::string(leakwatch::core::utf8_prefix(jp, 80)) + "…"), std::string::npos)
      << p.text;
  std::string dumped;
  ASSERT_NO_THROW(dumped = to_json(r).dump());  // strict: throws on invalid UTF-8
  EXPECT_TRUE(leakwatch::core::is_valid_utf8(dumped));
  auto ret = find_retainers(*target, classify(*target, infer_interfaces(*target)),
                            shallow_sizes(*target), {}, shortest_path_tree(*target), "Session");
  ASSERT_NO_THROW((void)to_json(ret).dump());
}

// A class name with a lone surrogate escape or raw 0xFF bytes (the parser keeps both as they
// are) is shown with U+FFFD; distinct raw names stay distinct classes.
TEST(HeapSnapNames, InvalidUtf8NamesAreShownValidAndKeptApart) {
  Builder b;
  int r = b.add(9, "", 1, 0);
  int g = b.add(3, "global", 3, 8);
  b.edge(r, 5, "global", g);
  b.edge(g, 2, "a", b.add(3, "X\\uD800", 5, 10));
  b.edge(g, 2, "b", b.add(3, "X\\uD801", 7, 20));
  b.edge(g, 2, "c", b.add(3, "Raw\xff", 9, 30));
  std::string json = b.json();
  auto snap = parse_snapshot(json);
  ASSERT_TRUE(snap.ok()) << snap.error().to_string();
  Summary s = summarize(*snap);
  std::size_t replaced = 0;
  for (const auto& c : s.classes) {
    EXPECT_TRUE(leakwatch::core::is_valid_utf8(c.name)) << c.name;
    EXPECT_TRUE(leakwatch::core::is_valid_utf8(c.key)) << c.key;
    if (c.name.find("\xef\xbf\xbd") != std::string::npos) ++replaced;
  }
  EXPECT_EQ(replaced, 3u);
  EXPECT_EQ(s.classes.size(), 4u);  // global and the three, none merged
  ASSERT_NO_THROW((void)to_json(s).dump());
}

// V8's and Node's own categories stay in the Comparison (same numbers, same order) but
// the headline is the top grower the app's code creates; its headline path goes through
// JavaScript objects, grouped over per-instance keys, and the native handles are context.
Builder socket_leak(unsigned sockets) {
  Builder b;
  int r = b.add(9, "", 1, 0);
  int g = b.add(3, "global", 3, 8);
  b.edge(r, 5, "global", g);
  int handles = b.add(9, "(Handle scope)", 5, 0);
  b.edge(r, 1, "1", handles);
  int channel = b.add(3, "BroadcastChannel", 7, 40);
  b.edge(g, 2, "channel", channel);
  int clients = b.add(3, "Object", 9, 16);
  b.edge(channel, 2, "otherReaderClients", clients);
  const char* keys[] = {"k2j3h4g5f6", "0s03l7ifjl1", "13imk78tiukr", "u3miji219wc", "9a8b7c6d5e"};
  for (unsigned i = 0; i < sockets; ++i) {
    int sock = b.add(3, "Socket", 1000 + 10 * i, 300);
    int pipe = b.add(3, "Pipe", 1002 + 10 * i, 100);
    int wrap = b.add(8, "Node / PipeWrap", 1004 + 10 * i, 0);
    int syn = b.add(9, "(synthetic)", 1006 + 10 * i, 2000);  // bigger than Socket
    b.edge(r, 1, std::to_string(10 + i), wrap);
    b.edge(wrap, 3, "native_to_javascript", pipe);
    b.edge(pipe, 2, "owner_symbol", sock);
    b.edge(sock, 3, "syn", syn);
    // Two thirds are also held by the library's table under a random id; that path is longer.
    if (i % 3 != 0) b.edge(clients, 2, keys[i % 5] + std::to_string(i), sock);
  }
  return b;
}

TEST(HeapSnapDiff, HeadlineIsTheTopGrowerTheAppCreates) {
  EXPECT_TRUE(is_engine_internal("(synthetic)"));
  EXPECT_TRUE(is_engine_internal("(compiled code)"));
  EXPECT_TRUE(is_engine_internal("system / Context"));
  EXPECT_TRUE(is_engine_internal("Node / PipeWrap"));
  EXPECT_FALSE(is_engine_internal("Socket"));
  EXPECT_FALSE(is_engine_internal("{a, b}"));
  auto base = parse_snapshot(socket_leak(3).json());
  auto target = parse_snapshot(socket_leak(30).json());
  ASSERT_TRUE(base.ok() && target.ok());
  DiffReport r = diff_snapshots(*base, *target);
  // The Comparison is DevTools' own: (synthetic) grew most and stays first.
  ASSERT_GE(r.classes.size(), 2u);
  EXPECT_EQ(r.classes[0].name, "(synthetic)");
  ASSERT_GE(r.top_growers.size(), 3u);
  EXPECT_EQ(r.top_growers[0].diff.name, "Socket");
  EXPECT_FALSE(r.top_growers[0].internal);
  EXPECT_TRUE(r.top_growers.back().internal);
  auto j = to_json(r);
  EXPECT_EQ(j["headline"], "Socket");
  EXPECT_EQ(j["classes"][0]["name"], "(synthetic)");
}

TEST(HeapSnapDiff, PathThroughJavaScriptIsTheHeadlineNativeHandlesTheContext) {
  auto base = parse_snapshot(socket_leak(3).json());
  auto target = parse_snapshot(socket_leak(30).json());
  ASSERT_TRUE(base.ok() && target.ok());
  DiffReport r = diff_snapshots(*base, *target);
  ASSERT_FALSE(r.top_growers.empty());
  const Grower& g = r.top_growers[0];
  ASSERT_EQ(g.diff.name, "Socket");
  ASSERT_TRUE(g.top_path.has_value());
  // The shortest paths of all 30 go through the handles; 20 are held by the library too, through
  // a longer path under random keys.
  EXPECT_FALSE(g.top_path->through_native) << g.top_path->text;
  EXPECT_EQ(g.top_path->text,
            "Socket ← Object.<id> ← BroadcastChannel.otherReaderClients ← global.channel");
  EXPECT_EQ(g.top_path->instances, 20u);  // one group, whatever the random keys
  ASSERT_TRUE(g.native_path.has_value());
  EXPECT_TRUE(g.native_path->through_native);
  EXPECT_NE(g.native_path->text.find("Node / PipeWrap"), std::string::npos);
  EXPECT_GT(g.native_instances, 0u);
  auto j = to_json(r)["top_growers"][0];
  EXPECT_EQ(j["native_holders"]["instances"], g.native_instances);
  EXPECT_NE(j["native_holders"]["note"].get<std::string>().find("held by open native handles"),
            std::string::npos);
}

TEST(HeapSnapRetainers, PerInstanceKeysMakeOneGroup) {
  Builder b;
  int r = b.add(9, "", 1, 0);
  int g = b.add(3, "global", 3, 8);
  b.edge(r, 5, "global", g);
  int table = b.add(3, "Object", 5, 16);
  b.edge(g, 2, "sessions", table);
  const char* keys[] = {"k2j3h4g5f6", "0s03l7ifjl1", "3f2a9c1e-77aa-4b0e-9d1c-2b6f4e8a0c11"};
  for (unsigned i = 0; i < 12; ++i)
    b.edge(table, 2, keys[i % 3] + std::to_string(i), b.add(3, "Session", 100 + 2 * i, 64));
  auto snap = parse_snapshot(b.json());
  ASSERT_TRUE(snap.ok());
  auto rep = find_retainers(*snap, classify(*snap, infer_interfaces(*snap)), shallow_sizes(*snap),
                            {}, shortest_path_tree(*snap), "Session");
  ASSERT_EQ(rep.paths.size(), 1u);
  EXPECT_EQ(rep.paths[0].instances, 12u);
  EXPECT_EQ(rep.paths[0].text, "Session ← Object.<id> ← global.sessions");
}

TEST(HeapSnapRetainers, AggregatesPathsByShape) {
  auto snap = parse_snapshot(sample_graph().json());
  ASSERT_TRUE(snap.ok());
  auto classes = classify(*snap, infer_interfaces(*snap));
  auto self = shallow_sizes(*snap);
  auto dom = compute_dominators(*snap, self);
  auto tree = shortest_path_tree(*snap);
  auto r = find_retainers(*snap, classes, self, dom.retained, tree, "Item");
  EXPECT_EQ(r.instances, 2u);
  ASSERT_EQ(r.paths.size(), 2u);  // .a and .b are different edges
  EXPECT_EQ(r.paths[0].text.find("Item ← Holder."), 0u) << r.paths[0].text;
  EXPECT_NE(r.paths[0].text.find("← global.holder"), std::string::npos) << r.paths[0].text;
}

// Holders named by edge p0..p(k-1); holder i holds `counts[i]` Items (of sizes that make ties on
// instances and retained size), so that many paths compete for the top places.
Builder many_paths_graph(const std::vector<int>& counts, const std::vector<unsigned>& sizes) {
  Builder b;
  int root = b.add(9, "", 1, 0);
  int global = b.add(3, "global", 3, 10);
  b.edge(root, 5, "global", global);
  unsigned id = 5;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    int holder = b.add(3, "Holder", id, 20);
    id += 2;
    b.edge(global, 2, std::string("p").append(std::to_string(i)), holder);
    for (int k = 0; k < counts[i]; ++k) {
      int item = b.add(3, "Item", id, sizes[i]);
      id += 2;
      b.edge(holder, 1, std::to_string(k), item);
    }
  }
  return b;
}

TEST(HeapSnapRetainers, TopPathsAreThePrefixOfAllPathsWhateverTheTies) {
  // Paths tie on instances (four of 3, two of 1) and on retained size (items of 8 or 16 bytes).
  auto snap =
      parse_snapshot(many_paths_graph({3, 3, 3, 1, 1, 2, 3}, {8, 16, 8, 8, 8, 16, 8}).json());
  ASSERT_TRUE(snap.ok()) << snap.error().to_string();
  auto classes = classify(*snap, infer_interfaces(*snap));
  auto self = shallow_sizes(*snap);
  auto dom = compute_dominators(*snap, self);
  auto tree = shortest_path_tree(*snap);
  RetainerOptions all;
  all.max_paths = 100;
  auto full = find_retainers(*snap, classes, self, dom.retained, tree, "Item", all);
  ASSERT_EQ(full.paths.size(), 7u);
  EXPECT_EQ(full.paths[0].instances, 3u);
  EXPECT_EQ(full.paths[0].retained_size, 48u);  // the holder of 16-byte items
  EXPECT_EQ(full.paths[0].text, "Item ← Holder[] ← global.p1");
  EXPECT_EQ(full.paths[1].text, "Item ← Holder[] ← global.p0");  // ties broken by text
  EXPECT_EQ(full.paths.back().instances, 1u);
  for (std::size_t k = 0; k <= 8; ++k) {
    RetainerOptions some;
    some.max_paths = k;
    auto top = find_retainers(*snap, classes, self, dom.retained, tree, "Item", some);
    ASSERT_EQ(top.paths.size(), std::min<std::size_t>(k, 7)) << k;
    for (std::size_t i = 0; i < top.paths.size(); ++i) {
      EXPECT_EQ(top.paths[i].text, full.paths[i].text) << k << " " << i;
      EXPECT_EQ(top.paths[i].retained_size, full.paths[i].retained_size);
    }
    // The two stages give the same as the one call.
    auto staged =
        finish_retainers(group_retainers(*snap, classes, self, tree, "Item", some), dom.retained);
    ASSERT_EQ(staged.paths.size(), top.paths.size());
    for (std::size_t i = 0; i < top.paths.size(); ++i)
      EXPECT_EQ(staged.paths[i].text, top.paths[i].text);
    EXPECT_EQ(staged.instances, 16u);
  }
  // Without retained sizes the order falls back to instances, then text.
  auto bare = find_retainers(*snap, classes, self, {}, tree, "Item", all);
  ASSERT_EQ(bare.paths.size(), 7u);
  EXPECT_EQ(bare.paths[0].text, "Item ← Holder[] ← global.p0");
  EXPECT_EQ(bare.paths[0].retained_size, 0u);
}

// Dominators by their definition: d dominates v when every path from the root to v passes d.
// Brute force (one search per removed node), for graphs small enough. As in DevTools, a node that
// the root does not reach and that has no (essential) retainer at all is taken as held by the root;
// nodes that stay unreachable (cycles held by nothing else) are left out (-1).
std::vector<int> naive_idom(std::vector<std::vector<int>> succ, int root) {
  const int n = static_cast<int>(succ.size());
  {
    std::vector<int> preds(n, 0);
    for (const auto& out : succ)
      for (int w : out)
        ++preds[w];
    std::vector<char> seen(n, 0);
    std::vector<int> stack{root};
    seen[root] = 1;
    while (!stack.empty()) {
      int v = stack.back();
      stack.pop_back();
      for (int w : succ[v])
        if (!seen[w]) {
          seen[w] = 1;
          stack.push_back(w);
        }
    }
    for (int v = 0; v < n; ++v)
      if (!seen[v] && preds[v] == 0) succ[root].push_back(v);
  }
  auto reach = [&](int removed) {
    std::vector<char> seen(n, 0);
    std::vector<int> stack;
    if (removed != root) {
      seen[root] = 1;
      stack.push_back(root);
    }
    while (!stack.empty()) {
      int v = stack.back();
      stack.pop_back();
      for (int w : succ[v])
        if (w != removed && !seen[w]) {
          seen[w] = 1;
          stack.push_back(w);
        }
    }
    return seen;
  };
  const std::vector<char> all = reach(-1);
  std::vector<std::vector<char>> dominated(n);  // dominated[d][v]: d strictly dominates v
  for (int d = 0; d < n; ++d) {
    std::vector<char> r = reach(d);
    dominated[d].assign(n, 0);
    for (int v = 0; v < n; ++v)
      dominated[d][v] = all[v] && v != d && !r[v] && all[d];
  }
  std::vector<int> idom(n, -1);
  for (int v = 0; v < n; ++v) {
    if (!all[v] || v == root) continue;
    // The strict dominator of v that all the others dominate (or that equals them).
    for (int d = 0; d < n; ++d) {
      if (!dominated[d][v]) continue;
      bool closest = true;
      for (int o = 0; o < n && closest; ++o)
        if (o != d && dominated[o][v] && !dominated[o][d]) closest = false;
      if (closest) idom[v] = d;
    }
  }
  return idom;
}

TEST(HeapSnapDominators, MatchTheDefinitionOnRandomGraphs) {
  std::size_t checked = 0;  // reachable nodes compared
  for (unsigned seed = 1; seed <= 60; ++seed) {
    std::mt19937 rng(seed);
    auto rnd = [&](int m) { return static_cast<int>(rng() % static_cast<unsigned>(m)); };
    const int n = 8 + static_cast<int>(seed % 5) * 9;
    Builder b;
    b.add(9, "", 1, 0);
    for (int i = 1; i < n; ++i)
      b.add(3, std::string("C").append(std::to_string(i)), 2 * i + 1,
            1 + static_cast<unsigned>(rnd(40)));
    std::vector<std::vector<int>> succ(n);  // essential edges only
    for (int i = 1; i < n; i += 1 + rnd(6)) {
      b.edge(0, 1, std::to_string(i), i);  // element edges from the root: no page-owned nodes
      succ[0].push_back(i);
    }
    for (int v = 1; v < n; ++v) {
      for (int k = rnd(4); k > 0; --k) {
        const int to = rnd(n);
        const int type = rnd(4);  // property, element, internal, weak
        const int kinds[] = {2, 1, 3, 6};
        b.edge(v, kinds[type], kinds[type] == 1 ? std::to_string(k) : "e", to);
        if (kinds[type] != 6 && to != v) succ[v].push_back(to);
      }
    }
    auto snap = parse_snapshot(b.json());
    ASSERT_TRUE(snap.ok()) << snap.error().to_string();
    auto self = shallow_sizes(*snap);
    auto dom = compute_dominators(*snap, self);
    std::vector<int> want = naive_idom(succ, 0);
    std::uint64_t total = 0;
    for (int v = 0; v < n; ++v) {
      total += self[v];
      if (want[v] < 0) continue;
      ++checked;
      EXPECT_EQ(dom.idom[v], static_cast<std::uint32_t>(want[v])) << seed << ":" << v;
    }
    // Unreachable nodes hang below the root too: the root retains everything.
    EXPECT_EQ(dom.retained[0], total) << seed;
    // A node's retained size is its own plus that of the nodes it immediately dominates.
    for (int d = 0; d < n; ++d) {
      std::uint64_t expect = self[d];
      for (int v = 0; v < n; ++v)
        if (v != 0 && static_cast<int>(dom.idom[v]) == d && v != d) expect += dom.retained[v];
      EXPECT_EQ(dom.retained[d], expect) << seed << ":" << d;
    }
  }
  EXPECT_GT(checked, 500u);
}

// Appends a string to a parsed snapshot's table; returns its index.
std::uint32_t add_string(HeapSnapshot& s, const std::string& text) {
  s.string_data += text;
  s.string_offsets.push_back(s.string_data.size());
  return static_cast<std::uint32_t>(s.string_count() - 1);
}

TEST(HeapSnapNames, ShapesAreNamedByTextWhateverTheStringIndexes) {
  // Six plain objects {a, b}; then the file repeats strings (as a hand-made or hostile file may):
  // five objects are named by other copies of "Object", one names its "a" edge by another "a".
  Builder b;
  int root = b.add(9, "", 1, 0);
  int global = b.add(3, "global", 3, 10);
  int num = b.add(7, "number", 5, 16);
  b.edge(root, 5, "global", global);
  std::vector<int> objects;
  for (int i = 0; i < 6; ++i) {
    int o = b.add(3, "Object", 7 + 2 * static_cast<unsigned>(i), 24);
    b.edge(global, 2, std::string("o").append(std::to_string(i)), o);
    b.edge(o, 2, "a", num);
    b.edge(o, 2, "b", num);
    objects.push_back(o);
  }
  auto parsed = parse_snapshot(b.json());
  ASSERT_TRUE(parsed.ok()) << parsed.error().to_string();
  HeapSnapshot& s = *parsed;
  for (int i = 1; i < 6; ++i)
    s.node_name[objects[i]] = add_string(s, "Object");
  const std::uint32_t other_a = add_string(s, "a");
  s.edge_name[s.first_edge[objects[3]]] = other_a;
  ASSERT_EQ(s.str(s.edge_name[s.first_edge[objects[3]]]), "a");

  auto interfaces = infer_interfaces(s);
  ASSERT_EQ(interfaces.size(), 1u);
  EXPECT_EQ(interfaces[0].name, "{a, b}");
  auto classes = classify(s, interfaces);
  for (int o : objects)
    EXPECT_EQ(classes.names[classes.class_of[o]], "{a, b}") << o;
  // Other objects keep their own names.
  EXPECT_EQ(classes.names[classes.class_of[global]], "global");
  EXPECT_EQ(classes.names[classes.class_of[num]], "(number)");
}

TEST(HeapSnapParse, ZstdCompressedEqualsPlain) {
  std::string plain = sample_graph().json();
  std::string z(ZSTD_compressBound(plain.size()), '\0');
  z.resize(ZSTD_compress(z.data(), z.size(), plain.data(), plain.size(), 3));
  auto a = parse_snapshot(plain);
  auto b = parse_snapshot(z);
  ASSERT_TRUE(a.ok() && b.ok()) << (b.ok() ? "" : b.error().to_string());
  EXPECT_EQ(a->node_id, b->node_id);
  EXPECT_EQ(a->edge_to, b->edge_to);
  EXPECT_FALSE(parse_snapshot(z.substr(0, z.size() / 2)).ok());
}

TEST(HeapSnapParse, EveryTruncationIsAnErrorNotACrash) {
  std::string full = sample_graph().json();
  for (std::size_t len = 0; len < full.size(); ++len) {
    auto r = parse_snapshot(std::string_view(full).substr(0, len));
    ASSERT_FALSE(r.ok()) << "prefix " << len;
    EXPECT_EQ(r.error().code, core::Errc::parse);
  }
}

void expect_error(const std::string& text, const std::string& fragment) {
  auto r = parse_snapshot(text);
  ASSERT_FALSE(r.ok()) << "accepted: " << text.substr(0, 200);
  EXPECT_NE(r.error().message.find(fragment), std::string::npos) << r.error().message;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  return s.replace(p, from.size(), to);
}

TEST(HeapSnapParse, HostileInputsGiveClearErrors) {
  std::string good = sample_graph().json();
  expect_error(replace(good, "\"nodes\":[9,", "\"nodes\":[99,"), "node type 99 out of range");
  expect_error(replace(good, "\"nodes\":[9,", "\"nodes\":[9,0,"), "not a multiple of 6");
  expect_error(replace(good, "\"nodes\":[9,", "\"nodes\":[99999999999,"), "number too large");
  expect_error(replace(good, "\"nodes\":[9,", "\"nodes\":[-9,"), "expected an unsigned integer");
  expect_error(replace(good, "\"edges\":[1,1,6", "\"edges\":[1,1,7"), "not a valid node index");
  expect_error(replace(good, "\"edges\":[1,1,6", "\"edges\":[1,1,600000"),
               "not a valid node index");
  expect_error(replace(good, "\"strings\":[\"\",", "\"strings\":["), "beyond the");
  expect_error(replace(good, "\"node_count\":10", "\"node_count\":4000000000"), "node_count");
  expect_error(replace(good, "\"edge_fields\":[\"type\",", "\"edge_fields\":["),
               "edge_fields lacks");
  expect_error(replace(good, "\"edges\":[1,1,6,", "\"edges\":[1,1,6,1,1,6,"), "more edges");
  expect_error(
      replace(good, "{\"snapshot\":", "{\"x\":" + std::string(100000, '[') + ",\"snapshot\":"),
      "nesting too deep");
  expect_error(replace(good, "\"strings\":[\"\"", "\"strings\":[\"\\uZZZZ\""), "bad \\u escape");
  expect_error(good + "garbage", "trailing data");
  expect_error("{\"nodes\":[]}", "before the \"snapshot\" header");
  expect_error("", "unexpected end of input");
  expect_error("[]", "expected '{'");
}

TEST(HeapSnapParse, StringIndexesAreCheckedPerEdgeKind) {
  std::string good = sample_graph().json();
  // The first edge is root -> (GC roots), an element edge: its 999 is an index, not a string.
  auto ok = parse_snapshot(replace(good, "\"edges\":[1,1,6", "\"edges\":[1,999,6"));
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->edge_name[0], 999u);
  // As a property edge, 999 names a string that does not exist: the error names the edge.
  expect_error(replace(good, "\"edges\":[1,1,6", "\"edges\":[2,999,6"),
               "edge 0 has name index 999 beyond the");
  expect_error(replace(good, "\"nodes\":[9,0,", "\"nodes\":[9,4000,"),
               "node 0 has name index 4000 beyond the");
}

std::string with_locations(const std::string& good, const std::string& locations) {
  std::string text = replace(
      good, "\"edge_fields\":",
      "\"location_fields\":[\"object_index\",\"script_id\",\"line\",\"column\"],\"edge_fields\":");
  return replace(text, "\"strings\":", "\"locations\":[" + locations + "],\"strings\":");
}

TEST(HeapSnapParse, LocationsInAnyOrderLaterEntriesWin) {
  std::string good = sample_graph().json();
  // Node field count 6: object_index 12 is node 2, 6 is node 1.
  auto sorted = parse_snapshot(with_locations(good, "6,1,5,5,12,1,9,9"));
  ASSERT_TRUE(sorted.ok()) << sorted.error().to_string();
  ASSERT_EQ(sorted->locations.size(), 2u);
  EXPECT_EQ(sorted->locations[0].node, 1u);
  EXPECT_EQ(sorted->locations[1].line, 9u);
  auto mixed = parse_snapshot(with_locations(good, "12,1,2,3,6,1,5,5,12,1,9,9"));
  ASSERT_TRUE(mixed.ok()) << mixed.error().to_string();
  ASSERT_EQ(mixed->locations.size(), 2u);
  EXPECT_EQ(mixed->locations[0].node, 1u);
  EXPECT_EQ(mixed->locations[0].line, 5u);
  EXPECT_EQ(mixed->locations[1].node, 2u);
  EXPECT_EQ(mixed->locations[1].line, 9u);  // the later entry for node 2
  ASSERT_NE(mixed->location(2), nullptr);
  EXPECT_EQ(mixed->location(2)->column, 9u);
  EXPECT_EQ(mixed->location(3), nullptr);
  expect_error(with_locations(good, "7,1,2,3"), "object_index is not a valid node index");
  expect_error(with_locations(good, "600,1,2,3"), "object_index is not a valid node index");
  expect_error(with_locations(good, "6,1,2"), "not a multiple of location_fields");
}

TEST(HeapSnapParse, UnknownKeysAndEscapesAreFine) {
  std::string good = sample_graph().json();
  std::string text = replace(
      good, "\"nodes\":", "\"trace_tree\":[[1,{\"a\":[true,false,null,-1.5e3]}]],\"nodes\":");
  text = replace(text, "\"hello\"", "\"h\\u00e9llo \\ud83d\\ude00\\n\"");
  auto r = parse_snapshot(text);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->name(9), "h\xc3\xa9llo \xf0\x9f\x98\x80\n");
}

TEST(HeapSnapLoad, MissingFileIsNotFound) {
  auto r = load_file("/nonexistent/dir/x.heapsnapshot");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::Errc::not_found);
}

}  // namespace
}  // namespace leakwatch::heapsnap
