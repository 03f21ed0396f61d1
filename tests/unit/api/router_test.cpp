#include "leakwatch/api/router.h"

#include <gtest/gtest.h>

#include <fstream>

#include "leakwatch/api/assets.h"
#include "test_state.h"

namespace leakwatch::api {
namespace {

using http::ServerRequest;
using http::ServerResponse;
using nlohmann::json;

class RouterTest : public ::testing::Test {
 protected:
  RouterTest() : provider_(testing::sample_state()) {
    store_.items = {testing::info("web/20231114T224000Z-leak-series-1of3", 1'700'001'600),
                    testing::info("web/20231114T225000Z-leak-series-2of3", 1'700'002'200)};
    dir_ =
        std::filesystem::temp_directory_path() / ("api_router_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    auto file = dir_ / "20231114T224000Z-leak-series-1of3.heapsnapshot";
    std::ofstream(file) << "{\"snapshot\":{}}";
    store_.files[store_.items[0].id] = file;
    options_.token = core::Secret("tok-123", "test");
  }
  ~RouterTest() override { std::filesystem::remove_all(dir_); }

  Router router() { return Router(options_, provider_, &store_); }

  static ServerRequest with_token(std::string target, std::string token = "tok-123") {
    auto r = ServerRequest::get(std::move(target));
    r.headers.emplace_back("authorization", "Bearer " + token);
    return r;
  }

  testing::FixedProvider provider_;
  testing::MemoryStore store_;
  RouterOptions options_;
  std::filesystem::path dir_;
};

TEST_F(RouterTest, HealthzIsConstantAndTouchesNoState) {
  auto r = router().route(ServerRequest::get("/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(provider_.calls, 0) << "the health check must not build the state";
  EXPECT_EQ(store_.diffs, 0);
  auto post = ServerRequest::get("/healthz");
  post.method = "POST";
  EXPECT_EQ(router().route(post).status, 405);
}

TEST_F(RouterTest, Metrics) {
  auto r = router().route(ServerRequest::get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("leakwatch_detector_state{state=\"leak_suspected\"} 1"), std::string::npos);
}

TEST_F(RouterTest, Status) {
  auto r = router().route(ServerRequest::get("/api/v1/status?since=1700003000&max_points=20"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  auto j = json::parse(r.body);
  EXPECT_LE(j["samples"].size(), 20u);
  EXPECT_EQ(j["samples_total_in_range"], 61);
  EXPECT_EQ(j["detector"]["state"], "leak_suspected");
  for (const char* bad : {"/api/v1/status?since=abc", "/api/v1/status?since=-5",
                          "/api/v1/status?max_points=1", "/api/v1/status?max_points=999999"}) {
    auto b = router().route(ServerRequest::get(bad));
    EXPECT_EQ(b.status, 400) << bad;
    EXPECT_EQ(json::parse(b.body)["error"], "bad_request");
  }
}

TEST_F(RouterTest, SnapshotListAndMetadata) {
  auto r = router().route(ServerRequest::get("/api/v1/snapshots"));
  ASSERT_EQ(r.status, 200);
  auto j = json::parse(r.body);
  ASSERT_EQ(j["snapshots"].size(), 2u);
  EXPECT_EQ(j["snapshots"][0]["id"], "web/20231114T224000Z-leak-series-1of3");
  EXPECT_FALSE(j["snapshots"][0].contains("metadata"));

  auto m =
      router().route(ServerRequest::get("/api/v1/snapshots/web/20231114T224000Z-leak-series-1of3"));
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(json::parse(m.body)["metadata"]["id"], "web/20231114T224000Z-leak-series-1of3");
  auto enc = router().route(
      ServerRequest::get("/api/v1/snapshots/web%2F20231114T224000Z-leak-series-1of3"));
  EXPECT_EQ(enc.status, 200) << "an encoded slash names the same id";
  EXPECT_EQ(router().route(ServerRequest::get("/api/v1/snapshots/web/nope")).status, 404);
}

TEST_F(RouterTest, DownloadNeedsTheToken) {
  const std::string url = "/api/v1/snapshots/web/20231114T224000Z-leak-series-1of3/download";
  auto none = router().route(ServerRequest::get(url));
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.header("WWW-Authenticate"), "Bearer realm=\"leakwatch\"");
  EXPECT_FALSE(none.file);
  auto wrong = router().route(with_token(url, "tok-124"));
  EXPECT_EQ(wrong.status, 403);
  EXPECT_FALSE(wrong.file);
  EXPECT_EQ(wrong.body.find("tok-123"), std::string::npos) << "the token is never echoed";

  auto ok = router().route(with_token(url));
  ASSERT_EQ(ok.status, 200);
  ASSERT_TRUE(ok.file);
  EXPECT_EQ(*ok.file, store_.files.begin()->second);
  EXPECT_EQ(ok.content_type, "application/octet-stream");
  EXPECT_EQ(ok.header("Content-Disposition"),
            "attachment; filename=\"20231114T224000Z-leak-series-1of3.heapsnapshot\"");
}

TEST_F(RouterTest, NoTokenConfiguredMeansDownloadsDisabled) {
  options_.token = core::Secret();
  auto r = router().route(
      with_token("/api/v1/snapshots/web/20231114T224000Z-leak-series-1of3/download", ""));
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("server.token"), std::string::npos) << r.body;
  EXPECT_EQ(router().route(with_token("/api/v1/diff?base=a&target=b", "x")).status, 403);
}

TEST_F(RouterTest, NoPathTraversal) {
  for (const char* p :
       {"/api/v1/snapshots/../../../etc/passwd/download",
        "/api/v1/snapshots/%2e%2e%2f%2e%2e%2fetc%2fpasswd/download",
        "/api/v1/snapshots//etc/passwd/download", "/api/v1/snapshots/web/..%2F..%2Fsecret/download",
        "/api/v1/snapshots/web/20231114T225000Z-leak-series-2of3%00.json/download",
        "/api/v1/snapshots/web/not-listed/download"}) {
    auto r = router().route(with_token(p));
    EXPECT_EQ(r.status, 404) << p;
    EXPECT_FALSE(r.file) << p;
  }
  // Listed, but its file is gone.
  auto gone = router().route(
      with_token("/api/v1/snapshots/web/20231114T225000Z-leak-series-2of3/download"));
  EXPECT_EQ(gone.status, 404);
}

TEST_F(RouterTest, Diff) {
  const std::string ids =
      "base=web/20231114T224000Z-leak-series-1of3&target=web%2F20231114T225000Z-leak-series-2of3";
  EXPECT_EQ(router().route(ServerRequest::get("/api/v1/diff?" + ids)).status, 401);
  EXPECT_EQ(router().route(with_token("/api/v1/diff?" + ids, "bad")).status, 403);
  EXPECT_EQ(store_.diffs, 0);

  auto rt = router();
  auto r = rt.route(with_token("/api/v1/diff?" + ids + "&limit=2"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["classes"].size(), 2u);
  EXPECT_EQ(j["base"], "web/20231114T224000Z-leak-series-1of3");
  EXPECT_EQ(j["target"], "web/20231114T225000Z-leak-series-2of3");
  EXPECT_EQ(store_.diffs, 1);
  EXPECT_EQ(rt.route(with_token("/api/v1/diff?" + ids + "&limit=2")).body, r.body);
  EXPECT_EQ(store_.diffs, 1) << "repeated comparisons come from the cache";

  EXPECT_EQ(
      router().route(with_token("/api/v1/diff?base=web/20231114T224000Z-leak-series-1of3")).status,
      400);
  EXPECT_EQ(router().route(with_token("/api/v1/diff?" + ids + "&limit=0")).status, 400);
  EXPECT_EQ(router().route(with_token("/api/v1/diff?base=web/x&target=web/y")).status, 404);
  auto failed = router().route(
      with_token("/api/v1/diff?base=web/20231114T224000Z-leak-series-1of3&target=web/"
                 "20231114T224000Z-leak-series-1of3"));
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(json::parse(failed.body)["error"], "diff_failed");
}

TEST_F(RouterTest, DiffIsOffloadedWhenAWorkerIsGiven) {
  std::vector<std::function<void()>> jobs;
  options_.offload = [&](std::function<void()> job) { jobs.push_back(std::move(job)); };
  auto rt = router();
  std::optional<ServerResponse> got;
  rt.handle(with_token("/api/v1/diff?base=web/20231114T224000Z-leak-series-1of3&target=web/"
                       "20231114T225000Z-leak-series-2of3"),
            [&](ServerResponse r) { got = std::move(r); });
  EXPECT_FALSE(got) << "not answered on the io thread";
  ASSERT_EQ(jobs.size(), 1u);
  jobs[0]();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  // A refused request is answered at once, without a job.
  got.reset();
  rt.handle(ServerRequest::get("/api/v1/diff?base=a&target=b"),
            [&](ServerResponse r) { got = std::move(r); });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 401);
  EXPECT_EQ(jobs.size(), 1u);
}

TEST_F(RouterTest, DashboardAssets) {
  auto r = router().route(ServerRequest::get("/"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<script src=\"/app.js\""), std::string::npos);
  EXPECT_NE(r.header("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(r.body.find("http://"), std::string::npos) << "no external resources";
  EXPECT_EQ(r.body.find("https://"), std::string::npos) << "no external resources";
  auto js = router().route(ServerRequest::get("/app.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  auto etag = std::string(js.header("ETag"));
  ASSERT_FALSE(etag.empty());
  auto again = ServerRequest::get("/app.js");
  again.headers.emplace_back("if-none-match", etag);
  auto cached = router().route(again);
  EXPECT_EQ(cached.status, 304);
  EXPECT_TRUE(cached.body.empty());
  EXPECT_EQ(router().route(ServerRequest::get("/app.css")).status, 200);
  EXPECT_GE(all_assets().size(), 3u);
}

TEST_F(RouterTest, UnknownPathsAndMethods) {
  EXPECT_EQ(router().route(ServerRequest::get("/nope")).status, 404);
  auto api = router().route(ServerRequest::get("/api/v2/status"));
  EXPECT_EQ(api.status, 404);
  EXPECT_EQ(json::parse(api.body)["error"], "not_found");
  auto del = ServerRequest::get("/api/v1/snapshots");
  del.method = "DELETE";
  auto r = router().route(del);
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "GET, HEAD");
  EXPECT_EQ(router().route(ServerRequest::get("/metrics")).header("X-Content-Type-Options"),
            "nosniff");
}

// Class names and retainer paths come from the app's heap: a page that can reach the port (or a
// neighbour on shared loopback) must not read them without the token.
TEST(RouterHeapDetails, StatusShowsTheAnalysisOnlyWithTheToken) {
  auto st = testing::sample_state();
  st.heap_analysis = {
      {"top_growers", json::array({{{"name", "SessionCache"},
                                    {"retainer_path", {{"text", "SessionCache <- app.cache"}}}}})}};
  testing::FixedProvider provider(st);
  RouterOptions o;
  o.token = core::Secret("tok-123", "test");
  Router r(o, provider, nullptr);
  auto anon = r.route(ServerRequest::get("/api/v1/status"));
  ASSERT_EQ(anon.status, 200);
  EXPECT_EQ(anon.body.find("SessionCache"), std::string::npos) << anon.body;
  EXPECT_EQ(json::parse(anon.body)["redacted"], json::array({"analysis"}));
  auto req = ServerRequest::get("/api/v1/status");
  req.headers.emplace_back("authorization", "Bearer tok-123");
  auto authed = r.route(req);
  ASSERT_EQ(authed.status, 200);
  EXPECT_EQ(json::parse(authed.body)["analysis"]["top_growers"][0]["name"], "SessionCache");
  req.headers.back().second = "Bearer nope";
  EXPECT_EQ(r.route(req).status, 403) << "a wrong token is refused, not silently redacted";
}

TEST_F(RouterTest, SnapshotMetadataKeepsTheAnalysisForTheTokenOnly) {
  store_.items[1].metadata = {
      {"id", store_.items[1].id},
      {"analysis",
       {{"base", store_.items[0].id},
        {"top_growers",
         json::array({{{"name", "LeakyThing"},
                       {"retainer_path", {{"text", "LeakyThing <- (GC roots)"}}}}})}}}};
  const std::string url = "/api/v1/snapshots/" + store_.items[1].id;
  auto anon = router().route(ServerRequest::get(url));
  ASSERT_EQ(anon.status, 200);
  EXPECT_EQ(anon.body.find("LeakyThing"), std::string::npos) << anon.body;
  auto j = json::parse(anon.body);
  EXPECT_EQ(j["metadata"]["id"], store_.items[1].id);
  EXPECT_EQ(j["redacted"], json::array({"metadata.analysis"}));
  auto authed = router().route(with_token(url));
  ASSERT_EQ(authed.status, 200);
  EXPECT_EQ(json::parse(authed.body)["metadata"]["analysis"]["top_growers"][0]["name"],
            "LeakyThing");
  EXPECT_EQ(router().route(with_token(url, "tok-999")).status, 403);
}

// A reload that changes server.token must make the old token useless at once.
TEST_F(RouterTest, ReconfigureRotatesTheTokenAndNamesWhatNeedsARestart) {
  Router r = router();
  const std::string url = "/api/v1/snapshots/web/20231114T224000Z-leak-series-1of3/download";
  ASSERT_EQ(r.route(with_token(url, "tok-123")).status, 200);
  config::ServerSettings running;
  running.token = core::Secret("tok-123", "env OLD");
  config::ServerSettings next = running;
  next.token = core::Secret("tok-456", "file /run/credentials/leakwatch.service/api-token");
  auto restart = reconfigure(&r, nullptr, running, next);
  EXPECT_TRUE(restart.empty());
  EXPECT_EQ(r.route(with_token(url, "tok-123")).status, 403) << "the old token no longer works";
  EXPECT_EQ(r.route(with_token(url, "tok-456")).status, 200);
  EXPECT_EQ(running.token.reveal(), "tok-456");
  next.listen = "127.0.0.1:9999";
  next.enabled = false;
  restart = reconfigure(&r, nullptr, running, next);
  EXPECT_EQ(restart, (std::vector<std::string>{"server.enabled", "server.listen"}));
  EXPECT_EQ(running.listen, "127.0.0.1:9464") << "what is in effect keeps the old address";
  EXPECT_TRUE(running.enabled);
  EXPECT_EQ(reconfigure(&r, nullptr, running, next).size(), 2u) << "said again at each reload";
}

TEST(RouterNoArchive, EmptyListing) {
  testing::FixedProvider provider(engine::Status{});
  Router r(RouterOptions{}, provider, nullptr);
  auto res = r.route(ServerRequest::get("/api/v1/snapshots"));
  ASSERT_EQ(res.status, 200);
  auto j = json::parse(res.body);
  EXPECT_TRUE(j["snapshots"].empty());
  EXPECT_EQ(j["archive"], false);
  EXPECT_EQ(r.route(ServerRequest::get("/api/v1/snapshots/web/x")).status, 404);
}

TEST(ServerOptionsFromConfig, MapsEveryKey) {
  config::ServerSettings s;
  s.listen = "127.0.0.1:0";
  s.max_request_bytes = 1000;
  s.max_connections = 3;
  s.rate_limit_per_second = 5;
  s.rate_limit_burst = 7;
  s.max_connections_per_address = 2;
  s.allowed_hosts = {"LeakWatch.Internal"};
  auto o = server_options(s);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->port, 0);
  EXPECT_EQ(o->max_request_bytes, 1000u);
  EXPECT_EQ(o->max_connections, 3);
  EXPECT_EQ(o->rate_limit_burst, 7);
  EXPECT_EQ(o->max_connections_per_address, 2);
  EXPECT_EQ(o->allowed_hosts, std::vector<std::string>{"leakwatch.internal"});
  s.listen = "nonsense";
  EXPECT_FALSE(server_options(s));
}

}  // namespace
}  // namespace leakwatch::api
