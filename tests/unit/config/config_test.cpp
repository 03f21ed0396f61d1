#include "leakwatch/config/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

using namespace leakwatch::config;
using namespace std::chrono_literals;

TEST(Config, EmptyFileGivesTheDocumentedDefaults) {
  auto r = load_string("", "empty.yaml");
  ASSERT_TRUE(r.config) << (r.problems.empty() ? "" : r.problems[0].to_string());
  EXPECT_EQ(r.config->poll_interval, 10s);
  EXPECT_EQ(r.config->server.listen, "127.0.0.1:9464");
  EXPECT_EQ(r.config->detection.min_window, leakwatch::detect::DetectorSettings{}.min_window);
}

TEST(Config, EmbeddedDefaultIsValid) {
  auto r = load_string(embedded_default_yaml(), "<embedded>");
  for (const auto& p : r.problems)
    ADD_FAILURE() << p.to_string();
  EXPECT_TRUE(r.config);
}

TEST(Config, ExampleFileIsValidAndShowsEveryKey) {
  auto path = std::filesystem::path(LEAKWATCH_SOURCE_DIR) / "config" / "leakwatch.example.yaml";
  ::setenv("HEAP_SECRET_KEY", "example-key-value", 1);
  ::setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.invalid/services/T/B/X", 1);
  ::setenv("LEAKWATCH_WEBHOOK_SECRET", "whsec-example", 1);
  ::setenv("LEAKWATCH_API_TOKEN", "api-token-example", 1);
  auto r = load_file(path);
  for (const auto& p : r.problems)
    ADD_FAILURE() << p.to_string();
  ASSERT_TRUE(r.config);
  // The example shows the detector's defaults: a default changed in the code is changed there too.
  EXPECT_TRUE(r.config->detection == leakwatch::detect::DetectorSettings{})
      << "the detection section of " << path << " differs from DetectorSettings' defaults";

  // Every key the loader reads is in the example (set, or shown commented out as `# key:`) and
  // has a row in docs/configuration.md. Keys holding sections (`alerts.delivery`) are skipped.
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string example = slurp(path);
  const std::string docs =
      slurp(std::filesystem::path(LEAKWATCH_SOURCE_DIR) / "docs" / "configuration.md");
  ASSERT_GT(r.keys.size(), 80u);              // the index is filled (about 90 keys today)
  std::erase_if(r.keys, [](const auto& kv) {  // a secret's { env: } / { file: } is its own syntax
    auto ends = [&](const std::string& s) { return kv.first.ends_with(s); };
    return ends(".env") || ends(".file");
  });
  int leaves = 0;
  for (const auto& [key, set] : r.keys) {
    auto has_child = [&](const std::string& prefix) {
      auto it = r.keys.lower_bound(prefix);
      return it != r.keys.end() && it->first.rfind(prefix, 0) == 0;
    };
    if (has_child(key + ".") || has_child(key + "[].")) continue;  // a section
    ++leaves;
    const std::string leaf = key.substr(key.find_last_of('.') + 1);
    if (!set) {
      EXPECT_TRUE(std::regex_search(example, std::regex("\\n\\s*#\\s*" + leaf + ":")))
          << key << " is neither set nor shown commented out in " << path;
    }
    EXPECT_NE(docs.find("`" + key + "`"), std::string::npos)
        << key << " has no row in docs/configuration.md";
  }
  EXPECT_GT(leaves, 80);
}

TEST(Config, ReportsEveryProblemAtOnceInFileOrder) {
  auto r = load_string("poll_interval: fast\nserver:\n  listen: nowhere\n  lisen: x\nbogus: 1\n",
                       "c.yaml");
  ASSERT_FALSE(r.config);
  ASSERT_EQ(r.problems.size(), 4u);
  EXPECT_EQ(r.problems[0].to_string().substr(0, 11), "c.yaml:1:16");
  EXPECT_EQ(r.problems[0].key_path, "poll_interval");
  EXPECT_EQ(r.problems[1].key_path, "server.listen");
  EXPECT_EQ(r.problems[2].key_path, "server.lisen");
  EXPECT_EQ(r.problems[3].key_path, "bogus");
}

TEST(Config, MissingFileIsAProblemNotACrash) {
  auto r = load_file("/nonexistent/leakwatch.yaml");
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("/nonexistent/leakwatch.yaml"), std::string::npos);
}

// A table of bad configurations: each must be rejected with the right key path, line and reason.
struct BadCase {
  const char* name;
  const char* yaml;
  const char* key_path;
  int line;
  const char* message_part;
};

