#pragma once
// The snapshot archive: a plain tree a person can browse.
//
//   <dir>/<target>/<YYYYMMDDTHHMMSSZ>-<reason>.heapsnapshot[.zst]
//       the snapshot (zstd when compressed)
//   <dir>/<target>/<YYYYMMDDTHHMMSSZ>-<reason>.json
//       its metadata (metadata.h)
//
// A capture is written under a hidden temporary name (".partial-<stem>-<pid>...", held with an
// exclusive flock while it is written), fsynced, renamed to its final name, then its metadata is
// written atomically and the directory fsynced: a file with a final name is always complete, and a
// capture "exists" once its .json exists. `open()` cleans the leftovers of a crash (unlocked
// partial files, metadata without snapshot; a snapshot without metadata gets a "recovered" metadata
// file). Retention only ever looks at final names, so it never touches a capture in progress.
//
// IDs are "<target>/<stem>", e.g. "web/20261124T080000Z-leak-series-1of3".
// All calls are blocking file I/O on small files, except PendingCapture::write (one chunk) and
// SnapshotReader/export (streamed with bounded memory).
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/archive/metadata.h"
#include "leakwatch/archive/retention.h"
#include "leakwatch/archive/settings.h"
#include "leakwatch/core/result.h"

namespace leakwatch::archive {

// One capture being written. Destroying it without commit() removes the temporary file.
class PendingCapture {
 public:
  ~PendingCapture();
  PendingCapture(const PendingCapture&) = delete;
  PendingCapture& operator=(const PendingCapture&) = delete;

  // Appends snapshot bytes (as sent by the app): hashed, compressed when enabled, written.
  // Errors: "disk_full", "io", "compression". After an error the capture can only be aborted.
  core::Status write(std::string_view chunk);
  // Completes the file, renames it, writes the metadata. `meta` supplies what the archive cannot
  // know (reason, sample, detector state, original file name, source, attempts, times); the archive
  // fills id, target, file, sizes, hashes and compression. On failure nothing is left behind.
  core::Result<Metadata> commit(Metadata meta);
  // Removes the temporary file (idempotent).
  void abort();

  const std::string& id() const;
  std::uint64_t bytes_in() const;   // snapshot bytes written so far
  std::uint64_t bytes_out() const;  // stored bytes so far
  const std::filesystem::path& temp_path() const;

 private:
  friend class Archive;
  struct Impl;
  explicit PendingCapture(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads an archived snapshot as a stream, decompressing when asked.
class SnapshotReader {
 public:
  ~SnapshotReader();
  SnapshotReader(const SnapshotReader&) = delete;
  SnapshotReader& operator=(const SnapshotReader&) = delete;
  // Reads up to `max` bytes into `out` (replacing its content); an empty result means the end.
  core::Status read(std::string& out, std::size_t max = 1 << 20);
  bool decompressing() const;

 private:
  friend class Archive;
  struct Impl;
  explicit SnapshotReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct CleanupReport {
  int partial_removed = 0;
  int orphan_metadata_removed = 0;
  int recovered = 0;
  int in_progress_skipped = 0;
};

struct PruneReport {
  std::vector<Removal> removed;
  std::uint64_t freed_bytes = 0;
};

class Archive {
 public:
  explicit Archive(ArchiveSettings settings);

  const ArchiveSettings& settings() const { return settings_; }
  std::filesystem::path root() const { return settings_.dir; }

  // Creates the root and cleans crash leftovers. Call once at start (the CLI calls it too; partial
  // files of a capture running in another process are locked and left alone).
  core::Result<CleanupReport> open();

  // Starts a capture for `target` at `started`. The stem is "<UTC>-<reason slug>", made unique.
  core::Result<std::unique_ptr<PendingCapture>> begin(const std::string& target,
                                                      core::TimePoint started, const Reason& reason,
                                                      Compression compression,
                                                      int compression_level = 3);

  // Every capture, oldest first; `target` empty = all targets. Unreadable metadata files are
  // skipped (reported through `problems` when given).
  core::Result<std::vector<Metadata>> list(const std::string& target = {},
                                           std::vector<std::string>* problems = nullptr) const;
  core::Result<Metadata> get(const std::string& id) const;
  // Path of the stored snapshot file (compressed when the metadata says so).
  core::Result<std::filesystem::path> path_of(const std::string& id) const;
  // Opens the stored snapshot; decompress=true yields the plain .heapsnapshot bytes.
  core::Result<std::unique_ptr<SnapshotReader>> open_reader(const std::string& id,
                                                            bool decompress) const;
  // Writes the plain snapshot to `dest` atomically and checks its SHA-256 against the metadata.
  core::Status export_to(const std::string& id, const std::filesystem::path& dest) const;
  core::Status remove(const std::string& id);
  // Replaces the `analysis` member of a capture's metadata (atomically rewritten).
  core::Status annotate(const std::string& id, const nlohmann::json& analysis);
  // The newest capture of `target` taken where `here` runs (the same ECS task, or the same host),
  // preceded by the base its diff compared it with (annotate()): {base, newest} or {newest}; empty
  // when there is none. What a restarted daemon's alerts name until its next capture.
  std::vector<std::string> latest_capture_ids(const std::string& target,
                                              const core::TargetIdentity& here) const;
  // Applies plan_retention() at `now`.
  core::Result<PruneReport> prune(core::TimePoint now);

  // "web" stays "web"; anything outside [A-Za-z0-9._-] becomes '_'; empty -> "default".
  static std::string sanitize_target(std::string_view target);
  // Splits and validates an id; errors "invalid_id".
  static core::Result<std::pair<std::string, std::string>> split_id(const std::string& id);

 private:
  ArchiveSettings settings_;
};

// A file name taken from Content-Disposition, reduced to a safe base name (no path, no control
// characters, at most 200 bytes); empty when nothing usable is left.
std::string sanitize_filename(std::string_view name);
// Extracts the filename from a Content-Disposition value (filename*=UTF-8''... or filename=...).
std::string content_disposition_filename(std::string_view header);

}  // namespace leakwatch::archive
