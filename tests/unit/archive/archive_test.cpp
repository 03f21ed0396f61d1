#include "leakwatch/archive/archive.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "leakwatch/archive/capture_lock.h"
#include "leakwatch/archive/codec.h"
#include "leakwatch/core/fs.h"

namespace fs = std::filesystem;
using namespace leakwatch;
using archive::Archive;
using archive::Compression;
using archive::Metadata;
using archive::Reason;

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/lw-archive-XXXXXX";
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

// Something shaped like a snapshot, compressible but not trivially.
std::string fake_snapshot(std::size_t n, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s = R"({"snapshot":{"meta":{}},"nodes":[)";
  while (s.size() < n)
    s += std::to_string(rng() % 100000) + ",";
  s.resize(n - 2);
  s += "]}";
  return s;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

core::TimePoint t0() {
  return core::from_unix_seconds(1'790'000'000);
}  // 2026-09-21T...

archive::ArchiveSettings settings_for(const fs::path& dir) {
  archive::ArchiveSettings s;
  s.dir = dir.string();
  return s;
}

core::Result<Metadata> store(Archive& a, const std::string& body, core::TimePoint when,
                             Reason reason = {}, Compression c = Compression::none,
                             const std::string& target = "web") {
  auto p = a.begin(target, when, reason, c);
  if (!p.ok()) return p.error();
  for (std::size_t off = 0; off < body.size(); off += 65536) {
    auto st = (*p)->write(std::string_view(body).substr(off, 65536));
    if (!st.ok()) return st.error();
  }
  Metadata m;
  m.started_at = when;
  m.finished_at = when + std::chrono::seconds(3);
  m.reason = reason;
  return (*p)->commit(m);
}

}  // namespace

TEST(Archive, CommitWritesSnapshotAndMetadataUnderFinalNames) {
  TempDir d;
  Archive a(settings_for(d.path()));
  ASSERT_TRUE(a.open().ok());
  auto body = fake_snapshot(300000);
  auto m = store(a, body, t0());
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->id, "web/" + core::format_utc_compact(t0()) + "-manual");
  EXPECT_EQ(m->size_bytes, body.size());
  EXPECT_EQ(m->stored_bytes, body.size());
  EXPECT_EQ(m->sha256, archive::sha256_hex(body));
  EXPECT_EQ(m->stored_sha256, m->sha256);
  auto files = names_in(d.path());
  std::string stem = core::format_utc_compact(t0()) + "-manual";
  EXPECT_EQ(files,
            (std::vector<std::string>{"web/" + stem + ".heapsnapshot", "web/" + stem + ".json"}));
  auto on_disk = core::read_file(d.path() / "web" / (stem + ".heapsnapshot"), 1 << 24);
  ASSERT_TRUE(on_disk.ok());
  EXPECT_EQ(*on_disk, body);

  auto got = a.get(m->id);
  ASSERT_TRUE(got.ok()) << got.error().to_string();
  EXPECT_EQ(got->sha256, m->sha256);
  EXPECT_EQ(got->reason.kind, "manual");
  EXPECT_EQ(core::to_unix_seconds(got->started_at), core::to_unix_seconds(t0()));
  auto listed = a.list();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, m->id);
}

TEST(Archive, AnnotateAddsTheDiffToTheMetadataAndKeepsTheRest) {
  TempDir d;
  Archive a(settings_for(d.path()));
  ASSERT_TRUE(a.open().ok());
  auto m = store(a, fake_snapshot(1000), t0());
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  nlohmann::json analysis = {{"base", "web/x"},
                             {"top_growers", {{{"name", "Socket"}, {"size_delta", 4096}}}}};
  ASSERT_TRUE(a.annotate(m->id, analysis).ok());
  auto got = a.get(m->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->analysis["top_growers"][0]["name"], "Socket");
  EXPECT_EQ(got->sha256, m->sha256);
  EXPECT_EQ(names_in(d.path()).size(), 2u);  // no temporary file left behind
  EXPECT_FALSE(a.annotate("web/20000101T000000Z-manual", analysis).ok());
}

