#include "leakwatch/s3/client.h"

#include <openssl/evp.h>
#include <openssl/md5.h>

#include <algorithm>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <random>
#include <set>
#include <sstream>
#include <thread>

namespace leakwatch::s3 {

namespace {

bool transport_retryable(core::Errc code) {
  using core::Errc;
  return code == Errc::connect || code == Errc::timeout || code == Errc::io ||
         code == Errc::protocol || code == Errc::resolve;
}

bool token_expired(const std::string& code) {
  return code == "ExpiredToken" || code == "InvalidToken" || code == "TokenRefreshRequired" ||
         code == "ExpiredTokenException";
}

// The deepest element nesting of an XML text, or -1 when it holds a DOCTYPE (S3 never sends one;
// entity declarations are refused rather than trusted) or an unterminated construct. Comments,
// CDATA, processing instructions and quoted attribute values are skipped, so a "</" inside them
// cannot hide real depth. rapidxml (behind property_tree) recurses once per level: this check keeps
// a hostile body from exhausting the stack.
int xml_depth(std::string_view s) {
  int depth = 0, deepest = 0;
  std::size_t i = 0;
  auto skip_to = [&](std::string_view end) {
    auto e = s.find(end, i);
    if (e == std::string_view::npos) return false;
    i = e + end.size();
    return true;
  };
  while ((i = s.find('<', i)) != std::string_view::npos) {
    std::string_view rest = s.substr(i);
    if (rest.starts_with("<!--")) {
      if (!skip_to("-->")) return -1;
    } else if (rest.starts_with("<![CDATA[")) {
      if (!skip_to("]]>")) return -1;
    } else if (rest.starts_with("<?")) {
      if (!skip_to("?>")) return -1;
    } else if (rest.starts_with("<!")) {
      return -1;
    } else if (rest.starts_with("</")) {
      if (depth == 0) return -1;  // a close without an open: not XML
      --depth;
      if (!skip_to(">")) return -1;
    } else {
      // A start tag: find its end outside quoted attribute values.
      char quote = 0;
      std::size_t j = i + 1;
      for (; j < s.size(); ++j) {
        if (quote) {
          if (s[j] == quote) quote = 0;
        } else if (s[j] == '"' || s[j] == '\'') {
          quote = s[j];
        } else if (s[j] == '>') {
          break;
        }
      }
      if (j >= s.size()) return -1;
      if (s[j - 1] != '/') deepest = std::max(deepest, ++depth);
      i = j + 1;
    }
  }
  return deepest;
}

// Parses an XML body; nullopt when it is not XML or nests deeper than S3's documents do.
std::optional<boost::property_tree::ptree> parse_xml(std::string_view body) {
  int depth = xml_depth(body);
  if (depth < 0 || depth > 16) return std::nullopt;
  try {
    std::istringstream in{std::string(body)};
    boost::property_tree::ptree pt;
    boost::property_tree::read_xml(in, pt, boost::property_tree::xml_parser::no_comments);
    return pt;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string xml_text(std::string_view body, std::string_view tag) {
  auto open = "<" + std::string(tag) + ">";
  auto close = "</" + std::string(tag) + ">";
  auto a = body.find(open);
  if (a == std::string_view::npos) return {};
  a += open.size();
  auto b = body.find(close, a);
  if (b == std::string_view::npos || b - a > 1024) return {};
  return std::string(body.substr(a, b - a));
}

// Only printable ASCII survives into error messages (bodies come from a peer).
std::string clean(std::string s) {
  for (auto& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  if (s.size() > 200) s.resize(200);
  return s;
}

}  // namespace

std::string error_code(std::string_view xml) {
  std::string code = clean(xml_text(xml, "Code"));
  for (char c : code)
    if (!std::isalnum(static_cast<unsigned char>(c))) return "Unknown";
  return code;
}

std::string md5_base64(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return base64(std::string_view(reinterpret_cast<const char*>(md), len));
}

core::Result<std::pair<std::string, std::string>> parse_s3_url(std::string_view url) {
  if (url.rfind("s3://", 0) != 0)
    return core::make_error(core::Errc::invalid_url, "expected s3://bucket/…");
  url.remove_prefix(5);
  auto slash = url.find('/');
  std::string bucket(url.substr(0, slash));
  std::string prefix(slash == std::string_view::npos ? "" : url.substr(slash + 1));
  while (!prefix.empty() && prefix.back() == '/')
    prefix.pop_back();
  if (bucket.size() < 3 || bucket.size() > 63)
    return core::make_error(core::Errc::invalid_url, "an S3 bucket name has 3 to 63 characters");
  for (char c : bucket)
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.'))
      return core::make_error(core::Errc::invalid_url,
                              "an S3 bucket name has only lowercase letters, digits, '-' and '.'");
  return std::make_pair(bucket, prefix);
}

Client::Client(ClientOptions options, std::shared_ptr<CredentialsProvider> credentials)
    : options_(std::move(options)), credentials_(std::move(credentials)) {}

core::Result<http::Request> Client::build(
    const std::string& method, const std::string& key,
    const std::vector<std::pair<std::string, std::string>>& query, const http::Headers& headers,
    const std::string& payload_hash, const Credentials& creds) const {
  http::Url url;
  std::string path;
  if (!options_.endpoint.empty()) {
    auto u = http::Url::parse(options_.endpoint);
    if (!u.ok())
      return core::make_error(core::Errc::invalid_url, "archive.s3.endpoint is not a URL");
    url = *u;
    path =
        "/" + uri_encode(options_.bucket, false) + (key.empty() ? "" : "/" + uri_encode(key, true));
  } else {
    url.scheme = "https";
    url.port = 443;
    url.host = options_.bucket + ".s3." + options_.region + ".amazonaws.com";
    path = "/" + uri_encode(key, true);
  }
  url.target = path;
  if (!query.empty()) url.target += "?" + encode_query(query);

  SignRequest sr;
  sr.method = method;
  sr.path = path;
  sr.query = query;
  // The client sends Host as host[:port] (port only when not the scheme's default).
  bool default_port = (url.tls() && url.port == 443) || (!url.tls() && url.port == 80);
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  sr.headers.emplace_back("host", default_port ? host : host + ":" + std::to_string(url.port));
  for (const auto& h : headers)
    sr.headers.push_back(h);
  sr.payload_hash = payload_hash;
  sr.region = options_.region;
  sr.time = core::WallClock::now();
  auto s = sign(sr, creds);

  http::Request req;
  req.method = method;
  req.url = url;
  req.headers = headers;
  for (auto& h : s.headers)
    req.headers.push_back(std::move(h));
  req.tls = options_.tls;
  req.connect_timeout = options_.connect_timeout;
  req.idle_timeout = options_.idle_timeout;
  req.total_timeout = options_.total_timeout;
  return req;
}

core::Result<http::Response> Client::send(const std::string& method, const std::string& key,
                                          std::vector<std::pair<std::string, std::string>> query,
                                          http::Headers headers, std::string_view body,
                                          const http::StreamHandler* stream,
                                          std::uint64_t max_response) {
  const std::string payload_hash = sha256_hex(body);
  if (!body.empty()) headers.emplace_back("content-md5", md5_base64(body));
  std::mt19937 rng(std::random_device{}());
  bool refresh = false;
  bool delivered = false;  // a streamed body started: a retry would repeat bytes
  core::Error last{core::Errc::aborted, "not attempted", {}};
  auto backoff = options_.initial_backoff;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (attempt > 1) {
      if (options_.on_retry) options_.on_retry(attempt - 1, last);
      std::uniform_real_distribution<double> jitter(0.8, 1.2);
      auto wait = std::chrono::milliseconds(
          static_cast<std::int64_t>(static_cast<double>(backoff.count()) * jitter(rng)));
      auto until = std::chrono::steady_clock::now() + wait;
      while (std::chrono::steady_clock::now() < until) {
        if (options_.cancelled && options_.cancelled())
          return core::make_error(core::Errc::aborted, "stopping");
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
      }
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    auto creds = credentials_->get(refresh);
    refresh = false;
    if (!creds.ok()) {
      if (creds.error().code == core::Errc::no_credentials) return creds.error();
      last = creds.error();
      continue;
    }
    auto req = build(method, key, query, headers, payload_hash, *creds);
    if (!req.ok()) return req.error();
    req->body_view = body;
    req->max_body_bytes = max_response;
    core::Result<http::Response> r = core::make_error(core::Errc::aborted, "");
    if (stream) {
      http::StreamHandler h;
      h.on_head = stream->on_head;
      h.on_data = [&](std::string_view chunk) {
        delivered = true;
        return stream->on_data(chunk);
      };
      r = http::stream_sync(std::move(*req), std::move(h));
    } else {
      r = http::fetch_sync(std::move(*req));
    }
    if (!r.ok()) {
      last = r.error();
      if (delivered || !transport_retryable(last.code)) return last;
      continue;
    }
    if (r->status >= 200 && r->status < 300) return r;
    std::string code = error_code(r->body);
    std::string msg = clean(xml_text(r->body, "Message"));
    last = core::make_error(code.empty() ? core::Errc::http_status : core::Errc::s3,
                            method + " " + (key.empty() ? "bucket " + options_.bucket : "object") +
                                ": HTTP " + std::to_string(r->status) +
                                (code.empty() ? "" : " " + code) + (msg.empty() ? "" : ": " + msg),
                            code.empty() ? std::to_string(r->status) : code);
    if (delivered) return last;
    if (token_expired(code)) {
      refresh = true;
      backoff = options_.initial_backoff;
      continue;
    }
    if (r->status >= 500 || r->status == 429 || code == "SlowDown" || code == "RequestTimeout" ||
        code == "InternalError")
      continue;
    return last;
  }
  return last;
}

core::Status Client::head_bucket() {
  // A one-key listing rather than HEAD: it needs only s3:ListBucket and returns an error body.
  auto r = send("GET", "", {{"list-type", "2"}, {"max-keys", "1"}}, {}, {});
  if (!r.ok()) {
    if (r.error().code == core::Errc::http_status && r.error().detail == "404")
      return core::make_error(core::Errc::s3, "bucket " + options_.bucket + " does not exist",
                              "NoSuchBucket");
    return r.error();
  }
  return core::ok_status();
}

core::Status Client::put_object(const std::string& key, std::string_view body,
                                const std::string& content_type) {
  auto r = send("PUT", key, {}, {{"content-type", content_type}}, body);
  if (!r.ok()) return r.error();
  return core::ok_status();
}

core::Result<std::string> Client::create_multipart(const std::string& key,
                                                   const std::string& content_type) {
  auto r = send("POST", key, {{"uploads", ""}}, {{"content-type", content_type}}, {});
  if (!r.ok()) return r.error();
  std::string id = xml_text(r->body, "UploadId");
  if (id.empty())
    return core::make_error(core::Errc::protocol, "CreateMultipartUpload returned no UploadId");
  return id;
}

core::Result<std::string> Client::upload_part(const std::string& key, const std::string& upload_id,
                                              int number, std::string_view body) {
  auto r =
      send("PUT", key, {{"partNumber", std::to_string(number)}, {"uploadId", upload_id}}, {}, body);
  if (!r.ok()) return r.error();
  std::string etag = r->header("ETag");
  if (etag.empty()) return core::make_error(core::Errc::protocol, "UploadPart returned no ETag");
  return etag;
}

core::Status Client::complete_multipart(const std::string& key, const std::string& upload_id,
                                        const std::vector<PartETag>& parts) {
  std::string xml = "<CompleteMultipartUpload>";
  for (const auto& p : parts)
    xml += "<Part><PartNumber>" + std::to_string(p.number) + "</PartNumber><ETag>" + p.etag +
           "</ETag></Part>";
  xml += "</CompleteMultipartUpload>";
  auto r = send("POST", key, {{"uploadId", upload_id}}, {{"content-type", "application/xml"}}, xml);
  if (!r.ok()) return r.error();
  // S3 can answer 200 with an error document when the completion fails late.
  if (r->body.find("<Error>") != std::string::npos)
    return core::make_error(core::Errc::s3, "CompleteMultipartUpload failed", error_code(r->body));
  return core::ok_status();
}

core::Status Client::abort_multipart(const std::string& key, const std::string& upload_id) {
  auto r = send("DELETE", key, {{"uploadId", upload_id}}, {}, {});
  if (!r.ok()) return r.error();
  return core::ok_status();
}

core::Result<ListPage> parse_list_page(std::string_view xml) {
  auto pt = parse_xml(xml);
  if (!pt)
    return core::make_error(core::Errc::protocol,
                            "ListObjectsV2 returned something that is not XML");
  auto root = pt->get_child_optional("ListBucketResult");
  if (!root)
    return core::make_error(core::Errc::protocol, "ListObjectsV2 returned no ListBucketResult");
  ListPage page;
  for (const auto& [name, node] : *root) {
    if (name == "Contents") {
      ++page.entries;
      ObjectInfo o;
      o.key = node.get<std::string>("Key", "");
      // Digits only (a stream would read "-1" as 2^64-1); S3 objects are at most 5 TiB.
      auto size = node.get<std::string>("Size", "");
      if (!size.empty() && size.size() <= 15 &&
          std::all_of(size.begin(), size.end(), [](char c) { return c >= '0' && c <= '9'; }))
        o.size = std::stoull(size);
      o.last_modified = clean(node.get<std::string>("LastModified", ""));
      o.etag = clean(node.get<std::string>("ETag", ""));
      if (!o.key.empty() && o.key.size() <= 1024) page.objects.push_back(std::move(o));
    } else if (name == "CommonPrefixes") {
      ++page.entries;
      auto p = node.get<std::string>("Prefix", "");
      if (!p.empty() && p.size() <= 1024) page.prefixes.push_back(std::move(p));
    }
  }
  page.truncated = root->get<std::string>("IsTruncated", "false") == "true";
  page.next_token = root->get<std::string>("NextContinuationToken", "");
  return page;
}

core::Result<ListResult> Client::list(const std::string& prefix, const std::string& delimiter,
                                      std::size_t max_objects) {
  ListResult out;
  std::string token;
  std::set<std::string> seen_tokens;
  for (int page = 0;; ++page) {
    if (page >= 10000)
      return core::make_error(core::Errc::protocol,
                              "ListObjectsV2 still truncated after 10000 pages");
    std::vector<std::pair<std::string, std::string>> q = {{"list-type", "2"}, {"prefix", prefix}};
    if (!delimiter.empty()) q.emplace_back("delimiter", delimiter);
    if (options_.list_max_keys > 0)
      q.emplace_back("max-keys", std::to_string(std::min(options_.list_max_keys, 1000)));
    if (!token.empty()) q.emplace_back("continuation-token", token);
    auto r = send("GET", "", q, {}, {});
    if (!r.ok()) return r.error();
    auto p = parse_list_page(r->body);
    if (!p.ok()) return p.error();
    for (auto& o : p->objects)
      if (out.objects.size() < max_objects) out.objects.push_back(std::move(o));
    for (auto& x : p->prefixes)
      if (out.prefixes.size() < max_objects) out.prefixes.push_back(std::move(x));
    if (!p->truncated) break;
    if (out.objects.size() >= max_objects || out.prefixes.size() >= max_objects) {
      out.complete = false;
      break;
    }
    token = std::move(p->next_token);
    if (token.empty() || token.size() > 4096)
      return core::make_error(core::Errc::protocol,
                              "ListObjectsV2 is truncated but gave no usable token");
    if (p->entries == 0 || !seen_tokens.insert(token).second)
      return core::make_error(
          core::Errc::protocol,
          "ListObjectsV2 repeats itself (an empty page or a token seen before)");
  }
  return out;
}

core::Result<std::string> Client::get_object(const std::string& key, std::uint64_t max_bytes) {
  auto r = send("GET", key, {}, {}, {}, nullptr, max_bytes);
  if (!r.ok()) return r.error();
  return std::move(r->body);
}

core::Status Client::get_object(const std::string& key,
                                const std::function<core::Status(std::string_view)>& on_data) {
  http::StreamHandler h;
  h.on_head = [](const http::Response&) { return core::ok_status(); };
  h.on_data = on_data;
  auto r = send("GET", key, {}, {}, {}, &h, std::uint64_t{1} << 40);
  if (!r.ok()) return r.error();
  return core::ok_status();
}

}  // namespace leakwatch::s3
