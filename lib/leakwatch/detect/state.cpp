// Detector state persistence: the daemon saves this JSON on every tick (or on shutdown) and
// restores it at start, so a restart of leakwatch does not relearn from zero. The size is bounded:
// at most 8h of fine buckets plus max_window of coarse buckets (~500 + ~200 entries with the
// defaults).
#include <cmath>

#include "leakwatch/core/utf8.h"
#include "leakwatch/detect/detector.h"

namespace leakwatch::detect {
namespace {

constexpr int kVersion = 1;

// A damaged or hand-edited file must give an error, never a value out of range: nlohmann converts
// a float into an integer with a plain cast (undefined behaviour when it does not fit), and a time
// near the int64 limits would overflow the detector's arithmetic later.
constexpr double kMaxTime = 1e12;   // seconds: ~31,700 years, far from int64 overflow
constexpr double kMaxBytes = 4e19;  // above any 64-bit count the detector can have seen
constexpr std::size_t kMaxEntries = 100000;

double number(const nlohmann::json& v, const char* what, double lo, double hi) {
  if (!v.is_number()) throw std::runtime_error(std::string(what) + " must be a number");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw std::runtime_error(std::string(what) + " out of range");
  return x;
}

std::int64_t time_of(const nlohmann::json& v, const char* what) {
  return static_cast<std::int64_t>(number(v, what, -kMaxTime, kMaxTime));
}

double bytes_of(const nlohmann::json& v, const char* what) {
  return number(v, what, -kMaxBytes, kMaxBytes);
}

std::uint64_t count_of(const nlohmann::json& v, const char* what, double hi) {
  // Above 2^53 a double loses the low bits: read exact integers as integers.
  if (v.is_number_unsigned()) {
    const auto n = v.get<std::uint64_t>();
    if (static_cast<double>(n) > hi) throw std::runtime_error(std::string(what) + " out of range");
    return n;
  }
  return static_cast<std::uint64_t>(number(v, what, 0, hi));
}

const nlohmann::json& list(const nlohmann::json& v, const char* what) {
  if (!v.is_array() || v.size() > kMaxEntries)
    throw std::runtime_error(std::string(what) + " must be an array of at most " +
                             std::to_string(kMaxEntries) + " entries");
  return v;
}

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
  b.start = time_of(j.at(0), "bucket start");
  b.min = bytes_of(j.at(1), "bucket min");
  b.max = bytes_of(j.at(2), "bucket max");
  b.count = static_cast<std::uint32_t>(count_of(j.at(3), "bucket count", 4294967295.0));
  if (b.min > b.max) {
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
  j["instance"] = core::to_valid_utf8(instance_);  // a source's name: never let dump() throw
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
  j["pinned_total"] = pinned_total_;
  j["cache_bound"] = cache_bound_;
  j["last_drop_t"] = last_drop_t_;
  j["tooth"] = tooth_;
  j["troughs_seen"] = troughs_seen_;
  j["last_collection_drop"] = last_collection_drop_;
  j["collection_peak"] = collection_peak_;
  j["epoch_peak"] = epoch_peak_;
  j["alive_t"] = alive_t_;
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
    if (!j.at("version").is_number_integer() || j.at("version").get<std::int64_t>() != kVersion) {
      return core::make_error(core::Errc::detector_state, "unsupported detector state version");
    }
    d.started_ = j.at("started").get<bool>();
    d.last_t_ = number(j.at("last_t"), "last_t", -kMaxTime, kMaxTime);
    d.last_value_ = bytes_of(j.at("last_value"), "last_value");
    d.recent_peak_ = bytes_of(j.at("recent_peak"), "recent_peak");
    d.recent_peak_t_ = time_of(j.at("recent_peak_t"), "recent_peak_t");
    constexpr double kMaxU64 = 18446744073709549568.0;  // the largest double below 2^64
    if (!j.at("limit").is_null()) d.limit_ = count_of(j.at("limit"), "limit", kMaxU64);
    if (!j.at("last_oom_count").is_null()) {
      d.last_oom_count_ = count_of(j.at("last_oom_count"), "last_oom_count", kMaxU64);
    }
    d.instance_ = j.at("instance").get<std::string>();
    for (const auto& t : list(j.at("oom_times"), "oom_times"))
      d.oom_times_.push_back(time_of(t, "oom_times"));
    d.restarts_ = static_cast<int>(
        count_of(j.value("restarts", nlohmann::json(0)), "restarts", 2147483647.0));
    d.leak_ = j.at("leak").get<bool>();
    d.last_rise_seen_ = time_of(j.at("last_rise_seen"), "last_rise_seen");
    // Added later: absent in older state files.
    auto opt = [&](const char* key, const nlohmann::json& dflt) -> const nlohmann::json& {
      return j.contains(key) ? j.at(key) : dflt;
    };
    static const nlohmann::json kMinusOne = -1, kZero = 0;
    if (j.contains("last_hit_count") && !j.at("last_hit_count").is_null())
      d.last_hit_count_ = count_of(j.at("last_hit_count"), "last_hit_count", kMaxU64);
    d.pinned_since_ = time_of(opt("pinned_since", kMinusOne), "pinned_since");
    d.last_pinned_t_ = time_of(opt("last_pinned_t", kMinusOne), "last_pinned_t");
    d.pinned_total_ = time_of(opt("pinned_total", kZero), "pinned_total");
    d.cache_bound_ = j.value("cache_bound", false);
    d.tooth_ = time_of(opt("tooth", kZero), "tooth");
    if (j.contains("troughs_seen")) {
      for (const auto& t : list(j.at("troughs_seen"), "troughs_seen")) {
        d.troughs_seen_.push_back(bytes_of(t, "troughs_seen"));
        if (d.troughs_seen_.size() > kTroughs) d.troughs_seen_.pop_front();
      }
    } else if (const double troughs = number(opt("troughs", kZero), "troughs", 0, 1e18);
               troughs > 0) {
      // Older state files: the count of collections and the last two troughs.
      if (troughs > 1)
        d.troughs_seen_.push_back(bytes_of(opt("trough_prev", kZero), "trough_prev"));
      d.troughs_seen_.push_back(bytes_of(opt("trough_last", kZero), "trough_last"));
    }
    d.last_collection_drop_ = bytes_of(opt("last_collection_drop", kZero), "last_collection_drop");
    d.epoch_peak_ = bytes_of(opt("epoch_peak", kZero), "epoch_peak");
    // Older state files: not known (the climb is then judged up to the last sample).
    d.alive_t_ = time_of(opt("alive_t", kMinusOne), "alive_t");
    // Older state files: the epoch's peak bounds the height any collection fell from.
    d.collection_peak_ = j.contains("collection_peak")
                             ? bytes_of(j.at("collection_peak"), "collection_peak")
                             : d.epoch_peak_;
    if (j.contains("epoch_low")) d.epoch_low_ = bytes_of(j.at("epoch_low"), "epoch_low");
    d.rise_held_t_ = time_of(opt("rise_held_t", kMinusOne), "rise_held_t");
    if (j.contains("climb_deaths")) {
      for (const auto& c : list(j.at("climb_deaths"), "climb_deaths"))
        d.climb_deaths_.push_back(
            {time_of(c.at(0), "climb_deaths"), bytes_of(c.at(1), "climb_deaths"),
             bytes_of(c.at(2), "climb_deaths"), number(c.at(3), "climb_deaths", 0, kMaxTime)});
    }
    auto st = state_from_string(j.at("state").get<std::string>());
    if (!st) return core::make_error(core::Errc::detector_state, "unknown detector state");
    d.last_.state = *st;
    d.last_.explanation = "restored";
    if (j.contains("last_decision")) {
      const auto& ld = j.at("last_decision");
      d.last_.time =
          core::from_unix_seconds(number(ld.at("t"), "last_decision.t", -kMaxTime, kMaxTime));
      d.last_.explanation = ld.at("explanation").get<std::string>();
    }
    // History is only usable with the same bucket length; otherwise start a new epoch from here.
    if (number(j.at("bucket_seconds"), "bucket_seconds", 0, kMaxTime) ==
        static_cast<double>(d.settings_.bucket.count())) {
      d.epoch_start_ = time_of(j.at("epoch_start"), "epoch_start");
      d.last_drop_t_ =
          j.contains("last_drop_t") ? time_of(j.at("last_drop_t"), "last_drop_t") : d.epoch_start_;
      d.offset_ = bytes_of(j.at("offset"), "offset");
      for (const auto& g : list(j.at("gaps"), "gaps")) {
        d.gaps_.emplace_back(time_of(g.at(0), "gaps"), time_of(g.at(1), "gaps"));
      }
      for (const auto& b : list(j.at("fine"), "fine"))
        d.fine_.push_back(bucket_from_json(b));
      for (const auto& b : list(j.at("coarse"), "coarse"))
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
      d.collection_peak_ = 0;
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