TEST(Archive, EveryMetadataFileCarriesTheTargetIdentityAndAnnotateKeepsIt) {
  TempDir d;
  auto settings = settings_for(d.path());
  settings.identity.platform = "ecs";
  settings.identity.cluster = "prod";
  settings.identity.family = "web-api";
  settings.identity.revision = "42";
  settings.identity.task_arn = "arn:aws:ecs:eu-west-1:1:task/prod/5f2c9d0e";
  settings.identity.task_id = "5f2c9d0e";
  settings.identity.container = "app";
  Archive a(settings);
  ASSERT_TRUE(a.open().ok());
  auto m = store(a, fake_snapshot(1000), t0());
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->identity, settings.identity);
  std::string stem = m->id.substr(m->id.find('/') + 1);
  auto text = core::read_file(d.path() / "web" / (stem + ".json"), 1 << 20);
  ASSERT_TRUE(text.ok());
  auto j = nlohmann::json::parse(*text);
  EXPECT_EQ(j["identity"]["cluster"], "prod");
  EXPECT_EQ(j["identity"]["task_family"], "web-api");
  EXPECT_EQ(j["identity"]["task_revision"], "42");
  EXPECT_EQ(j["identity"]["task_id"], "5f2c9d0e");
  EXPECT_EQ(j["identity"]["container"], "app");
  ASSERT_TRUE(a.annotate(m->id, nlohmann::json{{"base", "web/x"}}).ok());
  auto got = a.get(m->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->identity, settings.identity);

  // Hostile metadata: unknown keys and non-strings are ignored, values are cleaned.
  auto hostile = nlohmann::json::parse(*text);
  hostile["identity"] = {{"cluster", "a\nb"}, {"password", "x"}, {"task_id", 7}};
  auto back = Metadata::from_json(hostile);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->identity.cluster, "a?b");
  EXPECT_TRUE(back->identity.task_id.empty());
  // No identity (a file written before it existed): null, and empty when read back.
  Metadata plain;
  EXPECT_TRUE(plain.to_json()["identity"].is_null());
}

// What a restarted daemon's alerts name: the newest capture taken in this task (not one of an
// older task on the same volume), after the base of its diff; a hostile base is left out.
TEST(Archive, LatestCaptureIdsAreThisTasksNewestAndItsDiffBase) {
  TempDir d;
  auto here = settings_for(d.path());
  here.identity.platform = "ecs";
  here.identity.task_arn = "arn:aws:ecs:eu-west-1:1:task/prod/aaaa";
  auto older_task = here;
  older_task.identity.task_arn = "arn:aws:ecs:eu-west-1:1:task/prod/bbbb";
  Archive a(here), other(older_task);
  ASSERT_TRUE(a.open().ok());
  EXPECT_TRUE(a.latest_capture_ids("web", here.identity).empty());
  auto first = store(a, fake_snapshot(1000), t0());
  auto second = store(a, fake_snapshot(1000), t0() + std::chrono::minutes(10));
  ASSERT_TRUE(first.ok() && second.ok());
  // Newer, but written by another task sharing the volume.
  ASSERT_TRUE(store(other, fake_snapshot(1000), t0() + std::chrono::minutes(20)).ok());
  EXPECT_EQ(a.latest_capture_ids("web", here.identity), std::vector<std::string>{second->id});
  ASSERT_TRUE(a.annotate(second->id, {{"base", first->id}}).ok());
  EXPECT_EQ(a.latest_capture_ids("web", here.identity),
            (std::vector<std::string>{first->id, second->id}));
  ASSERT_TRUE(a.annotate(second->id, {{"base", "../../etc/passwd"}}).ok());
  EXPECT_EQ(a.latest_capture_ids("web", here.identity), std::vector<std::string>{second->id});
  EXPECT_TRUE(a.latest_capture_ids("api", here.identity).empty());
  EXPECT_EQ(other.latest_capture_ids("web", older_task.identity).size(), 1u);
}

TEST(Archive, SnapshotsAreNotReadableByOtherUsers) {
  TempDir d;
  auto root = d.path() / "archive";
  Archive a(settings_for(root));
  ASSERT_TRUE(a.open().ok());
  auto m = store(a, fake_snapshot(1000), t0());
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  auto others = fs::perms::others_read | fs::perms::others_write | fs::perms::others_exec;
  EXPECT_EQ(fs::status(root).permissions() & others, fs::perms::none);
  EXPECT_EQ(fs::status(root / "web").permissions() & others, fs::perms::none);
  for (auto& e : fs::directory_iterator(root / "web"))
    EXPECT_EQ(e.status().permissions() & others, fs::perms::none) << e.path();
}

