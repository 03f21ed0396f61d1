#pragma once
// The fleet's snapshots in an S3 archive, grouped as the uploader lays out keys:
//   <prefix>/<cluster>/<task family>/<task id>/<target>/<stem>.heapsnapshot[.zst]  (+ <stem>.json)
// Keys are read from the right (the last five segments), so a listing under the archive prefix, or
// under any deeper part of it (s3://bucket/prefix/prod), groups the same way. Objects outside the
// layout are counted, not shown.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/core/result.h"
#include "leakwatch/s3/client.h"

namespace leakwatch::s3 {

struct FleetSnapshot {
  std::string cluster, family, task, target;
  std::string stem;          // e.g. 20261203T180000Z-leak-series-1of3
  std::string taken;         // "2026-12-03 18:00:00" from the stem, else S3's LastModified
  std::string reason;        // the stem after its time, e.g. leak-series-1of3
  std::string key;           // the snapshot object's key
  std::string metadata_key;  // the .json beside it; empty while it is not there (uploading)
  std::uint64_t size = 0;    // bytes stored (compressed when .zst)
  std::string last_modified;
  // What `leakwatch diff` and `summary` take: s3://<bucket>/<key>.
  std::string id(const std::string& bucket) const { return "s3://" + bucket + "/" + key; }
};

struct FleetFilter {
  std::string cluster, family, task, target;  // empty: any
};

struct FleetListing {
  // Ordered by cluster, family, task, target, then stem (capture time).
  std::vector<FleetSnapshot> snapshots;
  std::size_t other_objects = 0;  // keys outside the layout (or .json without a snapshot)
  bool complete = true;           // false when the object limit cut the listing
};

// Groups a listing's objects (pure: no I/O).
FleetListing group_fleet(const std::vector<ObjectInfo>& objects, const FleetFilter& filter = {});

// Lists `prefix` (the part of s3://bucket/prefix after the bucket) and groups it. A filter on the
// cluster (and family, and task) narrows the listed prefix when the archive prefix is given.
core::Result<FleetListing> list_fleet(Client& client, const std::string& prefix,
                                      const FleetFilter& filter = {},
                                      std::size_t max_objects = 100000);

// Client settings for a CLI command reading s3://bucket/…: region from $AWS_REGION, then
// $AWS_DEFAULT_REGION (else us-east-1); endpoint from $AWS_ENDPOINT_URL_S3, then $AWS_ENDPOINT_URL
// (as the AWS CLI); $LEAKWATCH_S3_LIST_MAX_KEYS sets the listing page size (tests).
ClientOptions cli_client_options(const std::string& bucket);

}  // namespace leakwatch::s3
