#include "leakwatch/archive/metadata.h"

namespace leakwatch::archive {

using nlohmann::json;

const char* to_string(Compression c) {
  return c == Compression::zstd ? "zstd" : "none";
}

std::string Reason::describe() const {
  if (series_count > 0)
    return kind + " " + std::to_string(series_index) + " of " + std::to_string(series_count);
  return kind;
}

std::string Reason::slug() const {
  std::string s;
  for (char c : kind) {
    bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    s.push_back(keep ? c : '-');
  }
  if (s.empty()) s = "capture";
  if (series_count > 0)
    s += "-" + std::to_string(series_index) + "of" + std::to_string(series_count);
  return s;
}

json sample_to_json(const core::Sample& s) {
  json j = {{"time", core::format_utc(s.time)},
            {"t", core::to_unix_seconds(s.time)},
            {"usage_bytes", s.usage_bytes},
            {"working_set_bytes", s.working_set_bytes},
            {"restarted", s.restarted}};
  auto opt = [&](const char* k, const std::optional<std::uint64_t>& v) {
    j[k] = v ? json(*v) : json(nullptr);
  };
  opt("anon_bytes", s.anon_bytes);
  opt("limit_bytes", s.limit_bytes);
  opt("peak_bytes", s.peak_bytes);
  opt("oom_kill_count", s.oom_kill_count);
  if (!s.instance.empty()) j["instance"] = s.instance;
  return j;
}

core::Sample sample_from_json(const json& j) {
  core::Sample s;
  s.time = core::from_unix_seconds(j.value("t", 0.0));
  s.usage_bytes = j.value("usage_bytes", std::uint64_t{0});
  s.working_set_bytes = j.value("working_set_bytes", std::uint64_t{0});
  s.restarted = j.value("restarted", false);
  auto opt = [&](const char* k) -> std::optional<std::uint64_t> {
    auto it = j.find(k);
    if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
    return it->get<std::uint64_t>();
  };
  s.anon_bytes = opt("anon_bytes");
  s.limit_bytes = opt("limit_bytes");
  s.peak_bytes = opt("peak_bytes");
  s.oom_kill_count = opt("oom_kill_count");
  s.instance = j.value("instance", std::string());
  return s;
}

json Metadata::to_json() const {
  json r = {{"kind", reason.kind}, {"description", reason.describe()}};
  if (reason.series_count > 0) {
    r["series_index"] = reason.series_index;
    r["series_count"] = reason.series_count;
    r["series_id"] = reason.series_id;
  }
  json identity_json = json::object();
  for (const auto& [k, v] : identity.fields())
    identity_json[k] = v;
  return json{
      {"format", format},
      {"id", id},
      {"target", target},
      {"file", file},
      {"started_at", core::format_utc(started_at)},
      {"started_at_unix", core::to_unix_seconds(started_at)},
      {"finished_at", core::format_utc(finished_at)},
      {"finished_at_unix", core::to_unix_seconds(finished_at)},
      {"duration_seconds", duration_seconds},
      {"reason", r},
      {"memory", sample ? sample_to_json(*sample) : json(nullptr)},
      {"detector_state", detector_state},
      {"size_bytes", size_bytes},
      {"stored_bytes", stored_bytes},
      {"sha256", sha256},
      {"stored_sha256", stored_sha256},
      {"compression", to_string(compression)},
      {"compression_level", compression_level},
      {"original_filename", original_filename},
      {"source", source},
      {"attempts", attempts},
      {"forced", forced},
      {"identity", identity_json.empty() ? json(nullptr) : identity_json},
      {"analysis", analysis},
      {"histogram", histogram},
  };
}

core::Result<Metadata> Metadata::from_json(const json& j) {
  try {
    if (!j.is_object()) return core::make_error(core::Errc::parse, "metadata is not a JSON object");
    Metadata m;
    m.format = j.value("format", 1);
    m.id = j.at("id").get<std::string>();
    m.target = j.at("target").get<std::string>();
    m.file = j.at("file").get<std::string>();
    m.started_at = core::from_unix_seconds(j.at("started_at_unix").get<double>());
    m.finished_at = core::from_unix_seconds(j.value("finished_at_unix", 0.0));
    m.duration_seconds = j.value("duration_seconds", 0.0);
    if (auto it = j.find("reason"); it != j.end() && it->is_object()) {
      m.reason.kind = it->value("kind", std::string("unknown"));
      m.reason.series_index = it->value("series_index", 0);
      m.reason.series_count = it->value("series_count", 0);
      m.reason.series_id = it->value("series_id", std::string());
    }
    if (auto it = j.find("memory"); it != j.end() && it->is_object())
      m.sample = sample_from_json(*it);
    if (auto it = j.find("detector_state"); it != j.end()) m.detector_state = *it;
    m.size_bytes = j.value("size_bytes", std::uint64_t{0});
    m.stored_bytes = j.value("stored_bytes", std::uint64_t{0});
    m.sha256 = j.value("sha256", std::string());
    m.stored_sha256 = j.value("stored_sha256", std::string());
    m.compression = j.value("compression", std::string("none")) == "zstd" ? Compression::zstd
                                                                          : Compression::none;
    m.compression_level = j.value("compression_level", 0);
    m.original_filename = j.value("original_filename", std::string());
    m.source = j.value("source", std::string());
    m.attempts = j.value("attempts", 1);
    m.forced = j.value("forced", false);
    if (auto it = j.find("identity"); it != j.end() && it->is_object())
      for (const auto& [k, v] : it->items())
        if (v.is_string()) m.identity.set(k, v.get<std::string>());
    if (auto it = j.find("analysis"); it != j.end()) m.analysis = *it;
    if (auto it = j.find("histogram"); it != j.end()) m.histogram = *it;
    return m;
  } catch (const json::exception& e) {
    return core::make_error(core::Errc::parse, std::string("invalid metadata: ") + e.what());
  }
}

}  // namespace leakwatch::archive
