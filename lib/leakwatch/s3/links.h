#pragma once
// Where an archived capture lives (or will live) in S3, for alerts: the key the uploader gives it
// (identity.h's layout), its s3:// id as `leakwatch snapshots show|export|diff` accept it, a link
// to the object's page in the AWS console, and whether the upload has happened yet. Names only:
// never credentials, never a presigned URL.
#include <string>
#include <string_view>

namespace leakwatch::s3 {

enum class UploadState {
  pending,       // queued or in progress (retried on failure): the object may not exist yet
  uploaded,      // this daemon uploaded it (snapshot and metadata)
  not_uploaded,  // dropped: the local files were gone (retention) before they could go up
  unknown,       // archived before this daemon started, or before S3 was configured
};
const char* to_string(UploadState s);  // "pending", "uploaded", "not_uploaded", "unknown"

struct ObjectLink {
  std::string archive_id;  // the local archive id, "<target>/<stem>"
  std::string bucket;
  std::string key;           // the snapshot object, <...>/<stem>.heapsnapshot[.zst]
  std::string metadata_key;  // its metadata object, <...>/<stem>.json (uploaded last)
  // The object's page in the AWS console; empty for an S3-compatible endpoint
  // (archive.s3.endpoint), a region outside the commercial AWS partition, where that console does
  // not apply, and an object that is `not_uploaded`.
  std::string console_url;
  UploadState state = UploadState::unknown;

  // "s3://<bucket>/<key>": what the CLI accepts.
  std::string url() const { return "s3://" + bucket + "/" + key; }
  bool operator==(const ObjectLink&) const = default;
};

// https://<region>.console.aws.amazon.com/s3/object/<bucket>?region=<region>&prefix=<key>, the key
// percent-encoded (its '/' kept). Empty when the region is not one of the commercial partition's
// ("cn-*" and "us-gov-*" have their own consoles) or does not look like a region.
std::string console_url(std::string_view region, std::string_view bucket, std::string_view key);

}  // namespace leakwatch::s3
