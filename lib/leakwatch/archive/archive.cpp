#include "leakwatch/archive/archive.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "leakwatch/archive/codec.h"
#include "leakwatch/core/fs.h"
#include "leakwatch/core/log.h"
#include "leakwatch/core/percent.h"
#include "leakwatch/heapsnap/stream_histogram.h"

namespace leakwatch::archive {

namespace fs = std::filesystem;
using core::Error;
using core::make_error;
using core::Result;
using core::Status;
using nlohmann::json;

namespace {

// The filesystem's throwing overloads have no place in code that returns a Result.
bool exists_nothrow(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec);
}
bool is_directory_nothrow(const fs::directory_entry& e) {
  std::error_code ec;
  return e.is_directory(ec);
}

constexpr std::string_view kPartialPrefix = ".partial-";
// Heap snapshots contain user data: owner only (docs/configuration.md).
constexpr int kFileMode = 0600;
constexpr fs::perms kDirMode = fs::perms::owner_all;
constexpr std::string_view kSnapshotExt = ".heapsnapshot";
constexpr std::string_view kZstExt = ".heapsnapshot.zst";

Error errno_error(const std::string& what, const fs::path& p, int err) {
  core::Errc code = err == ENOSPC || err == EDQUOT ? core::Errc::disk_full
                    : err == ENOENT                ? core::Errc::not_found
                                                   : core::Errc::io;
  std::string msg = what + " " + p.string() + ": " + core::errno_message(err);
  if (code == core::Errc::disk_full) msg = "archive disk is full: " + msg;
  return make_error(code, msg);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Status write_all(int fd, std::string_view data, const fs::path& p) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot write", p, errno);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return core::ok_status();
}

std::string stem_of(std::string_view file) {
  if (ends_with(file, kZstExt)) return std::string(file.substr(0, file.size() - kZstExt.size()));
  if (ends_with(file, kSnapshotExt))
    return std::string(file.substr(0, file.size() - kSnapshotExt.size()));
  if (ends_with(file, ".json")) return std::string(file.substr(0, file.size() - 5));
  return {};
}

bool valid_component(std::string_view s) {
  if (s.empty() || s == "." || s == ".." || s.front() == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// A partial file whose writer is alive holds an exclusive flock on it.
bool locked_by_someone(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool locked = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases our lock if we took it
  return locked;
}

// ".tmp-<name>-<pid>" from core::write_file_atomic: in progress while that pid lives.
bool tmp_writer_alive(std::string_view name) {
  auto dash = name.rfind('-');
  if (dash == std::string_view::npos) return false;
  int pid = 0;
  for (char c : name.substr(dash + 1)) {
    if (c < '0' || c > '9') return false;
    pid = pid * 10 + (c - '0');
  }
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

// Streams a file through `fn` in 1 MiB chunks.
Status for_each_chunk(const fs::path& p, const std::function<Status(std::string_view)>& fn) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open", p, errno);
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return errno_error("cannot read", p, err);
    }
    if (n == 0) break;
    auto st = fn(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    if (!st.ok()) {
      ::close(fd);
      return st;
    }
  }
  ::close(fd);
  return core::ok_status();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PendingCapture

struct PendingCapture::Impl {
  fs::path target_dir;
  std::string target;
  std::string stem;
  std::string id;
  std::string file;  // final snapshot file name
  fs::path temp;
  int fd = -1;
  Compression compression = Compression::none;
  int level = 0;
  core::TimePoint started{};
  core::TargetIdentity identity;
  Sha256 sha_in;
  Sha256 sha_out;
  std::unique_ptr<ZstdCompressor> zstd;
  std::uint64_t in = 0;
  std::uint64_t out = 0;
  bool failed = false;
  bool done = false;
  // Every capture, whatever brought its bytes, gets its per-constructor numbers on the way.
  heapsnap::StreamHistogram histogram;

  Status raw_write(std::string_view data) {
    auto st = write_all(fd, data, temp);
    if (!st.ok()) return st;
    sha_out.update(data);
    out += data.size();
    return core::ok_status();
  }

  void close_fd() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

PendingCapture::PendingCapture(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PendingCapture::~PendingCapture() {
  abort();
}

const std::string& PendingCapture::id() const {
  return impl_->id;
}
std::uint64_t PendingCapture::bytes_in() const {
  return impl_->in;
}
std::uint64_t PendingCapture::bytes_out() const {
  return impl_->out;
}
const fs::path& PendingCapture::temp_path() const {
  return impl_->temp;
}

Status PendingCapture::write(std::string_view chunk) {
  auto& m = *impl_;
  if (m.done) return make_error(core::Errc::io, "capture " + m.id + " is already finished");
  if (m.failed) return make_error(core::Errc::io, "capture " + m.id + " failed earlier");
  m.sha_in.update(chunk);
  m.in += chunk.size();
  Status st = m.zstd ? m.zstd->write(chunk, [&](std::string_view d) { return m.raw_write(d); })
                     : m.raw_write(chunk);
  if (!st.ok()) m.failed = true;
  m.histogram.feed(chunk);
  return st;
}

void PendingCapture::abort() {
  auto& m = *impl_;
  if (m.done) return;
  m.done = true;
  m.close_fd();
  ::unlink(m.temp.c_str());
}

Result<Metadata> PendingCapture::commit(Metadata meta) {
  auto& m = *impl_;
  if (m.done) return make_error(core::Errc::io, "capture " + m.id + " is already finished");
  auto fail = [&](Error e) -> Result<Metadata> {
    abort();
    return e;
  };
  if (m.failed) return fail(make_error(core::Errc::io, "capture " + m.id + " failed earlier"));
  if (m.zstd) {
    auto st = m.zstd->finish([&](std::string_view d) { return m.raw_write(d); });
    if (!st.ok()) return fail(st.error());
  }
  if (::fsync(m.fd) != 0) return fail(errno_error("cannot fsync", m.temp, errno));
  if (::close(m.fd) != 0) {
    m.fd = -1;
    return fail(errno_error("cannot close", m.temp, errno));
  }
  m.fd = -1;

  meta.id = m.id;
  meta.target = m.target;
  meta.file = m.file;
  meta.size_bytes = m.in;
  meta.stored_bytes = m.out;
  meta.sha256 = m.sha_in.finish();
  meta.stored_sha256 = m.sha_out.finish();
  if (auto h = m.histogram.result(); h.nodes > 0) meta.histogram = heapsnap::to_json(h);
  meta.compression = m.compression;
  meta.compression_level = m.compression == Compression::zstd ? m.level : 0;
  if (meta.started_at == core::TimePoint{}) meta.started_at = m.started;
  if (meta.identity.empty()) meta.identity = m.identity;

  fs::path final_path = m.target_dir / m.file;
  if (::rename(m.temp.c_str(), final_path.c_str()) != 0)
    return fail(errno_error("cannot rename to", final_path, errno));
  m.done = true;  // the temp file is gone; from here on undo means removing the final file
  auto st = core::write_file_atomic(
      m.target_dir / (m.stem + ".json"),
      meta.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
      kFileMode);
  if (!st.ok()) {
    ::unlink(final_path.c_str());
    core::fsync_dir(m.target_dir);
    Error e = st.error();
    if (e.code == core::Errc::disk_full) e.message = "archive disk is full: " + e.message;
    return e;
  }
  return meta;
}

// ---------------------------------------------------------------------------------------------
// SnapshotReader

struct SnapshotReader::Impl {
  fs::path path;
  int fd = -1;
  std::unique_ptr<ZstdDecompressor> zstd;
  std::string pending;  // decompressed bytes not yet returned
  bool eof = false;
  ~Impl() {
    if (fd >= 0) ::close(fd);
  }
};

SnapshotReader::SnapshotReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SnapshotReader::~SnapshotReader() = default;
bool SnapshotReader::decompressing() const {
  return impl_->zstd != nullptr;
}

Status SnapshotReader::read(std::string& out, std::size_t max) {
  auto& m = *impl_;
  out.clear();
  if (max == 0) max = 1;
  std::string buf(std::min<std::size_t>(max, 1 << 20), '\0');
  while (out.empty()) {
    if (!m.pending.empty()) {
      std::size_t n = std::min(max, m.pending.size());
      out.assign(m.pending, 0, n);
      m.pending.erase(0, n);
      return core::ok_status();
    }
    if (m.eof) return core::ok_status();
    ssize_t n = ::read(m.fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("cannot read", m.path, errno);
    }
    if (n == 0) {
      m.eof = true;
      if (m.zstd && !m.zstd->complete())
        return make_error(core::Errc::corrupt,
                          m.path.string() + " is truncated (incomplete zstd frame)");
      continue;
    }
    std::string_view data(buf.data(), static_cast<std::size_t>(n));
    if (!m.zstd) {
      out.assign(data);
      return core::ok_status();
    }
    auto st = m.zstd->write(data, [&](std::string_view d) {
      m.pending.append(d);
      return core::ok_status();
    });
    if (!st.ok())
      return make_error(core::Errc::corrupt, m.path.string() + ": " + st.error().message);
  }
  return core::ok_status();
}

// ---------------------------------------------------------------------------------------------
// Archive

Archive::Archive(ArchiveSettings settings) : settings_(std::move(settings)) {}

std::string Archive::sanitize_target(std::string_view target) {
  std::string s;
  for (char c : target) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    s.push_back(ok ? c : '_');
  }
  while (!s.empty() && s.front() == '.')
    s.front() = '_';
  if (s.empty()) s = "default";
  return s;
}

Result<std::pair<std::string, std::string>> Archive::split_id(const std::string& id) {
  auto slash = id.find('/');
  auto bad = [&] {
    return make_error(core::Errc::invalid_id,
                      "'" + id +
                          "' is not a snapshot id (expected <target>/<stem>, as "
                          "printed by `leakwatch snapshots list`)");
  };
  if (slash == std::string::npos) return bad();
  std::string target = id.substr(0, slash);
  std::string stem = id.substr(slash + 1);
  if (!valid_component(target) || !valid_component(stem)) return bad();
  return std::pair{target, stem};
}

Result<CleanupReport> Archive::open() {
  CleanupReport report;
  std::error_code ec;
  fs::path root = settings_.dir;
  bool root_existed = fs::exists(root, ec);
  fs::create_directories(root, ec);
  if (ec)
    return make_error(core::Errc::io,
                      "cannot create archive directory " + root.string() + ": " + ec.message());
  // Heap snapshots hold user data: a new archive is not readable by other users.
  if (!root_existed) fs::permissions(root, kDirMode, ec);
  auto log = core::logger("archive");
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (!is_directory_nothrow(*it) || !valid_component(it->path().filename().string())) continue;
    fs::path dir = it->path();
    std::vector<std::string> names;
    std::error_code ec2;
    for (auto f = fs::directory_iterator(dir, ec2); !ec2 && f != fs::directory_iterator();
         f.increment(ec2))
      names.push_back(f->path().filename().string());
    std::sort(names.begin(), names.end());
    bool changed = false;
    for (const auto& name : names) {
      fs::path p = dir / name;
      if (name.starts_with(kPartialPrefix)) {
        if (locked_by_someone(p)) {
          ++report.in_progress_skipped;
          continue;
        }
        ::unlink(p.c_str());
        changed = true;
        ++report.partial_removed;
        log->info("event=cleanup removed=partial file={}", p.string());
      } else if (name.starts_with(".tmp-")) {
        if (tmp_writer_alive(name)) continue;
        ::unlink(p.c_str());
        changed = true;
        ++report.partial_removed;
      }
    }
    // Pair snapshots with metadata.
    for (const auto& name : names) {
      if (name.front() == '.') continue;
      fs::path p = dir / name;
      if (!exists_nothrow(p)) continue;
      std::string stem = stem_of(name);
      if (stem.empty()) continue;
      if (ends_with(name, ".json")) {
        auto text = core::read_file(p);
        std::string file;
        if (text.ok()) {
          auto j = json::parse(*text, nullptr, false);
          if (!j.is_discarded() && j.is_object()) file = j.value("file", std::string());
        }
        if (!file.empty() && valid_component(file) && !exists_nothrow(dir / file)) {
          ::unlink(p.c_str());
          changed = true;
          ++report.orphan_metadata_removed;
          log->warn("event=cleanup removed=orphan_metadata file={}", p.string());
        }
        continue;
      }
      if (exists_nothrow(dir / (stem + ".json"))) continue;
      // A complete snapshot (final name) without metadata: the process died between the rename and
      // the metadata write. Keep it, with what can be recomputed.
      Metadata m;
      m.id = dir.filename().string() + "/" + stem;
      m.target = dir.filename().string();
      m.file = name;
      m.reason.kind = "recovered";
      m.compression = ends_with(name, kZstExt) ? Compression::zstd : Compression::none;
      struct stat stbuf {};
      if (::stat(p.c_str(), &stbuf) == 0)
        m.started_at = core::TimePoint(std::chrono::seconds(stbuf.st_mtim.tv_sec));
      Sha256 stored, plain;
      ZstdDecompressor dec;
      auto st = for_each_chunk(p, [&](std::string_view d) -> Status {
        stored.update(d);
        m.stored_bytes += d.size();
        if (m.compression == Compression::none) {
          plain.update(d);
          m.size_bytes += d.size();
          return core::ok_status();
        }
        return dec.write(d, [&](std::string_view o) {
          plain.update(o);
          m.size_bytes += o.size();
          return core::ok_status();
        });
      });
      if (!st.ok()) {
        log->warn("event=cleanup recover_failed file={} error=\"{}\"", p.string(),
                  st.error().message);
        continue;
      }
      m.stored_sha256 = stored.finish();
      m.sha256 = plain.finish();
      m.finished_at = m.started_at;
      if (core::write_file_atomic(
              dir / (stem + ".json"),
              m.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
              kFileMode)
              .ok()) {
        ++report.recovered;
        log->warn("event=cleanup recovered={} note=\"snapshot without metadata\"", m.id);
      }
    }
    if (changed) core::fsync_dir(dir);
  }
  if (ec)
    return make_error(core::Errc::io,
                      "cannot read archive directory " + root.string() + ": " + ec.message());
  return report;
}

Result<std::unique_ptr<PendingCapture>> Archive::begin(const std::string& target_name,
                                                       core::TimePoint started,
                                                       const Reason& reason,
                                                       Compression compression,
                                                       int compression_level) {
  std::string target = sanitize_target(target_name);
  fs::path dir = fs::path(settings_.dir) / target;
  std::error_code ec;
  bool existed = fs::exists(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    auto code = ec == std::errc::no_space_on_device ? core::Errc::disk_full : core::Errc::io;
    return make_error(code,
                      "cannot create archive directory " + dir.string() + ": " + ec.message());
  }
  if (!existed) {
    std::error_code perm_ec;
    fs::permissions(dir, kDirMode, perm_ec);
  }
  if (!existed) core::fsync_dir(dir.parent_path());

  std::string base = core::format_utc_compact(started) + "-" + reason.slug();
  std::string ext(compression == Compression::zstd ? kZstExt : kSnapshotExt);
  auto impl = std::make_unique<PendingCapture::Impl>();
  for (int n = 1;; ++n) {
    std::string stem = n == 1 ? base : base + "-" + std::to_string(n);
    if (exists_nothrow(dir / (stem + ".json")) ||
        exists_nothrow(dir / (stem + std::string(kSnapshotExt))) ||
        exists_nothrow(dir / (stem + std::string(kZstExt))))
      continue;
    fs::path temp =
        dir / (std::string(kPartialPrefix) + stem + "-" + std::to_string(::getpid()) + ext);
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode);
    if (fd < 0) {
      if (errno == EEXIST && n < 1000) continue;  // another capture of the same second
      return errno_error("cannot create", temp, errno);
    }
    ::flock(fd, LOCK_EX | LOCK_NB);
    impl->stem = stem;
    impl->identity = settings_.identity;
    impl->temp = temp;
    impl->fd = fd;
    break;
  }
  impl->target_dir = dir;
  impl->target = target;
  impl->id = target + "/" + impl->stem;
  impl->file = impl->stem + ext;
  impl->compression = compression;
  impl->level = compression_level;
  impl->started = started;
  if (compression == Compression::zstd)
    impl->zstd = std::make_unique<ZstdCompressor>(compression_level);
  return std::unique_ptr<PendingCapture>(new PendingCapture(std::move(impl)));
}

Result<std::vector<Metadata>> Archive::list(const std::string& target,
                                            std::vector<std::string>* problems) const {
  std::vector<Metadata> out;
  fs::path root = settings_.dir;
  std::error_code ec;
  if (!fs::exists(root, ec)) return out;
  std::vector<fs::path> dirs;
  if (!target.empty()) {
    dirs.push_back(root / sanitize_target(target));
  } else {
    for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator();
         it.increment(ec))
      if (is_directory_nothrow(*it) && valid_component(it->path().filename().string()))
        dirs.push_back(it->path());
    if (ec)
      return make_error(core::Errc::io,
                        "cannot read archive directory " + root.string() + ": " + ec.message());
  }
  for (const auto& dir : dirs) {
    std::error_code ec2;
    for (auto f = fs::directory_iterator(dir, ec2); !ec2 && f != fs::directory_iterator();
         f.increment(ec2)) {
      std::string name = f->path().filename().string();
      if (name.front() == '.' || !ends_with(name, ".json")) continue;
      auto text = core::read_file(f->path());
      if (!text.ok()) {
        if (problems) problems->push_back(text.error().message);
        continue;
      }
      auto j = json::parse(*text, nullptr, false);
      auto m = j.is_discarded() ? Result<Metadata>(make_error(core::Errc::parse, "not JSON"))
                                : Metadata::from_json(j);
      if (!m.ok()) {
        if (problems) problems->push_back(f->path().string() + ": " + m.error().message);
        continue;
      }
      // Trust the location over the content (a copied file keeps working).
      m->target = dir.filename().string();
      m->id = m->target + "/" + stem_of(name);
      out.push_back(std::move(*m));
    }
  }
  std::sort(out.begin(), out.end(), [](const Metadata& a, const Metadata& b) {
    if (a.started_at != b.started_at) return a.started_at < b.started_at;
    return a.id < b.id;
  });
  return out;
}

namespace {
// Snapshots of another task (a shared volume) or of another host are not this target's.
bool same_place(const core::TargetIdentity& a, const core::TargetIdentity& b) {
  if (a.platform != b.platform) return false;
  if (a.ecs()) return !a.task_arn.empty() && a.task_arn == b.task_arn;
  return a.host == b.host;
}
}  // namespace

std::vector<std::string> Archive::latest_capture_ids(const std::string& target,
                                                     const core::TargetIdentity& here) const {
  auto all = list(target);
  if (!all.ok()) return {};
  for (auto it = all->rbegin(); it != all->rend(); ++it) {
    if (!same_place(it->identity, here)) continue;
    std::vector<std::string> ids;
    if (it->analysis.is_object())
      if (auto b = it->analysis.find("base");
          b != it->analysis.end() && b->is_string() && *b != it->id && split_id(*b).ok())
        ids.push_back(b->get<std::string>());
    ids.push_back(it->id);
    return ids;
  }
  return {};
}

Status Archive::annotate(const std::string& id, const nlohmann::json& analysis) {
  auto m = get(id);
  if (!m.ok()) return m.error();
  m->analysis = analysis;
  auto parts = split_id(id);
  if (!parts.ok()) return parts.error();
  fs::path p = fs::path(settings_.dir) / parts->first / (parts->second + ".json");
  return core::write_file_atomic(
      p, m->to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
      kFileMode);
}

Result<Metadata> Archive::get(const std::string& id) const {
  auto parts = split_id(id);
  if (!parts.ok()) return parts.error();
  fs::path p = fs::path(settings_.dir) / parts->first / (parts->second + ".json");
  auto text = core::read_file(p);
  if (!text.ok()) {
    if (text.error().code == core::Errc::not_found)
      return make_error(core::Errc::not_found, "no snapshot with id " + id);
    return text.error();
  }
  auto j = json::parse(*text, nullptr, false);
  if (j.is_discarded()) return make_error(core::Errc::parse, p.string() + " is not valid JSON");
  auto m = Metadata::from_json(j);
  if (!m.ok()) return make_error(core::Errc::parse, p.string() + ": " + m.error().message);
  m->target = parts->first;
  m->id = id;
  if (!valid_component(m->file))
    return make_error(core::Errc::parse, p.string() + ": invalid file name");
  return m;
}

Result<fs::path> Archive::path_of(const std::string& id) const {
  auto m = get(id);
  if (!m.ok()) return m.error();
  return fs::path(settings_.dir) / m->target / m->file;
}

Result<std::unique_ptr<SnapshotReader>> Archive::open_reader(const std::string& id,
                                                             bool decompress) const {
  auto m = get(id);
  if (!m.ok()) return m.error();
  auto impl = std::make_unique<SnapshotReader::Impl>();
  impl->path = fs::path(settings_.dir) / m->target / m->file;
  impl->fd = ::open(impl->path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (impl->fd < 0) return errno_error("cannot open", impl->path, errno);
  if (decompress && m->compression == Compression::zstd)
    impl->zstd = std::make_unique<ZstdDecompressor>();
  return std::unique_ptr<SnapshotReader>(new SnapshotReader(std::move(impl)));
}

Status Archive::export_to(const std::string& id, const fs::path& dest) const {
  auto m = get(id);
  if (!m.ok()) return m.error();
  auto reader = open_reader(id, true);
  if (!reader.ok()) return reader.error();
  fs::path dir = dest.parent_path();
  fs::path tmp = (dir.empty() ? fs::path(".") : dir) /
                 (".tmp-" + dest.filename().string() + "-" + std::to_string(::getpid()));
  // A leftover of this pid (a crash) is removed; O_EXCL | O_NOFOLLOW never writes through a file or
  // symlink someone else placed there.
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode);
  if (fd < 0) return errno_error("cannot create", tmp, errno);
  auto fail = [&](Error e) -> Status {
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  Sha256 sha;
  std::uint64_t total = 0;
  std::string buf;
  for (;;) {
    auto st = (*reader)->read(buf);
    if (!st.ok()) return fail(st.error());
    if (buf.empty()) break;
    sha.update(buf);
    total += buf.size();
    auto w = write_all(fd, buf, tmp);
    if (!w.ok()) return fail(w.error());
  }
  std::string digest = sha.finish();
  if (!m->sha256.empty() && digest != m->sha256)
    return fail(make_error(core::Errc::corrupt, "snapshot " + id +
                                                    " does not match its metadata (SHA-256 " +
                                                    digest + ", expected " + m->sha256 + ")"));
  if (m->size_bytes && total != m->size_bytes)
    return fail(make_error(core::Errc::corrupt, "snapshot " + id + " has " + std::to_string(total) +
                                                    " bytes, metadata says " +
                                                    std::to_string(m->size_bytes)));
  if (::fsync(fd) != 0) return fail(errno_error("cannot fsync", tmp, errno));
  ::close(fd);
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return errno_error("cannot rename to", dest, err);
  }
  return core::ok_status();
}

Status Archive::remove(const std::string& id) {
  auto m = get(id);
  if (!m.ok()) return m.error();
  fs::path dir = fs::path(settings_.dir) / m->target;
  // Snapshot first: a crash in between leaves metadata without snapshot, which open() removes.
  if (::unlink((dir / m->file).c_str()) != 0 && errno != ENOENT)
    return errno_error("cannot remove", dir / m->file, errno);
  auto parts = split_id(id);
  if (::unlink((dir / (parts->second + ".json")).c_str()) != 0 && errno != ENOENT)
    return errno_error("cannot remove", dir / (parts->second + ".json"), errno);
  return core::fsync_dir(dir);
}

Result<PruneReport> Archive::prune(core::TimePoint now) {
  auto entries = list();
  if (!entries.ok()) return entries.error();
  PruneReport report;
  auto log = core::logger("archive");
  for (const auto& r : plan_retention(*entries, settings_, now)) {
    auto st = remove(r.id);
    if (!st.ok()) {
      log->warn("event=prune_failed id={} error=\"{}\"", r.id, st.error().message);
      continue;
    }
    log->info("event=pruned id={} rule={} bytes={}", r.id, r.rule, r.stored_bytes);
    report.freed_bytes += r.stored_bytes;
    report.removed.push_back(r);
  }
  return report;
}

std::string sanitize_filename(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name = name.substr(slash + 1);
  std::string s;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\'' || c == '`' || c == '$' || c == '<' ||
        c == '>' || c == '|' || c == ';' || c == '*' || c == '?' || c == ':')
      s.push_back('_');
    else
      s.push_back(c);
  }
  while (!s.empty() && (s.front() == '.' || s.front() == ' '))
    s.erase(0, 1);
  while (!s.empty() && s.back() == ' ')
    s.pop_back();
  if (s.size() > 200) s.resize(200);
  return s;
}

namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return o;
}
}  // namespace

std::string content_disposition_filename(std::string_view header) {
  std::string plain, extended;
  std::size_t i = 0;
  while (i < header.size()) {
    // A quoted value may contain ';': find the end honouring quotes.
    std::size_t end = i;
    bool quoted = false;
    for (; end < header.size(); ++end) {
      if (header[end] == '"' && (end == 0 || header[end - 1] != '\\')) quoted = !quoted;
      if (!quoted && header[end] == ';') break;
    }
    std::string_view part = header.substr(i, end - i);
    i = end + 1;
    auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    auto trim = [](std::string_view v) {
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
      return v;
    };
    std::string key = lower(trim(part.substr(0, eq)));
    std::string_view value = trim(part.substr(eq + 1));
    if (key == "filename") {
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        std::string unq;
        for (std::size_t k = 1; k + 1 < value.size(); ++k) {
          if (value[k] == '\\' && k + 2 < value.size()) ++k;
          unq.push_back(value[k]);
        }
        plain = unq;
      } else {
        plain = std::string(value);
      }
    } else if (key == "filename*") {
      auto q = value.find("''");
      if (q != std::string_view::npos)
        extended = core::percent_decode(value.substr(q + 2)).value_or("");
    }
  }
  return sanitize_filename(extended.empty() ? plain : extended);
}

}  // namespace leakwatch::archive
