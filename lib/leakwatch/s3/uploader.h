#pragma once
// Copies every completed capture (snapshot, then its metadata .json) to S3, from a queue persisted
// on disk so that a restart loses nothing.
//
//   <queue_dir>/<time>-<target>-<stem>.job.json   one job per capture (written atomically)
//
// A job records the object keys, and for a multipart upload its UploadId and the ETags of the parts
// already sent, so a restarted daemon resumes where it stopped (or starts the object again when S3
// no longer knows the upload). Files go up streamed: a single PUT up to `part_size`, parts of
// `part_size` above it, read into one reused buffer and sent from it without a copy, so memory
// stays near one part whatever the snapshot's size. Each request
// carries the payload's SHA-256 (signed; S3 rejects a mismatch) and Content-MD5.
//
// The .json goes up last: an object with a .json beside it is complete, as in the local archive.
// Failed jobs stay queued and are retried with backoff (transient errors are also retried inside
// each request). When the queue directory cannot be written (disk full), jobs are kept in memory
// and persisted once it can.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "leakwatch/archive/metadata.h"
#include "leakwatch/archive/settings.h"
#include "leakwatch/core/result.h"
#include "leakwatch/s3/client.h"
#include "leakwatch/s3/identity.h"
#include "leakwatch/s3/links.h"

namespace leakwatch::s3 {

struct UploaderOptions {
  archive::S3ArchiveSettings s3;
  std::filesystem::path archive_dir;
  std::filesystem::path queue_dir;
  TaskIdentity identity;
  // Retry of a whole job after it failed: doubles from `retry_initial` up to `retry_max`.
  std::chrono::milliseconds retry_initial{std::chrono::seconds(5)};
  std::chrono::milliseconds retry_max{std::chrono::minutes(10)};
};

struct UploaderStats {
  std::uint64_t uploaded = 0;         // captures fully uploaded
  std::uint64_t failed_attempts = 0;  // job attempts that failed (and stay queued)
  std::uint64_t dropped = 0;          // jobs whose local files were gone
  std::uint64_t bytes = 0;            // bytes uploaded
  std::size_t queued = 0;
  std::string last_error;
};

// Settings resolved for a client: region from the environment/AZ, TLS from ca_file.
ClientOptions client_options(const archive::S3ArchiveSettings& s, const TaskIdentity& id);

class Uploader {
 public:
  Uploader(UploaderOptions options, std::shared_ptr<Client> client);
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Loads the persisted queue and starts the worker thread.
  core::Status start();
  // Stops the worker (an upload in flight is abandoned at its next request; its job stays queued).
  void stop();
  // Queues a completed capture (any thread). Never blocks on the network.
  void enqueue(const archive::Metadata& m);
  // Runs every due job once on the calling thread (tests, CLI); returns the number uploaded.
  int run_once();
  UploaderStats stats() const;
  // The S3 keys a capture gets (snapshot, metadata).
  std::pair<std::string, std::string> keys_for(const archive::Metadata& m) const;
  // Where the capture with this archive id ("<target>/<stem>") is or will be in S3, and whether it
  // is there yet (for alerts; any thread, never blocks on the network). The keys are the queued
  // job's, or those of a recent upload; for a capture this daemon has not queued, the key layout
  // applied to the snapshot file found in the local archive (state `unknown`). nullopt: a malformed
  // id, or a capture neither queued nor in the local archive.
  std::optional<ObjectLink> link(const std::string& archive_id) const;

 private:
  struct Job {
    std::string name;  // file name in queue_dir
    // Set before the job is shared with the worker and never changed: link() reads them from
    // other threads while the worker updates `state`.
    std::string id, snapshot_key, metadata_key;
    nlohmann::json state;
    bool persisted = false;
    std::chrono::steady_clock::time_point next_try{};
    int failures = 0;
  };
  void load();
  void run();
  core::Status process(Job& job);
  core::Status upload_file(Job& job, std::size_t index);
  core::Status persist(Job& job);
  void log_failure(const Job& job, const core::Error& e);

  UploaderOptions options_;
  std::shared_ptr<Client> client_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> jobs_;
  // Outcomes of the latest jobs, newest last (bounded: kRecentMax), for link().
  struct Outcome {
    std::string id, snapshot_key, metadata_key;
    UploadState state;
  };
  std::deque<Outcome> recent_;
  static constexpr std::size_t kRecentMax = 256;
  ObjectLink make_link(const std::string& id, const std::string& snapshot_key,
                       const std::string& metadata_key, UploadState state) const;
  UploaderStats stats_;
  bool stopping_ = false;
  std::atomic<bool> stop_flag_{false};
  std::thread worker_;
};

// The daemon's uploader for `archive.s3`: keys named after `identity` (the one the daemon resolved
// at start, source/identity.h), the credentials chain, a client, and the queue in
// <state_dir>/s3-queue; started.
core::Result<std::unique_ptr<Uploader>> make_archive_uploader(const archive::ArchiveSettings& a,
                                                              const std::string& state_dir,
                                                              const TaskIdentity& identity);

}  // namespace leakwatch::s3
