#include "leakwatch/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <ctime>
#include <map>

namespace leakwatch::s3 {

std::string uri_encode(std::string_view s, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string encode_query(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query)
    enc.emplace_back(uri_encode(k, false), uri_encode(v, false));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return to_hex(std::string_view(reinterpret_cast<const char*>(md), sizeof md));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

std::string amz_date(core::TimePoint t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(t));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Trims and collapses runs of spaces, as the canonical headers require.
std::string trim_all(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// name -> comma-joined values, sorted by name.
std::map<std::string, std::string> header_map(const SignRequest& r) {
  std::map<std::string, std::string> m;
  for (const auto& [k, v] : r.headers) {
    auto& slot = m[lower(k)];
    if (!slot.empty()) slot += ',';
    slot += trim_all(v);
  }
  return m;
}

std::string signed_headers(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    if (!out.empty()) out += ';';
    out += k;
  }
  return out;
}

std::string scope(const SignRequest& r) {
  return amz_date(r.time).substr(0, 8) + "/" + r.region + "/" + r.service + "/aws4_request";
}

}  // namespace

std::string canonical_request(const SignRequest& r) {
  auto m = header_map(r);
  std::string out =
      r.method + "\n" + (r.path.empty() ? "/" : r.path) + "\n" + encode_query(r.query) + "\n";
  for (const auto& [k, v] : m)
    out += k + ":" + v + "\n";
  out += "\n" + signed_headers(m) + "\n" + r.payload_hash;
  return out;
}

std::string string_to_sign(const SignRequest& r, std::string_view canonical) {
  return "AWS4-HMAC-SHA256\n" + amz_date(r.time) + "\n" + scope(r) + "\n" + sha256_hex(canonical);
}

std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  std::string k = hmac_sha256("AWS4" + std::string(secret), date);
  k = hmac_sha256(k, region);
  k = hmac_sha256(k, service);
  return hmac_sha256(k, "aws4_request");
}

Signed sign(const SignRequest& in, const Credentials& c) {
  SignRequest r = in;
  const std::string date = amz_date(r.time);
  std::vector<std::pair<std::string, std::string>> added = {
      {"x-amz-date", date}, {"x-amz-content-sha256", r.payload_hash}};
  if (!c.session_token.empty())
    added.emplace_back("x-amz-security-token", c.session_token.reveal());
  // Signed headers are exactly what is sent: drop caller copies of the ones set here.
  std::erase_if(r.headers, [](const auto& h) {
    auto n = lower(h.first);
    return n == "x-amz-date" || n == "x-amz-content-sha256" || n == "x-amz-security-token" ||
           n == "authorization";
  });
  for (const auto& h : added)
    r.headers.push_back(h);

  Signed out;
  out.canonical_request = canonical_request(r);
  out.string_to_sign = string_to_sign(r, out.canonical_request);
  std::string key =
      signing_key(c.secret_access_key.reveal(), date.substr(0, 8), r.region, r.service);
  out.signature = to_hex(hmac_sha256(key, out.string_to_sign));
  out.headers = std::move(added);
  out.headers.emplace_back("authorization", "AWS4-HMAC-SHA256 Credential=" + c.access_key_id + "/" +
                                                scope(r) +
                                                ",SignedHeaders=" + signed_headers(header_map(r)) +
                                                ",Signature=" + out.signature);
  return out;
}

}  // namespace leakwatch::s3
