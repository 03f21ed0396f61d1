// The capture path end to end against a real Node.js app (tests/peers/heapdump-app): success, every
// misbehaviour of the app, TLS with a test CA, a full disk, and the key never leaking.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <random>
#include <sstream>

#include "leakwatch/archive/archive.h"
#include "leakwatch/archive/codec.h"
#include "leakwatch/capture/capturer.h"
#include "leakwatch/core/fs.h"
#include "leakwatch/core/log.h"
#include "peers/heapdump-app/heapdump_app.h"
#include "support/tls/test_ca.h"

namespace fs = std::filesystem;
using namespace leakwatch;
using namespace std::chrono_literals;
using leakwatch::testing::HeapdumpApp;

namespace {

std::string random_key() {
  std::random_device rd;
  std::string k = "lw-test-key-";
  for (int i = 0; i < 16; ++i)
    k += "abcdefghijklmnopqrstuvwxyz0123456789"[rd() % 36];
  return k;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lw-capture-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Every file in the tree (including hidden partial files), with sizes: "unchanged" means equal.
std::map<std::string, std::uintmax_t> tree(const fs::path& dir) {
  std::map<std::string, std::uintmax_t> out;
  std::error_code ec;
  // The empty capture lock file (archive/capture_lock.h) stays by design: it holds no snapshot.
  for (auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename() != ".capture.lock")
      out[fs::relative(e.path(), dir).string()] = e.file_size();
  return out;
}

// All log output of the capture/archive/http loggers, for the "key never logged" check.
std::shared_ptr<std::ostringstream> g_log = std::make_shared<std::ostringstream>();

class CaptureIntegration : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    key_ = new std::string(random_key());
    app_ = new HeapdumpApp({"--key", *key_});
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*g_log);
    for (const char* name : {"capture", "archive", "http"})
      core::logger(name)->sinks().push_back(sink);
  }
  static void TearDownTestSuite() {
    delete app_;
    app_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(app_->ok()) << app_->error();
    ASSERT_TRUE(app_->set_mode("ok"));
  }

  capture::CaptureSettings settings() const {
    capture::CaptureSettings s;
    s.url = app_->url();
    s.key = core::Secret(*key_, "test");
    s.connect_timeout = 2s;
    s.idle_timeout = 5s;
    s.total_timeout = 20s;
    s.retries = 0;
    s.retry_backoff = 50ms;
    return s;
  }

  archive::ArchiveSettings archive_settings() const {
    archive::ArchiveSettings a;
    a.dir = dir_.path().string();
    return a;
  }

  core::Result<archive::Metadata> capture(const capture::CaptureSettings& s, archive::Archive& a,
                                          archive::Reason reason = {}) {
    capture::CaptureRequest req;
    req.target = "web";
    req.reason = reason;
    core::Sample smp;
    smp.time = clock_.now();
    smp.working_set_bytes = 100 << 20;
    smp.usage_bytes = 120 << 20;
    smp.limit_bytes = 1ull << 30;
    req.sample = smp;
    req.detector_state = {{"state", "leak_suspected"}, {"slope_bytes_per_hour", 1e6}};
    clock_.advance(1s);  // distinct file names
    return capture::capture_sync(s, a, clock_, req);
  }

  // A fault must end with a clear reason, leave the archive exactly as it was, and the next capture
  // must work.
  void expect_fault(const std::string& mode, std::map<std::string, std::string> extra,
                    capture::CaptureSettings s, core::Errc code, const std::string& words) {
    SCOPED_TRACE("mode " + mode);
    archive::Archive a(archive_settings());
    ASSERT_TRUE(a.open().ok());
    auto before = tree(dir_.path());
    ASSERT_TRUE(app_->set_mode(mode, extra));
    auto t0 = std::chrono::steady_clock::now();
    auto r = capture(s, a);
    auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_FALSE(r.ok()) << "mode " << mode << " unexpectedly succeeded";
    EXPECT_EQ(r.error().code, code) << r.error().message;
    EXPECT_NE(r.error().message.find(words), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find(*key_), std::string::npos);
    EXPECT_LT(took, 15s);
    EXPECT_EQ(tree(dir_.path()), before) << "the archive changed after a failed capture";
    // The next capture works (a synthetic snapshot keeps this quick; real ones are tested above).
    ASSERT_TRUE(app_->set_mode("synthetic", {{"bytes", "1000000"}}));
    auto next = capture(settings(), a);
    ASSERT_TRUE(next.ok()) << "next capture after " << mode << ": " << next.error().to_string();
    messages_.push_back(r.error().to_string());
  }

  static std::string* key_;
  static HeapdumpApp* app_;
  TempDir dir_;
  core::ManualClock clock_{core::from_unix_seconds(1'790'000'000)};
  std::vector<std::string> messages_;
};
std::string* CaptureIntegration::key_ = nullptr;
HeapdumpApp* CaptureIntegration::app_ = nullptr;

}  // namespace

