// Detector state persistence: the daemon saves this JSON on every tick (or on shutdown) and
// restores it at start, so a restart of leakwatch does not relearn from zero. The size is bounded:
// at most 8h of fine buckets plus max_window of coarse buckets (~500 + ~200 entries with the
// defaults).
#include <cmath>

#include "leakwatch/detect/detector.h"

namespace leakwatch::detect {
namespace {

constexpr int kVersion = 1;

nlohmann::json buckets_to_json(const std::deque<Detector::Bucket>& bs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& b : bs)
    a.push_back({b.start, b.min, b.max, b.count});
  return a;
}

Detector::Bucket bucket_from_json(const nlohmann::json& j) {
  if (!j.is_array() || j.size() != 4)
    throw std::runtime_error("bucket must be [start, min, max, count]");
  Detector::Bucket b;
  b.start = j.at(0).get<std::int64_t>();
  b.min = j.at(1).get<double>();
  b.max = j.at(2).get<double>();
  b.count = j.at(3).get<std::uint32_t>();
  if (!std::isfinite(b.min) || !std::isfinite(b.max) || b.min > b.max) {
    throw std::runtime_error("bucket min/max invalid");
  }
  return b;
}

}  // namespace

nlohmann::json Detector::save() const {
  nlohmann::json j;
  j["version"] = kVersion;
  j["bucket_seconds"] = settings_.bucket.count();
  j["started"] = started_;
  j["epoch_start"] = epoch_start_;
  j["last_t"] = last_t_;
  j["last_value"] = last_value_;
  j["recent_peak"] = recent_peak_;
  j["recent_peak_t"] = recent_peak_t_;
  j["limit"] = limit_ ? nlohmann::json(*limit_) : nlohmann::json(nullptr);
  j["last_oom_count"] =
      last_oom_count_ ? nlohmann::json(*last_oom_count_) : nlohmann::json(nullptr);
  j["instance"] = instance_;
  j["oom_times"] = oom_times_;
  j["restarts"] = restarts_;
  nlohmann::json gaps = nlohmann::json::array();
  for (const auto& g : gaps_)
    gaps.push_back({g.first, g.second});
  j["gaps"] = gaps;
  j["offset"] = offset_;
  j["fine"] = buckets_to_json(fine_);
  j["coarse"] = buckets_to_json(coarse_);
  if (open_) j["open"] = buckets_to_json({*open_})[0];
  if (coarse_open_) j["coarse_open"] = buckets_to_json({*coarse_open_})[0];
  j["last_rise_seen"] = last_rise_seen_;
  j["last_hit_count"] =
      last_hit_count_ ? nlohmann::json(*last_hit_count_) : nlohmann::json(nullptr);
  j["pinned_since"] = pinned_since_;
  j["last_pinned_t"] = last_pinned_t_;
  j["cache_bound"] = cache_bound_;
  j["last_drop_t"] = last_drop_t_;
  j["tooth"] = tooth_;
  j["troughs_seen"] = troughs_seen_;
  j["last_collection_drop"] = last_collection_drop_;
  j["epoch_peak"] = epoch_peak_;
  if (std::isfinite(epoch_low_)) j["epoch_low"] = epoch_low_;
  j["rise_held_t"] = rise_held_t_;
  nlohmann::json deaths = nlohmann::json::array();
  for (const auto& c : climb_deaths_)
    deaths.push_back({c.t, c.height, c.climb, c.age});
  j["climb_deaths"] = std::move(deaths);
  j["leak"] = leak_;
  j["state"] = to_string(last_.state);
  j["last_decision"] = last_.to_json();
  return j;
}

