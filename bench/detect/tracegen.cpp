#include "tracegen.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace leakwatch::bench {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kMi = 1024.0 * 1024.0;

struct Params {
  double L = 1024 * kMi;
  bool has_limit = true;
  double B = 300 * kMi;  // settled live heap + runtime
  double A = 30 * kMi;   // GC sawtooth amplitude
  double period = 60;    // GC period, seconds
  double noise = 1 * kMi;
  double warm = 40 * kMi, warm_tau = 300;  // warm-up after every (re)start
  double diurnal = 0, diurnal_phase = 0;   // fraction of B
  double leak_rate = 0;                    // bytes/s
  double leak_start = 0;
  bool leak_traffic = false;   // leak proportional to (diurnal) traffic
  double step_leak_every = 0;  // >0: leak arrives in steps
  double batch_every = 0, batch_len = 0, batch_amp = 0;
  struct Burst {
    double start, ramp, hold, amp;
  };
  std::vector<Burst> bursts;
  struct Step {
    double at, amp;
  };
  std::vector<Step> steps;
  double cache_amp = 0, cache_time = 0;  // bounded cache filling (linear or exponential)
  bool cache_linear = true;
  double pagecache_rate = 0;  // page cache growth, bytes/s (usage only)
  double inactive = 5 * kMi;
  double pagecache_ceiling = 0.97;  // page cache grows until usage reaches this x limit
  double pagecache_start = 0;
  bool counters = false;  // the source has failcnt and an OOM-kill counter
  // A runtime heap limit (V8 --max-old-space-size, JVM -Xmx): the process dies when the tracked
  // memory reaches it and is restarted; no OOM kill. 0 = none.
  double heap_limit = 0;
  std::vector<double> restart_times;  // restarts (deploys) at these times, healthy
  bool knows_restarts = false;        // the source flags restarts (cgroup, procfs, ECS do)
  double duration = 3600, step = 10;
  bool gaps = false;
  bool with_ws = true;
};

double frac(double x) {
  return x - std::floor(x);
}