TEST_F(CaptureIntegration, RealSnapshotIsArchivedCompressedAndExportsAsValidJson) {
  archive::Archive a(archive_settings());
  ASSERT_TRUE(a.open().ok());
  auto s = settings();
  s.compress = true;
  auto m = capture(s, a, archive::Reason{"leak_series", 1, 3, "s"});
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->compression, archive::Compression::zstd);
  EXPECT_GT(m->size_bytes, 100000u);
  EXPECT_LT(m->stored_bytes, m->size_bytes);
  EXPECT_TRUE(m->original_filename.ends_with(".heapsnapshot")) << m->original_filename;
  EXPECT_EQ(m->source, app_->base());
  EXPECT_EQ(m->attempts, 1);
  EXPECT_TRUE(m->sample.has_value());
  EXPECT_EQ(m->detector_state["state"], "leak_suspected");
  EXPECT_TRUE(m->id.starts_with("web/"));
  EXPECT_TRUE(m->id.ends_with("-leak-series-1of3"));
  // Metadata matches the file.
  auto stored = core::read_file(dir_.path() / "web" / m->file, 1ull << 30);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->size(), m->stored_bytes);
  EXPECT_EQ(archive::sha256_hex(*stored), m->stored_sha256);
  // The export is the plain snapshot, complete JSON that DevTools can load.
  auto out = dir_.path() / "export.heapsnapshot";
  ASSERT_TRUE(a.export_to(m->id, out).ok());
  auto plain = core::read_file(out, 1ull << 30);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->size(), m->size_bytes);
  EXPECT_EQ(archive::sha256_hex(*plain), m->sha256);
  auto j = nlohmann::json::parse(*plain, nullptr, false);
  ASSERT_FALSE(j.is_discarded());
  EXPECT_TRUE(j["snapshot"]["meta"].contains("node_fields"));
  EXPECT_FALSE(j["nodes"].empty());
  EXPECT_FALSE(j["strings"].empty());
}

TEST_F(CaptureIntegration, ArchivedBytesEqualWhatTheAppSent) {
  // The synthetic mode is deterministic: fetch it once directly, then capture it uncompressed.
  ASSERT_TRUE(app_->set_mode("synthetic", {{"bytes", "3000000"}}));
  http::Request req;
  req.url = *http::Url::parse(app_->url());
  req.headers.emplace_back("x-key", *key_);
  req.max_body_bytes = 4'000'000;
  auto direct = http::fetch_sync(req);
  ASSERT_TRUE(direct.ok()) << direct.error().to_string();
  ASSERT_EQ(direct->body.size(), 3'000'000u);
  archive::Archive a(archive_settings());
  auto s = settings();
  s.compress = false;
  auto m = capture(s, a);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->sha256, archive::sha256_hex(direct->body));
  EXPECT_EQ(m->original_filename, "synthetic.heapsnapshot");
  auto stored = core::read_file(dir_.path() / "web" / m->file, 1ull << 30);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, direct->body);
}

TEST_F(CaptureIntegration, WrongKeyIsA403WithAClearMessageAndNoRetry) {
  archive::Archive a(archive_settings());
  auto before = tree(dir_.path());
  auto s = settings();
  s.key = core::Secret("not-the-key", "test");
  s.retries = 3;
  int forbidden_before = app_->stats()["forbidden"].get<int>();
  auto r = capture(s, a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::Errc::forbidden);
  EXPECT_NE(r.error().message.find("the heap-dump key was rejected (403)"), std::string::npos);
  EXPECT_NE(r.error().message.find("share the same key"), std::string::npos);
  EXPECT_EQ(r.error().message.find("not-the-key"), std::string::npos);
  EXPECT_EQ(app_->stats()["forbidden"].get<int>(), forbidden_before + 1);  // asked once, no retry
  EXPECT_EQ(tree(dir_.path()), before);
  EXPECT_TRUE(capture(settings(), a).ok());
}

