#include "leakwatch/s3/credentials.h"

#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "leakwatch/core/fs.h"
#include "leakwatch/http/client.h"

namespace leakwatch::s3 {

std::optional<core::TimePoint> parse_iso8601(std::string_view s) {
  std::tm tm{};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  std::string text(s.substr(0, 64));
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
    return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return core::from_unix_seconds(static_cast<double>(timegm(&tm)));
}

core::Result<Credentials> parse_credentials_json(std::string_view body, const std::string& source) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return core::make_error(core::Errc::credentials,
                            source + " returned something that is not JSON");
  auto str = [&](const char* k) -> std::string {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (auto code = str("Code"); !code.empty() && code != "Success")
    return core::make_error(core::Errc::credentials,
                            source + " answered Code=" + code.substr(0, 64));
  Credentials c;
  c.access_key_id = str("AccessKeyId");
  c.secret_access_key = core::Secret(str("SecretAccessKey"), source);
  c.session_token = core::Secret(str("Token"), source);
  c.source = source;
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return core::make_error(core::Errc::credentials,
                            source + " returned no AccessKeyId/SecretAccessKey");
  for (char ch : c.access_key_id)
    if (!std::isalnum(static_cast<unsigned char>(ch)))
      return core::make_error(core::Errc::credentials,
                              source + " returned a malformed AccessKeyId");
  if (auto e = str("Expiration"); !e.empty()) {
    c.expiration = parse_iso8601(e);
    if (!c.expiration)
      return core::make_error(core::Errc::credentials,
                              source + " returned an unreadable Expiration");
  }
  return c;
}

CredentialsProvider::CredentialsProvider(CredentialOptions options) : options_(std::move(options)) {
  if (!options_.getenv)
    options_.getenv = [](const std::string& n) -> std::optional<std::string> {
      const char* v = std::getenv(n.c_str());
      if (!v) return std::nullopt;
      return std::string(v);
    };
}

std::optional<std::string> CredentialsProvider::env(const std::string& name) const {
  auto v = options_.getenv(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

core::TimePoint CredentialsProvider::now() const {
  return options_.clock ? options_.clock->now() : core::WallClock::now();
}

std::string CredentialsProvider::source() const {
  if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) return "env";
  if (env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") || env("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
    return "ecs";
  if (auto d = env("AWS_EC2_METADATA_DISABLED"); d && (*d == "true" || *d == "TRUE")) return "";
  return "imds";
}

core::Result<Credentials> CredentialsProvider::get(bool force) {
  std::lock_guard lock(mu_);
  if (cached_ && !force) {
    if (!cached_->expiration || *cached_->expiration - options_.refresh_margin > now())
      return *cached_;
  }
  auto fresh = fetch();
  if (!fresh.ok()) {
    // A failed refresh keeps credentials that are still valid.
    if (cached_ && !force && cached_->expiration && *cached_->expiration > now()) return *cached_;
    return fresh;
  }
  cached_ = *fresh;
  return fresh;
}

core::Result<Credentials> CredentialsProvider::fetch() {
  auto src = source();
  if (src == "env") {
    Credentials c;
    c.access_key_id = *env("AWS_ACCESS_KEY_ID");
    c.secret_access_key = core::Secret(*env("AWS_SECRET_ACCESS_KEY"), "env AWS_SECRET_ACCESS_KEY");
    if (auto t = env("AWS_SESSION_TOKEN"))
      c.session_token = core::Secret(*t, "env AWS_SESSION_TOKEN");
    c.source = "env";
    return c;
  }
  if (src == "ecs") return from_ecs();
  if (src == "imds") return from_imds();
  return core::make_error(core::Errc::no_credentials,
                          "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run in "
                          "ECS with a task role, or on EC2 with an instance role");
}

namespace {

bool allowed_full_uri_host(const http::Url& u) {
  // As the AWS SDKs: plain HTTP only to loopback or the ECS/EKS container endpoints.
  if (u.tls()) return true;
  const std::string& h = u.host;
  return h == "localhost" || h.rfind("127.", 0) == 0 || h == "::1" || h == "169.254.170.2" ||
         h == "169.254.170.23" || h == "fd00:ec2::23";
}

}  // namespace

core::Result<Credentials> CredentialsProvider::from_ecs() {
  std::string url;
  if (auto rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")) {
    if (rel->empty() || (*rel)[0] != '/')
      return core::make_error(core::Errc::credentials,
                              "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must start with /");
    url = options_.ecs_endpoint + *rel;
  } else {
    url = *env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  }
  auto parsed = http::Url::parse(url);
  if (!parsed.ok())
    return core::make_error(core::Errc::credentials, "the ECS credentials URI is not a URL");
  if (!allowed_full_uri_host(*parsed))
    return core::make_error(core::Errc::credentials,
                            "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https or a loopback/ECS "
                            "address, got " +
                                parsed->origin());
  http::Request req;
  req.url = *parsed;
  req.connect_timeout = options_.timeout;
  req.idle_timeout = options_.timeout;
  req.total_timeout = options_.timeout * 2;
  req.max_body_bytes = 64 * 1024;
  std::optional<std::string> token;
  if (auto file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    auto t = core::read_file(*file, 16 * 1024);
    if (!t.ok())
      return core::make_error(core::Errc::credentials,
                              "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + *file);
    token = *t;
    while (!token->empty() && (token->back() == '\n' || token->back() == '\r'))
      token->pop_back();
  } else if (auto t = env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    token = *t;
  }
  if (token) {
    if (token->find_first_of("\r\n") != std::string::npos)
      return core::make_error(core::Errc::credentials,
                              "the container authorization token has a line break");
    req.headers.emplace_back("Authorization", *token);
  }
  auto r = http::fetch_sync(std::move(req));
  if (!r.ok())
    return core::make_error(
        core::Errc::credentials,
        "ECS credentials endpoint " + parsed->origin() + ": " + r.error().message);
  if (r->status != 200)
    return core::make_error(core::Errc::credentials, "ECS credentials endpoint " +
                                                         parsed->origin() + " answered HTTP " +
                                                         std::to_string(r->status));
  return parse_credentials_json(r->body, "ecs");
}

core::Result<Credentials> CredentialsProvider::from_imds() {
  std::string base = options_.imds_endpoint;
  if (auto e = env("AWS_EC2_METADATA_SERVICE_ENDPOINT")) base = *e;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  auto mk = [&](const std::string& method, const std::string& path) -> core::Result<http::Request> {
    auto u = http::Url::parse(base + path);
    if (!u.ok()) return core::make_error(core::Errc::credentials, "the IMDS endpoint is not a URL");
    http::Request req;
    req.method = method;
    req.url = *u;
    req.connect_timeout = options_.timeout;
    req.idle_timeout = options_.timeout;
    req.total_timeout = options_.timeout * 2;
    req.max_body_bytes = 64 * 1024;
    return req;
  };
  auto treq = mk("PUT", "/latest/api/token");
  if (!treq.ok()) return treq.error();
  treq->headers.emplace_back("X-aws-ec2-metadata-token-ttl-seconds", "21600");
  auto tok = http::fetch_sync(std::move(*treq));
  if (!tok.ok() || tok->status != 200)
    return core::make_error(core::Errc::credentials,
                            "EC2 instance metadata (IMDSv2) is not reachable");
  const std::string token = tok->body;
  if (token.empty() || token.find_first_of("\r\n") != std::string::npos)
    return core::make_error(core::Errc::credentials, "IMDSv2 returned an unusable session token");
  auto get = [&](const std::string& path) -> core::Result<std::string> {
    auto req = mk("GET", path);
    if (!req.ok()) return req.error();
    req->headers.emplace_back("X-aws-ec2-metadata-token", token);
    auto r = http::fetch_sync(std::move(*req));
    if (!r.ok()) return core::make_error(core::Errc::credentials, "IMDSv2: " + r.error().message);
    if (r->status != 200)
      return core::make_error(core::Errc::credentials,
                              "IMDSv2 answered HTTP " + std::to_string(r->status) +
                                  (r->status == 404 ? " (no instance role)" : ""));
    return r->body;
  };
  auto roles = get("/latest/meta-data/iam/security-credentials/");
  if (!roles.ok()) return roles.error();
  std::string role = roles->substr(0, roles->find('\n'));
  if (role.empty() || role.find_first_of("/?#% ") != std::string::npos)
    return core::make_error(core::Errc::credentials, "IMDSv2 lists no usable instance role");
  auto body = get("/latest/meta-data/iam/security-credentials/" + role);
  if (!body.ok()) return body.error();
  return parse_credentials_json(*body, "imds");
}

}  // namespace leakwatch::s3
