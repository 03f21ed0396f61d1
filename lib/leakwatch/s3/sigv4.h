#pragma once
// AWS Signature Version 4 for header-based authentication, as AWS documents it: canonical request,
// string to sign, derived signing key, Authorization header. Pure functions (no I/O, no clock) so
// the published examples and an independent implementation can check them byte for byte.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/secret.h"
#include "leakwatch/http/encoding.h"

namespace leakwatch::s3 {

// Static or temporary credentials. The secret key and session token never print their value.
struct Credentials {
  std::string access_key_id;
  core::Secret secret_access_key;
  core::Secret session_token;                 // empty for long-term keys
  std::optional<core::TimePoint> expiration;  // none: does not expire
  std::string source;                         // "env", "ecs", "imds": safe to log
};

// The payload hash that tells S3 the body is not hashed (its integrity then rests on TLS).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct SignRequest {
  std::string method = "GET";
  // The request path exactly as sent on the wire (already URI-encoded, e.g. "/bucket/a%20b").
  std::string path = "/";
  // Query parameters, decoded (they are encoded here for the canonical query string).
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign, as sent (any case). Must include "host". x-amz-date, x-amz-content-sha256 and
  // x-amz-security-token are added by sign().
  std::vector<std::pair<std::string, std::string>> headers;
  // Lowercase hex SHA-256 of the body, or kUnsignedPayload.
  std::string payload_hash;
  std::string region;
  std::string service = "s3";
  core::TimePoint time{};
};

struct Signed {
  // Headers to add to the request: x-amz-date, x-amz-content-sha256, [x-amz-security-token],
  // authorization. The authorization value carries a signature, not the secret key.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string canonical_request;  // for tests and debugging
  std::string string_to_sign;
  std::string signature;
};

// RFC 3986 unreserved characters stay, everything else becomes %XY (uppercase); '/' is kept when
// `keep_slash` (object key paths).
std::string uri_encode(std::string_view s, bool keep_slash);
// The query string as sent on the wire (encoded, sorted: the same as the canonical one).
std::string encode_query(const std::vector<std::pair<std::string, std::string>>& query);

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw bytes
std::string to_hex(std::string_view bytes);
using http::base64;
// "20150830T123600Z" and "20150830".
std::string amz_date(core::TimePoint t);

std::string canonical_request(const SignRequest& r);
std::string string_to_sign(const SignRequest& r, std::string_view canonical);
// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);

Signed sign(const SignRequest& r, const Credentials& c);

}  // namespace leakwatch::s3