TEST_F(CaptureIntegration, EveryFaultEndsCleanlyAndTheNextCaptureWorks) {
  auto fast = settings();
  fast.idle_timeout = 600ms;
  expect_fault("error500", {{"times", "1"}}, settings(), core::Errc::server_error, "HTTP 500");
  expect_fault("forbidden", {{"times", "1"}}, settings(), core::Errc::forbidden, "403");
  expect_fault("stall", {{"times", "1"}}, fast, core::Errc::timeout, "idle timeout");
  expect_fault("cut", {{"times", "1"}}, settings(), core::Errc::protocol, "connection closed");
  expect_fault("cut_chunked", {{"times", "1"}}, settings(), core::Errc::protocol,
               "connection closed");
  expect_fault("truncated_close", {{"times", "1"}}, settings(), core::Errc::truncated,
               "ends abruptly");
  expect_fault("garbage", {{"times", "1"}}, settings(), core::Errc::not_a_snapshot,
               "not a heap snapshot");
  expect_fault("empty", {{"times", "1"}}, settings(), core::Errc::not_a_snapshot, "empty");
  expect_fault("slow_start", {{"times", "1"}, {"delay_ms", "3000"}}, fast, core::Errc::timeout,
               "waiting for");
  auto capped = settings();
  capped.max_bytes = 5'000'000;
  expect_fault("huge", {{"times", "1"}, {"bytes", "50000000"}}, capped, core::Errc::too_large,
               "limit");
  expect_fault("huge_announced", {{"times", "1"}, {"bytes", "50000000"}}, capped,
               core::Errc::too_large, "50000000");
  auto total = settings();
  total.total_timeout = 800ms;
  total.idle_timeout = 5s;
  expect_fault("stall", {{"times", "1"}}, total, core::Errc::timeout, "total time limit");
  for (const auto& m : messages_)
    std::printf("  %s\n", m.c_str());
}

TEST_F(CaptureIntegration, SlowStartWithinTheIdleTimeoutSucceeds) {
  archive::Archive a(archive_settings());
  ASSERT_TRUE(app_->set_mode("slow_start", {{"times", "1"}, {"delay_ms", "400"}}));
  auto r = capture(settings(), a);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_GE(r->duration_seconds, 0.39);
}

TEST_F(CaptureIntegration, RetriesA5xxWithBackoffThenSucceeds) {
  archive::Archive a(archive_settings());
  auto s = settings();
  s.retries = 2;
  s.retry_backoff = 100ms;
  ASSERT_TRUE(app_->set_mode("error500", {{"times", "2"}}));
  int before = app_->stats()["requests"].get<int>();
  auto t0 = std::chrono::steady_clock::now();
  auto r = capture(s, a);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(app_->stats()["requests"].get<int>(), before + 3);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);  // 100 ms + 200 ms of backoff
  // Not retried: a body that is not a snapshot.
  ASSERT_TRUE(app_->set_mode("garbage", {{"times", "1"}}));
  before = app_->stats()["requests"].get<int>();
  auto g = capture(s, a);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(app_->stats()["requests"].get<int>(), before + 1);
  // Retried until exhausted: the message says how many attempts.
  ASSERT_TRUE(app_->set_mode("error500", {{"times", "5"}}));
  auto e = capture(s, a);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("after 3 attempts"), std::string::npos) << e.error().message;
}

TEST_F(CaptureIntegration, NeverTwoAtOnce) {
  archive::Archive a(archive_settings());
  boost::asio::io_context io;
  capture::Capturer c(io, settings(), a, clock_);
  std::optional<core::Result<archive::Metadata>> first, second;
  c.capture({}, [&](core::Result<archive::Metadata> r) { first.emplace(std::move(r)); });
  EXPECT_TRUE(c.busy());
  c.capture({}, [&](core::Result<archive::Metadata> r) { second.emplace(std::move(r)); });
  io.run();
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->ok()) << first->error().to_string();
  ASSERT_FALSE(second->ok());
  EXPECT_EQ(second->error().code, core::Errc::busy);
  EXPECT_FALSE(c.busy());
}