TEST(Archive, FilesAreOwnerOnlyAndExportNeverWritesThroughAPlantedSymlink) {
  TempDir d;
  auto root = d.path() / "archive";
  Archive a(settings_for(root));
  ASSERT_TRUE(a.open().ok());
  auto m = store(a, fake_snapshot(1000), t0());
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  auto group_others = fs::perms::group_all | fs::perms::others_all;
  EXPECT_EQ(fs::status(root).permissions() & group_others, fs::perms::none);
  EXPECT_EQ(fs::status(root / "web").permissions() & group_others, fs::perms::none);
  for (auto& e : fs::directory_iterator(root / "web"))
    EXPECT_EQ(e.status().permissions() & group_others, fs::perms::none) << e.path();
  // Someone who can write the destination directory plants the temporary name as a symlink.
  auto victim = d.path() / "victim.txt";
  std::ofstream(victim) << "precious";
  auto out = d.path() / "out.heapsnapshot";
  fs::create_symlink(victim, d.path() / (".tmp-out.heapsnapshot-" + std::to_string(::getpid())));
  ASSERT_TRUE(a.export_to(m->id, out).ok());
  EXPECT_EQ(core::read_file(victim, 100).value(), "precious");
  EXPECT_EQ(fs::symlink_status(out).type(), fs::file_type::regular);
  EXPECT_EQ(fs::status(out).permissions() & group_others, fs::perms::none)
      << "an exported snapshot holds user data: 0600";
}

TEST(CaptureLock, OneHolderAtATimeAcrossOpenFiles) {
  TempDir d;
  auto root = d.path() / "archive";
  {
    auto first = archive::CaptureLock::try_acquire(root);
    ASSERT_TRUE(first.ok()) << first.error().to_string();
    // flock conflicts between separate opens even in one process, as between the daemon and CLI.
    auto second = archive::CaptureLock::try_acquire(root);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.error().code, core::Errc::busy);
  }
  EXPECT_TRUE(archive::CaptureLock::try_acquire(root).ok()) << "released with its holder";
  EXPECT_EQ(fs::status(root).permissions() & (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);
}

TEST(Archive, ZstdRoundTripAndExportGivesThePlainSnapshot) {
  TempDir d;
  Archive a(settings_for(d.path()));
  ASSERT_TRUE(a.open().ok());
  auto body = fake_snapshot(2'000'000, 7);
  Reason r{"leak_series", 2, 3, "s1"};
  auto m = store(a, body, t0(), r, Compression::zstd);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->compression, Compression::zstd);
  EXPECT_LT(m->stored_bytes, body.size() / 2);
  EXPECT_TRUE(m->file.ends_with(".heapsnapshot.zst"));
  EXPECT_TRUE(m->id.ends_with("-leak-series-2of3"));
  EXPECT_EQ(m->sha256, archive::sha256_hex(body));
  auto stored = core::read_file(d.path() / "web" / m->file, 1 << 24);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(m->stored_sha256, archive::sha256_hex(*stored));
  EXPECT_EQ(m->stored_bytes, stored->size());

  auto out = d.path() / "exported.heapsnapshot";
  ASSERT_TRUE(a.export_to(m->id, out).ok());
  auto exported = core::read_file(out, 1 << 24);
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(*exported, body);

  auto reader = a.open_reader(m->id, true);
  ASSERT_TRUE(reader.ok());
  std::string all, buf;
  for (;;) {
    ASSERT_TRUE((*reader)->read(buf, 4096).ok());
    if (buf.empty()) break;
    EXPECT_LE(buf.size(), 4096u);
    all += buf;
  }
  EXPECT_EQ(all, body);
  auto got = a.get(m->id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->reason.describe(), "leak_series 2 of 3");
}

TEST(Archive, ExportDetectsACorruptedFile) {
  TempDir d;
  Archive a(settings_for(d.path()));
  ASSERT_TRUE(a.open().ok());
  auto m = store(a, fake_snapshot(10000), t0());
  ASSERT_TRUE(m.ok());
  {
    std::fstream f(d.path() / "web" / m->file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(500);
    f.put('#');
  }
  auto st = a.export_to(m->id, d.path() / "out.heapsnapshot");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, core::Errc::corrupt);
  EXPECT_FALSE(fs::exists(d.path() / "out.heapsnapshot"));
}

TEST(Archive, AbortAndDestructionLeaveNothing) {
  TempDir d;
  Archive a(settings_for(d.path()));
  ASSERT_TRUE(a.open().ok());
  {
    auto p = a.begin("web", t0(), {}, Compression::zstd);
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE((*p)->write(fake_snapshot(100000)).ok());
    EXPECT_TRUE(fs::exists((*p)->temp_path()));
    EXPECT_TRUE((*p)->temp_path().filename().string().starts_with(".partial-"));
  }  // destroyed without commit
  {
    auto p = a.begin("web", t0(), {}, Compression::none);
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE((*p)->write("{\"snapshot\":{").ok());
    (*p)->abort();
    (*p)->abort();  // idempotent
  }
  EXPECT_TRUE(names_in(d.path()).empty());
  EXPECT_TRUE(a.list()->empty());
}

