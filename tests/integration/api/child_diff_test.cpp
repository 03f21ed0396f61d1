// The API's diff through the diff child (ArchiveSnapshotStore with ChildDiffSettings and the real
// `leakwatch` binary): the same JSON as the in-process comparison, a clear refusal without parsing
// when the budget is too small, and a cancel (stop, reload) that answers at once. Then the daemon
// itself: its /api/v1/diff runs in a child, and SIGTERM during one does not wait for it.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "integration/e2e/e2e_support.h"
#include "leakwatch/api/archive_store.h"
#include "leakwatch/api/router.h"
#include "leakwatch/engine/diff_child.h"
#include "support/io_wait.h"
#include "support/temp_dir.h"
#include "unit/api/test_state.h"
#include "unit/heapsnap/hostile_snapshots.h"

namespace leakwatch::api {
namespace {

namespace asio = boost::asio;
using http::ServerRequest;
using http::ServerResponse;
using nlohmann::json;
using namespace std::chrono_literals;
using leakwatch::testing::process_gone;
using leakwatch::testing::run_until;

// `leaks` Leak objects held by an array under the global object, `caches` Cache objects held
// directly, and `filler` plain numbers, so the classes grow differently between two snapshots.
std::string make_snapshot(std::size_t leaks, std::size_t caches, std::size_t filler) {
  heapsnap::hostile::Writer w;
  const std::size_t global = heapsnap::hostile::add_roots(w);
  const std::size_t store = w.node(1, w.str("(object elements)"), 64);
  w.edge(global, 2, w.str("requests"), store);
  const std::size_t leak = w.str("Leak"), cache = w.str("Cache"), num = w.str("heap number");
  const std::size_t slot = w.str("slot");
  for (std::size_t i = 0; i < leaks; ++i)
    w.edge(store, 3, slot, w.node(3, leak, 48));
  for (std::size_t i = 0; i < caches; ++i)
    w.edge(global, 3, slot, w.node(3, cache, 96));
  for (std::size_t i = 0; i < filler; ++i)
    w.edge(global, 3, slot, w.node(7, num, 16));
  return w.json();
}

// VmHWM (peak resident set) of this process.
std::uint64_t peak_rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

class ApiChildDiff : public ::testing::Test {
 protected:
  ApiChildDiff() : provider_(testing::sample_state()) {}

  void SetUp() override { options_.token = core::Secret("tok-123", "test"); }

  void archive_pair(const std::string& base, const std::string& target) {
    settings_.dir = (std::filesystem::path(tmp_.path()) / "archive").string();
    archive::Archive a(settings_);
    ASSERT_TRUE(a.open().ok());
    int i = 0;
    for (const auto* text : {&base, &target}) {
      archive::Reason reason;
      reason.kind = "manual";
      auto p = a.begin("web", core::from_unix_seconds(1.8e9 + 60 * i++), reason,
                       archive::Compression::none);
      ASSERT_TRUE(p.ok()) << p.error().message;
      ASSERT_TRUE((*p)->write(*text).ok());
      archive::Metadata m;
      m.reason = reason;
      auto c = (*p)->commit(m);
      ASSERT_TRUE(c.ok()) << c.error().message;
      ids_.push_back(c->id);
    }
  }

  ArchiveSnapshotStore child_store(std::vector<std::string> command, std::uint64_t budget) {
    ChildDiffSettings c;
    c.io = &io_;
    c.command = std::move(command);
    c.memory_budget = budget;
    return ArchiveSnapshotStore(settings_, "web", c);
  }

  ServerRequest diff_request(std::size_t limit) const {
    auto r = ServerRequest::get("/api/v1/diff?base=" + ids_[0] + "&target=" + ids_[1] +
                                "&limit=" + std::to_string(limit));
    r.headers.emplace_back("authorization", "Bearer tok-123");
    return r;
  }