TEST_F(CaptureIntegration, TheKeyNeverAppearsInLogsOrMetadata) {
  archive::Archive a(archive_settings());
  ASSERT_TRUE(capture(settings(), a).ok());
  ASSERT_TRUE(app_->set_mode("error500", {{"times", "1"}}));
  EXPECT_FALSE(capture(settings(), a).ok());
  ASSERT_TRUE(app_->set_mode("garbage", {{"times", "1"}}));
  EXPECT_FALSE(capture(settings(), a).ok());
  auto logs = g_log->str();
  EXPECT_NE(logs.find("event=capture_done"), std::string::npos) << "the log capture did not work";
  EXPECT_NE(logs.find("event=capture_failed"), std::string::npos);
  EXPECT_EQ(logs.find(*key_), std::string::npos) << "the key was logged";
  for (auto& e : fs::recursive_directory_iterator(dir_.path())) {
    if (e.path().extension() != ".json") continue;
    auto text = core::read_file(e.path());
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(text->find(*key_), std::string::npos) << e.path();
  }
}

// --- TLS with a test CA --------------------------------------------------------------------------

TEST_F(CaptureIntegration, TlsNeedsTheCaAndTheRightHostName) {
  auto pki = leakwatch::testing::TestPki::make();
  ASSERT_TRUE(pki.ok);
  HeapdumpApp tls_app({"--key", *key_, "--tls-cert", pki.server_cert, "--tls-key", pki.server_key});
  ASSERT_TRUE(tls_app.ok()) << tls_app.error();
  archive::Archive a(archive_settings());
  auto s = settings();
  s.url = tls_app.url(true);
  auto before = tree(dir_.path());
  auto no_ca = capture(s, a);
  ASSERT_FALSE(no_ca.ok());
  EXPECT_EQ(no_ca.error().code, core::Errc::tls);
  EXPECT_NE(no_ca.error().message.find("unknown certificate authority"), std::string::npos)
      << no_ca.error().message;
  EXPECT_EQ(tree(dir_.path()), before);
  s.ca_file = pki.ca;
  auto ok = capture(s, a);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_EQ(ok->source, tls_app.base(true));

  HeapdumpApp wrong(
      {"--key", *key_, "--tls-cert", pki.wrong_host_cert, "--tls-key", pki.wrong_host_key});
  ASSERT_TRUE(wrong.ok()) << wrong.error();
  s.url = wrong.url(true);
  auto mismatch = capture(s, a);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, core::Errc::tls);
  EXPECT_NE(mismatch.error().message.find("not valid for 127.0.0.1"), std::string::npos)
      << mismatch.error().message;
}

// --- A full disk
// -----------------------------------------------------------------------------------

TEST_F(CaptureIntegration, FullDiskFailsCleanlyWithoutPartialFiles) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  TempDir mnt;
  if (::mount("tmpfs", mnt.path().c_str(), "tmpfs", 0, "size=2m") != 0)
    GTEST_SKIP() << "cannot mount tmpfs";
  struct Unmount {
    fs::path p;
    ~Unmount() { ::umount2(p.c_str(), MNT_DETACH); }
  } unmount{mnt.path()};
  archive::ArchiveSettings as;
  as.dir = mnt.path().string();
  archive::Archive a(as);
  ASSERT_TRUE(a.open().ok());
  auto s = settings();
  s.compress = false;
  s.retries = 2;  // a full disk is not retried
  ASSERT_TRUE(app_->set_mode("synthetic", {{"bytes", "6000000"}}));
  int before = app_->stats()["requests"].get<int>();
  auto r = capture(s, a);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::Errc::disk_full) << r.error().message;
  EXPECT_NE(r.error().message.find("disk is full"), std::string::npos) << r.error().message;
  EXPECT_EQ(app_->stats()["requests"].get<int>(), before + 1);
  for (const auto& [name, size] : tree(mnt.path()))
    ADD_FAILURE() << "left behind: " << name << " " << size;
  // Compressed, the same body fits: the archive is usable again at once.
  s.compress = true;
  auto ok = capture(s, a);
  ASSERT_TRUE(ok.ok()) << ok.error().to_string();
  EXPECT_LT(ok->stored_bytes, 2'000'000u);
}
