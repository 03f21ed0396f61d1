#include "leakwatch/config/config.h"

#include <algorithm>
#include <cstdlib>

#include "leakwatch/core/fs.h"

namespace leakwatch::config {
namespace {

using namespace std::chrono_literals;

void read_detection(Section s, detect::DetectorSettings& d) {
  s.duration("bucket", d.bucket, 1s, 1h);
  s.duration("min_window", d.min_window, 1min, 24h * 30);
  s.duration("max_window", d.max_window, 1min, 24h * 90);
  s.duration("confirm_window", d.confirm_window, 1min, 24h * 90);
  s.integer("segments", d.segments, 3, 100);
  s.percent("min_rise_fraction", d.min_rise_fraction);
  s.size("min_rise_bytes", d.min_rise_bytes);
  s.number("min_linearity", d.min_linearity, 0.0, 1.0);
  s.number("level_off_ratio", d.level_off_ratio, 0.0, 1.0);
  s.percent("max_step_share", d.max_step_share);
  s.number("forecast_factor", d.forecast_factor, 0.01, 100.0);
  s.duration("oom_imminent_horizon", d.oom_imminent_horizon, 0s, 24h * 30);
  s.percent("oom_peak_fraction", d.oom_peak_fraction);
  s.percent("crash_drop_fraction", d.crash_drop_fraction);
  s.integer("oom_cycles", d.oom_cycles, 1, 1000);
  s.duration("oom_cycle_window", d.oom_cycle_window, 1min, 24h * 365);
  s.duration("capture_settle", d.capture_settle, 0s, 24h);
  s.duration("clear_after", d.clear_after, 1min, 24h * 30);
  s.duration("max_gap", d.max_gap, 1s, 24h * 30);
  s.finish();
  for (const auto& why : detect::validate(d))
    s.context().problem(s.node(), s.path(), why);
}

void read_server(Section s, ServerSettings& v) {
  s.boolean("enabled", v.enabled);
  s.str("listen", v.listen);
  s.secret("token", v.token);
  s.size("max_request_bytes", v.max_request_bytes, 1024, 16 << 20);
  s.integer("max_connections", v.max_connections, 1, 10000);
  s.number("rate_limit_per_second", v.rate_limit_per_second, 0.1, 100000);
  s.integer("rate_limit_burst", v.rate_limit_burst, 1, 100000);
  s.finish();
  auto colon = v.listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == v.listen.size())
    s.problem("listen", "expected ADDRESS:PORT such as 127.0.0.1:9464, got '" + v.listen + "'");
}

void read_log(Section s, LogSettings& v) {
  s.choice("format", v.format, {{"text", core::LogFormat::text}, {"json", core::LogFormat::json}});
  s.choice("level", v.level,
           {{"trace", std::string("trace")},
            {"debug", std::string("debug")},
            {"info", std::string("info")},
            {"warn", std::string("warn")},
            {"error", std::string("error")}});
  s.finish();
}

LoadResult load_node(Context& ctx, const YAML::Node& root) {
  LoadResult out;
  Config cfg;
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    ctx.problem(root, "",
                "the configuration must be a mapping of sections (target:, capture:, ...)");
  } else {
    Section top(ctx, root, "");
    top.duration("poll_interval", cfg.poll_interval, 100ms, 1h);
    top.str("state_dir", cfg.state_dir);
    read_detection(top.section("detection"), cfg.detection);
    read_server(top.section("server"), cfg.server);
    read_log(top.section("log"), cfg.log);
    top.finish();
  }
  std::stable_sort(ctx.problems.begin(), ctx.problems.end(),
                   [](const Problem& a, const Problem& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  out.problems = std::move(ctx.problems);
  out.warnings = std::move(ctx.warnings);
  if (out.problems.empty()) out.config = std::move(cfg);
  return out;
}

Context make_context(const std::string& name) {
  Context ctx;
  ctx.file = name;
  ctx.getenv = [](const std::string& n) -> std::optional<std::string> {
    const char* v = std::getenv(n.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
  return ctx;
}

LoadResult parse(Context& ctx, const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    LoadResult r;
    Problem p{ctx.file, e.mark.line >= 0 ? e.mark.line + 1 : 0,
              e.mark.column >= 0 ? e.mark.column + 1 : 0, "", "YAML syntax error: " + e.msg};
    r.problems.push_back(p);
    return r;
  }
  return load_node(ctx, root);
}

}  // namespace

LoadResult load_file(const std::filesystem::path& path) {
  Context ctx = make_context(path.string());
  ctx.base_dir = path.parent_path().string();
  auto text = core::read_file(path, 4 << 20);
  if (!text.ok()) {
    LoadResult r;
    r.problems.push_back(Problem{path.string(), 0, 0, "", text.error().message});
    return r;
  }
  return parse(ctx, *text);
}

LoadResult load_string(const std::string& yaml, const std::string& name) {
  Context ctx = make_context(name);
  return parse(ctx, yaml);
}

}  // namespace leakwatch::config