  leakwatch::testing::UniqueTempDir tmp_;
  archive::ArchiveSettings settings_;
  std::vector<std::string> ids_;
  asio::io_context io_;
  testing::FixedProvider provider_;
  RouterOptions options_;
};

TEST_F(ApiChildDiff, TheChildsComparisonIsTheSameJsonAsTheInProcessOne) {
  archive_pair(make_snapshot(20, 30, 50), make_snapshot(400, 10, 80));
  // What the API answered when it diffed in-process.
  ArchiveSnapshotStore in_process(settings_, "web");
  ASSERT_FALSE(in_process.diffs_in_child());
  Router before(options_, provider_, &in_process);

  // Room for the child over what this process uses (much more under AddressSanitizer).
  auto store = child_store({LEAKWATCH_BIN}, engine::current_rss() + (256ull << 20));
  ASSERT_TRUE(store.diffs_in_child());
  Router router(options_, provider_, &store);
  for (std::size_t limit : {1u, 2u, 50u}) {
    auto want = before.route(diff_request(limit));
    ASSERT_EQ(want.status, 200) << want.body;
    std::optional<ServerResponse> got;
    router.handle(diff_request(limit), [&](ServerResponse r) { got = std::move(r); });
    EXPECT_FALSE(got) << "answered before the child ran";
    ASSERT_TRUE(store.diff_pid()) << "no child was started";
    ASSERT_TRUE(run_until(
        io_, [&] { return got.has_value(); }, 20s));
    ASSERT_EQ(got->status, 200) << got->body;
    EXPECT_EQ(json::parse(got->body), json::parse(want.body)) << "limit " << limit;
    EXPECT_FALSE(json::parse(got->body)["top_growers"].empty());
    // Asked again: from the cache, at once, no child.
    got.reset();
    router.handle(diff_request(limit), [&](ServerResponse r) { got = std::move(r); });
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, 200);
    EXPECT_EQ(json::parse(got->body), json::parse(want.body));
    EXPECT_FALSE(store.diff_pid());
  }
  EXPECT_EQ(engine::reserved_child_memory(), 0u) << "a finished child still counts";
}

TEST_F(ApiChildDiff, OverBudgetIsRefusedClearlyWithoutParsingEitherSnapshot) {
  // About 24 MB of snapshots: parsing them here would add tens of MB to the peak RSS.
  archive_pair(make_snapshot(150'000, 0, 150'000), make_snapshot(300'000, 0, 150'000));
  // The budget leaves 16 MiB over what this process uses: the diff is predicted at about 45 MiB.
  auto store = child_store({LEAKWATCH_BIN}, engine::current_rss() + (16ull << 20));
  Router router(options_, provider_, &store);
  std::ofstream("/proc/self/clear_refs") << "5";  // resets VmHWM to the current RSS
  const std::uint64_t peak_before = peak_rss();
  std::optional<ServerResponse> got;
  router.handle(diff_request(50), [&](ServerResponse r) { got = std::move(r); });
  ASSERT_TRUE(got) << "a refusal is answered at once";
  EXPECT_FALSE(store.diff_pid()) << "no child for a diff that does not fit";
  EXPECT_LT(peak_rss(), peak_before + (4ull << 20)) << "the snapshots were read into memory";
  EXPECT_EQ(got->status, 507);
  auto body = json::parse(got->body);
  EXPECT_EQ(body["error"], "diff_too_large");
  const std::string command =
      "leakwatch diff --archive " + settings_.dir + " " + ids_[0] + " " + ids_[1];
  EXPECT_EQ(body["command"], command);
  const std::string message = body["message"];
  EXPECT_NE(message.find("750006 nodes and 750004 edges"), std::string::npos) << message;
  EXPECT_NE(message.find("resources.memory_budget"), std::string::npos) << message;
  EXPECT_NE(message.find(command), std::string::npos) << message;
  EXPECT_EQ(got->header("cache-control"), "no-store");
  // Refusals are not cached: with room the same request runs (in the child).
  store.set_memory_budget(1ull << 30);
  got.reset();
  router.handle(diff_request(50), [&](ServerResponse r) { got = std::move(r); });
  ASSERT_TRUE(store.diff_pid());
  EXPECT_GT(engine::reserved_child_memory(), 30ull << 20) << "the child's prediction is reserved";
  ASSERT_TRUE(run_until(
      io_, [&] { return got.has_value(); }, 60s));
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(engine::reserved_child_memory(), 0u);
}

TEST_F(ApiChildDiff, CancelAnswersTheRequestAtOnceAndKillsTheChild) {
  archive_pair(make_snapshot(2, 1, 1), make_snapshot(4, 1, 1));
  // A child that never finishes on its own (the appended arguments are ignored).
  auto store =
      child_store({"/bin/sh", "-c", "sleep 60", "sh"}, engine::current_rss() + (256ull << 20));
  std::optional<ServerResponse> got, second;
  {
    Router router(options_, provider_, &store);
    router.handle(diff_request(50), [&](ServerResponse r) { got = std::move(r); });
    ASSERT_TRUE(store.diff_pid());
    const pid_t pid = *store.diff_pid();
    io_.run_for(50ms);
    EXPECT_FALSE(got);
    // One comparison at a time.
    router.handle(diff_request(7), [&](ServerResponse r) { second = std::move(r); });
    ASSERT_TRUE(second);
    EXPECT_EQ(second->status, 503);
    EXPECT_EQ(json::parse(second->body)["error"], "busy");

    auto t0 = std::chrono::steady_clock::now();
    store.cancel_diffs();  // what a stop or a reload does
    ASSERT_TRUE(got) << "the request was left waiting";
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    EXPECT_EQ(got->status, 503);
    EXPECT_EQ(json::parse(got->body)["error"], "cancelled");
    EXPECT_FALSE(got->header("retry-after").empty());
    EXPECT_TRUE(run_until(
        io_, [&] { return process_gone(pid); }, 20s));

    // The router's end cancels a running diff too, and is not held up by it.
    got.reset();
    router.handle(diff_request(50), [&](ServerResponse r) { got = std::move(r); });
    ASSERT_TRUE(store.diff_pid());
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(json::parse(got->body)["error"], "cancelled");
  EXPECT_EQ(engine::reserved_child_memory(), 0u) << "a killed child still counts";
}

// One GET with the bearer token to the daemon on loopback (Connection: close).
std::optional<std::pair<int, std::string>> get_with_token(int port, const std::string& target,
                                                          std::chrono::seconds timeout) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string req = "GET " + target +
                    " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer tok-123\r\n"
                    "Connection: close\r\n\r\n";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return std::nullopt;
  }
  std::string raw;
  char buf[16384];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0 && raw.size() < (16u << 20);)
    raw.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  auto head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return std::nullopt;
  return std::make_pair(std::atoi(raw.substr(9, 3).c_str()), raw.substr(head_end + 4));
}

