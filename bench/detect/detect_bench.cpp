// Detection-quality benchmark: leakwatch's detector against two baselines on a seeded, labelled
// corpus (bench/detect/tracegen.cpp). See docs/detection.md for the method and the results.
//   detect_bench [--seed N] [--per-family N] [--write-csv DIR] [--verbose]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/detect/detector.h"
#include "tracegen.h"

namespace lb = leakwatch::bench;
namespace ld = leakwatch::detect;
using leakwatch::core::to_unix_seconds;

namespace {

// First alert time (seconds from trace start), if any.
using Alerter = std::function<std::optional<double>(const lb::Trace&)>;

std::optional<double> run_leakwatch(const lb::Trace& t) {
  ld::Detector d;
  const double t0 = to_unix_seconds(t.samples.front().time);
  for (const auto& s : t.samples) {
    auto dec = d.observe(s);
    if (dec.changed && dec.state == ld::State::leak_suspected) return to_unix_seconds(s.time) - t0;
  }
  return std::nullopt;
}

// Prometheus-style rule evaluation: every 60 s (evaluation_interval), an instant vector takes the
// latest sample at or before the evaluation time (5 m lookback); `for:` needs the condition true at
// every evaluation for the whole duration.
struct RuleHold {
  double hold;
  std::optional<double> active_at;
  bool step(double now, bool cond) {
    if (!cond) {
      active_at.reset();
      return false;
    }
    if (!active_at) active_at = now;
    return now - *active_at >= hold;
  }
};

std::optional<double> run_threshold(const lb::Trace& t) {
  const auto& s = t.samples;
  if (s.empty()) return std::nullopt;
  const double t0 = to_unix_seconds(s.front().time);
  RuleHold rule{300, {}};
  std::size_t i = 0;
  for (double ev = t0; ev <= to_unix_seconds(s.back().time) + 60; ev += 60) {
    while (i + 1 < s.size() && to_unix_seconds(s[i + 1].time) <= ev)
      ++i;
    const double ts = to_unix_seconds(s[i].time);
    bool cond = false;
    if (ts <= ev && ev - ts <= 300 && s[i].limit_bytes) {
      cond = static_cast<double>(s[i].usage_bytes) > 0.9 * static_cast<double>(*s[i].limit_bytes);
    }
    if (rule.step(ev, cond)) return ev - t0;
  }
  return std::nullopt;
}

// predict_linear(usage[1h], 4*3600) > limit, for: 10m. Prometheus: least squares over the samples
// in (ev - 1h, ev], x relative to the evaluation time, result = slope * 4h + intercept (at ev).
std::optional<double> run_predict_linear(const lb::Trace& t) {
  const auto& s = t.samples;
  if (s.empty()) return std::nullopt;
  const double t0 = to_unix_seconds(s.front().time);
  RuleHold rule{600, {}};
  std::size_t hi = 0, lo = 0;  // window [lo, hi)
  // Running sums with x relative to t0 (shifted to ev when evaluated).
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  auto add = [&](std::size_t k, double sign) {
    const double x = to_unix_seconds(s[k].time) - t0;
    const double y = static_cast<double>(s[k].usage_bytes);
    n += sign;
    sx += sign * x;
    sy += sign * y;
    sxx += sign * x * x;
    sxy += sign * x * y;
  };
  for (double ev = t0; ev <= to_unix_seconds(s.back().time) + 60; ev += 60) {
    while (hi < s.size() && to_unix_seconds(s[hi].time) <= ev)
      add(hi++, 1);
    while (lo < hi && to_unix_seconds(s[lo].time) <= ev - 3600)
      add(lo++, -1);
    bool cond = false;
    if (n >= 2 && s[hi - 1].limit_bytes) {
      const double xm = sx / n;
      const double cov = sxy / n - xm * (sy / n);
      const double var = sxx / n - xm * xm;
      if (var > 0) {
        const double slope = cov / var;
        const double intercept_at_ev = sy / n + slope * ((ev - t0) - xm);
        cond = slope * 4 * 3600 + intercept_at_ev > static_cast<double>(*s[hi - 1].limit_bytes);
      }
    }
    if (rule.step(ev, cond)) return ev - t0;
  }
  return std::nullopt;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto i = static_cast<std::size_t>(pos);
  const double f = pos - static_cast<double>(i);
  return i + 1 < v.size() ? v[i] * (1 - f) + v[i + 1] * f : v[i];
}

struct Tally {
  int leaks = 0, tp = 0, early = 0, healthy = 0, fp = 0, oom_traces = 0, before_oom = 0;
  std::vector<double> delay, lead;
};

std::string speed_class(double hours) {
  return hours < 2 ? "fast (<2h)" : hours < 24 ? "medium (2-24h)" : "slow (>=24h)";
}

std::string fmt_h(double s) {
  if (std::isnan(s)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.2fh", s / 3600.0);
  return b;
}

void print_row(const std::string& label, const Tally& t) {
  const double recall = t.leaks ? static_cast<double>(t.tp) / t.leaks : NAN;
  const double precision = (t.tp + t.fp) ? static_cast<double>(t.tp) / (t.tp + t.fp) : NAN;
  const double f1 = (recall + precision > 0) ? 2 * recall * precision / (recall + precision) : NAN;
  const double boom = t.oom_traces ? static_cast<double>(t.before_oom) / t.oom_traces : NAN;
  std::printf(
      "| %-28s | %4d/%-4d | %6.3f | %6.3f | %6.3f | %3d/%-3d | %8s | %8s | %6.3f (%d) | %8s |\n",
      label.c_str(), t.tp, t.leaks, recall, precision, f1, t.fp, t.healthy,
      fmt_h(quantile(t.delay, 0.5)).c_str(), fmt_h(quantile(t.delay, 0.9)).c_str(), boom,
      t.oom_traces, fmt_h(quantile(t.lead, 0.5)).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t seed = 1;
  int per_family = 30;
  bool verbose = false;
  std::string write_csv;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--per-family" && i + 1 < argc)
      per_family = std::atoi(argv[++i]);
    else if (a == "--write-csv" && i + 1 < argc)
      write_csv = argv[++i];
    else if (a == "--verbose")
      verbose = true;
    else {
      std::fprintf(
          stderr,
          "usage: detect_bench [--seed N] [--per-family N] [--write-csv DIR] [--verbose]\n");
      return 2;
    }
  }
  const auto corpus = lb::generate_corpus(seed, per_family);
  std::size_t total_samples = 0;
  for (const auto& t : corpus)
    total_samples += t.samples.size();
  if (!write_csv.empty()) {
    std::filesystem::create_directories(write_csv);
    std::ofstream labels(write_csv + "/labels.csv");
    labels << "file,family,leak,leak_start,first_oom,time_to_oom_hours,step\n";
    for (const auto& t : corpus) {
      std::ofstream f(write_csv + "/" + t.name + ".csv");
      f << "timestamp,usage_bytes,limit_bytes,working_set_bytes\n";
      for (const auto& s : t.samples) {
        char b[128];
        std::snprintf(b, sizeof b, "%.3f,%llu,%llu,%llu\n", to_unix_seconds(s.time),
                      static_cast<unsigned long long>(s.usage_bytes),
                      static_cast<unsigned long long>(s.limit_bytes.value_or(0)),
                      static_cast<unsigned long long>(s.working_set_bytes));
        f << b;
      }
      labels << t.name << ".csv," << t.family << "," << t.leak << "," << t.leak_start << ","
             << (t.first_oom ? std::to_string(*t.first_oom) : "") << "," << t.time_to_oom_hours
             << "," << t.step << "\n";
    }
  }
  std::printf("corpus: seed %llu, %zu traces, %zu samples\n\n",
              static_cast<unsigned long long>(seed), corpus.size(), total_samples);
  const std::vector<std::pair<std::string, Alerter>> detectors = {
      {"leakwatch", run_leakwatch},
      {"threshold 90% for 5m", run_threshold},
      {"predict_linear 1h/4h for 10m", run_predict_linear}};
  for (const auto& [name, fn] : detectors) {
    std::map<std::string, Tally> by;
    Tally all;
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::optional<double>> alerts;
    for (const auto& t : corpus)
      alerts.push_back(fn(t));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (std::size_t i = 0; i < corpus.size(); ++i) {
      const auto& t = corpus[i];
      const auto& a = alerts[i];
      std::vector<Tally*> ts = {&all, &by["family " + t.family]};
      if (t.leak) ts.push_back(&by["speed " + speed_class(t.time_to_oom_hours)]);
      ts.push_back(&by[std::string(t.has_limit ? "limit" : "no limit")]);
      for (Tally* x : ts) {
        if (t.leak) {
          ++x->leaks;
          // An alert before the leak begins (late leaks) is a false alarm, not a detection.
          const bool hit = a && *a >= t.leak_start - 60;
          if (hit) {
            ++x->tp;
            x->delay.push_back(std::max(0.0, *a - t.leak_start));
          } else if (a) {
            ++x->early;
          }
          if (t.first_oom) {
            ++x->oom_traces;
            if (hit && *a < *t.first_oom) {
              ++x->before_oom;
              x->lead.push_back(*t.first_oom - *a);
            }
          }
        } else {
          ++x->healthy;
          if (a) ++x->fp;
        }
      }
      if (verbose && name == "leakwatch" &&
          (t.leak != a.has_value() || (t.first_oom && a && *a > *t.first_oom))) {
        std::printf("  miss/fp: %s step=%g limit=%d toom=%.2fh alert=%s oom=%s\n", t.name.c_str(),
                    t.step, t.has_limit, t.time_to_oom_hours, a ? fmt_h(*a).c_str() : "-",
                    t.first_oom ? fmt_h(*t.first_oom).c_str() : "-");
      }
    }
    std::printf("## %s  (%.0f samples/s over the corpus)\n\n", name.c_str(), total_samples / secs);
    std::printf(
        "| %-28s | TP/leaks  | recall | precis | F1     | FP/hlth | delay p50 | delay p90 | before "
        "OOM | lead p50 |\n",
        "slice");
    std::printf(
        "|------------------------------|-----------|--------|--------|--------|---------|---------"
        "-|----------|------------|----------|\n");
    print_row("ALL", all);
    for (const auto& [k, v] : by)
      print_row(k, v);
    std::printf("\n");
  }
  return 0;
}
