#include "leakwatch/s3/uploader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "leakwatch/core/fs.h"
#include "leakwatch/core/log.h"

namespace leakwatch::s3 {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

auto log() {
  static auto l = core::logger("s3");
  return l;
}

// Reads `len` bytes at `offset` into `buf` (reused from part to part, so its memory is allocated
// once per file); errors "io" / "not_found".
core::Status read_range(const fs::path& path, std::uint64_t offset, std::size_t len,
                        std::string& buf) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return core::make_error(errno == ENOENT ? core::Errc::not_found : core::Errc::io,
                            "cannot open " + path.string() + ": " + core::errno_message(errno));
  buf.resize(len);
  std::size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf.data() + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got != len)
    return core::make_error(core::Errc::io,
                            "short read of " + path.string() + " (the file changed?)");
  return core::ok_status();
}

std::string content_type_of(const std::string& file) {
  if (file.ends_with(".json")) return "application/json";
  if (file.ends_with(".zst")) return "application/zstd";
  return "application/octet-stream";
}

}  // namespace

ClientOptions client_options(const archive::S3ArchiveSettings& s, const TaskIdentity& id) {
  ClientOptions o;
  o.bucket = s.bucket;
  o.endpoint = s.endpoint;
  while (!o.endpoint.empty() && o.endpoint.back() == '/')
    o.endpoint.pop_back();
  o.region = s.region;
  auto env = [](const char* n) {
    const char* v = std::getenv(n);
    return std::string(v ? v : "");
  };
  if (o.region.empty()) o.region = env("AWS_REGION");
  if (o.region.empty()) o.region = env("AWS_DEFAULT_REGION");
  if (o.region.empty()) o.region = region_from_az(id.availability_zone);
  if (o.region.empty()) o.region = "us-east-1";
  o.tls.ca_file = s.ca_file;
  return o;
}

Uploader::Uploader(UploaderOptions options, std::shared_ptr<Client> client)
    : options_(std::move(options)), client_(std::move(client)) {
  client_->set_cancelled([this] { return stop_flag_.load(); });
}

Uploader::~Uploader() {
  stop();
}

std::pair<std::string, std::string> Uploader::keys_for(const archive::Metadata& m) const {
  std::string stem = m.id.substr(m.id.find('/') == std::string::npos ? 0 : m.id.find('/') + 1);
  return {object_key(options_.s3.prefix, options_.identity, m.target, m.file),
          object_key(options_.s3.prefix, options_.identity, m.target, stem + ".json")};
}

core::Status Uploader::start() {
  std::error_code ec;
  fs::create_directories(options_.queue_dir, ec);
  if (ec)
    return core::make_error(core::Errc::io, "cannot create the upload queue " +
                                                options_.queue_dir.string() + ": " + ec.message());
  load();
  worker_ = std::thread([this] { run(); });
  return core::ok_status();
}

void Uploader::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  stop_flag_ = true;
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Uploader::load() {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(options_.queue_dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto n = it->path().filename().string();
    if (n.ends_with(".job.json") && n[0] != '.') names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  std::lock_guard lock(mu_);
  for (const auto& n : names) {
    auto text = core::read_file(options_.queue_dir / n, 1 << 20);
    json j = text.ok() ? json::parse(*text, nullptr, false) : json();
    if (!j.is_object() || !j.contains("files") || !j["files"].is_array()) {
      log()->warn("upload queue: unreadable job file={}, set aside", n);
      fs::rename(options_.queue_dir / n, options_.queue_dir / ("." + n + ".bad"), ec);
      continue;
    }
    auto job = std::make_shared<Job>();
    job->name = n;
    job->state = std::move(j);
    job->id = job->state.value("id", "");
    if (job->state["files"].size() == 2 && job->state["files"][0].is_object() &&
        job->state["files"][1].is_object()) {
      job->snapshot_key = job->state["files"][0].value("key", "");
      job->metadata_key = job->state["files"][1].value("key", "");
    }
    job->persisted = true;
    jobs_.push_back(job);
  }
  stats_.queued = jobs_.size();
  if (!jobs_.empty()) log()->info("upload queue: resuming jobs={}", jobs_.size());
}

core::Status Uploader::persist(Job& job) {
  std::error_code ec;
  fs::create_directories(options_.queue_dir, ec);
  auto st = core::write_file_atomic(options_.queue_dir / job.name, job.state.dump());
  job.persisted = st.ok();
  return st;
}

void Uploader::enqueue(const archive::Metadata& m) {
  auto [snap_key, meta_key] = keys_for(m);
  std::string stem = m.id.substr(m.id.find('/') == std::string::npos ? 0 : m.id.find('/') + 1);
  fs::path dir = options_.archive_dir / m.target;
  auto job = std::make_shared<Job>();
  job->id = m.id;
  job->snapshot_key = snap_key;
  job->metadata_key = meta_key;
  // Oldest first after a restart: names sort by the capture time inside the stem.
  job->name = key_segment(stem) + "-" + key_segment(m.target) + ".job.json";
  job->state = {
      {"id", m.id},
      {"target", m.target},
      {"files",
       json::array({json{{"path", (dir / m.file).string()}, {"key", snap_key}, {"done", false}},
                    json{{"path", (dir / (stem + ".json")).string()},
                         {"key", meta_key},
                         {"done", false}}})}};
  if (auto st = persist(*job); !st.ok())
    log()->warn("upload queue: cannot persist job id={} (kept in memory, retried): {}", m.id,
                st.error().message);
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(job);
    stats_.queued = jobs_.size();
  }
  cv_.notify_all();
}

