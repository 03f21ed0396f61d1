#include "leakwatch/core/log.h"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>
#include <vector>

namespace leakwatch::core {
namespace {

std::mutex g_mutex;
spdlog::sink_ptr g_sink;
LogOptions g_options;
bool g_async_started = false;

// JSON lines: {"ts":"...","level":"info","logger":"capture","msg":"..."}; msg escaped.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    for (char c : msg.payload) {
      switch (c) {
        case '"':
          dest.append(std::string_view("\\\""));
          break;
        case '\\':
          dest.append(std::string_view("\\\\"));
          break;
        case '\n':
          dest.append(std::string_view("\\n"));
          break;
        case '\t':
          dest.append(std::string_view("\\t"));
          break;
        case '\r':
          dest.append(std::string_view("\\r"));
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            dest.append(std::string_view(buf));
          } else {
            dest.push_back(c);
          }
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

std::unique_ptr<spdlog::formatter> make_formatter(LogFormat f) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (f == LogFormat::json) {
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","logger":"%n","msg":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %-5l [%n] %v");
  }
  return formatter;
}

spdlog::sink_ptr sink_locked() {
  if (!g_sink) {
    g_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_sink->set_formatter(make_formatter(g_options.format));
  }
  return g_sink;
}

}  // namespace

void init_logging(const LogOptions& options) {
  std::lock_guard lock(g_mutex);
  g_options = options;
  auto sink = sink_locked();
  sink->set_formatter(make_formatter(options.format));
  if (options.async && !g_async_started) {
    // Bounded and preallocated (~410 bytes a slot): overrun drops the oldest line. 256 lines is far
    // more than a burst of the daemon logs; 1024 slots cost 0.3 MiB more resident memory.
    spdlog::init_thread_pool(256, 1);
    g_async_started = true;
  }
  spdlog::set_level(options.level);
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& l) { l->set_level(options.level); });
}

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
  std::lock_guard lock(g_mutex);
  if (auto existing = spdlog::get(module)) return existing;
  std::shared_ptr<spdlog::logger> l;
  if (g_async_started) {
    l = std::make_shared<spdlog::async_logger>(module, sink_locked(), spdlog::thread_pool(),
                                               spdlog::async_overflow_policy::overrun_oldest);
  } else {
    l = std::make_shared<spdlog::logger>(module, sink_locked());
  }
  l->set_level(g_options.level);
  spdlog::register_logger(l);
  return l;
}

}  // namespace leakwatch::core
