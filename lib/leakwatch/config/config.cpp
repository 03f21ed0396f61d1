#include "leakwatch/config/config.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string_view>

#include "leakwatch/capture/inspector.h"
#include "leakwatch/capture/process.h"
#include "leakwatch/config/reader.h"
#include "leakwatch/core/fs.h"
#include "leakwatch/http/url.h"

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
  s.number("fast_forecast_factor", d.fast_forecast_factor, 0.01, 100.0);
  s.duration("oom_imminent_horizon", d.oom_imminent_horizon, 0s, 24h * 30);
  s.percent("oom_peak_fraction", d.oom_peak_fraction);
  s.percent("crash_drop_fraction", d.crash_drop_fraction);
  s.integer("oom_cycles", d.oom_cycles, 1, 1000);
  s.duration("oom_cycle_window", d.oom_cycle_window, 1min, 24h * 365);
  s.duration("capture_settle", d.capture_settle, 0s, 24h);
  s.duration("clear_after", d.clear_after, 1min, 24h * 30);
  s.duration("max_gap", d.max_gap, 1s, 24h * 30);
  s.number("growth_fraction", d.growth_fraction, 0.01, 100.0);
  s.duration("fast_window", d.fast_window, 0s, 24h * 30);
  s.percent("pinned_fraction", d.pinned_fraction);
  s.duration("pinned_after", d.pinned_after, 0s, 24h * 30);
  s.percent("full_gc_drop_fraction", d.full_gc_drop_fraction);
  s.finish();
  for (const auto& why : detect::validate(d))
    s.context().problem(s.node(), s.path(), why);
}

void read_target(Section s, source::TargetSettings& t) {
  s.str("name", t.name);
  s.choice("source", t.source,
           {{"cgroup", source::SourceKind::cgroup},
            {"ecs", source::SourceKind::ecs},
            {"procfs", source::SourceKind::procfs}});
  s.str("cgroup_path", t.cgroup_path);
  s.str("ecs_container", t.ecs_container);
  s.str("ecs_metadata_uri", t.ecs_metadata_uri);
  s.duration("ecs_timeout", t.ecs_timeout, 100ms, 5min);
  if (s.has("pid")) {
    std::int64_t pid = 0;
    s.integer("pid", pid, 1, 4194304);
    if (pid > 0) t.pid = static_cast<int>(pid);
  }
  s.str("pid_file", t.pid_file);
  std::string root;
  s.str("root", root);
  if (!root.empty()) t.root = root;
  s.finish();
  if (t.name.empty() || t.name.find_first_of("/\\ ") != std::string::npos || t.name == "." ||
      t.name == "..")
    s.problem("name",
              "must be a non-empty label without '/', '\\' or spaces (it names archive folders)");
  switch (t.source) {
    case source::SourceKind::ecs:
      if (t.ecs_container.empty()) s.require("ecs_container");
      break;
    case source::SourceKind::procfs:
      if (!t.pid && t.pid_file.empty()) s.problem("pid", "source procfs needs pid: or pid_file:");
      break;
    case source::SourceKind::cgroup:
      break;
  }
}

// True when an http:// URL's host is loopback (localhost, 127.0.0.0/8, ::1): the key never leaves
// the machine (or the task's shared network namespace).
bool loopback_url(std::string_view url) {
  url.remove_prefix(std::string_view("http://").size());
  auto end = url.find_first_of("/?#");
  auto authority = url.substr(0, end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string host;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(authority.substr(1, close - 1));
  } else {
    host = std::string(authority.substr(0, authority.find(':')));
  }
  for (auto& ch : host)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (host == "localhost" || host == "::1") return true;
  // 127.a.b.c with numeric parts only.
  if (host.rfind("127.", 0) != 0) return false;
  int dots = 0;
  for (char ch : host) {
    if (ch == '.')
      ++dots;
    else if (ch < '0' || ch > '9')
      return false;
  }
  return dots == 3 && host.back() != '.';
}

