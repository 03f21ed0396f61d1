#pragma once
// `leakwatch snapshots list --archive s3://bucket/prefix`: the fleet's snapshots in an S3 archive,
// grouped by cluster, task family, task and target (cmd_s3list.cpp).
#include <string>

namespace leakwatch::cli {

struct S3ListOptions {
  std::string url;  // s3://bucket[/prefix]
  std::string cluster, family, task, target;
  bool json = false;
};

// Prints the listing; returns the process exit code.
int run_s3_list(const S3ListOptions& o);

}  // namespace leakwatch::cli