Trace simulate(const Params& p, std::mt19937_64& rng, Trace t) {
  std::normal_distribution<double> gauss(0.0, 1.0);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const double t0 = 1.7e9 + std::floor(uni(rng) * 1e6);
  double leak_acc = 0, restart_at = 0, last_step_bucket = -1;
  const double phase = uni(rng) * p.period;
  double gap_from = -1, gap_to = -1;
  if (p.gaps) {
    gap_from = uni(rng) * p.duration * 0.8;
    gap_to = gap_from + std::min(p.duration * 0.1, 600 + uni(rng) * 3 * 3600);
  }
  double pagecache = p.pagecache_start;
  std::uint64_t hits = 0, kills = 0;
  bool restarted = false;
  // Every source names the process it watches (cgroup inode, pid, container id), and the name
  // changes when the process does; it is how a source without an OOM-kill counter tells a crash
  // from a full collection.
  int incarnation = 0;
  std::size_t next_restart = 0;
  t.samples.reserve(static_cast<std::size_t>(p.duration / p.step) + 2);
  for (double x = 0; x <= p.duration; x += p.step) {
    const double ts = x + (p.step >= 10 ? (uni(rng) - 0.5) * 0.3 * p.step : 0.0);
    if (next_restart < p.restart_times.size() && x >= p.restart_times[next_restart]) {
      ++next_restart;  // a deploy: the same app starts again from scratch
      restarted = true;
      ++incarnation;
      restart_at = x;
    }
    const double age = x - restart_at;
    double heap = p.B + p.warm * (1 - std::exp(-age / p.warm_tau));
    const double traffic = std::sin(2 * kPi * x / 86400.0 + p.diurnal_phase);
    heap += p.diurnal * p.B * traffic;
    for (const auto& b : p.bursts) {
      if (x < b.start) continue;
      const double r = x - b.start;
      double level = 0;
      if (r < b.ramp)
        level = r / b.ramp;
      else if (r < b.ramp + b.hold)
        level = 1;
      else if (r < 2 * b.ramp + b.hold)
        level = 1 - (r - b.ramp - b.hold) / b.ramp;
      heap += level * b.amp;
    }
    for (const auto& s : p.steps) {
      if (x >= s.at) heap += s.amp * (1 - std::exp(-(x - s.at) / 300.0));
    }
    if (p.batch_every > 0) {
      const double r = std::fmod(x, p.batch_every);
      if (r < p.batch_len) heap += p.batch_amp * r / p.batch_len;
    }
    if (p.cache_amp > 0) {
      heap += p.cache_linear ? p.cache_amp * std::min(1.0, age / p.cache_time)
                             : p.cache_amp * (1 - std::exp(-age / p.cache_time));
    }
    if (p.leak_rate > 0 && x >= p.leak_start) {
      double rate = p.leak_rate * (p.leak_traffic ? std::max(0.0, 1 + 0.9 * traffic) : 1.0);
      if (p.step_leak_every > 0) {
        const double bucket = std::floor(x / p.step_leak_every);
        if (bucket != last_step_bucket) {
          if (last_step_bucket >= 0) leak_acc += p.leak_rate * p.step_leak_every;
          last_step_bucket = bucket;
        }
      } else {
        leak_acc += rate * p.step;
      }
    }
    heap += leak_acc;
    const double saw = p.A * frac((x + phase) / p.period);
    double ws = heap + saw + p.noise * gauss(rng);
    ws = std::max(ws, 16 * kMi);
    bool at_limit = false;
    if (p.pagecache_rate > 0) {
      pagecache += p.pagecache_rate * p.step;
      const double room = p.has_limit ? p.L * p.pagecache_ceiling - ws - p.inactive : 1e18;
      at_limit = pagecache >= room && p.pagecache_ceiling > 0.98;
      pagecache = std::clamp(pagecache, 0.0, std::max(0.0, room));
    }
    if (at_limit) ++hits;
    const bool killed = p.has_limit && ws >= p.L;
    if (killed || (p.heap_limit > 0 && ws >= p.heap_limit)) {
      // OOM kill: the container dies at the top of the sawtooth and restarts from scratch. Or the
      // runtime's own heap limit ends the process below the container's limit: a restart, not a
      // kill (first_oom stays unset: "before OOM" counts kernel kills).
      if (killed) {
        if (!t.first_oom) t.first_oom = x;
        ++kills;
        pagecache = 0;
      }
      restarted = true;
      ++incarnation;
      restart_at = x + p.step;
      leak_acc = 0;
      last_step_bucket = -1;
      continue;  // no sample while the process is down
    }
    if (x >= gap_from && x < gap_to) continue;
    core::Sample s;
    s.time = core::from_unix_seconds(t0 + std::max(0.0, ts));
    s.working_set_bytes = p.with_ws ? static_cast<std::uint64_t>(ws) : 0;
    s.usage_bytes = static_cast<std::uint64_t>(ws + p.inactive + pagecache);
    if (p.has_limit) s.limit_bytes = static_cast<std::uint64_t>(p.L);
    char pid[16];  // (not "pid-" + to_string: GCC 12 -O2 warns -Wrestrict, falsely)
    std::snprintf(pid, sizeof pid, "pid-%d", 1000 + incarnation);
    s.instance = pid;
    if (p.counters) {
      s.limit_hit_count = hits;
      s.oom_kill_count = kills;
    }
    if (p.counters || p.knows_restarts) {
      s.restarted = restarted;
      restarted = false;
    }
    if (!t.samples.empty() && s.time < t.samples.back().time) s.time = t.samples.back().time;
    t.samples.push_back(s);
  }
  t.has_limit = p.has_limit;
  t.step = p.step;
  return t;
}

}  // namespace