ObjectLink Uploader::make_link(const std::string& id, const std::string& snapshot_key,
                               const std::string& metadata_key, UploadState state) const {
  ObjectLink l;
  l.archive_id = id;
  l.bucket = options_.s3.bucket;
  l.key = snapshot_key;
  l.metadata_key = metadata_key;
  // The AWS console shows AWS's buckets only: none for an S3-compatible endpoint, and none for an
  // object that will never exist.
  if (client_->options().endpoint.empty() && state != UploadState::not_uploaded)
    l.console_url = console_url(client_->options().region, l.bucket, l.key);
  l.state = state;
  return l;
}

std::optional<ObjectLink> Uploader::link(const std::string& archive_id) const {
  // Archive ids are "<target>/<stem>", each a single file-name segment.
  auto slash = archive_id.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= archive_id.size() ||
      archive_id.find('/', slash + 1) != std::string::npos || archive_id.size() > 1024)
    return std::nullopt;
  const std::string target = archive_id.substr(0, slash), stem = archive_id.substr(slash + 1);
  for (const auto& part : {target, stem})
    if (part == "." || part == ".." ||
        std::any_of(part.begin(), part.end(), [](unsigned char c) { return c < 0x20; }))
      return std::nullopt;
  {
    std::lock_guard lock(mu_);
    for (const auto& j : jobs_)
      if (j->id == archive_id && !j->snapshot_key.empty())
        return make_link(j->id, j->snapshot_key, j->metadata_key, UploadState::pending);
    for (auto it = recent_.rbegin(); it != recent_.rend(); ++it)
      if (it->id == archive_id && !it->snapshot_key.empty())
        return make_link(it->id, it->snapshot_key, it->metadata_key, it->state);
  }
  // Not queued by this daemon: the layout names it after the snapshot file in the local archive
  // (<stem>.heapsnapshot.zst or <stem>.heapsnapshot, archive.h).
  std::error_code ec;
  const fs::path dir = options_.archive_dir / target;
  for (const char* ext : {".heapsnapshot.zst", ".heapsnapshot"}) {
    if (!fs::is_regular_file(dir / (stem + ext), ec)) continue;
    archive::Metadata m;
    m.id = archive_id;
    m.target = target;
    m.file = stem + ext;
    auto [snap, meta] = keys_for(m);
    return make_link(archive_id, snap, meta, UploadState::unknown);
  }
  return std::nullopt;
}

UploaderStats Uploader::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

core::Status Uploader::upload_file(Job& job, std::size_t index) {
  json& f = job.state["files"][index];
  const fs::path path = f.value("path", "");
  const std::string key = f.value("key", "");
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec)
    return core::make_error(core::Errc::not_found, "local file " + path.string() + " is gone");
  const std::uint64_t part =
      std::clamp<std::uint64_t>(options_.s3.part_size, 5ull << 20, 512ull << 20);
  const std::string ctype = content_type_of(path.filename().string());
  std::string buf;  // one part's bytes, sent from here without a copy
  if (size <= part) {
    if (auto st = read_range(path, 0, static_cast<std::size_t>(size), buf); !st.ok()) return st;
    if (auto st = client_->put_object(key, buf, ctype); !st.ok()) return st;
  } else {
    // S3 allows 10000 parts: very large files get larger parts.
    std::uint64_t part_size = std::max<std::uint64_t>(part, (size + 9999) / 10000);
    json& mp = f["multipart"];
    bool resumable = mp.is_object() && mp.value("size", std::uint64_t{0}) == size &&
                     mp.value("part_size", std::uint64_t{0}) == part_size &&
                     !mp.value("upload_id", "").empty();
    if (!resumable) {
      auto id = client_->create_multipart(key, ctype);
      if (!id.ok()) return id.error();
      mp = json{
          {"upload_id", *id}, {"size", size}, {"part_size", part_size}, {"etags", json::array()}};
      (void)persist(job);
    } else {
      log()->info("upload resumed key={} parts_done={}", key, mp["etags"].size());
    }
    const std::string upload_id = mp["upload_id"].get<std::string>();
    const std::uint64_t parts = (size + part_size - 1) / part_size;
    for (std::uint64_t n = mp["etags"].size() + 1; n <= parts; ++n) {
      if (stop_flag_) return core::make_error(core::Errc::aborted, "stopping");
      std::uint64_t off = (n - 1) * part_size;
      if (auto st =
              read_range(path, off, static_cast<std::size_t>(std::min(part_size, size - off)), buf);
          !st.ok())
        return st;
      auto etag = client_->upload_part(key, upload_id, static_cast<int>(n), buf);
      if (!etag.ok()) {
        if (etag.error().is_s3("NoSuchUpload")) f.erase("multipart");
        return etag.error();
      }
      mp["etags"].push_back(*etag);
      (void)persist(job);
    }
    std::vector<PartETag> list;
    for (std::size_t i = 0; i < mp["etags"].size(); ++i)
      list.push_back({static_cast<int>(i + 1), mp["etags"][i].get<std::string>()});
    if (auto st = client_->complete_multipart(key, upload_id, list); !st.ok()) {
      if (st.error().is_s3("NoSuchUpload") || st.error().is_s3("InvalidPart")) f.erase("multipart");
      return st;
    }
  }
  f["done"] = true;
  f.erase("multipart");
  (void)persist(job);
  std::lock_guard lock(mu_);
  stats_.bytes += size;
  return core::ok_status();
}