// The children of the daemon's main (io) thread, which starts the diff child.
std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<pid_t> out;
  for (pid_t c; in >> c;)
    out.push_back(c);
  return out;
}

TEST_F(ApiChildDiff, TheDaemonDiffsInAChildAndSigtermDuringOneDoesNotWaitForIt) {
  archive_pair(make_snapshot(150'000, 0, 150'000), make_snapshot(300'000, 0, 150'000));
  const std::filesystem::path dir = tmp_.path();
  const auto config = dir / "leakwatch.yaml";
  std::ofstream(config) << "target: {name: web, source: procfs, pid: " << ::getpid()
                        << "}\nstate_dir: " << (dir / "state").string()
                        << "\narchive: {dir: " << settings_.dir
                        << "}\nresources: {memory_budget: 1Gi}\n"
                           "server: {listen: \"127.0.0.1:0\", token: tok-123}\n";
  e2e::Process daemon({LEAKWATCH_BIN, "run", "--config", config.string()}, dir / "daemon.log");
  auto line = daemon.wait_for("api listening on 127.0.0.1:", 30s);
  ASSERT_TRUE(line) << daemon.output();
  const int port = std::atoi(line->substr(line->find("127.0.0.1:") + 10).c_str());
  const std::string diff = "/api/v1/diff?base=" + ids_[0] + "&target=" + ids_[1];

  // A whole comparison, in a child: the daemon logs it and answers with the growers.
  auto first = get_with_token(port, diff + "&limit=5", 60s);
  ASSERT_TRUE(first) << daemon.output();
  ASSERT_EQ(first->first, 200) << first->second;
  auto body = json::parse(first->second);
  EXPECT_FALSE(body["classes"].empty());
  EXPECT_LE(body["classes"].size(), 5u);
  ASSERT_FALSE(body["top_growers"].empty());
  EXPECT_EQ(body["top_growers"][0]["name"], "Leak");
  EXPECT_NE(daemon.output().find("event=diff_child_start"), std::string::npos);
  // The child needs about 45 MiB for this pair (it parses both files); the daemon never did.
  const std::uint64_t daemon_peak = [&]() -> std::uint64_t {
    std::ifstream in("/proc/" + std::to_string(daemon.pid()) + "/status");
    for (std::string l; std::getline(in, l);)
      if (l.rfind("VmHWM:", 0) == 0) return std::stoull(l.substr(6)) * 1024;
    return std::uint64_t{0};
  }();
  std::printf("daemon peak RSS after a diff of %s + %s: %llu KiB\n", ids_[0].c_str(),
              ids_[1].c_str(), static_cast<unsigned long long>(daemon_peak >> 10));
#if !defined(__SANITIZE_ADDRESS__)  // AddressSanitizer's own memory would dominate
  EXPECT_GT(daemon_peak, 0u);
  EXPECT_LT(daemon_peak, 40ull << 20) << "the daemon's own memory grew like a parse";
#endif

  // Another one; the child is frozen as soon as it exists, so it is surely running at SIGTERM.
  std::optional<std::pair<int, std::string>> second;
  std::thread client([&] { second = get_with_token(port, diff + "&limit=6", 30s); });
  pid_t child = 0;
  for (int i = 0; i < 20000 && child == 0; ++i) {
    for (pid_t c : children_of(daemon.pid()))
      child = c;
    if (child == 0) std::this_thread::sleep_for(1ms);
  }
  ASSERT_NE(child, 0) << "no diff child appeared";
  ::kill(child, SIGSTOP);
  auto t0 = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  auto code = daemon.wait(10s);
  const auto took = std::chrono::steady_clock::now() - t0;
  client.join();
  ASSERT_TRUE(code) << "the daemon did not stop";
  EXPECT_EQ(*code, 0) << daemon.output();
  EXPECT_LT(took, 5s) << "stop waited for the diff";
  // The child was killed: nothing is left of it but, at most, a zombie for init to reap.
  std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
  std::string pid_field, comm, state;
  if (stat >> pid_field >> comm >> state) {
    EXPECT_EQ(state, "Z");
  }
  if (second) {
    EXPECT_NE(second->first, 200) << "the comparison was not cancelled";
  }
}

}  // namespace
}  // namespace leakwatch::api
