#include "leakwatch/capture/policy.h"

#include <algorithm>
#include <cmath>
#include <ostream>

#include "leakwatch/core/units.h"

namespace leakwatch::capture {

using nlohmann::json;
using std::chrono::hours;

namespace {
json time_or_null(const std::optional<core::TimePoint>& t) {
  return t ? json(core::to_unix_seconds(*t)) : json(nullptr);
}
std::optional<core::TimePoint> time_from(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return core::from_unix_seconds(it->get<double>());
}
std::string when(core::TimePoint now, core::TimePoint t) {
  auto left = std::chrono::duration_cast<std::chrono::seconds>(t - now);
  return core::format_duration(std::max(left, std::chrono::seconds(1))) + " (at " +
         core::format_utc(t) + ")";
}
}  // namespace

std::string_view to_string(Refusal refusal) {
  switch (refusal) {
    case Refusal::none:
      return "";
    case Refusal::disabled:
      return "disabled";
    case Refusal::busy:
      return "busy";
    case Refusal::cooldown:
      return "cooldown";
    case Refusal::daily_cap:
      return "daily_cap";
    case Refusal::no_sample:
      return "no_sample";
    case Refusal::headroom:
      return "headroom";
  }
  return "";
}

std::ostream& operator<<(std::ostream& out, Refusal refusal) {
  return out << to_string(refusal);
}

json Verdict::to_json() const {
  json j = {{"allowed", allowed}, {"code", to_string(code)}, {"message", message}};
  if (!override_warning.empty()) j["override_warning"] = override_warning;
  if (retry_after) j["retry_after"] = core::format_utc(*retry_after);
  if (required_bytes) {
    j["free_bytes"] = free_bytes;
    j["required_bytes"] = required_bytes;
  }
  return j;
}

std::uint64_t required_headroom(const CaptureSettings& s, std::uint64_t working_set) {
  double need = std::max(0.0, s.headroom_factor) * static_cast<double>(working_set);
  auto scaled = need >= 1.8e19 ? UINT64_MAX : static_cast<std::uint64_t>(std::ceil(need));
  return std::max(scaled, s.min_headroom_bytes);
}

GuardRails::GuardRails(const CaptureSettings& settings) : settings_(settings) {}

void GuardRails::trim(core::TimePoint now) const {
  while (!attempts_.empty() && attempts_.front() <= now - hours(24))
    attempts_.pop_front();
}

int GuardRails::attempts_last_24h(core::TimePoint now) const {
  trim(now);
  return static_cast<int>(std::count_if(attempts_.begin(), attempts_.end(),
                                        [&](core::TimePoint t) { return t <= now; }));
}

Verdict GuardRails::check(core::TimePoint now, const std::optional<core::Sample>& latest,
                          bool force) const {
  Verdict v;
  auto deny = [&](Refusal code, std::string message) {
    v.allowed = false;
    v.code = code;
    v.message = std::move(message);
    return v;
  };
  // The zero-code methods need no URL: only the http method without one is "not configured".
  if (!settings_.enabled())
    return deny(Refusal::disabled,
                "capture is not configured (capture.method http and capture.url is empty)");
  if (in_progress_)
    return deny(Refusal::busy, "another capture is in progress (never two at once)");
  if (last_start_ && settings_.cooldown.count() > 0 && now < *last_start_ + settings_.cooldown) {
    v.retry_after = *last_start_ + settings_.cooldown;
    return deny(Refusal::cooldown, "cooldown: the previous capture started at " +
                                       core::format_utc(*last_start_) + "; next one allowed in " +
                                       when(now, *v.retry_after));
  }
  if (settings_.daily_cap > 0 && attempts_last_24h(now) >= settings_.daily_cap) {
    v.retry_after = attempts_.front() + hours(24);
    return deny(Refusal::daily_cap, "daily cap of " + std::to_string(settings_.daily_cap) +
                                        " captures reached; next one allowed in " +
                                        when(now, *v.retry_after));
  }

  // Headroom.
  Refusal problem_code = Refusal::none;
  std::string problem;
  if (!latest) {
    problem_code = Refusal::no_sample;
    problem = "no memory sample: the headroom under the limit cannot be checked";
  } else if (latest->time + settings_.max_sample_age < now) {
    problem_code = Refusal::no_sample;
    problem = "the latest memory sample is " +
              core::format_duration(
                  std::chrono::duration_cast<std::chrono::seconds>(now - latest->time)) +
              " old: the headroom under the limit cannot be checked";
  } else if (latest->limit_bytes) {
    std::uint64_t ws = latest->working_set_bytes ? latest->working_set_bytes : latest->usage_bytes;
    std::uint64_t limit = *latest->limit_bytes;
    v.free_bytes = limit > ws ? limit - ws : 0;
    v.required_bytes = required_headroom(settings_, ws);
    const bool measured = capture_cost_ > v.required_bytes;
    if (measured) v.required_bytes = capture_cost_;
    if (v.free_bytes < v.required_bytes) {
      problem_code = Refusal::headroom;
      const std::string why =
          measured ? "the last snapshot of this target raised its working set by " +
                         core::format_bytes(static_cast<double>(capture_cost_))
                   : "writing a heap snapshot needs about as much memory again as the heap";
      problem =
          "not enough memory headroom: " + core::format_bytes(static_cast<double>(v.free_bytes)) +
          " free under the " + core::format_bytes(static_cast<double>(limit)) + " limit, " +
          core::format_bytes(static_cast<double>(v.required_bytes)) + " needed (" + why +
          "; working set " + core::format_bytes(static_cast<double>(ws)) + ")";
    }
  }
  if (!problem.empty()) {
    if (!force) return deny(problem_code, problem);
    v.override_warning = problem + " -- overridden by --force: the app may be OOM-killed";
  }
  v.allowed = true;
  return v;
}

void GuardRails::started(core::TimePoint now) {
  in_progress_ = true;
  measuring_ = last_working_set_.has_value();
  start_working_set_ = peak_working_set_ = last_working_set_.value_or(0);
  last_start_ = now;
  attempts_.push_back(now);
  std::sort(attempts_.begin(), attempts_.end());
}

void GuardRails::finished(core::TimePoint now, bool success) {
  in_progress_ = false;
  (success ? last_success_ : last_failure_) = now;
  // A failed capture may have stopped before V8 built the whole snapshot: its growth says little.
  if (measuring_ && success) capture_cost_ = peak_working_set_ - start_working_set_;
  measuring_ = false;
}

void GuardRails::observe(const core::Sample& sample) {
  const std::uint64_t ws = sample.working_set_bytes ? sample.working_set_bytes : sample.usage_bytes;
  last_working_set_ = ws;
  if (in_progress_ && measuring_) peak_working_set_ = std::max(peak_working_set_, ws);
}

void GuardRails::note_past_capture(core::TimePoint t) {
  if (!last_start_ || t > *last_start_) last_start_ = t;
  attempts_.push_back(t);
  std::sort(attempts_.begin(), attempts_.end());
}

json GuardRails::to_json() const {
  json a = json::array();
  for (auto t : attempts_)
    a.push_back(core::to_unix_seconds(t));
  return {{"attempts", a},
          {"last_start", time_or_null(last_start_)},
          {"last_success", time_or_null(last_success_)},
          {"last_failure", time_or_null(last_failure_)},
          {"capture_cost_bytes", capture_cost_}};
}

core::Status GuardRails::load_json(const json& j) {
  if (!j.is_object())
    return core::make_error(core::Errc::parse, "capture state is not a JSON object");
  std::deque<core::TimePoint> attempts;
  if (auto it = j.find("attempts"); it != j.end()) {
    if (!it->is_array())
      return core::make_error(core::Errc::parse, "capture state: attempts is not an array");
    for (const auto& t : *it) {
      if (!t.is_number())
        return core::make_error(core::Errc::parse, "capture state: attempts holds a non-number");
      attempts.push_back(core::from_unix_seconds(t.get<double>()));
    }
  }
  std::sort(attempts.begin(), attempts.end());
  attempts_ = std::move(attempts);
  last_start_ = time_from(j, "last_start");
  last_success_ = time_from(j, "last_success");
  last_failure_ = time_from(j, "last_failure");
  capture_cost_ = 0;
  if (auto it = j.find("capture_cost_bytes"); it != j.end() && it->is_number_unsigned())
    capture_cost_ = it->get<std::uint64_t>();
  in_progress_ = false;
  measuring_ = false;
  return core::ok_status();
}

// ---------------------------------------------------------------------------------------------

SeriesScheduler::SeriesScheduler(const CaptureSettings& settings) : settings_(settings) {}

bool SeriesScheduler::start(core::TimePoint now, std::string trigger) {
  if (active_ || settings_.series_count <= 0) return false;
  active_ = true;
  completed_ = false;
  abandoned_ = false;
  count_ = settings_.series_count;
  done_ = 0;
  misses_ = 0;
  next_due_ = now;
  id_ = core::format_utc_compact(now);
  trigger_ = std::move(trigger);
  return true;
}

std::optional<core::TimePoint> SeriesScheduler::next_due() const {
  if (!active_) return std::nullopt;
  return next_due_;
}

void SeriesScheduler::record_success(core::TimePoint now) {
  if (!active_) return;
  ++done_;
  misses_ = 0;
  if (done_ >= count_) {
    active_ = false;
    completed_ = true;
    return;
  }
  next_due_ = now + settings_.series_spacing;
}

void SeriesScheduler::record_miss(core::TimePoint now) {
  if (!active_) return;
  ++misses_;
  if (settings_.series_max_misses > 0 && misses_ >= settings_.series_max_misses) {
    active_ = false;
    abandoned_ = true;
    return;
  }
  next_due_ = now + settings_.series_retry;
}

void SeriesScheduler::cancel() {
  active_ = false;
  abandoned_ = done_ < count_;
}

json SeriesScheduler::to_json() const {
  return {{"active", active_},
          {"completed", completed_},
          {"abandoned", abandoned_},
          {"count", count_},
          {"captured", done_},
          {"misses", misses_},
          {"next_due", active_ ? json(core::to_unix_seconds(next_due_)) : json(nullptr)},
          {"series_id", id_},
          {"trigger", trigger_}};
}

core::Status SeriesScheduler::load_json(const json& j) {
  if (!j.is_object())
    return core::make_error(core::Errc::parse, "series state is not a JSON object");
  try {
    active_ = j.value("active", false);
    completed_ = j.value("completed", false);
    abandoned_ = j.value("abandoned", false);
    count_ = j.value("count", 0);
    done_ = j.value("captured", 0);
    misses_ = j.value("misses", 0);
    next_due_ = time_from(j, "next_due").value_or(core::TimePoint{});
    id_ = j.value("series_id", std::string());
    trigger_ = j.value("trigger", std::string());
  } catch (const json::exception& e) {
    return core::make_error(core::Errc::parse, std::string("series state: ") + e.what());
  }
  if (active_ && (count_ <= 0 || done_ >= count_)) active_ = false;
  return core::ok_status();
}

}  // namespace leakwatch::capture