class BadConfig : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadConfig, IsRejectedWithPositionKeyAndReason) {
  const auto& c = GetParam();
  ::unsetenv("LW_TEST_UNSET_VAR");
  auto r = load_string(c.yaml, "bad.yaml");
  ASSERT_FALSE(r.config) << c.name;
  bool found = false;
  std::string all;
  for (const auto& p : r.problems) {
    all += p.to_string() + "\n";
    if (p.key_path == c.key_path && p.line == c.line &&
        p.message.find(c.message_part) != std::string::npos)
      found = true;
  }
  EXPECT_TRUE(found) << c.name << ": expected " << c.key_path << " at line " << c.line << " with '"
                     << c.message_part << "', got:\n"
                     << all;
}

// clang-format off
const BadCase kBadCases[] = {
  {"yaml syntax", "server: [unclosed\n", "", 2, "YAML syntax error"},
  {"top level is a list", "- a\n- b\n", "", 1, "must be a mapping"},
  {"unknown top-level key", "pol_interval: 5s\n", "pol_interval", 1, "did you mean 'poll_interval'"},
  {"bad duration", "poll_interval: soon\n", "poll_interval", 1, "expected a duration"},
  {"duration unit", "poll_interval: 5 parsecs\n", "poll_interval", 1, "unknown duration unit"},
  {"poll too fast", "poll_interval: 10ms\n", "poll_interval", 1, "must be between"},
  {"poll too slow", "poll_interval: 2h\n", "poll_interval", 1, "must be between"},
  {"section not a map", "server: 9464\n", "server", 1, "must be a mapping"},
  {"listen without port", "server:\n  listen: localhost\n", "server.listen", 2, "ADDRESS:PORT"},
  {"unknown server key", "server:\n  tokn: {env: X}\n", "server.tokn", 2, "did you mean 'token'"},
  {"bool garbage", "server:\n  enabled: maybe\n", "server.enabled", 2, "expected true or false"},
  {"int garbage", "server:\n  max_connections: lots\n", "server.max_connections", 2, "whole number"},
  {"int out of range", "server:\n  max_connections: 0\n", "server.max_connections", 2, "must be between"},
  {"size garbage", "server:\n  max_request_bytes: big\n", "server.max_request_bytes", 2, "expected a size"},
  {"size too small", "server:\n  max_request_bytes: 10\n", "server.max_request_bytes", 2, "must be between"},
  {"secret env unset", "server:\n  token: {env: LW_TEST_UNSET_VAR}\n", "server.token", 2, "is not set"},
  {"secret file unreadable", "server:\n  token: {file: /nonexistent/lw-token}\n", "server.token", 2, "cannot read secret file"},
  {"secret both", "server:\n  token: {env: A, file: B}\n", "server.token", 2, "exactly one of"},
  {"secret wrong shape", "server:\n  token: [a, b]\n", "server.token", 2, "must be { env: NAME }"},
  {"secret unknown key", "server:\n  token: {envv: A}\n", "server.token.envv", 2, "did you mean 'env'"},
  {"env var in value unset", "state_dir: ${LW_TEST_UNSET_VAR}/state\n", "state_dir", 1, "LW_TEST_UNSET_VAR is not set"},
  {"log format choice", "log:\n  format: xml\n", "log.format", 2, "must be one of: text, json"},
  {"log level choice", "log:\n  level: loud\n", "log.level", 2, "must be one of"},
  {"list where scalar", "poll_interval: [1s]\n", "poll_interval", 1, "expected a single value"},
  {"target source choice", "target:\n  source: docker\n", "target.source", 2, "must be one of: cgroup, ecs, procfs"},
  {"target bad name", "target:\n  name: a/b\n", "target.name", 2, "without '/'"},
  {"ecs needs container", "target:\n  source: ecs\n", "target.ecs_container", 2, "required key is missing"},
  {"procfs needs pid", "target:\n  source: procfs\n", "target.pid", 2, "needs pid: or pid_file:"},
  {"pid out of range", "target:\n  source: procfs\n  pid: -4\n", "target.pid", 3, "must be between"},
  {"capture url scheme", "capture:\n  url: ftp://x/heap\n  key: {env: HOME}\n", "capture.url", 2, "must start with http:// or https://"},
  {"capture key in clear", "capture:\n  url: http://10.0.0.7:3000/heap\n  key: {env: HOME}\n", "capture.url", 2, "sends the heap-dump key in clear"},
  {"capture key in clear by name", "capture:\n  url: http://app.internal/heap\n  key: {env: HOME}\n", "capture.url", 2, "capture.allow_insecure"},
  {"capture localhost lookalike", "capture:\n  url: http://127.0.0.1.evil.example/heap\n  key: {env: HOME}\n", "capture.url", 2, "in clear"},
  {"capture key missing", "capture:\n  url: http://127.0.0.1:3000/heap\n", "capture.key", 2, "heap-dump key is required"},
  {"capture header", "capture:\n  header: 'x key'\n", "capture.header", 2, "valid HTTP header name"},
  {"capture level", "capture:\n  compression_level: 42\n", "capture.compression_level", 2, "must be between 1 and 19"},
  {"capture timeouts", "capture:\n  idle_timeout: 10m\n  total_timeout: 5m\n", "capture.total_timeout", 3, "must not be shorter than idle_timeout"},
  {"capture ca file", "capture:\n  ca_file: /nonexistent/ca.pem\n", "capture.ca_file", 2, "does not exist"},
  {"capture typo", "capture:\n  cooldwon: 5m\n", "capture.cooldwon", 2, "did you mean 'cooldown'"},
  {"archive retention", "archive:\n  max_age: forever\n", "archive.max_age", 2, "expected a duration"},
  {"slack needs url", "alerts:\n  slack:\n    - name: x\n", "alerts.slack[0].webhook_url", 3, "required key is missing"},
  {"slack list shape", "alerts:\n  slack: {webhook_url: x}\n", "alerts.slack", 2, "expected a list"},
  {"webhook needs url", "alerts:\n  webhooks:\n    - secret: {env: HOME}\n", "alerts.webhooks[0].url", 3, "required key is missing"},
  {"alert severity", "alerts:\n  min_severity: loud\n", "alerts.min_severity", 2, "must be one of: info, warning, critical"},
  {"delivery typo", "alerts:\n  delivery:\n    queue_sise: 5\n", "alerts.delivery.queue_sise", 3, "did you mean 'queue_size'"},
  {"detection unknown", "detection:\n  min_windw: 1h\n", "detection.min_windw", 2, "did you mean 'min_window'"},
  {"detection fraction", "detection:\n  min_rise_fraction: 140%\n", "detection.min_rise_fraction", 2, "between 0% and 100%"},
  {"detection duration", "detection:\n  bucket: 0s\n", "detection.bucket", 2, "must be between"},
};
// clang-format on

