#pragma once
// Where AWS credentials come from, in the order the AWS SDKs use:
//   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
//   2. the ECS container credentials endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (against
//      169.254.170.2), or AWS_CONTAINER_CREDENTIALS_FULL_URI (loopback or the ECS/EKS link-local
//      addresses only) with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN as Authorization;
//   3. EC2 IMDSv2 (a session token first, then the instance role's credentials), unless
//      AWS_EC2_METADATA_DISABLED=true; AWS_EC2_METADATA_SERVICE_ENDPOINT overrides the address.
// Temporary credentials are cached and fetched again `refresh_margin` before they expire, or when
// S3 says they expired. Secrets are held in core::Secret and never appear in errors or logs.
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"
#include "leakwatch/s3/sigv4.h"

namespace leakwatch::s3 {

struct CredentialOptions {
  // Reads an environment variable; defaults to std::getenv.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Host (and port) for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; tests point it at a loopback fake.
  std::string ecs_endpoint = "http://169.254.170.2";
  std::string imds_endpoint = "http://169.254.169.254";
  std::chrono::seconds refresh_margin{std::chrono::minutes(5)};
  std::chrono::milliseconds timeout{std::chrono::seconds(2)};
  const core::Clock* clock = nullptr;  // nullptr: the system clock
};

// Parses the JSON both the ECS endpoint and IMDS return (AccessKeyId, SecretAccessKey, Token,
// Expiration as ISO 8601 UTC). Errors: code "credentials" (never quoting the body).
core::Result<Credentials> parse_credentials_json(std::string_view body, const std::string& source);
// "2026-12-03T19:00:00Z" (fractions of a second allowed).
std::optional<core::TimePoint> parse_iso8601(std::string_view s);

class CredentialsProvider {
 public:
  explicit CredentialsProvider(CredentialOptions options = {});
  // Thread-safe. Cached credentials while they are fresh; `force` fetches again (after S3 answered
  // ExpiredToken). Errors: "no_credentials" (nothing configured), "credentials" (a source failed).
  core::Result<Credentials> get(bool force = false);
  // Which source the chain uses ("env", "ecs", "imds"), or "" when none applies.
  std::string source() const;

 private:
  core::Result<Credentials> fetch();
  core::Result<Credentials> from_ecs();
  core::Result<Credentials> from_imds();
  std::optional<std::string> env(const std::string& name) const;
  core::TimePoint now() const;

  CredentialOptions options_;
  mutable std::mutex mu_;
  std::optional<Credentials> cached_;
};

}  // namespace leakwatch::s3
