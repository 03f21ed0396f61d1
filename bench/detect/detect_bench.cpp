// Detection-quality benchmark: leakwatch's detector against two baselines on a seeded, labelled
// corpus (bench/detect/tracegen.cpp) and on the recorded real-runtime traces
// (tests/data/traces/real, tuning and held-out splits reported apart). See docs/detection.md.
//   detect_bench [--seed N] [--per-family N] [--write-csv DIR] [--set key=value]
//                [--real DIR | --no-real] [--real-only] [--tune-only] [--summary] [--verbose]
//                [--explain NAME]
// --tune-only leaves out the held-out recordings (for runs that choose a setting).
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
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/config/config.h"
#include "leakwatch/detect/detector.h"
#include "leakwatch/detect/trace_file.h"
#include "tracegen.h"

namespace lb = leakwatch::bench;
namespace ld = leakwatch::detect;
using leakwatch::core::to_unix_seconds;

namespace {

// First alert time (seconds from trace start), if any.
using Alerter = std::function<std::optional<double>(const lb::Trace&)>;

ld::DetectorSettings g_settings;

// --set key=value: a `detection:` key as the YAML config spells it ("15m", "4%", a plain number
// is seconds or a fraction), read and validated by the config reader itself.
std::string g_overrides;

void add_setting(const std::string& kv) {
  const auto eq = kv.find('=');
  const std::string key = kv.substr(0, eq);
  const std::string value = eq == std::string::npos ? "" : kv.substr(eq + 1);
  g_overrides += "  " + key + ": " + nlohmann::json(value).dump() + "\n";
}

bool load_settings() {
  const std::string yaml =
      "target: {name: bench, source: cgroup, cgroup_path: /bench}\ndetection:\n" + g_overrides;
  auto r = leakwatch::config::load_string(yaml, "--set", {.resolve_secrets = false});
  for (const auto& p : r.problems)
    std::fprintf(stderr, "settings: %s: %s\n", p.key_path.c_str(), p.message.c_str());
  if (!r.config) return false;
  g_settings = r.config->detection;
  return true;
}

std::optional<double> run_leakwatch(const lb::Trace& t) {
  ld::Detector d(g_settings);
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
  bool active = false;  // not std::optional: GCC's -O2 warns (falsely) it may be uninitialised
  double active_at = 0;
  bool step(double now, bool cond) {
    if (!cond) {
      active = false;
      return false;
    }
    if (!active) {
      active = true;
      active_at = now;
    }
    return now - active_at >= hold;
  }
};

std::optional<double> run_threshold(const lb::Trace& t) {
  const auto& s = t.samples;
  if (s.empty()) return std::nullopt;
  const double t0 = to_unix_seconds(s.front().time);
  RuleHold rule{300};
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
  RuleHold rule{600};
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

struct Outcome {
  std::string name;
  std::vector<std::optional<double>> alerts;
  double samples_per_second = 0;
};

bool is_hit(const lb::Trace& t, const std::optional<double>& a) {
  // An alert before the leak begins (late leaks) is a false alarm, not a detection.
  return t.leak && a && *a >= t.leak_start - 60;
}

void write_corpus(const std::vector<lb::Trace>& corpus, const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::ofstream labels(dir + "/labels.csv");
  labels << "file,family,leak,leak_start,first_oom,time_to_oom_hours,step\n";
  for (const auto& t : corpus) {
    std::ofstream f(dir + "/" + t.name + ".csv");
    // Every column the detector reads, so that `leakwatch replay` sees what the benchmark fed it.
    f << "timestamp,usage_bytes,limit_bytes,working_set_bytes,oom_kill,restarted,failcnt,"
         "instance\n";
    const auto count = [](const std::optional<std::uint64_t>& v) {
      return v ? std::to_string(*v) : std::string();
    };
    for (const auto& s : t.samples) {
      char b[128];
      std::snprintf(b, sizeof b, "%.3f,%llu,%llu,%llu,", to_unix_seconds(s.time),
                    static_cast<unsigned long long>(s.usage_bytes),
                    static_cast<unsigned long long>(s.limit_bytes.value_or(0)),
                    static_cast<unsigned long long>(s.working_set_bytes));
      f << b << count(s.oom_kill_count) << ',' << (s.restarted ? "1" : "0") << ','
        << count(s.limit_hit_count) << ',' << s.instance << '\n';
    }
    labels << t.name << ".csv," << t.family << "," << t.leak << "," << t.leak_start << ","
           << (t.first_oom ? std::to_string(*t.first_oom) : "") << "," << t.time_to_oom_hours << ","
           << t.step << "\n";
  }
}

void print_header() {
  std::printf(
      "| %-28s | TP/leaks  | recall | precis | F1     | FP/hlth | delay p50 | delay p90 | before "
      "OOM | lead p50 |\n",
      "slice");
  std::printf(
      "|------------------------------|-----------|--------|--------|--------|---------|---------"
      "-|----------|------------|----------|\n");
}

Tally tally(const std::vector<lb::Trace>& corpus, const Outcome& o,
            std::map<std::string, Tally>* by, bool verbose) {
  Tally all;
  for (std::size_t i = 0; i < corpus.size(); ++i) {
    const auto& t = corpus[i];
    const auto& a = o.alerts[i];
    std::vector<Tally*> ts = {&all};
    if (by) {
      ts.push_back(&(*by)["family " + t.family]);
      if (t.leak) ts.push_back(&(*by)["speed " + speed_class(t.time_to_oom_hours)]);
      ts.push_back(&(*by)[std::string(t.has_limit ? "limit" : "no limit")]);
      if (t.leak && t.first_oom) ts.push_back(&(*by)["leaks reaching OOM"]);
    }
    const bool hit = is_hit(t, a);
    for (Tally* x : ts) {
      if (t.leak) {
        ++x->leaks;
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
    if (verbose && ((t.leak ? !hit : a.has_value()) || (t.first_oom && a && *a > *t.first_oom))) {
      std::printf("  miss/fp: %s step=%g limit=%d toom=%.2fh alert=%s oom=%s\n", t.name.c_str(),
                  t.step, t.has_limit, t.time_to_oom_hours, a ? fmt_h(*a).c_str() : "-",
                  t.first_oom ? fmt_h(*t.first_oom).c_str() : "-");
    }
  }
  return all;
}

// Delay compared on the same leaks: those both detectors caught, split by speed.
void print_paired_delay(const std::vector<lb::Trace>& corpus, const Outcome& a, const Outcome& b) {
  std::printf("paired delay, %s vs %s (leaks both detect):\n", a.name.c_str(), b.name.c_str());
  for (const char* cls : {"fast (<2h)", "medium (2-24h)", "slow (>=24h)", "all"}) {
    std::vector<double> da, db;
    for (std::size_t i = 0; i < corpus.size(); ++i) {
      const auto& t = corpus[i];
      if (!t.leak || !is_hit(t, a.alerts[i]) || !is_hit(t, b.alerts[i])) continue;
      if (std::string(cls) != "all" && speed_class(t.time_to_oom_hours) != cls) continue;
      da.push_back(*a.alerts[i] - t.leak_start);
      db.push_back(*b.alerts[i] - t.leak_start);
    }
    std::printf("  %-15s n=%3zu  p50 %8s vs %8s   p90 %8s vs %8s\n", cls, da.size(),
                fmt_h(quantile(da, 0.5)).c_str(), fmt_h(quantile(db, 0.5)).c_str(),
                fmt_h(quantile(da, 0.9)).c_str(), fmt_h(quantile(db, 0.9)).c_str());
  }
}

// The recorded traces: MANIFEST.tsv lists name, split (tune / holdout), leak start (seconds) and
// how it was recorded; each name has NAME.1s.csv.zst, NAME.10s.csv.zst, NAME.60s.csv.zst.
struct RealSet {
  std::string split, interval;
  std::vector<lb::Trace> traces;
};

constexpr double kLongRecording = 1800;  // seconds

std::vector<RealSet> load_real(const std::string& dir) {
  std::vector<RealSet> sets;
  std::ifstream m(dir + "/MANIFEST.tsv");
  if (!m) {
    std::fprintf(stderr, "real traces: no %s/MANIFEST.tsv\n", dir.c_str());
    return sets;
  }
  std::string line;
  while (std::getline(m, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    for (std::size_t pos = 0; pos <= line.size();) {
      const auto tab = std::min(line.find('\t', pos), line.size());
      f.push_back(line.substr(pos, tab - pos));
      pos = tab + 1;
    }
    if (f.size() < 3 || f[0] == "name") continue;
    for (const char* iv : {"1s", "10s", "60s"}) {
      const std::string path = dir + "/" + f[0] + "." + iv + ".csv.zst";
      if (!std::filesystem::exists(path)) continue;
      auto samples = ld::load_trace(path);
      if (!samples || samples->size() < 2) {
        std::fprintf(stderr, "real traces: %s: %s\n", path.c_str(),
                     samples ? "too short" : samples.error().message.c_str());
        continue;
      }
      lb::Trace t;
      t.name = f[0] + "." + iv;
      t.leak = f[0].rfind("leak-", 0) == 0;
      t.family = f[0];
      t.leak_start = std::strtod(f[2].c_str(), nullptr);
      t.step = std::strtod(iv, nullptr);
      t.samples = std::move(*samples);
      const double t0 = to_unix_seconds(t.samples.front().time);
      std::optional<std::uint64_t> kills;
      for (const auto& s : t.samples) {
        t.has_limit = t.has_limit || s.limit_bytes.has_value();
        const bool killed = s.oom_kill_count && kills && *s.oom_kill_count > *kills;
        if (s.oom_kill_count) kills = s.oom_kill_count;
        // The first death: an OOM kill, or a restart (a runtime's own heap limit ends it too).
        if (!t.first_oom && (killed || s.restarted) && t.leak)
          t.first_oom = to_unix_seconds(s.time) - t0;
      }
      // Nominal speed class for the tally: the first death, else "slow".
      t.time_to_oom_hours = t.first_oom ? (*t.first_oom - t.leak_start) / 3600.0 : 48;
      auto it = std::find_if(sets.begin(), sets.end(),
                             [&](const RealSet& r) { return r.split == f[1] && r.interval == iv; });
      if (it == sets.end()) {
        sets.push_back({f[1], iv, {}});
        it = sets.end() - 1;
      }
      it->traces.push_back(std::move(t));
    }
  }
  return sets;
}

void report_real(const std::string& dir,
                 const std::vector<std::pair<std::string, Alerter>>& detectors, bool verbose,
                 const std::string& explain, bool tune_only) {
  const auto sets = load_real(dir);
  if (sets.empty()) return;
  if (!explain.empty()) {  // the detector's state changes on one trace, t in minutes
    for (const auto& set : sets) {
      for (const auto& t : set.traces) {
        if (t.name != explain) continue;
        ld::Detector d(g_settings);
        const double t0 = to_unix_seconds(t.samples.front().time);
        for (const auto& smp : t.samples) {
          const auto dec = d.observe(smp);
          if (dec.changed || dec.restarted) {
            auto j = dec.to_json();
            j["t"] = (to_unix_seconds(smp.time) - t0) / 60.0;
            std::printf("%s\n", j.dump().c_str());
          }
        }
      }
    }
    return;
  }
  std::printf("## real-runtime traces (%s)\n\n", dir.c_str());
  for (const char* split : {"tune", "holdout"}) {
    // While choosing a setting, the held-out recordings stay unseen.
    if (tune_only && std::string(split) == "holdout") continue;
    for (const char* iv : {"1s", "10s", "60s"}) {
      for (const auto& set : sets) {
        if (set.split != split || set.interval != iv) continue;
        std::size_t n = 0;
        for (const auto& t : set.traces)
          n += t.samples.size();
        std::printf("real %s, %s samples: %zu traces, %zu samples\n", split, iv, set.traces.size(),
                    n);
        print_header();
        for (const auto& [name, run] : detectors) {
          Outcome o;
          o.name = name;
          for (const auto& t : set.traces)
            o.alerts.push_back(run(t));
          print_row(name, tally(set.traces, o, nullptr, verbose && name == "leakwatch"));
        }
        // leakwatch again, by recording length: a leak far from its limit is a leak only once a
        // window of 2 x min_window has held (growth_fraction), which a 12-minute recording never
        // gives it.
        for (const bool longer : {false, true}) {
          std::vector<lb::Trace> part;
          for (const auto& t : set.traces) {
            const double len =
                to_unix_seconds(t.samples.back().time) - to_unix_seconds(t.samples.front().time);
            if ((len >= kLongRecording) == longer) part.push_back(t);
          }
          if (part.empty()) continue;
          Outcome o;
          o.name = "leakwatch";
          for (const auto& t : part)
            o.alerts.push_back(detectors.front().second(t));
          print_row(longer ? "  recordings >= 30 min" : "  recordings < 30 min",
                    tally(part, o, nullptr, false));
        }
        std::printf("\n");
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::uint64_t> seeds;
  int per_family = 30;
  bool verbose = false;
  bool summary = false;
  std::string explain;  // trace name: print the detector's state changes on it
  std::string write_csv;
#ifdef LEAKWATCH_REAL_TRACES
  std::string real_dir = LEAKWATCH_REAL_TRACES;
#else
  std::string real_dir;
#endif
  bool real_only = false;
  bool tune_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seed" && i + 1 < argc) {
      std::string list = argv[++i];
      for (std::size_t pos = 0; pos <= list.size();) {
        const auto comma = std::min(list.find(',', pos), list.size());
        seeds.push_back(std::strtoull(list.substr(pos, comma - pos).c_str(), nullptr, 10));
        pos = comma + 1;
      }
    } else if (a == "--per-family" && i + 1 < argc) {
      per_family = std::atoi(argv[++i]);
    } else if (a == "--write-csv" && i + 1 < argc) {
      write_csv = argv[++i];
    } else if (a == "--set" && i + 1 < argc) {
      add_setting(argv[++i]);
    } else if (a == "--explain" && i + 1 < argc) {
      explain = argv[++i];
    } else if (a == "--real" && i + 1 < argc) {
      real_dir = argv[++i];
    } else if (a == "--no-real") {
      real_dir.clear();
    } else if (a == "--real-only") {
      real_only = true;
    } else if (a == "--tune-only") {
      tune_only = true;
    } else if (a == "--verbose") {
      verbose = true;
    } else if (a == "--summary") {
      summary = true;
    } else {
      std::fprintf(stderr,
                   "usage: detect_bench [--seed N[,N...]] [--per-family N] [--write-csv DIR] "
                   "[--set key=value] [--real DIR | --no-real] [--real-only] [--tune-only] "
                   "[--summary] [--verbose] [--explain NAME]\n");
      return 2;
    }
  }
  if (seeds.empty()) seeds.push_back(1);
  if (!load_settings()) return 2;
  const std::vector<std::pair<std::string, Alerter>> detectors = {
      {"leakwatch", run_leakwatch},
      {"threshold 90% for 5m", run_threshold},
      {"predict_linear 1h/4h for 10m", run_predict_linear}};
  std::vector<lb::Trace> pooled;
  std::vector<Outcome> pooled_out(detectors.size());
  if (real_only) seeds.clear();
  for (std::uint64_t seed : seeds) {
    const auto corpus = lb::generate_corpus(seed, per_family);
    if (!explain.empty()) {
      for (const auto& t : corpus) {
        if (t.name != explain) continue;
        ld::Detector d(g_settings);
        const double t0 = to_unix_seconds(t.samples.front().time);
        for (const auto& smp : t.samples) {
          const auto dec = d.observe(smp);
          if (dec.changed) {
            auto j = dec.to_json();
            j["t"] = (to_unix_seconds(smp.time) - t0) / 3600.0;
            std::printf("%s\n", j.dump().c_str());
          }
        }
      }
      continue;
    }
    std::size_t total_samples = 0;
    for (const auto& t : corpus)
      total_samples += t.samples.size();
    if (!write_csv.empty()) write_corpus(corpus, write_csv + "/seed" + std::to_string(seed));
    std::printf("corpus: seed %llu, %zu traces, %zu samples\n",
                static_cast<unsigned long long>(seed), corpus.size(), total_samples);
    std::vector<Outcome> outs;
    for (std::size_t k = 0; k < detectors.size(); ++k) {
      Outcome o;
      o.name = detectors[k].first;
      const auto start = std::chrono::steady_clock::now();
      for (const auto& t : corpus)
        o.alerts.push_back(detectors[k].second(t));
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      o.samples_per_second = static_cast<double>(total_samples) / secs;
      pooled_out[k].name = o.name;
      pooled_out[k].alerts.insert(pooled_out[k].alerts.end(), o.alerts.begin(), o.alerts.end());
      outs.push_back(std::move(o));
    }
    pooled.insert(pooled.end(), corpus.begin(), corpus.end());
    if (verbose) {
      for (std::size_t i = 0; i < corpus.size(); ++i) {
        const auto& t = corpus[i];
        if (t.leak || !t.has_limit) continue;
        double peak = 0;
        for (const auto& smp : t.samples)
          peak = std::max(peak, static_cast<double>(smp.working_set_bytes ? smp.working_set_bytes
                                                                          : smp.usage_bytes) /
                                    static_cast<double>(*smp.limit_bytes));
        if (peak > 0.9 || t.first_oom)
          std::printf("  healthy near limit: %s peak=%.3f oom=%d lw=%d\n", t.name.c_str(), peak,
                      t.first_oom.has_value(), outs[0].alerts[i].has_value());
      }
    }
    if (summary) {
      print_header();
      for (const auto& o : outs)
        print_row(o.name, tally(corpus, o, nullptr, verbose && o.name == "leakwatch"));
      std::printf("\n");
      continue;
    }
    for (const auto& o : outs) {
      std::map<std::string, Tally> by;
      const Tally all = tally(corpus, o, &by, verbose && o.name == "leakwatch");
      std::printf("\n## %s  (%.0f samples/s over the corpus)\n\n", o.name.c_str(),
                  o.samples_per_second);
      print_header();
      print_row("ALL", all);
      for (const auto& [k, v] : by)
        print_row(k, v);
    }
    std::printf("\n");
    for (std::size_t k = 1; k < outs.size(); ++k)
      print_paired_delay(corpus, outs[0], outs[k]);
    std::printf("\n");
  }
  if (seeds.size() > 1) {
    std::printf("pooled over %zu seeds:\n", seeds.size());
    print_header();
    for (const auto& o : pooled_out)
      print_row(o.name, tally(pooled, o, nullptr, false));
  }
  if (!real_dir.empty()) report_real(real_dir, detectors, verbose, explain, tune_only);
  return 0;
}
