#include "leakwatch/detect/trace_csv.h"

#include <charconv>
#include <cmath>
#include <string_view>

#include "leakwatch/core/utf8.h"

namespace leakwatch::detect {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '"'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '"')) {
    s.remove_suffix(1);
  }
  return s;
}

void split(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = line.find(',', pos);
    if (comma == std::string_view::npos) {
      out.push_back(trim(line.substr(pos)));
      return;
    }
    out.push_back(trim(line.substr(pos, comma - pos)));
    pos = comma + 1;
  }
}

bool parse_number(std::string_view s, double& v) {
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(v);
}

// A byte count or a counter: it must fit the 64-bit integer it becomes.
bool parse_count(std::string_view s, double& v) {
  return parse_number(s, v) && v >= 0 && v < 1.8e19;
}

// A process name, compared and never shown: bounded so that a hostile file cannot make every
// sample carry a large copy.
constexpr std::size_t kMaxInstance = 128;

core::Error line_error(std::uint64_t line, const std::string& what) {
  return core::make_error(core::Errc::trace, "line " + std::to_string(line) + ": " + what);
}

}  // namespace

core::Result<TraceReader> TraceReader::open(std::istream& in) {
  TraceReader r(in);
  if (!std::getline(in, r.buf_))
    return core::make_error(core::Errc::trace, "line 1: empty file (no header)");
  r.line_ = 1;
  std::string_view header = r.buf_;
  if (header.size() >= 3 && header.substr(0, 3) == "\xEF\xBB\xBF") header.remove_prefix(3);  // BOM
  split(header, r.fields_);
  r.columns_ = r.fields_.size();
  for (std::size_t i = 0; i < r.fields_.size(); ++i) {
    const auto f = r.fields_[i];
    if (f == "timestamp") r.ts_ = static_cast<int>(i);
    if (f == "usage_bytes") r.usage_ = static_cast<int>(i);
    if (f == "limit_bytes") r.limit_ = static_cast<int>(i);
    if (f == "working_set_bytes") r.ws_ = static_cast<int>(i);
    if (f == "oom_kill" || f == "oom_kill_count") r.oom_ = static_cast<int>(i);
    if (f == "restarted") r.restarted_ = static_cast<int>(i);
    if (f == "failcnt" || f == "limit_hit_count") r.hits_ = static_cast<int>(i);
    if (f == "inactive_file_bytes") r.inactive_ = static_cast<int>(i);
    if (f == "instance") r.instance_ = static_cast<int>(i);
  }
  std::string missing;
  if (r.ts_ < 0) missing = "timestamp";
  if (r.usage_ < 0) missing += missing.empty() ? "usage_bytes" : ", usage_bytes";
  if (!missing.empty()) {
    return line_error(1, "missing required column(s) " + missing +
                             " (header must name timestamp and usage_bytes)");
  }
  return r;
}

core::Result<bool> TraceReader::next(core::Sample& out) {
  while (std::getline(*in_, buf_)) {
    ++line_;
    std::string_view l = trim(buf_);
    if (l.empty()) continue;
    split(buf_, fields_);
    if (fields_.size() != columns_) {
      return line_error(line_, "expected " + std::to_string(columns_) + " columns, found " +
                                   std::to_string(fields_.size()));
    }
    double t = 0, usage = 0;
    // Unix seconds the clock can hold (1678..2262); relative times from 0 are fine too.
    if (!parse_number(fields_[ts_], t) || std::abs(t) > 9.2e9) {
      return line_error(line_, "bad timestamp '" + std::string(fields_[ts_].substr(0, 40)) + "'");
    }
    if (!parse_count(fields_[usage_], usage)) {
      return line_error(line_,
                        "bad usage_bytes '" + std::string(fields_[usage_].substr(0, 40)) + "'");
    }
    if (t < last_t_) {
      return line_error(line_,
                        "timestamp " + std::string(fields_[ts_]) +
                            " is earlier than the previous one (rows must be sorted by time)");
    }
    last_t_ = t;
    out = core::Sample{};
    out.time = core::from_unix_seconds(t);
    out.usage_bytes = static_cast<std::uint64_t>(usage);
    if (limit_ >= 0 && !fields_[limit_].empty()) {
      double lim = 0;
      if (!parse_number(fields_[limit_], lim) || lim < 0) {
        return line_error(line_,
                          "bad limit_bytes '" + std::string(fields_[limit_].substr(0, 40)) + "'");
      }
      // 0 = no limit; a huge value (cgroup v1 "unlimited", LONG_MAX rounded) is no limit either.
      if (lim > 0 && lim < 9.0e18) out.limit_bytes = static_cast<std::uint64_t>(lim);
    }
    if (ws_ >= 0 && !fields_[ws_].empty()) {
      double ws = 0;
      if (!parse_count(fields_[ws_], ws)) {
        return line_error(
            line_, "bad working_set_bytes '" + std::string(fields_[ws_].substr(0, 40)) + "'");
      }
      out.working_set_bytes = static_cast<std::uint64_t>(ws);
    }
    if (oom_ >= 0 && !fields_[oom_].empty()) {
      double n = 0;
      if (!parse_count(fields_[oom_], n) || n != std::floor(n)) {
        return line_error(line_,
                          "bad oom_kill count '" + std::string(fields_[oom_].substr(0, 40)) + "'");
      }
      out.oom_kill_count = static_cast<std::uint64_t>(n);
    }
    if (hits_ >= 0 && !fields_[hits_].empty()) {
      double n = 0;
      if (!parse_count(fields_[hits_], n) || n != std::floor(n)) {
        return line_error(line_,
                          "bad failcnt count '" + std::string(fields_[hits_].substr(0, 40)) + "'");
      }
      out.limit_hit_count = static_cast<std::uint64_t>(n);
    }
    if (inactive_ >= 0 && !fields_[inactive_].empty()) {
      double n = 0;
      if (!parse_count(fields_[inactive_], n)) {
        return line_error(line_, "bad inactive_file_bytes '" +
                                     std::string(fields_[inactive_].substr(0, 40)) + "'");
      }
      const auto inactive = static_cast<std::uint64_t>(n);
      if (out.working_set_bytes == 0)
        out.working_set_bytes = inactive >= out.usage_bytes ? 0 : out.usage_bytes - inactive;
    }
    if (instance_ >= 0) {
      const auto f = fields_[instance_];
      if (f.size() > kMaxInstance) {
        return line_error(line_, "instance longer than " + std::to_string(kMaxInstance) + " bytes");
      }
      if (!core::is_valid_utf8(f)) return line_error(line_, "instance is not valid UTF-8");
      out.instance.assign(f);
    }
    if (restarted_ >= 0) {
      const auto f = fields_[restarted_];
      if (f == "1" || f == "true") {
        out.restarted = true;
      } else if (!(f.empty() || f == "0" || f == "false")) {
        return line_error(line_, "bad restarted flag '" + std::string(f.substr(0, 40)) +
                                     "' (expected 0, 1, true or false)");
      }
    }
    return true;
  }
  return false;
}

}  // namespace leakwatch::detect
