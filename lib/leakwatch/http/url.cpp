#include "leakwatch/http/url.h"

#include <charconv>

namespace leakwatch::http {

std::string Url::origin() const {
  bool ipv6 = host.find(':') != std::string::npos;
  std::string h = ipv6 ? "[" + host + "]" : host;
  bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  return scheme + "://" + h + (default_port ? "" : ":" + std::to_string(port));
}

std::string Url::redacted() const {
  return origin() + (target.size() > 1 ? "/…" : "");
}

core::Result<Url> Url::parse(std::string_view text) {
  Url u;
  auto fail = [](std::string why) {
    return core::make_error(core::Errc::invalid_url, std::move(why));
  };
  auto sep = text.find("://");
  if (sep == std::string_view::npos) return fail("URL must start with http:// or https://");
  u.scheme = std::string(text.substr(0, sep));
  for (auto& c : u.scheme)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https")
    return fail("unsupported URL scheme '" + u.scheme + "' (use http or https)");
  std::string_view rest = text.substr(sep + 3);
  auto slash = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return fail("credentials in the URL are not supported (use a secret header)");
  if (authority.empty()) return fail("URL has no host");
  std::string_view port_text;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unterminated IPv6 address in URL");
    u.host = std::string(authority.substr(1, close - 1));
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("unexpected characters after IPv6 address");
      port_text = after.substr(1);
    }
  } else {
    auto colon = authority.rfind(':');
    u.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) return fail("URL has no host");
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || p != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return fail("invalid port in URL");
    u.port = static_cast<std::uint16_t>(port);
  } else {
    u.port = u.tls() ? 443 : 80;
  }
  auto hash = path.find('#');
  if (hash != std::string_view::npos) path = path.substr(0, hash);
  u.target = path.empty() ? "/" : std::string(path);
  if (u.target.front() == '?') u.target = "/" + u.target;
  return u;
}

}  // namespace leakwatch::http