void read_capture(Section s, capture::CaptureSettings& c) {
  s.str("url", c.url);
  s.str("header", c.header);
  s.secret("key", c.key);
  s.duration("connect_timeout", c.connect_timeout, 100ms, 10min);
  s.duration("idle_timeout", c.idle_timeout, 1s, 24h);
  s.duration("total_timeout", c.total_timeout, 1s, 24h);
  s.size("max_bytes", c.max_bytes, 1 << 20);
  s.boolean("compress", c.compress);
  s.integer("compression_level", c.compression_level, 1, 19);
  s.number("headroom_factor", c.headroom_factor, 0.0, 100.0);
  s.size("min_headroom_bytes", c.min_headroom_bytes);
  s.duration("max_sample_age", c.max_sample_age, 1s, 24h);
  s.duration("cooldown", c.cooldown, 0s, 24h * 7);
  s.integer("daily_cap", c.daily_cap, 0, 1000);
  s.integer("series_count", c.series_count, 1, 20);
  s.duration("series_spacing", c.series_spacing, 0s, 24h * 7);
  s.duration("series_retry", c.series_retry, 1s, 24h);
  s.integer("series_max_misses", c.series_max_misses, 1, 1000);
  s.integer("retries", c.retries, 0, 20);
  s.duration("retry_backoff", c.retry_backoff, 0s, 1h);
  s.boolean("tls_verify", c.tls_verify);
  s.str("ca_file", c.ca_file);
  s.boolean("allow_insecure", c.allow_insecure);
  s.choice("method", c.method,
           {{"http", capture::Method::http},
            {"inspector", capture::Method::inspector},
            {"signal", capture::Method::signal}});
  {
    Section in = s.section("inspector");
    in.str("url", c.inspector.url);
    in.choice("activate", c.inspector.activate,
              {{"none", capture::InspectorSettings::Activate::none},
               {"sigusr1", capture::InspectorSettings::Activate::sigusr1}});
    in.duration("activate_timeout", c.inspector.activate_timeout, 100ms, 10min);
    in.size("max_message_bytes", c.inspector.max_message_bytes, 64 << 10, 1ull << 30);
    in.finish();
    auto url = http::Url::parse(c.inspector.url);
    if (!url.ok() || url->tls())
      in.problem("url", "must be an http:// URL such as http://127.0.0.1:9229");
    else if (!capture::is_loopback_host(url->host))
      in.problem("url",
                 "must be a loopback address (127.0.0.1, ::1 or localhost): an open inspector is "
                 "code execution for anyone who can reach it");
  }
  {
    Section sg = s.section("signal");
    sg.str("name", c.signal.name);
    sg.str("dir", c.signal.dir);
    sg.duration("settle", c.signal.settle, 100ms, 10min);
    sg.finish();
    if (auto n = capture::signal_number(c.signal.name); !n.ok())
      sg.problem("name", n.error().message);
  }
  if (s.has("pid")) {
    std::int64_t pid = 0;
    s.integer("pid", pid, 1, 4194304);
    if (pid > 0) c.pid = static_cast<int>(pid);
  }
  s.str("pid_file", c.pid_file);
  s.str("process", c.process);
  s.str("watch_dir", c.watch_dir);
  s.duration("watch_interval", c.watch_interval, 100ms, 1h);
  s.finish();
  if (!c.url.empty()) {
    if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0)
      s.problem("url", "must start with http:// or https://");
    else if (c.url.rfind("http://", 0) == 0 && !c.allow_insecure && !loopback_url(c.url))
      s.problem("url",
                "http:// to a host other than loopback sends the heap-dump key in clear: use "
                "https://, or set capture.allow_insecure: true on a network you trust");
    if (c.key.empty()) s.problem("key", "capture.url is set, so the heap-dump key is required");
  }
  if (c.method == capture::Method::http && c.url.empty() && !c.watch_dir.empty())
    s.problem("method", "watch_dir needs captures enabled: set url, or method inspector/signal");
  if (c.header.empty() || c.header.find_first_of(" :\r\n") != std::string::npos)
    s.problem("header", "must be a valid HTTP header name such as x-key");
  if (c.total_timeout < c.idle_timeout)
    s.problem("total_timeout", "must not be shorter than idle_timeout");
  if (!c.ca_file.empty() && !std::filesystem::exists(c.ca_file))
    s.problem("ca_file", "file " + c.ca_file + " does not exist");
}

