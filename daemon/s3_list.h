#pragma once
// `leakwatch snapshots list --archive s3://bucket/prefix`: the fleet's snapshots in an S3 archive,
// grouped by cluster, task family, task and target; `snapshots show|export` of one of them
// (cmd_s3list.cpp).
#include <string>

namespace leakwatch::cli {

struct S3ListOptions {
  std::string url;  // s3://bucket[/prefix]
  std::string cluster, family, task, target;
  bool json = false;
};

// Prints the listing; returns the process exit code.
int run_s3_list(const S3ListOptions& o);

// `snapshots show|export` of an S3 snapshot: `id` is s3://bucket/key, or a key under `archive`
// (s3://bucket/prefix) as s3/fetch.h reads them.
struct S3SnapshotOptions {
  std::string id;
  std::string archive;  // --archive s3://bucket/prefix, or empty
  std::string output;   // export: the file (default ./<stem>.heapsnapshot; "-" = stdout)
};
int run_s3_show(const S3SnapshotOptions& o);
int run_s3_export(const S3SnapshotOptions& o);

}  // namespace leakwatch::cli