core::Result<Detector> Detector::restore(const nlohmann::json& j, DetectorSettings settings) {
  Detector d(std::move(settings));
  try {
    if (!j.is_object())
      return core::make_error(core::Errc::detector_state, "state must be a JSON object");
    if (j.at("version").get<int>() != kVersion) {
      return core::make_error(core::Errc::detector_state, "unsupported detector state version");
    }
    d.started_ = j.at("started").get<bool>();
    d.last_t_ = j.at("last_t").get<double>();
    d.last_value_ = j.at("last_value").get<double>();
    d.recent_peak_ = j.at("recent_peak").get<double>();
    d.recent_peak_t_ = j.at("recent_peak_t").get<std::int64_t>();
    if (!j.at("limit").is_null()) d.limit_ = j.at("limit").get<std::uint64_t>();
    if (!j.at("last_oom_count").is_null()) {
      d.last_oom_count_ = j.at("last_oom_count").get<std::uint64_t>();
    }
    d.instance_ = j.at("instance").get<std::string>();
    for (const auto& t : j.at("oom_times"))
      d.oom_times_.push_back(t.get<std::int64_t>());
    d.restarts_ = j.value("restarts", 0);
    d.leak_ = j.at("leak").get<bool>();
    d.last_rise_seen_ = j.at("last_rise_seen").get<std::int64_t>();
    // Added later: absent in older state files.
    if (j.contains("last_hit_count") && !j.at("last_hit_count").is_null())
      d.last_hit_count_ = j.at("last_hit_count").get<std::uint64_t>();
    d.pinned_since_ = j.value("pinned_since", std::int64_t{-1});
    d.last_pinned_t_ = j.value("last_pinned_t", std::int64_t{-1});
    d.cache_bound_ = j.value("cache_bound", false);
    d.tooth_ = j.value("tooth", std::int64_t{0});
    if (j.contains("troughs_seen")) {
      for (const auto& t : j.at("troughs_seen")) {
        d.troughs_seen_.push_back(t.get<double>());
        if (d.troughs_seen_.size() > kTroughs) d.troughs_seen_.pop_front();
      }
    } else if (const double troughs = j.value("troughs", 0.0); troughs > 0) {
      // Older state files: the count of collections and the last two troughs.
      if (troughs > 1) d.troughs_seen_.push_back(j.value("trough_prev", 0.0));
      d.troughs_seen_.push_back(j.value("trough_last", 0.0));
    }
    d.last_collection_drop_ = j.value("last_collection_drop", 0.0);
    d.epoch_peak_ = j.value("epoch_peak", 0.0);
    if (j.contains("epoch_low")) d.epoch_low_ = j.at("epoch_low").get<double>();
    d.rise_held_t_ = j.value("rise_held_t", std::int64_t{-1});
    if (j.contains("climb_deaths")) {
      for (const auto& c : j.at("climb_deaths"))
        d.climb_deaths_.push_back({c.at(0).get<std::int64_t>(), c.at(1).get<double>(),
                                   c.at(2).get<double>(), c.at(3).get<double>()});
    }
    auto st = state_from_string(j.at("state").get<std::string>());
    if (!st) return core::make_error(core::Errc::detector_state, "unknown detector state");
    d.last_.state = *st;
    d.last_.explanation = "restored";
    if (j.contains("last_decision")) {
      const auto& ld = j.at("last_decision");
      d.last_.time = core::from_unix_seconds(ld.at("t").get<double>());
      d.last_.explanation = ld.at("explanation").get<std::string>();
    }
    // History is only usable with the same bucket length; otherwise start a new epoch from here.
    if (j.at("bucket_seconds").get<std::int64_t>() == d.settings_.bucket.count()) {
      d.epoch_start_ = j.at("epoch_start").get<std::int64_t>();
      d.last_drop_t_ = j.value("last_drop_t", d.epoch_start_);
      d.offset_ = j.at("offset").get<double>();
      for (const auto& g : j.at("gaps")) {
        d.gaps_.emplace_back(g.at(0).get<std::int64_t>(), g.at(1).get<std::int64_t>());
      }
      for (const auto& b : j.at("fine"))
        d.fine_.push_back(bucket_from_json(b));
      for (const auto& b : j.at("coarse"))
        d.coarse_.push_back(bucket_from_json(b));
      if (j.contains("open")) d.open_ = bucket_from_json(j.at("open"));
      if (j.contains("coarse_open")) d.coarse_open_ = bucket_from_json(j.at("coarse_open"));
      const std::int64_t cap = 100000;
      if (static_cast<std::int64_t>(d.fine_.size() + d.coarse_.size()) > cap) {
        return core::make_error(core::Errc::detector_state, "detector state too large");
      }
    } else {
      d.epoch_start_ = static_cast<std::int64_t>(d.last_t_);
      d.last_drop_t_ = d.epoch_start_;
      d.tooth_ = 0;
      d.troughs_seen_.clear();
      d.last_collection_drop_ = 0;
      d.epoch_peak_ = 0;
      d.epoch_low_ = std::numeric_limits<double>::infinity();
      d.rise_held_t_ = -1;
    }
  } catch (const std::exception& e) {
    return core::make_error(core::Errc::detector_state,
                            std::string("invalid detector state: ") + e.what());
  }
  return d;
}

}  // namespace leakwatch::detect
