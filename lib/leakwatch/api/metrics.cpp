#include "leakwatch/api/metrics.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace leakwatch::api {

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc{}) return "NaN";
  return std::string(buf, p);
}

std::string render(const std::vector<MetricFamily>& families) {
  std::string out;
  for (const auto& f : families) {
    if (f.samples.empty()) continue;
    out += "# HELP " + f.name + " " + escape_help(f.help) + "\n";
    out += "# TYPE " + f.name + " " + f.type + "\n";
    for (const auto& s : f.samples) {
      out += f.name;
      out += s.suffix;
      if (!s.labels.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [k, v] : s.labels) {
          if (!first) out += ',';
          first = false;
          out += k + "=\"" + escape_label_value(v) + "\"";
        }
        out += '}';
      }
      out += ' ';
      out += format_value(s.value);
      out += '\n';
    }
  }
  return out;
}

namespace {

MetricFamily gauge(std::string name, std::string help) {
  return MetricFamily{std::move(name), std::move(help), "gauge", {}};
}
MetricFamily counter(std::string name, std::string help) {
  return MetricFamily{std::move(name), std::move(help), "counter", {}};
}

}  // namespace

std::vector<MetricFamily> collect_metrics(const engine::Status& st) {
  std::vector<MetricFamily> out;
  const engine::StatusSample* last = st.latest();

  auto usage =
      gauge("leakwatch_memory_usage_bytes",
            "Memory usage of the target (cgroup usage, page cache included), latest sample.");
  auto ws = gauge("leakwatch_memory_working_set_bytes",
                  "Working set of the target (usage minus inactive file cache), latest sample.");
  auto limit = gauge("leakwatch_memory_limit_bytes",
                     "Memory limit of the target; absent when the target has no limit.");
  if (last) {
    usage.samples.push_back({{}, static_cast<double>(last->usage_bytes)});
    ws.samples.push_back({{}, static_cast<double>(last->working_set_bytes)});
    if (last->limit_bytes) limit.samples.push_back({{}, static_cast<double>(*last->limit_bytes)});
  }
  out.push_back(std::move(usage));
  out.push_back(std::move(ws));
  out.push_back(std::move(limit));

  const auto& d = st.detector;
  auto floor = gauge("leakwatch_memory_floor_bytes",
                     "Current memory floor (post-GC minimum) estimated by the detector.");
  if (d.floor_bytes > 0) floor.samples.push_back({{}, static_cast<double>(d.floor_bytes)});
  out.push_back(std::move(floor));

  auto slope = gauge("leakwatch_floor_slope_bytes_per_second",
                     "Slope of the memory floor over the detector's decision window.");
  slope.samples.push_back({{}, d.slope_bytes_per_hour / 3600.0});
  out.push_back(std::move(slope));

  auto fc = gauge("leakwatch_forecast_time_to_oom_seconds",
                  "Forecast seconds until the memory peaks reach the limit; +Inf when not rising "
                  "or no limit.");
  fc.samples.push_back(
      {{}, d.forecast_seconds ? *d.forecast_seconds : std::numeric_limits<double>::infinity()});
  out.push_back(std::move(fc));

  auto state = gauge("leakwatch_detector_state",
                     "Detector state: 1 for the current state, 0 for the others.");
  bool known = false;
  for (const char* s : {"learning", "ok", "leak_suspected", "oom_imminent"}) {
    bool cur = d.state == s;
    known = known || cur;
    state.samples.push_back({{{"state", s}}, cur ? 1.0 : 0.0});
  }
  if (!known && !d.state.empty()) state.samples.push_back({{{"state", d.state}}, 1.0});
  out.push_back(std::move(state));

  auto conf = gauge("leakwatch_detector_confidence_ratio",
                    "Confidence of the detector's decision (0 to 1).");
  conf.samples.push_back({{}, d.confidence});
  out.push_back(std::move(conf));

  auto caps = counter("leakwatch_captures_total", "Heap snapshot captures by result.");
  std::map<std::string, std::uint64_t> cap_counts = {{"ok", 0}, {"failed", 0}, {"skipped", 0}};
  for (const auto& [k, v] : st.counters.captures)
    cap_counts[k] = v;
  for (const auto& [k, v] : cap_counts)
    caps.samples.push_back({{{"result", k}}, static_cast<double>(v)});
  out.push_back(std::move(caps));

  // Final outcomes only, so that a sum over `result` counts alerts; retries are attempts, counted
  // apart.
  auto alerts = counter("leakwatch_alerts_total", "Alerts by sink and final outcome.");
  auto retries =
      counter("leakwatch_alert_retries_total", "Failed alert deliveries that were retried.");
  for (const auto& [k, v] : st.counters.alerts) {
    if (k.second == "retried")
      retries.samples.push_back({{{"sink", k.first}}, static_cast<double>(v)});
    else
      alerts.samples.push_back({{{"sink", k.first}, {"result", k.second}}, static_cast<double>(v)});
  }
  out.push_back(std::move(alerts));
  out.push_back(std::move(retries));

  auto ooms = counter("leakwatch_oom_kills_total", "OOM kills of the target seen by leakwatch.");
  ooms.samples.push_back({{}, static_cast<double>(st.counters.oom_kills)});
  out.push_back(std::move(ooms));

  MetricFamily dur{"leakwatch_capture_duration_seconds",
                   "Duration of successful heap snapshot captures.",
                   "summary",
                   {}};
  dur.samples.push_back({{}, st.counters.capture_seconds_sum, "_sum"});
  dur.samples.push_back({{}, static_cast<double>(st.counters.capture_seconds_count), "_count"});
  out.push_back(std::move(dur));

  auto written = counter("leakwatch_archive_written_bytes_total",
                         "Bytes of heap snapshots written to the archive (as stored).");
  written.samples.push_back({{}, static_cast<double>(st.counters.archive_written_bytes)});
  out.push_back(std::move(written));

  auto archived = gauge("leakwatch_archive_bytes",
                        "Bytes the archive's snapshots take on disk; absent without an archive.");
  if (st.archive_bytes) archived.samples.push_back({{}, static_cast<double>(*st.archive_bytes)});
  out.push_back(std::move(archived));

  auto errs = counter("leakwatch_source_errors_total", "Failed reads of the memory source.");
  errs.samples.push_back({{}, static_cast<double>(st.counters.source_errors)});
  out.push_back(std::move(errs));

  auto samples = counter("leakwatch_samples_total", "Memory samples taken.");
  samples.samples.push_back({{}, static_cast<double>(st.counters.samples)});
  out.push_back(std::move(samples));

  auto last_ts =
      gauge("leakwatch_last_sample_timestamp_seconds", "Unix time of the latest memory sample.");
  if (st.last_sample_at) last_ts.samples.push_back({{}, core::to_unix_seconds(*st.last_sample_at)});
  out.push_back(std::move(last_ts));

  auto target =
      gauge("leakwatch_target_info",
            "The watched target and where it runs: the ECS task, or the host (always 1).");
  std::vector<std::pair<std::string, std::string>> info = {{"target", st.target},
                                                           {"source", st.source}};
  for (auto& f : st.identity.fields())
    info.push_back(std::move(f));
  target.samples.push_back({std::move(info), 1.0});
  out.push_back(std::move(target));

  auto build = gauge("leakwatch_build_info", "Build of leakwatch (always 1).");
  build.samples.push_back({{{"version", st.build.version},
                            {"revision", st.build.revision},
                            {"compiler", st.build.compiler}},
                           1.0});
  out.push_back(std::move(build));

  auto start = gauge("leakwatch_start_time_seconds", "Unix time leakwatch started.");
  if (st.started_at != core::TimePoint{}) {
    start.samples.push_back({{}, core::to_unix_seconds(st.started_at)});
  }
  out.push_back(std::move(start));
  return out;
}

}  // namespace leakwatch::api