const std::vector<std::string>& healthy_families() {
  static const std::vector<std::string> f = {
      "sawtooth", "warmup", "deploy_step", "diurnal", "bursts", "batch", "cache_fill", "near_limit",
      "page_cache",
      // Modelled on the real-runtime recordings (tests/data/traces/real).
      "rare_full_gc", "page_cache_usage_only", "fast_warmup",
      // Generated after all the others (see generate_corpus).
      "restarts"};
  return f;
}

const std::vector<std::string>& leak_families() {
  static const std::vector<std::string> f = {
      "leak_linear", "leak_traffic", "leak_late", "leak_steps", "leak_oom_cycles",
      "leak_big_sawtooth", "leak_fast_seed",
      // Generated after all the others (see generate_corpus).
      "leak_heap_limit"};
  return f;
}

namespace {
// Families added after the corpora were first published: generated last, so that every earlier
// family keeps its seeds and its traces.
bool later_family(const std::string& f) {
  return f == "restarts" || f == "leak_heap_limit";
}
}  // namespace

Trace generate(const std::string& family, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  auto U = [&](double a, double b) { return a + (b - a) * uni(rng); };
  auto pick = [&](std::initializer_list<double> v) {
    return *(v.begin() + static_cast<std::size_t>(uni(rng) * static_cast<double>(v.size())));
  };
  Params p;
  p.L = pick({256, 512, 1024, 2048, 4096}) * kMi;
  p.has_limit = uni(rng) < 0.75;
  p.B = U(0.15, 0.4) * p.L;
  p.A = U(0.03, 0.2) * p.B;
  p.period = std::exp(U(std::log(15.0), std::log(900.0)));
  p.noise = U(0.002, 0.01) * p.B;
  p.warm = U(0.02, 0.3) * p.B;
  p.warm_tau = U(60, 900);
  p.inactive = U(0.01, 0.05) * p.B;
  p.with_ws = uni(rng) < 0.6;
  p.gaps = uni(rng) < 0.15;
  p.diurnal_phase = U(0, 2 * kPi);
  Trace t;
  t.family = family;
  t.name = family + "-" + std::to_string(seed);
  auto healthy_duration = [&](double min_hours) {
    p.step = pick({1, 10, 10, 60, 60});
    if (min_hours > 8 && p.step == 1) p.step = 10;
    const double h = p.step == 1    ? U(2, 8)
                     : p.step == 10 ? U(std::max(6.0, min_hours), 48)
                                    : U(std::max(24.0, min_hours), 96);
    p.duration = h * 3600;
  };
  const bool leak = family.rfind("leak_", 0) == 0;
  if (!leak) {
    healthy_duration(0);
    if (family == "warmup") {
      p.warm = U(0.3, 1.0) * p.B;
      p.warm_tau = U(300, 3600);
    } else if (family == "deploy_step") {
      const int n = 1 + static_cast<int>(uni(rng) * 3);
      for (int i = 0; i < n; ++i)
        p.steps.push_back({U(0.1, 0.9) * p.duration, U(-0.1, 0.35) * p.B});
    } else if (family == "diurnal") {
      p.step = pick({10, 60});
      p.duration = U(48, 96) * 3600;
      p.diurnal = U(0.1, 0.35);
    } else if (family == "bursts") {
      const int n = 1 + static_cast<int>(uni(rng) * 4);
      for (int i = 0; i < n; ++i) {
        p.bursts.push_back(
            {U(0.05, 0.8) * p.duration, U(600, 3600), U(1800, 3 * 3600), U(0.1, 0.5) * p.B});
      }
    } else if (family == "batch") {
      p.batch_every = U(1, 6) * 3600;
      p.batch_len = U(600, 3600);
      p.batch_amp = U(0.2, 0.6) * p.B;
    } else if (family == "cache_fill") {
      p.cache_amp = U(0.2, 0.8) * p.B;
      p.cache_time = U(1800, 6 * 3600);
      p.cache_linear = uni(rng) < 0.5;
      if (!p.cache_linear) p.cache_time /= 3;
    } else if (family == "near_limit") {
      p.B = U(0.72, 0.82) * p.L;
      p.A = U(0.02, 0.08) * p.L;
      p.warm = U(0.0, 0.03) * p.L;
      p.noise = 0.003 * p.L;
      p.diurnal = uni(rng) < 0.3 ? U(0.01, 0.03) : 0.0;
      p.has_limit = true;
    } else if (family == "page_cache") {
      p.pagecache_rate = U(0.05, 0.5) * p.L / 3600.0;
      p.with_ws = true;
    } else if (family == "rare_full_gc") {
      // JVM-like: the old generation climbs for 20 min to 4 h, then a full collection; -Xmx
      // close to the limit, so the peaks come near it.
      p.has_limit = true;
      p.B = U(0.2, 0.35) * p.L;
      p.warm = U(0.0, 0.05) * p.L;
      p.A = U(0.7, 0.95) * (0.93 * p.L - p.B - p.warm);
      p.period = std::exp(U(std::log(1200.0), std::log(4 * 3600.0)));
      p.noise = 0.003 * p.L;
      p.step = pick({10, 10, 60});
      p.duration = std::max(U(12, 72) * 3600, 4 * p.period);
    } else if (family == "page_cache_usage_only") {
      // No working set: the page cache counts in usage, which reaches the limit and stays there;
      // the kernel reclaims and nothing is killed. Half the sources also have the counters.
      p.has_limit = true;
      p.with_ws = false;
      p.pagecache_rate = U(0.01, 0.3) * p.L / 3600.0;
      p.pagecache_ceiling = 0.999;
      p.pagecache_start = p.L;  // already full when watching starts: it sits at the limit
      p.counters = uni(rng) < 0.5;
    } else if (family == "restarts") {
      // Deploys or scheduled restarts at random times, often while a long warm-up (caches) is
      // still climbing: each one starts the app again from scratch.
      p.warm = U(0.3, 1.0) * p.B;
      p.warm_tau = U(600, 4 * 3600);
      p.knows_restarts = true;
      const int n = 2 + static_cast<int>(uni(rng) * 5);
      for (int i = 0; i < n; ++i)
        p.restart_times.push_back(U(0.05, 0.95) * p.duration);
      std::sort(p.restart_times.begin(), p.restart_times.end());
    } else if (family == "fast_warmup") {
      // The healthy twin of leak_fast_seed: a 1-4 minute warm-up sampled every 1-10 s.
      p.L = pick({64, 128, 128, 256, 512}) * kMi;
      p.has_limit = true;
      p.B = U(0.2, 0.45) * p.L;
      p.warm = U(0.1, 0.3) * p.L;
      p.warm_tau = U(20, 80);
      p.A = U(0.02, 0.1) * p.B;
      p.period = U(3, 30);
      p.noise = U(0.002, 0.01) * p.B;
      p.step = pick({1, 1, 10});
      p.duration = U(1, 3) * 3600;
      p.inactive = U(0.01, 0.05) * p.B;
      // Healthy: it settles with room under the limit (peaks at most 85 % of it).
      const double over = (p.B + p.warm + p.A + 4 * p.noise) / (0.85 * p.L);
      if (over > 1) {
        p.B /= over;
        p.warm /= over;
        p.A /= over;
      }
    }
    return simulate(p, rng, t);
  }
  if (family == "leak_fast_seed") {
    // The incident: a 1-4 minute warm-up, then a leak that reaches the limit 5-20 minutes later.
    p.L = pick({64, 128, 128, 256, 512}) * kMi;
    p.has_limit = true;
    p.B = U(0.2, 0.4) * p.L;
    p.warm = U(0.1, 0.25) * p.L;
    p.warm_tau = U(20, 80);
    p.A = U(0.02, 0.1) * p.B;
    p.period = U(3, 30);
    // Noise and inactive file pages on the scale of this container, as for fast_warmup (drawn
    // from the first, up to 4 GiB limit, they swung a 128 MiB container by tens of MiB).
    p.noise = U(0.002, 0.01) * p.B;
    p.inactive = U(0.01, 0.05) * p.B;
    p.step = pick({1, 1, 10});
    p.leak_start = U(60, 240);
    const double toom = U(5, 20) / 60.0;
    p.leak_rate = std::max(0.0, p.L - p.B - p.warm - p.A) / (toom * 3600.0);
    p.duration = p.leak_start + toom * 3600 * 1.3;
    t.leak = true;
    t.leak_start = p.leak_start;
    t.time_to_oom_hours = toom;
    return simulate(p, rng, t);
  }
  if (family == "leak_heap_limit") {
    // A runtime heap limit well below the container's (or no container limit at all): the process
    // dies at the same height each time and is restarted; the kernel never kills it.
    const double settled = p.B + p.warm + p.A;
    p.heap_limit = settled + U(0.2, 0.6) * (p.L - settled);
    const double toom = std::exp(U(std::log(0.3), std::log(12.0)));
    p.step = toom <= 2 ? pick({1, 10, 60}) : pick({10, 60});
    p.leak_rate = (p.heap_limit - settled) / (toom * 3600.0);
    p.knows_restarts = true;
    p.duration = toom * 3600 * U(2.5, 3.5);
    t.leak = true;
    t.time_to_oom_hours = toom;
    return simulate(p, rng, t);
  }
  // Leaks: speed = hours from the start of the leak to the limit, log-uniform 0.5h..96h.
  double toom = std::exp(U(std::log(0.5), std::log(96.0)));
  if (family == "leak_oom_cycles") toom = std::exp(U(std::log(0.5), std::log(8.0)));
  p.step = toom <= 6 ? pick({1, 10, 60}) : toom <= 48 ? pick({10, 60}) : 60;
  p.leak_start = 0;
  if (family == "leak_late") p.leak_start = U(1, 12) * 3600;
  if (family == "leak_big_sawtooth") {
    p.A = U(0.4, 0.8) * p.B;
    p.period = U(300, 1800);
  }
  const double settled = p.B + p.warm + p.A;
  p.leak_rate = std::max(0.0, p.L - settled) / (toom * 3600.0);
  if (family == "leak_traffic") {
    p.leak_traffic = true;
    p.diurnal = U(0.05, 0.2);
    // The leak rate follows traffic (1 + 0.9 sin); scale it so the leak really reaches the limit
    // `toom` hours after it starts (the label), whatever time of day the trace begins. Without
    // this, a fast "leak" generated at night grew at a tenth of its nominal rate and never
    // reached the limit within the trace, yet was labelled as a 0.5 h leak.
    double mean = 0;
    const int n = 1000;
    for (int i = 0; i < n; ++i) {
      const double x = p.leak_start + (i + 0.5) / n * toom * 3600.0;
      mean += std::max(0.0, 1 + 0.9 * std::sin(2 * kPi * x / 86400.0 + p.diurnal_phase)) / n;
    }
    p.leak_rate /= std::max(mean, 0.1);
  }
  if (family == "leak_steps")
    p.step_leak_every = std::clamp(U(0.04, 0.15) * toom * 3600, 300.0, 4 * 3600.0);
  const double after = family == "leak_oom_cycles" ? U(2.5, 3.5) : U(1.1, 1.5);
  p.duration = std::min(7 * 86400.0, p.leak_start + toom * 3600 * after);
  if (family == "leak_oom_cycles") p.has_limit = true;
  t.leak = true;
  t.leak_start = p.leak_start;
  t.time_to_oom_hours = toom;
  return simulate(p, rng, t);
}

std::vector<Trace> generate_corpus(std::uint64_t seed, int per_family) {
  std::vector<Trace> out;
  std::uint64_t s = seed * 1000003ull;
  for (const bool later : {false, true}) {
    for (const auto* fams : {&healthy_families(), &leak_families()}) {
      for (const auto& f : *fams) {
        if (later_family(f) != later) continue;
        for (int i = 0; i < per_family; ++i)
          out.push_back(generate(f, ++s));
      }
    }
  }
  return out;
}

}  // namespace leakwatch::bench
