#pragma once
// A small, blocking S3 client for the uploader thread and CLI commands: single PUTs, multipart
// uploads, ListObjectsV2, GET (streamed) and HEAD bucket, every request signed with SigV4 and
// carrying its payload's SHA-256 (checked by S3) and Content-MD5.
//
// Addressing: without `endpoint`, virtual-hosted style https://<bucket>.s3.<region>.amazonaws.com;
// with `endpoint` (S3-compatible stores, tests), path style <endpoint>/<bucket>/<key>.
// Retries: transport errors (refused, reset, timeout), HTTP 500/502/503/504 (SlowDown included)
// and 429 back off exponentially with jitter; ExpiredToken/InvalidToken fetch credentials again.
// Error codes: "s3_<Code>" for S3's error (s3_NoSuchBucket, s3_AccessDenied, ...), "http_<n>"
// without one, the http client's codes for transport errors, "credentials"/"no_credentials".
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/core/result.h"
#include "leakwatch/http/client.h"
#include "leakwatch/s3/credentials.h"

namespace leakwatch::s3 {

struct ClientOptions {
  std::string bucket;
  std::string region = "us-east-1";
  std::string endpoint;  // empty: AWS; else "http(s)://host:port" (path-style)
  http::TlsOptions tls;
  int max_attempts = 6;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(20)};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(30)};
  std::chrono::milliseconds total_timeout{std::chrono::minutes(5)};
  // ListObjectsV2 page size (max-keys, 1..1000); 0 leaves S3's default of 1000.
  int list_max_keys = 0;
  // Called before each retry sleep, for logs and tests (attempt is 1-based, error says why).
  std::function<void(int attempt, const core::Error& why)> on_retry;
  // Polled during backoff sleeps: true ends the retries early (daemon shutdown).
  std::function<bool()> cancelled;
};

struct ObjectInfo {
  std::string key;
  std::uint64_t size = 0;
  std::string last_modified;
  std::string etag;
};

struct ListResult {
  std::vector<ObjectInfo> objects;
  std::vector<std::string> prefixes;  // CommonPrefixes when a delimiter is given
  bool complete = true;               // false when max_objects cut the listing short
};

// One ListObjectsV2 response page.
struct ListPage {
  std::vector<ObjectInfo> objects;  // keys over 1024 bytes (S3's limit) are dropped
  std::vector<std::string> prefixes;
  std::size_t entries = 0;  // Contents and CommonPrefixes elements seen, dropped ones included
  bool truncated = false;
  std::string next_token;
};

struct PartETag {
  int number = 0;
  std::string etag;
};

class Client {
 public:
  Client(ClientOptions options, std::shared_ptr<CredentialsProvider> credentials);

  const ClientOptions& options() const { return options_; }
  // Set before the client is shared between threads.
  void set_cancelled(std::function<bool()> f) { options_.cancelled = std::move(f); }

  core::Status head_bucket();
  // Bodies are sent from the caller's memory, never copied (a part is several MiB).
  core::Status put_object(const std::string& key, std::string_view body,
                          const std::string& content_type = "application/octet-stream");
  core::Result<std::string> create_multipart(const std::string& key,
                                             const std::string& content_type);
  core::Result<std::string> upload_part(const std::string& key, const std::string& upload_id,
                                        int number, std::string_view body);
  core::Status complete_multipart(const std::string& key, const std::string& upload_id,
                                  const std::vector<PartETag>& parts);
  core::Status abort_multipart(const std::string& key, const std::string& upload_id);
  // Every object under `prefix` (all pages, following NextContinuationToken); with a delimiter,
  // CommonPrefixes too. Each page is hostile input: at most 4 MiB, nesting at most 16 deep (checked
  // before parsing), keys over 1024 bytes dropped; a repeated or missing token, or a truncated
  // page with nothing in it, ends the listing with a "protocol" error rather than looping.
  core::Result<ListResult> list(const std::string& prefix, const std::string& delimiter = {},
                                std::size_t max_objects = 100000);
  core::Result<std::string> get_object(const std::string& key, std::uint64_t max_bytes);
  // Streams an object to `on_data`.
  core::Status get_object(const std::string& key,
                          const std::function<core::Status(std::string_view)>& on_data);

  // One signed request with retries. `key` empty addresses the bucket.
  core::Result<http::Response> send(const std::string& method, const std::string& key,
                                    std::vector<std::pair<std::string, std::string>> query,
                                    http::Headers headers, std::string_view body,
                                    const http::StreamHandler* stream = nullptr,
                                    std::uint64_t max_response = 4 << 20);

 private:
  core::Result<http::Request> build(const std::string& method, const std::string& key,
                                    const std::vector<std::pair<std::string, std::string>>& query,
                                    const http::Headers& headers, const std::string& payload_hash,
                                    const Credentials& creds) const;

  ClientOptions options_;
  std::shared_ptr<CredentialsProvider> credentials_;
};

// The <Code> of an S3 XML error body, empty when none.
std::string error_code(std::string_view xml);
// "s3://bucket/some/prefix" -> {bucket, "some/prefix"}; errors "invalid_url".
core::Result<std::pair<std::string, std::string>> parse_s3_url(std::string_view url);
std::string md5_base64(std::string_view data);
// Parses one ListObjectsV2 page (hostile input: never throws; nesting deeper than 16 or a DOCTYPE
// is refused before parsing). Errors: "protocol".
core::Result<ListPage> parse_list_page(std::string_view xml);

}  // namespace leakwatch::s3
