// The daemon's whole object graph in one process: a sample read from a cgroup tree becomes an
// event, the event an alert delivered to a webhook on loopback, and both show in the status that
// the API serves.
#include "leakwatch/daemon/daemon.h"

#include <gtest/gtest.h>
#include <cstdlib>

#include <fstream>
#include <nlohmann/json.hpp>

#include "leakwatch/http/client.h"
#include "support/io_wait.h"
#include "support/temp_dir.h"

namespace leakwatch::daemon {
namespace {

namespace fs = std::filesystem;
using leakwatch::testing::run_until;

void write(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

TEST(Daemon, ASampleBecomesAnEventAnAlertAndTheStatusTheApiServes) {
  ::unsetenv("ECS_CONTAINER_METADATA_URI_V4");  // the identity is the host's, wherever this runs
  leakwatch::testing::UniqueTempDir tmp;
  const fs::path dir = tmp.path();
  const fs::path cg = dir / "cgroup";
  fs::create_directories(cg);
  write(cg / "memory.current", "314572800\n");
  write(cg / "memory.max", "1073741824\n");
  write(cg / "memory.stat", "anon 300000000\ninactive_file 0\n");
  write(cg / "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");

  boost::asio::io_context io;
  std::vector<std::string> delivered;
  http::ServerOptions ro;
  ro.port = 0;
  http::Server receiver(io, ro, [&](const http::ServerRequest& req, http::Responder respond) {
    delivered.push_back(req.body);
    respond(http::ServerResponse::text(200, "ok"));
  });
  ASSERT_TRUE(receiver.start().ok());

  const std::string yaml = "target:\n  name: web\n  source: cgroup\n  cgroup_path: " + cg.string() +
                           "\npoll_interval: 100ms\nstate_dir: " + (dir / "state").string() +
                           "\ndetection:\n  oom_cycles: 1\nalerts:\n  webhooks:\n"
                           "    - name: hook\n      url: http://127.0.0.1:" +
                           std::to_string(receiver.port()) +
                           "/hook\nserver:\n  listen: 127.0.0.1:0\n";
  auto loaded = config::load_string(yaml, "daemon_test.yaml");
  for (const auto& p : loaded.problems)
    ADD_FAILURE() << p.to_string();
  ASSERT_TRUE(loaded.config);

  core::SystemClock clock;
  DaemonOptions options;
  options.build.version = "test";
  Daemon daemon(io, clock, options);
  auto started = daemon.start(*loaded.config);
  ASSERT_TRUE(started.ok()) << started.error().to_string();
  ASSERT_TRUE(daemon.api_port());

  ASSERT_TRUE(run_until(io, [&] { return daemon.snapshot().counters.samples >= 2; }));
  write(cg / "memory.events", "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\n");
  auto has = [&](const std::string& what) {
    for (const auto& body : delivered)
      if (body.find(what) != std::string::npos) return true;
    return false;
  };
  ASSERT_TRUE(run_until(io, [&] { return has("\"oom_kill\"") && has("\"leak_suspected\""); }))
      << delivered.size() << " alerts delivered";

  // The status the API serves is the daemon's one status: the sample, the event and the alert.
  http::Client client(io);
  http::Request req;
  req.url =
      http::Url::parse("http://127.0.0.1:" + std::to_string(*daemon.api_port()) + "/api/v1/status")
          .value();
  std::optional<core::Result<http::Response>> got;
  client.request(req, [&](core::Result<http::Response> r) { got = std::move(r); });
  ASSERT_TRUE(run_until(io, [&] { return got.has_value(); }));
  ASSERT_TRUE(got->ok()) << got->error().to_string();
  auto status = nlohmann::json::parse((*got)->body, nullptr, false);
  ASSERT_TRUE(status.is_object()) << (*got)->body;
  EXPECT_EQ(status["target"], "web");
  EXPECT_EQ(status["detector"]["state"], "leak_suspected");
  EXPECT_EQ(status["build"]["version"], "test");
  std::vector<std::string> kinds;
  for (const auto& m : status["markers"])
    kinds.push_back(m["kind"]);
  EXPECT_NE(std::find(kinds.begin(), kinds.end(), "oom_kill"), kinds.end());
  bool hook_delivered = false;
  for (const auto& a : status["counters"]["alerts"])
    if (a["sink"] == "hook" && a["result"] == "delivered" && a["count"] >= 2) hook_delivered = true;
  EXPECT_TRUE(hook_delivered) << status["counters"].dump();
  EXPECT_GE(status["samples"].size(), 2u);
  // The identity the daemon resolved once (the host's, outside ECS) names the target in the status
  // and in every alert, with the same words.
  ASSERT_TRUE(status["identity"].is_object()) << status["identity"];
  EXPECT_EQ(status["identity"]["platform"], "host");
  EXPECT_FALSE(status["identity"].value("host", "").empty());
  for (const auto& body : delivered) {
    auto alert = nlohmann::json::parse(body, nullptr, false);
    EXPECT_EQ(alert["identity"], status["identity"]) << body;
  }
  EXPECT_TRUE(status["capture"].is_null()) << "no capture runs";

  bool stopped = false;
  daemon.stop(std::chrono::seconds(5), [&] { stopped = true; });
  ASSERT_TRUE(run_until(io, [&] { return stopped; }));
  EXPECT_TRUE(fs::exists(dir / "state")) << "the stop persisted the state";
}

}  // namespace
}  // namespace leakwatch::daemon