void read_archive(Section s, archive::ArchiveSettings& a) {
  s.str("dir", a.dir);
  s.integer("max_per_target", a.max_per_target, 0, 100000);
  s.size("max_total_bytes", a.max_total_bytes);
  s.duration("max_age", a.max_age, 0s, 24h * 3650);
  if (s.has("s3")) {
    Section b = s.section("s3");
    auto& k = a.s3;
    if (b.require("bucket")) b.str("bucket", k.bucket);
    b.str("prefix", k.prefix);
    b.str("region", k.region);
    b.str("endpoint", k.endpoint);
    b.size("part_size", k.part_size, 5ull << 20, 512ull << 20);
    b.str("ca_file", k.ca_file);
    b.finish();
    if (!k.bucket.empty() &&
        (k.bucket.size() < 3 || k.bucket.size() > 63 ||
         k.bucket.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") != std::string::npos))
      b.problem("bucket", "must be an S3 bucket name (3-63 lowercase letters, digits, '.', '-')");
    if (!k.endpoint.empty() && k.endpoint.rfind("http://", 0) != 0 &&
        k.endpoint.rfind("https://", 0) != 0)
      b.problem("endpoint", "must start with http:// or https://");
    while (!k.prefix.empty() && k.prefix.back() == '/')
      k.prefix.pop_back();
    while (!k.prefix.empty() && k.prefix.front() == '/')
      k.prefix.erase(0, 1);
    if (!k.ca_file.empty() && !std::filesystem::exists(k.ca_file))
      b.problem("ca_file", "file " + k.ca_file + " does not exist");
  }
  s.finish();
  if (a.dir.empty()) s.problem("dir", "must not be empty");
}

std::optional<alert::Severity> read_severity(Section& s, const std::string& key) {
  std::string v;
  s.str(key, v);
  if (v.empty()) return std::nullopt;
  auto sev = alert::severity_from_string(v);
  if (!sev) s.problem(key, "must be one of: info, warning, critical (got '" + v + "')");
  return sev;
}

void read_alerts(Section s, alert::AlertSettings& a) {
  const std::size_t problems_before = s.context().problems.size();
  s.duration("reminder_interval", a.reminder_interval, 1min, 24h * 30);
  if (auto sev = read_severity(s, "min_severity")) a.min_severity = *sev;
  s.str("dashboard_url", a.dashboard_url);
  {
    std::int64_t n = static_cast<std::int64_t>(a.retainer_paths);
    s.integer("retainer_paths", n, 0, 10);
    a.retainer_paths = static_cast<std::size_t>(n);
  }
  {
    Section d = s.section("delivery");
    std::int64_t q = static_cast<std::int64_t>(a.delivery.queue_size);
    d.integer("queue_size", q, 1, 100000);
    a.delivery.queue_size = static_cast<std::size_t>(q);
    d.duration("initial_backoff", a.delivery.initial_backoff, 10ms, 1h);
    d.duration("max_backoff", a.delivery.max_backoff, 10ms, 24h);
    d.duration("give_up_after", a.delivery.give_up_after, 1s, 24h * 7);
    d.duration("connect_timeout", a.delivery.connect_timeout, 100ms, 10min);
    d.duration("request_timeout", a.delivery.request_timeout, 100ms, 10min);
    d.duration("shutdown_grace", a.delivery.shutdown_grace, 0s, 10min);
    d.duration("slack_min_interval", a.delivery.slack_min_interval, 0s, 10min);
    d.finish();
  }
  for (auto& item : s.list("slack")) {
    alert::SlackSinkSettings k;
    item.str("name", k.name);
    if (item.require("webhook_url")) item.secret("webhook_url", k.webhook_url);
    k.min_severity = read_severity(item, "min_severity");
    item.boolean("tls_verify", k.tls_verify);
    item.str("ca_file", k.ca_file);
    item.finish();
    a.slack.push_back(std::move(k));
  }
  for (auto& item : s.list("webhooks")) {
    alert::WebhookSinkSettings w;
    item.str("name", w.name);
    if (item.require("url")) item.str("url", w.url);
    item.secret("secret", w.secret);
    w.min_severity = read_severity(item, "min_severity");
    item.boolean("tls_verify", w.tls_verify);
    item.str("ca_file", w.ca_file);
    item.finish();
    a.webhooks.push_back(std::move(w));
  }
  for (auto& item : s.list("alertmanager")) {
    alert::AlertmanagerSinkSettings m;
    item.str("name", m.name);
    if (item.require("url")) item.str("url", m.url);
    item.str("username", m.username);
    item.secret("password", m.password);
    item.secret("bearer_token", m.bearer_token);
    item.duration("resend_interval", m.resend_interval, 1s, 24h);
    m.min_severity = read_severity(item, "min_severity");
    item.boolean("tls_verify", m.tls_verify);
    item.str("ca_file", m.ca_file);
    item.finish();
    a.alertmanager.push_back(std::move(m));
  }
  s.finish();
  alert::assign_default_names(a);
  if (s.context().problems.size() == problems_before)
    for (const auto& why : alert::validate(a))
      s.context().problem(s.node(), s.path(), why);
}

void read_server(Section s, ServerSettings& v) {
  s.boolean("enabled", v.enabled);
  s.str("listen", v.listen);
  s.secret("token", v.token);
  s.size("max_request_bytes", v.max_request_bytes, 1024, 16 << 20);
  s.integer("max_connections", v.max_connections, 1, 10000);
  s.integer("max_connections_per_address", v.max_connections_per_address, 1, 10000);
  s.string_list("allowed_hosts", v.allowed_hosts);
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

void read_resources(Section s, ResourceSettings& v) {
  s.optional_size("memory_budget", v.memory_budget);
  s.finish();
  if (v.memory_budget && *v.memory_budget < (32ull << 20))
    s.problem("memory_budget", "must be at least 32Mi (leakwatch itself needs about 15 MiB)");
}

LoadResult load_node(Context& ctx, const YAML::Node& root) {
  LoadResult out;
  Config cfg;
  if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
    ctx.problem(root, "",
                "the configuration must be a mapping of sections (target:, capture:, ...)");
  } else {
    Section top(ctx, root, "");
    read_target(top.section("target"), cfg.target);
    top.duration("poll_interval", cfg.poll_interval, 100ms, 1h);
    top.str("state_dir", cfg.state_dir);
    read_detection(top.section("detection"), cfg.detection);
    read_capture(top.section("capture"), cfg.capture);
    // The zero-code methods signal the watched process unless told otherwise.
    if (!cfg.capture.pid && cfg.capture.pid_file.empty() && cfg.capture.process.empty()) {
      cfg.capture.pid = cfg.target.pid;
      cfg.capture.pid_file = cfg.target.pid_file;
    }
    read_archive(top.section("archive"), cfg.archive);
    read_alerts(top.section("alerts"), cfg.alerts);
    read_server(top.section("server"), cfg.server);
    read_log(top.section("log"), cfg.log);
    read_resources(top.section("resources"), cfg.resources);
    top.finish();
  }
  std::stable_sort(ctx.problems.begin(), ctx.problems.end(),
                   [](const Problem& a, const Problem& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  out.problems = std::move(ctx.problems);
  out.warnings = std::move(ctx.warnings);
  out.keys = std::move(ctx.keys);
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

LoadResult load_file(const std::filesystem::path& path, const LoadOptions& options) {
  Context ctx = make_context(path.string());
  ctx.resolve_secrets = options.resolve_secrets;
  ctx.base_dir = path.parent_path().string();
  auto text = core::read_file(path, 4 << 20);
  if (!text.ok()) {
    LoadResult r;
    r.problems.push_back(Problem{path.string(), 0, 0, "", text.error().message});
    return r;
  }
  return parse(ctx, *text);
}

LoadResult load_string(const std::string& yaml, const std::string& name,
                       const LoadOptions& options) {
  Context ctx = make_context(name);
  ctx.resolve_secrets = options.resolve_secrets;
  return parse(ctx, yaml);
}

}  // namespace leakwatch::config