core::Status Uploader::process(Job& job) {
  if (!job.persisted) (void)persist(job);
  auto& files = job.state["files"];
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i].value("done", false)) continue;
    if (auto st = upload_file(job, i); !st.ok()) return st;
  }
  return core::ok_status();
}

void Uploader::log_failure(const Job& job, const core::Error& e) {
  log()->warn("upload failed id={} attempt={} error={} (stays queued)", job.state.value("id", ""),
              job.failures, e.to_string());
}

int Uploader::run_once() {
  std::vector<std::shared_ptr<Job>> due;
  {
    std::lock_guard lock(mu_);
    auto now = std::chrono::steady_clock::now();
    for (auto& j : jobs_)
      if (j->next_try <= now) due.push_back(j);
  }
  int done = 0;
  for (auto& job : due) {
    if (stop_flag_) break;
    auto st = process(*job);
    std::error_code ec;
    if (st.ok() || st.error().code == core::Errc::not_found) {
      if (st.ok()) {
        ++done;
        log()->info("uploaded id={} bucket={} key={}", job->state.value("id", ""),
                    client_->options().bucket, job->state["files"][0].value("key", ""));
      } else {
        log()->warn("upload dropped id={}: {}", job->state.value("id", ""), st.error().message);
      }
      fs::remove(options_.queue_dir / job->name, ec);
      std::lock_guard lock(mu_);
      std::erase(jobs_, job);
      stats_.queued = jobs_.size();
      recent_.push_back({job->id, job->snapshot_key, job->metadata_key,
                         st.ok() ? UploadState::uploaded : UploadState::not_uploaded});
      while (recent_.size() > kRecentMax)
        recent_.pop_front();
      (st.ok() ? stats_.uploaded : stats_.dropped) += 1;
      continue;
    }
    if (st.error().code == core::Errc::aborted) break;
    ++job->failures;
    log_failure(*job, st.error());
    auto delay = options_.retry_initial * (1 << std::min(job->failures - 1, 16));
    job->next_try = std::chrono::steady_clock::now() +
                    std::min<std::chrono::milliseconds>(delay, options_.retry_max);
    std::lock_guard lock(mu_);
    ++stats_.failed_attempts;
    stats_.last_error = st.error().to_string();
  }
  return done;
}

void Uploader::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    lock.unlock();
    run_once();
    lock.lock();
    if (stopping_) break;
    auto wake = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    for (auto& j : jobs_)
      wake = std::min(wake, j->next_try);
    bool any_due = std::any_of(jobs_.begin(), jobs_.end(), [](const auto& j) {
      return j->next_try <= std::chrono::steady_clock::now();
    });
    if (!any_due) cv_.wait_until(lock, wake);
  }
}

core::Result<std::unique_ptr<Uploader>> make_archive_uploader(const archive::ArchiveSettings& a,
                                                              const std::string& state_dir,
                                                              const TaskIdentity& identity) {
  UploaderOptions o;
  o.s3 = a.s3;
  o.archive_dir = a.dir;
  o.queue_dir = fs::path(state_dir) / "s3-queue";
  o.identity = identity;
  auto creds = std::make_shared<CredentialsProvider>();
  auto client = std::make_shared<Client>(client_options(a.s3, o.identity), creds);
  log()->info("s3 archive: bucket={} prefix={} region={} endpoint={} credentials={} fleet={}/{}/{}",
              a.s3.bucket, a.s3.prefix.empty() ? "-" : a.s3.prefix, client->options().region,
              a.s3.endpoint.empty() ? "aws" : a.s3.endpoint,
              creds->source().empty() ? "none" : creds->source(),
              o.identity.cluster.empty() ? o.identity.host : o.identity.cluster,
              o.identity.family.empty() ? o.identity.host : o.identity.family,
              o.identity.task_id.empty() ? o.identity.host : o.identity.task_id);
  auto up = std::make_unique<Uploader>(std::move(o), std::move(client));
  if (auto st = up->start(); !st.ok()) return st.error();
  return up;
}

}  // namespace leakwatch::s3