TEST(Archive, CapturesInTheSameSecondGetDistinctIds) {
  TempDir d;
  Archive a(settings_for(d.path()));
  auto m1 = store(a, fake_snapshot(1000), t0());
  auto m2 = store(a, fake_snapshot(1000, 2), t0());
  ASSERT_TRUE(m1.ok() && m2.ok());
  EXPECT_NE(m1->id, m2->id);
  EXPECT_TRUE(m2->id.ends_with("-manual-2"));
  EXPECT_EQ(a.list()->size(), 2u);
}

TEST(Archive, OpenCleansCrashLeftoversButNotACaptureInProgress) {
  TempDir d;
  Archive a(settings_for(d.path()));
  auto kept = store(a, fake_snapshot(5000), t0());
  ASSERT_TRUE(kept.ok());
  auto dir = d.path() / "web";
  // 1. A dead capture's partial file.
  ASSERT_TRUE(
      core::write_file_atomic(dir / ".partial-20260101T000000Z-manual-999999.heapsnapshot", "{\"sn")
          .ok());
  // 2. Metadata whose snapshot is gone.
  auto orphan = kept->to_json();
  orphan["file"] = "20250101T000000Z-manual.heapsnapshot";
  ASSERT_TRUE(core::write_file_atomic(dir / "20250101T000000Z-manual.json", orphan.dump()).ok());
  // 3. A complete snapshot whose metadata was never written (zstd).
  auto body = fake_snapshot(40000, 3);
  {
    std::string compressed;
    archive::ZstdCompressor z(3);
    auto sink = [&](std::string_view s) {
      compressed.append(s);
      return core::ok_status();
    };
    ASSERT_TRUE(z.write(body, sink).ok());
    ASSERT_TRUE(z.finish(sink).ok());
    ASSERT_TRUE(core::write_file_atomic(dir / "20260102T000000Z-leak-series-1of3.heapsnapshot.zst",
                                        compressed)
                    .ok());
  }
  // 4. A capture in progress (this process holds its lock).
  auto live = a.begin("web", t0() + std::chrono::hours(1), {}, Compression::none);
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE((*live)->write("{\"snapshot\":{").ok());

  auto report = a.open();
  ASSERT_TRUE(report.ok()) << report.error().to_string();
  EXPECT_EQ(report->partial_removed, 1);
  EXPECT_EQ(report->orphan_metadata_removed, 1);
  EXPECT_EQ(report->recovered, 1);
  EXPECT_EQ(report->in_progress_skipped, 1);
  EXPECT_TRUE(fs::exists((*live)->temp_path()));
  EXPECT_FALSE(fs::exists(dir / ".partial-20260101T000000Z-manual-999999.heapsnapshot"));
  EXPECT_FALSE(fs::exists(dir / "20250101T000000Z-manual.json"));

  auto rec = a.get("web/20260102T000000Z-leak-series-1of3");
  ASSERT_TRUE(rec.ok()) << rec.error().to_string();
  EXPECT_EQ(rec->reason.kind, "recovered");
  EXPECT_EQ(rec->sha256, archive::sha256_hex(body));
  EXPECT_EQ(rec->size_bytes, body.size());
  EXPECT_EQ(rec->compression, Compression::zstd);

  // The live capture still completes.
  auto m = (*live)->commit(Metadata{});
  EXPECT_TRUE(m.ok());
  EXPECT_EQ(a.list()->size(), 3u);
}

TEST(Archive, PruneAppliesRetentionAndLeavesPartialFilesAlone) {
  TempDir d;
  auto s = settings_for(d.path());
  s.max_per_target = 2;
  s.max_age = std::chrono::hours(24 * 7);
  s.max_total_bytes = 0;
  Archive a(s);
  using std::chrono::hours;
  ASSERT_TRUE(store(a, fake_snapshot(1000), t0() - hours(24 * 10)).ok());  // too old
  ASSERT_TRUE(store(a, fake_snapshot(1000), t0() - hours(3)).ok());        // beyond the count
  ASSERT_TRUE(store(a, fake_snapshot(1000), t0() - hours(2)).ok());
  ASSERT_TRUE(store(a, fake_snapshot(1000), t0() - hours(1)).ok());
  ASSERT_TRUE(store(a, fake_snapshot(1000), t0() - hours(1), {}, Compression::none, "api").ok());
  auto live = a.begin("web", t0(), {}, Compression::none);
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE((*live)->write("{").ok());

  auto r = a.prune(t0());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->removed.size(), 2u);
  EXPECT_EQ(r->removed[0].rule, "age");
  EXPECT_EQ(r->removed[1].rule, "count");
  EXPECT_EQ(r->freed_bytes, 2000u);
  EXPECT_EQ(a.list("web")->size(), 2u);
  EXPECT_EQ(a.list("api")->size(), 1u);
  EXPECT_TRUE(fs::exists((*live)->temp_path()));
  // Only final names of kept captures, plus the one in progress.
  EXPECT_EQ(names_in(d.path()).size(), 2u * 2 + 2 + 1);
}

