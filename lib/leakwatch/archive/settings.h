#pragma once
// Settings of the snapshot archive (YAML section `archive:`). `dir` is a fixed name (DESIGN.md).
// Retention limits: 0 means "no limit" for that rule. The newest capture of a target is never
// removed by the count or total-bytes rules (only by age), and a capture in progress never is.
#include <chrono>
#include <cstdint>
#include <string>

#include "leakwatch/core/identity.h"

namespace leakwatch::archive {

// Optional copy of every completed capture to S3 (archive.s3; the s3 module uploads).
struct S3ArchiveSettings {
  std::string bucket;  // empty: no upload
  std::string prefix;  // key prefix, without leading or trailing '/'
  // Default: $AWS_REGION, then $AWS_DEFAULT_REGION, then the ECS task's availability zone.
  std::string region;
  std::string endpoint;  // S3-compatible store (path-style), e.g. https://minio.internal:9000
  // Files larger than this go up in parts of this size (5Mi..512Mi); memory use is about 1x it.
  std::uint64_t part_size = 5ull << 20;
  std::string ca_file;  // extra CA bundle (PEM) for the endpoint
};

struct ArchiveSettings {
  // Root of the archive tree: <dir>/<target>/<UTC time>-<reason>.heapsnapshot[.zst] + .json.
  // Default /var/lib/leakwatch/archive.
  std::string dir = "/var/lib/leakwatch/archive";
  // Keep at most this many captures per target (oldest removed first). Default 20.
  int max_per_target = 20;
  // Keep the stored bytes of the whole archive under this (oldest removed first). Default 20Gi.
  std::uint64_t max_total_bytes = 20ull << 30;
  // Remove captures older than this. Default 30 days.
  std::chrono::seconds max_age{std::chrono::hours(24 * 30)};
  S3ArchiveSettings s3;
  // Not from the configuration file: where the target runs, resolved once by the daemon at start
  // (source/identity.h) and written into every capture's metadata.
  core::TargetIdentity identity;
};

}  // namespace leakwatch::archive
