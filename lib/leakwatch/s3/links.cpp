#include "leakwatch/s3/links.h"

#include <cctype>

#include "leakwatch/s3/sigv4.h"

namespace leakwatch::s3 {

const char* to_string(UploadState s) {
  switch (s) {
    case UploadState::pending:
      return "pending";
    case UploadState::uploaded:
      return "uploaded";
    case UploadState::not_uploaded:
      return "not_uploaded";
    case UploadState::unknown:
      return "unknown";
  }
  return "unknown";
}

std::string console_url(std::string_view region, std::string_view bucket, std::string_view key) {
  // The region becomes part of a host name: only [a-z0-9-] ("eu-west-1", "ap-southeast-2").
  if (region.empty() || bucket.empty() || key.empty() || region.size() > 32) return {};
  for (char c : region)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-'))
      return {};
  if (region.starts_with("cn-") || region.starts_with("us-gov-") || region.starts_with("us-iso"))
    return {};
  std::string r(region);
  return "https://" + r + ".console.aws.amazon.com/s3/object/" + uri_encode(bucket, false) +
         "?region=" + r + "&prefix=" + uri_encode(key, true);
}

}  // namespace leakwatch::s3
