#include "leakwatch/core/units.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <limits>

namespace leakwatch::core {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// Parses a non-negative decimal number at the start of `s`; advances `s` past it.
std::optional<double> take_number(std::string_view& s) {
  std::size_t i = 0;
  bool digits = false, dot = false;
  while (i < s.size()) {
    char c = s[i];
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else if (c == '_' && digits) {
      // allow 1_000_000
    } else {
      break;
    }
    ++i;
  }
  if (!digits) return std::nullopt;
  std::string num;
  for (char c : s.substr(0, i))
    if (c != '_') num.push_back(c);
  s.remove_prefix(i);
  return std::strtod(num.c_str(), nullptr);
}

}  // namespace

Result<std::uint64_t> parse_size(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty()) return make_error(core::Errc::invalid_size, "empty size");
  if (s.front() == '-') return make_error(core::Errc::invalid_size, "size must not be negative");
  auto n = take_number(s);
  if (!n)
    return make_error(core::Errc::invalid_size, "expected a size such as 512Mi, 2G or 1048576");
  s = trim(s);
  double mult = 1;
  std::string unit(s);
  if (!unit.empty() && (unit.back() == 'B' || unit.back() == 'b') && unit != "b") unit.pop_back();
  if (unit.empty()) {
    mult = 1;
  } else if (unit == "Ki" || unit == "KiB") {
    mult = 1024.0;
  } else if (unit == "Mi") {
    mult = 1024.0 * 1024;
  } else if (unit == "Gi") {
    mult = 1024.0 * 1024 * 1024;
  } else if (unit == "Ti") {
    mult = 1024.0 * 1024 * 1024 * 1024;
  } else if (unit == "k" || unit == "K") {
    mult = 1e3;
  } else if (unit == "M") {
    mult = 1e6;
  } else if (unit == "G") {
    mult = 1e9;
  } else if (unit == "T") {
    mult = 1e12;
  } else {
    return make_error(core::Errc::invalid_size,
                      "unknown size unit '" + std::string(s) +
                          "' (use Ki, Mi, Gi, Ti, k, M, G, T or plain bytes)");
  }
  double v = *n * mult;
  if (!std::isfinite(v) || v >= 1.8e19)
    return make_error(core::Errc::invalid_size, "size is too large");
  return static_cast<std::uint64_t>(std::llround(v));
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string_view s = trim(text);
  if (s.empty()) return make_error(core::Errc::invalid_duration, "empty duration");
  if (s.front() == '-')
    return make_error(core::Errc::invalid_duration, "duration must not be negative");
  double total_ms = 0;
  bool any = false;
  while (!s.empty()) {
    auto n = take_number(s);
    if (!n)
      return make_error(core::Errc::invalid_duration,
                        "expected a duration such as 30s, 5m, 6h, 1h30m or 250ms");
    s = trim(s);
    std::size_t i = 0;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])))
      ++i;
    std::string unit(s.substr(0, i));
    s.remove_prefix(i);
    double mult;
    if (unit.empty()) {
      if (any || !s.empty())
        return make_error(core::Errc::invalid_duration,
                          "missing unit in duration (use ms, s, m, h, d, w)");
      mult = 1000;
    } else if (unit == "ms") {
      mult = 1;
    } else if (unit == "s") {
      mult = 1000;
    } else if (unit == "m") {
      mult = 60'000;
    } else if (unit == "h") {
      mult = 3'600'000;
    } else if (unit == "d") {
      mult = 86'400'000;
    } else if (unit == "w") {
      mult = 7 * 86'400'000.0;
    } else {
      return make_error(core::Errc::invalid_duration,
                        "unknown duration unit '" + unit + "' (use ms, s, m, h, d, w)");
    }
    total_ms += *n * mult;
    any = true;
    s = trim(s);
  }
  if (!std::isfinite(total_ms) || total_ms > 3.0e15)
    return make_error(core::Errc::invalid_duration, "duration is too large");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(total_ms)));
}

Result<double> parse_percent(std::string_view text) {
  std::string_view s = trim(text);
  bool pct = !s.empty() && s.back() == '%';
  if (pct) s = trim(s.substr(0, s.size() - 1));
  std::string_view rest = s;
  auto n = take_number(rest);
  if (!n || !trim(rest).empty())
    return make_error(core::Errc::invalid_percent,
                      "expected a percentage such as 90% or a fraction such as 0.9");
  double v = pct ? *n / 100.0 : *n;
  if (v < 0 || v > 1)
    return make_error(core::Errc::invalid_percent, "percentage must be between 0% and 100%");
  return v;
}

std::string format_bytes(double bytes, int decimals) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = std::fabs(bytes);
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[64];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%s%.0f %s", bytes < 0 ? "-" : "", v, units[u]);
  else
    std::snprintf(buf, sizeof buf, "%s%.*f %s", bytes < 0 ? "-" : "",
                  decimals >= 0 ? decimals : (v < 10 ? 1 : 0), v, units[u]);
  return buf;
}

std::string format_duration_seconds(double seconds) {
  if (!std::isfinite(seconds)) return "never";
  if (seconds < 0) {
    std::string negative(1, '-');
    negative += format_duration_seconds(-seconds);
    return negative;
  }
  auto s = static_cast<long long>(std::llround(seconds));
  char buf[64];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", s);
  } else if (s < 3600) {
    long long m = s / 60, r = s % 60;
    if (r)
      std::snprintf(buf, sizeof buf, "%lldm %llds", m, r);
    else
      std::snprintf(buf, sizeof buf, "%lldm", m);
  } else if (s < 86400) {
    long long h = s / 3600, m = (s % 3600) / 60;
    if (m)
      std::snprintf(buf, sizeof buf, "%lldh %lldm", h, m);
    else
      std::snprintf(buf, sizeof buf, "%lldh", h);
  } else {
    long long d = s / 86400, h = (s % 86400) / 3600;
    if (h)
      std::snprintf(buf, sizeof buf, "%lldd %lldh", d, h);
    else
      std::snprintf(buf, sizeof buf, "%lldd", d);
  }
  return buf;
}

std::string format_duration(std::chrono::seconds d) {
  return format_duration_seconds(static_cast<double>(d.count()));
}

}  // namespace leakwatch::core