INSTANTIATE_TEST_SUITE_P(Table, BadConfig, ::testing::ValuesIn(kBadCases), [](const auto& info) {
  std::string n = info.param.name;
  for (auto& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
});

TEST(Config, PlainHttpIsForLoopbackUnlessAllowedInsecure) {
  for (const char* url :
       {"http://127.0.0.1:3000/heap", "http://localhost:3000/heap", "http://[::1]:3000/heap",
        "http://127.1.2.3/heap", "https://app.internal/heap"}) {
    auto r =
        load_string(std::string("capture:\n  url: ") + url + "\n  key: {env: HOME}\n", "c.yaml");
    EXPECT_TRUE(r.config) << url << ": " << (r.problems.empty() ? "" : r.problems[0].to_string());
  }
  auto r = load_string(
      "capture:\n  url: http://10.0.0.7:3000/heap\n  key: {env: HOME}\n  allow_insecure: true\n",
      "c.yaml");
  ASSERT_TRUE(r.config) << r.problems[0].to_string();
  EXPECT_TRUE(r.config->capture.allow_insecure);
}

TEST(Config, BrowsingCommandsLoadWithoutResolvingSecrets) {
  ::unsetenv("LW_TEST_UNSET_KEY");
  const char* yaml =
      "capture:\n  url: http://127.0.0.1:3000/api/heapdump\n  key: {env: LW_TEST_UNSET_KEY}\n"
      "archive:\n  dir: /tmp/lw-archive\n";
  auto strict = load_string(yaml, "c.yaml");
  EXPECT_FALSE(strict.config);
  auto browse = load_string(yaml, "c.yaml", LoadOptions{.resolve_secrets = false});
  ASSERT_TRUE(browse.config);
  EXPECT_EQ(browse.config->archive.dir, "/tmp/lw-archive");
  EXPECT_EQ(browse.config->capture.key.origin(), "env LW_TEST_UNSET_KEY");
}
