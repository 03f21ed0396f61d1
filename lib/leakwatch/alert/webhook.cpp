#include "leakwatch/alert/webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <cstdlib>

#include "leakwatch/alert/format.h"

namespace leakwatch::alert {

using nlohmann::json;

namespace {

json opt(const std::optional<std::uint64_t>& v) {
  return v ? json(*v) : json(nullptr);
}
json opt(const std::optional<double>& v) {
  return v ? json(*v) : json(nullptr);
}

}  // namespace

json webhook_payload(const Event& e, const RenderOptions& options) {
  json j;
  j["schema"] = kWebhookSchema;
  j["id"] = e.id;
  j["type"] = to_string(e.type);
  j["severity"] = to_string(e.severity());
  j["time"] = core::format_utc(e.time);
  j["time_unix"] = core::to_unix_seconds(e.time);
  j["summary"] = headline(e);
  j["next_step"] = detail::next_step(e);
  j["reminder"] = e.reminder;
  j["reminder_count"] = e.reminder_count;
  j["escalated"] = e.escalated;
  if (!e.incident_id.empty()) {
    j["incident"] = {{"id", e.incident_id},
                     {"status", e.type == EventType::recovered ? "resolved" : "open"},
                     {"opened_at", e.incident_opened ? json(core::format_utc(*e.incident_opened))
                                                     : json(nullptr)}};
  } else {
    j["incident"] = nullptr;
  }
  j["target"] = {{"name", e.target},
                 {"instance", e.instance.empty() ? json(nullptr) : json(e.instance)}};
  // Where the target runs (core/identity.h field names); null when unknown.
  json identity = json::object();
  for (const auto& [k, v] : e.task.fields())
    identity[k] = v;
  j["identity"] = identity.empty() ? json(nullptr) : identity;
  j["memory"] = {{"usage_bytes", opt(e.memory.usage_bytes)},
                 {"working_set_bytes", opt(e.memory.working_set_bytes)},
                 {"limit_bytes", opt(e.memory.limit_bytes)}};
  if (e.leak) {
    j["leak"] = {{"slope_bytes_per_hour", e.leak->slope_bytes_per_hour},
                 {"forecast_seconds", opt(e.leak->forecast_seconds)},
                 {"confidence", e.leak->confidence},
                 {"oom_imminent", e.leak->oom_imminent},
                 {"window_seconds", e.leak->window.count()},
                 {"oom_kills", e.leak->oom_kills},
                 {"explanation", e.leak->explanation}};
  } else {
    j["leak"] = nullptr;
  }
  if (e.capture) {
    json growers = json::array();
    for (const auto& g : e.capture->top_growers)
      growers.push_back({{"name", g.name},
                         {"size_delta", g.size_delta},
                         {"count_delta", g.count_delta ? json(*g.count_delta) : json(nullptr)},
                         {"retainer_path", g.retainer_path},
                         {"path_note", g.path_note}});
    std::string cmd = detail::diff_command(e);
    // Where the snapshots are in S3 (archive.s3), in the order of archive_ids; `upload` says
    // whether the object exists yet ("pending": not yet).
    json objects = json::array();
    for (const auto& o : e.capture->s3_objects)
      objects.push_back(
          {{"archive_id", o.archive_id},
           {"url", o.url()},
           {"bucket", o.bucket},
           {"key", o.key},
           {"metadata_key", o.metadata_key},
           {"console_url", o.console_url.empty() ? json(nullptr) : json(o.console_url)},
           {"upload", s3::to_string(o.state)}});
    std::string s3_cmd = detail::s3_diff_command(e);
    j["capture"] = {{"archive_ids", e.capture->archive_ids},
                    {"s3_objects", objects},
                    {"s3_diff_command", s3_cmd.empty() ? json(nullptr) : json(s3_cmd)},
                    {"size_bytes", opt(e.capture->size_bytes)},
                    {"duration_seconds", opt(e.capture->duration_seconds)},
                    {"top_growers", growers},
                    {"diff_command", cmd.empty() ? json(nullptr) : json(cmd)}};
  } else {
    j["capture"] = nullptr;
  }
  j["reason"] = e.reason.empty() ? json(nullptr) : json(e.reason);
  j["oom_kill_count"] = opt(e.oom_kill_count);
  j["recovered_from"] = e.type == EventType::recovered
                            ? json(to_string(e.recovered_from.value_or(EventType::leak_suspected)))
                            : json(nullptr);
  std::string dash = detail::join_url(options.dashboard_url, "/");
  j["links"] = {{"dashboard", dash.empty() ? json(nullptr) : json(dash)}};
  return j;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out += hex[mac[i] >> 4];
    out += hex[mac[i] & 0xF];
  }
  return out;
}

std::string signature_header(const core::Secret& secret, std::int64_t unix_time,
                             std::string_view body) {
  std::string t = std::to_string(unix_time);
  std::string signed_payload = t + "." + std::string(body);
  return "t=" + t + ",v1=" + hmac_sha256_hex(secret.reveal(), signed_payload);
}

SignatureCheck verify_signature(std::string_view header, const core::Secret& secret,
                                std::string_view body, std::int64_t now_unix,
                                std::chrono::seconds tolerance) {
  std::optional<std::int64_t> t;
  std::vector<std::string_view> v1;
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view part = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    while (!part.empty() && part.front() == ' ')
      part.remove_prefix(1);
    auto eq = part.find('=');
    if (eq == std::string_view::npos) return SignatureCheck::malformed;
    auto k = part.substr(0, eq), v = part.substr(eq + 1);
    if (k == "t") {
      std::int64_t x = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
      if (ec != std::errc() || p != v.data() + v.size()) return SignatureCheck::malformed;
      t = x;
    } else if (k == "v1") {
      v1.push_back(v);
    }
  }
  if (!t || v1.empty()) return SignatureCheck::malformed;
  std::string expected =
      hmac_sha256_hex(secret.reveal(), std::to_string(*t) + "." + std::string(body));
  bool match = false;
  for (auto v : v1)
    if (v.size() == expected.size() && CRYPTO_memcmp(v.data(), expected.data(), v.size()) == 0)
      match = true;
  if (!match) return SignatureCheck::mismatch;
  if (std::llabs(now_unix - *t) > tolerance.count()) return SignatureCheck::expired;
  return SignatureCheck::valid;
}

}  // namespace leakwatch::alert