TEST(Archive, IdsAreValidated) {
  EXPECT_TRUE(Archive::split_id("web/20260101T000000Z-manual").ok());
  for (const char* bad :
       {"", "web", "../etc/passwd", "web/../x", "web/a/b", "/web/x", "web/.partial-x", "web/"}) {
    auto r = Archive::split_id(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, core::Errc::invalid_id);
  }
  TempDir d;
  Archive a(settings_for(d.path()));
  auto g = a.get("web/nothing-here");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, core::Errc::not_found);
  EXPECT_EQ(Archive::sanitize_target("my app/../x"), "my_app_.._x");
  EXPECT_EQ(Archive::sanitize_target(""), "default");
  EXPECT_EQ(Archive::sanitize_target(".hidden"), "_hidden");
}

TEST(Archive, ContentDispositionFileNamesAreSanitised) {
  using archive::content_disposition_filename;
  EXPECT_EQ(content_disposition_filename(R"(attachment; filename="Heap-2026.heapsnapshot")"),
            "Heap-2026.heapsnapshot");
  EXPECT_EQ(content_disposition_filename("attachment; filename=plain.heapsnapshot"),
            "plain.heapsnapshot");
  EXPECT_EQ(content_disposition_filename(R"(attachment; filename="../../etc/passwd")"), "passwd");
  EXPECT_EQ(content_disposition_filename(R"(attachment; filename="a;b.heapsnapshot"; size=3)"),
            "a_b.heapsnapshot");
  EXPECT_EQ(content_disposition_filename("attachment; filename=\"x\x01y\""), "x_y");
  EXPECT_EQ(content_disposition_filename(
                R"(attachment; filename="fallback"; filename*=UTF-8''h%C3%A9ap.heapsnapshot)"),
            "h\xC3\xA9"
            "ap.heapsnapshot");
  // A broken escape in filename* falls back to filename (one percent-decoder: core/percent.h).
  EXPECT_EQ(content_disposition_filename(
                R"(attachment; filename="fallback.heapsnapshot"; filename*=UTF-8''h%C3%Zap)"),
            "fallback.heapsnapshot");
  EXPECT_EQ(content_disposition_filename("attachment"), "");
  EXPECT_EQ(content_disposition_filename(R"(attachment; filename="...")"), "");
}

// A full disk: a 2 MiB tmpfs mounted as the archive (needs root; skipped otherwise).
class ArchiveDiskFull : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=2m") != 0)
      GTEST_SKIP() << "cannot mount a tmpfs here";
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  TempDir dir_;
  bool mounted_ = false;
};

TEST_F(ArchiveDiskFull, WriteFailsCleanlyAndLeavesNoPartialFile) {
  Archive a(settings_for(dir_.path()));
  ASSERT_TRUE(a.open().ok());
  auto small = store(a, fake_snapshot(100000), t0());
  ASSERT_TRUE(small.ok()) << small.error().to_string();
  auto before = names_in(dir_.path());

  auto p = a.begin("web", t0() + std::chrono::hours(1), {}, Compression::none);
  ASSERT_TRUE(p.ok());
  auto body = fake_snapshot(4'000'000);
  core::Status st = core::ok_status();
  for (std::size_t off = 0; off < body.size() && st.ok(); off += 65536)
    st = (*p)->write(std::string_view(body).substr(off, 65536));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, core::Errc::disk_full);
  EXPECT_NE(st.error().message.find("disk is full"), std::string::npos) << st.error().message;
  auto c = (*p)->commit(Metadata{});
  ASSERT_FALSE(c.ok());
  p->reset();
  EXPECT_EQ(names_in(dir_.path()), before);
  // After freeing space the next capture works.
  ASSERT_TRUE(a.remove(small->id).ok());
  EXPECT_TRUE(store(a, fake_snapshot(200000), t0() + std::chrono::hours(2)).ok());
}
