#pragma once
// Reading one archived snapshot back from S3 (`snapshots show|export` with s3:// ids): its
// metadata, then the snapshot streamed through the signed client, decompressed when stored as
// .zst, and checked against the metadata (size and SHA-256 of the plain bytes) before it counts.
// Everything from the bucket is hostile: the metadata is bounded and parsed without throwing, and
// it cannot point the download at another key.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "leakwatch/archive/metadata.h"
#include "leakwatch/core/result.h"
#include "leakwatch/s3/client.h"

namespace leakwatch::s3 {

// One snapshot's place in a bucket: "<dir>/<stem>.json" beside "<dir>/<stem>.heapsnapshot[.zst]".
struct SnapshotRef {
  std::string bucket;
  std::string dir;   // key prefix of its folder, without a trailing '/'; may be empty
  std::string stem;  // e.g. 20261203T180000Z-leak-series-1of3
  std::string key_of(const std::string& file) const {
    return dir.empty() ? file : dir + "/" + file;
  }
  std::string metadata_key() const { return key_of(stem + ".json"); }
  std::string url_of(const std::string& file) const {
    return "s3://" + bucket + "/" + key_of(file);
  }
};

// The snapshot an id names. `id` is either s3://bucket/<key> (the key of the snapshot, of its
// .json, or of either without the extension: what `snapshots list --archive s3://…` prints), or,
// with `archive` = s3://bucket[/prefix], a key under the prefix, e.g.
// "prod/web-api/<task id>/web/20261203T180000Z-leak-series-1of3". Errors: "invalid_id" (no bucket,
// empty, "." or ".." segments, control characters, over 1024 bytes).
core::Result<SnapshotRef> snapshot_ref(std::string_view id, std::string_view archive = {});

// GET <stem>.json (at most 16 MiB) and parse it. Errors: the client's (s3_NoSuchKey, ...),
// "corrupt" (not metadata, or its `file` is not <stem>.heapsnapshot[.zst] as the key layout says).
core::Result<archive::Metadata> fetch_metadata(Client& client, const SnapshotRef& ref);

// Streams the plain snapshot (decompressed when stored as .zst) to `out`, then checks its size and
// SHA-256 against `m` (which must carry both). Bytes reach `out` before the check: use
// export_snapshot for a file that exists only when complete. Errors: the client's, "corrupt".
core::Status fetch_snapshot(Client& client, const SnapshotRef& ref, const archive::Metadata& m,
                            const std::function<core::Status(std::string_view)>& out);

// fetch_snapshot into `dest`: written to a dot file beside it (O_EXCL | O_NOFOLLOW, mode 0600),
// fsynced and renamed to `dest` only once verified; on any failure it is removed, so an
// interrupted or corrupt download never leaves a file that looks complete.
core::Status export_snapshot(Client& client, const SnapshotRef& ref, const archive::Metadata& m,
                             const std::filesystem::path& dest);

}  // namespace leakwatch::s3
