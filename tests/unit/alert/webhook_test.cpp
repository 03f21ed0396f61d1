#include "leakwatch/alert/webhook.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace leakwatch;
using namespace leakwatch::alert;
using nlohmann::json;

namespace {

Event sample_event() {
  Event e;
  e.type = EventType::leak_suspected;
  e.time = core::from_unix_seconds(1'700'000'000);
  e.target = "web";
  e.memory = {100, 90, std::nullopt};
  e.leak = LeakFigures{};
  e.leak->slope_bytes_per_hour = 1000;
  e.leak->confidence = 0.5;
  e.id = "evt_abc";
  e.incident_id = "inc_def";
  e.incident_opened = e.time;
  return e;
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), buf.size(), p))
    out += buf.data();
  pclose(p);
  return out;
}

}  // namespace

TEST(WebhookPayload, VersionedSchemaWithAllSections) {
  json j = webhook_payload(sample_event(), {"https://lw.example/"});
  EXPECT_EQ(j["schema"], "leakwatch.alert/v1");
  EXPECT_EQ(j["id"], "evt_abc");
  EXPECT_EQ(j["type"], "leak_suspected");
  EXPECT_EQ(j["severity"], "warning");
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20Z");
  EXPECT_EQ(j["time_unix"], 1700000000.0);
  EXPECT_EQ(j["incident"]["id"], "inc_def");
  EXPECT_EQ(j["incident"]["status"], "open");
  EXPECT_EQ(j["target"]["name"], "web");
  EXPECT_TRUE(j["target"]["instance"].is_null());
  EXPECT_EQ(j["memory"]["usage_bytes"], 100);
  EXPECT_TRUE(j["memory"]["limit_bytes"].is_null());
  EXPECT_EQ(j["leak"]["slope_bytes_per_hour"], 1000.0);
  EXPECT_TRUE(j["leak"]["forecast_seconds"].is_null());
  EXPECT_TRUE(j["capture"].is_null());
  EXPECT_EQ(j["links"]["dashboard"], "https://lw.example/");
  // Every documented top-level key is always present (null when unknown).
  for (const char* k :
       {"schema",         "id",        "type",     "severity",       "time",      "time_unix",
        "summary",        "next_step", "reminder", "reminder_count", "escalated", "incident",
        "target",         "memory",    "leak",     "capture",        "reason",    "oom_kill_count",
        "recovered_from", "links",     "identity"})
    EXPECT_TRUE(j.contains(k)) << k;
}

TEST(WebhookPayload, CaptureWithGrowers) {
  Event e = sample_event();
  e.type = EventType::capture_completed;
  e.capture = CaptureFigures{};
  e.capture->archive_ids = {"a", "b"};
  e.capture->top_growers = {{"Array", 4096, 10, {"(GC roots)", "global"}, {}}};
  json j = webhook_payload(e);
  EXPECT_EQ(j["capture"]["diff_command"], "leakwatch diff a b");
  EXPECT_EQ(j["capture"]["top_growers"][0]["name"], "Array");
  EXPECT_EQ(j["capture"]["top_growers"][0]["size_delta"], 4096);
  EXPECT_EQ(j["capture"]["top_growers"][0]["retainer_path"][1], "global");
  EXPECT_TRUE(j["links"]["dashboard"].is_null());
}

TEST(Signature, Rfc4231TestCase2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signature, HeaderFormatAndVerification) {
  core::Secret secret("whsec_test_0123456789", "test");
  std::string body = R"({"schema":"leakwatch.alert/v1"})";
  std::string h = signature_header(secret, 1700000000, body);
  EXPECT_EQ(h.rfind("t=1700000000,v1=", 0), 0u);
  EXPECT_EQ(h.size(), std::string("t=1700000000,v1=").size() + 64);
  EXPECT_EQ(verify_signature(h, secret, body, 1700000000), SignatureCheck::valid);
  EXPECT_EQ(verify_signature(h, secret, body, 1700000299), SignatureCheck::valid);
  EXPECT_EQ(verify_signature(h, secret, body, 1700000301), SignatureCheck::expired);  // replay
  EXPECT_EQ(verify_signature(h, secret, body + " ", 1700000000), SignatureCheck::mismatch);
  EXPECT_EQ(verify_signature(h, core::Secret("other", ""), body, 1700000000),
            SignatureCheck::mismatch);
  EXPECT_EQ(verify_signature("v1=abc", secret, body, 1700000000), SignatureCheck::malformed);
  EXPECT_EQ(verify_signature("garbage", secret, body, 1700000000), SignatureCheck::malformed);
  // Extra schemes and several v1 values (secret rotation) are allowed.
  EXPECT_EQ(verify_signature("t=1700000000,v0=zz,v1=00," + h.substr(h.find("v1=")), secret, body,
                             1700000000),
            SignatureCheck::valid);
}

TEST(Signature, MatchesOpensslCli) {
  if (std::system("openssl version >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl CLI";
  core::Secret secret("s3cr3t-signing-key", "test");
  std::string body = webhook_payload(sample_event()).dump();
  std::string h = signature_header(secret, 1700000123, body);
  auto dir = std::filesystem::temp_directory_path() / ("lw-alert-sig-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    std::ofstream f(dir / "signed", std::ios::binary);
    f << "1700000123." << body;
  }
  std::string out =
      run("openssl dgst -sha256 -hmac 's3cr3t-signing-key' -r '" + (dir / "signed").string() + "'");
  std::filesystem::remove_all(dir);
  ASSERT_GE(out.size(), 64u) << out;
  EXPECT_EQ("t=1700000123,v1=" + out.substr(0, 64), h);
}
