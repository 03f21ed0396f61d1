#include "leakwatch/engine/diff_child.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/read.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "leakwatch/core/log.h"
#include "leakwatch/core/units.h"
#include "leakwatch/source/readers.h"

extern char** environ;

namespace leakwatch::engine {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kHeaderBytes = 64 * 1024;

// Children can be started from the io thread (the series diff, the API's) and the total read from
// any thread.
std::atomic<std::uint64_t> g_reserved{0};

// The unsigned integer after `"key":` (whitespace allowed), if any. The key can also appear as a
// plain string first ("edge_count" is one of the node_fields), so every occurrence is tried.
std::optional<std::uint64_t> number_after(std::string_view text, std::string_view key) {
  auto space = [&](std::size_t i) {
    return i < text.size() &&
           (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t');
  };
  for (auto at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
    std::size_t i = at + key.size();
    while (space(i))
      ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (space(i))
      ++i;
    std::uint64_t v = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && digits < 19) {
      v = v * 10 + static_cast<std::uint64_t>(text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits > 0) return v;
  }
  return std::nullopt;
}

// Printable ASCII only: the child's stderr can quote snapshot content.
std::string printable_tail(const std::string& s, std::size_t max) {
  std::string out;
  for (char c : s.size() > max ? s.substr(s.size() - max) : s)
    out += (c >= 0x20 && c < 0x7f) ? c : ' ';
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

std::string holder_step(const nlohmann::json& step) {
  auto str = [&](const char* k) {
    auto it = step.find(k);
    return it != step.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  return str("holder") + str("edge");
}

}  // namespace

core::Result<SnapshotCounts> counts_from_header(std::string_view head) {
  auto nodes = number_after(head, "\"node_count\"");
  auto edges = number_after(head, "\"edge_count\"");
  if (!nodes || !edges)
    return core::make_error(core::Errc::no_counts,
                            "no node_count/edge_count in the snapshot header");
  return SnapshotCounts{*nodes, *edges};
}

core::Result<SnapshotCounts> read_counts(const archive::Archive& archive, const std::string& id) {
  auto reader = archive.open_reader(id, true);
  if (!reader.ok()) return reader.error();
  std::string head, chunk;
  while (head.size() < kHeaderBytes) {
    if (auto st = (*reader)->read(chunk, kHeaderBytes - head.size()); !st.ok()) return st.error();
    if (chunk.empty()) break;
    head += chunk;
  }
  return counts_from_header(head);
}

// Measured peak RSS of the diff (MALLOC_ARENA_MAX=1) on pairs of snapshots from
// bench/heapsnap/make_big_snapshot.js: 31.3, 74.5 and 177.3 MiB for 0.38, 0.97 and 2.47 million
// nodes (1.4, 3.4 and 8.4 million edges) in both files together. This model sits 12-21 % above
// each of them (docs/operations.md, "Sizing"); a snapshot heavier in strings can still exceed it,
// which the child's limits catch.
std::uint64_t predict_diff_peak(const SnapshotCounts& base, const SnapshotCounts& target) {
  constexpr double kFixed = 8.0 * 1048576;
  constexpr double kPerNode = 40.0;
  constexpr double kPerEdge = 12.0;
  const double nodes = static_cast<double>(base.nodes) + static_cast<double>(target.nodes);
  const double edges = static_cast<double>(base.edges) + static_cast<double>(target.edges);
  return static_cast<std::uint64_t>(kFixed + kPerNode * nodes + kPerEdge * edges);
}

std::uint64_t resolve_memory_budget(const std::optional<std::uint64_t>& configured,
                                    const std::filesystem::path& root) {
  if (configured) return *configured;
  constexpr std::uint64_t kDefault = 256ull << 20;
  auto dir = source::discover_cgroup(root, "self");
  if (!dir.ok()) return kDefault;
  auto version = source::detect_cgroup_version(*dir);
  if (!version.ok()) return kDefault;
  // Its own limit only: a task's limit above the sidecar is shared with the app it watches.
  auto sample = source::read_cgroup(*dir, *version, source::Limit::own);
  if (!sample.ok() || !sample->limit_bytes || *sample->limit_bytes == 0) return kDefault;
  return *sample->limit_bytes / 4 * 3;
}

std::uint64_t current_rss() {
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::uint64_t reserved_child_memory() {
  return g_reserved.load();
}

std::uint64_t memory_in_use() {
  return current_rss() + reserved_child_memory();
}

core::Result<DiffPlan> plan_diff(const archive::Archive& archive, const std::string& base_id,
                                 const std::string& target_id, std::uint64_t budget) {
  auto base_counts = read_counts(archive, base_id);
  if (!base_counts.ok()) return base_counts.error();
  auto target_counts = read_counts(archive, target_id);
  if (!target_counts.ok()) return target_counts.error();
  DiffPlan plan;
  plan.base = *base_counts;
  plan.target = *target_counts;
  plan.predicted = predict_diff_peak(plan.base, plan.target);
  const std::uint64_t used = memory_in_use();
  plan.room = budget > used ? budget - used : 0;
  auto mib = [](std::uint64_t b) { return core::format_bytes(static_cast<double>(b)); };
  if (plan.predicted > plan.room) {
    return core::make_error(
        core::Errc::over_budget,
        "the full diff of " + std::to_string(plan.base.nodes + plan.target.nodes) + " nodes and " +
            std::to_string(plan.base.edges + plan.target.edges) + " edges needs about " +
            mib(plan.predicted) + ", more than the " + mib(plan.room) + " left of the " +
            mib(budget) + " memory budget (resources.memory_budget)");
  }
  // RLIMIT_AS counts mapped code and thread stacks beside the heap: the measured gap is small
  // with one malloc arena (docs/operations.md, "Sizing").
  plan.limits.address_space = plan.room + (64ull << 20);
#if defined(__SANITIZE_ADDRESS__)
  // The child is this executable: under AddressSanitizer it reserves terabytes of shadow address
  // space at start, so any RLIMIT_AS kills it. Sanitizer builds rely on the prediction, the time
  // limit and the child's OOM score alone.
  plan.limits.address_space = 0;
#endif
  plan.limits.reserve = plan.predicted;
  return plan;
}

core::Result<DiffOutcome> parse_diff_output(std::string_view text, std::size_t max_classes,
                                            std::size_t max_growers) {
  using json = nlohmann::json;
  std::string top_key;
  std::size_t classes_seen = 0;
  json::parser_callback_t keep = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed.is_string())
      top_key = parsed.get<std::string>();
    if (depth == 2 && top_key == "classes" &&
        (event == json::parse_event_t::object_end || event == json::parse_event_t::value ||
         event == json::parse_event_t::array_end))
      return classes_seen++ < max_classes;
    return true;
  };
  json report = json::parse(text.begin(), text.end(), keep, false);
  if (report.is_discarded() || !report.is_object())
    return core::make_error(core::Errc::bad_output,
                            "the diff process printed no valid JSON report");
  DiffOutcome out;
  auto growers = report.find("top_growers");
  if (growers != report.end() && growers->is_array()) {
    for (const auto& g : *growers) {
      if (out.growers.size() >= max_growers) break;
      if (!g.is_object()) continue;
      alert::Grower gr;
      if (auto n = g.find("name"); n != g.end() && n->is_string()) gr.name = n->get<std::string>();
      if (auto d = g.find("size_delta"); d != g.end() && d->is_number_integer())
        gr.size_delta = d->get<std::int64_t>();
      if (auto c = g.find("delta_count"); c != g.end() && c->is_number_integer())
        gr.count_delta = c->get<std::int64_t>();
      // Steps run from the instance outwards; the alert wants the root first. An edge is written
      // as DevTools writes it (".name", "[3]", "->context"), so a step reads
      // "EventEmitter._events".
      auto path = g.find("retainer_path");
      if (path != g.end() && path->is_object()) {
        auto steps = path->find("steps");
        if (steps != path->end() && steps->is_array()) {
          for (auto it = steps->rbegin(); it != steps->rend(); ++it)
            if (it->is_object()) gr.retainer_path.push_back(holder_step(*it));
          gr.retainer_path.push_back(gr.name);
        }
      }
      if (auto nh = g.find("native_holders"); nh != g.end() && nh->is_object())
        if (auto note = nh->find("note"); note != nh->end() && note->is_string())
          gr.path_note = note->get<std::string>();
      out.growers.push_back(std::move(gr));
    }
  }
  out.report = std::move(report);
  return out;
}

namespace {
std::string shell_word(const std::string& s) {
  bool plain = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '.' || c == '_' || c == '-' || c == '+' || c == ':' || c == '@';
  });
  if (plain) return s;
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
}  // namespace

std::string diff_command_line(const std::filesystem::path& archive_dir, const std::string& base_id,
                              const std::string& target_id) {
  return "leakwatch diff --archive " + shell_word(archive_dir.string()) + " " +
         shell_word(base_id) + " " + shell_word(target_id);
}

core::Result<std::shared_ptr<ChildProcess>> start_diff(
    asio::io_context& io, const archive::Archive& archive, const std::string& base_id,
    const std::string& target_id, std::uint64_t budget, const DiffCommand& how,
    std::function<void(core::Result<DiffOutcome>)> done) {
  auto base = archive.path_of(base_id);
  if (!base.ok()) return base.error();
  auto target = archive.path_of(target_id);
  if (!target.ok()) return target.error();
  // Only the headers are read here: the daemon never holds a parsed snapshot.
  auto plan = plan_diff(archive, base_id, target_id, budget);
  if (!plan.ok()) return plan.error();
  ChildLimits limits = plan->limits;
  limits.time = how.time_limit;
  std::vector<std::string> argv = how.command;
  for (const char* a : {"diff", "--json", "--retainer-paths"})
    argv.emplace_back(a);
  argv.push_back(std::to_string(how.retainer_paths));
  argv.push_back(base->string());
  argv.push_back(target->string());
  core::logger("engine")->info("event=diff_child_start base={} target={} predicted_peak={} room={}",
                               base_id, target_id,
                               core::format_bytes(static_cast<double>(plan->predicted)),
                               core::format_bytes(static_cast<double>(plan->room)));
  return ChildProcess::start(
      io, argv, limits,
      [done = std::move(done), max_classes = how.max_classes,
       max_growers = how.max_growers](core::Result<std::string> out) mutable {
        if (!out.ok()) return done(out.error());
        done(parse_diff_output(*out, max_classes, max_growers));
      });
}

// --- ChildProcess ---------------------------------------------------------------------------

core::Result<std::shared_ptr<ChildProcess>> ChildProcess::start(
    asio::io_context& io, const std::vector<std::string>& argv, const ChildLimits& limits,
    Done done) {
  if (argv.empty()) return core::make_error(core::Errc::spawn, "no command");
  // Everything the child needs is prepared before fork: after it only system calls run.
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // One malloc arena: the child's address space then tracks what it really uses, so RLIMIT_AS can
  // sit close to the measured peak.
  static const std::string arena = "MALLOC_ARENA_MAX=1";
  std::vector<char*> env;
  for (char** e = environ; e && *e; ++e)
    if (std::strncmp(*e, "MALLOC_ARENA_MAX=", 17) != 0) env.push_back(*e);
  env.push_back(const_cast<char*>(arena.c_str()));
  env.push_back(nullptr);

  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0)
    return core::make_error(core::Errc::spawn, std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    int e = errno;
    ::close(out[0]);
    ::close(out[1]);
    return core::make_error(core::Errc::spawn, std::string("pipe: ") + std::strerror(e));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {out[0], out[1], err[0], err[1]})
      ::close(fd);
    return core::make_error(core::Errc::spawn, std::string("fork: ") + std::strerror(e));
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    int null_fd = ::open("/dev/null", O_RDONLY);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    ::close_range(3, ~0u, 0);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the daemon
    if (::getppid() != parent) ::_exit(126);
    ::setpriority(PRIO_PROCESS, 0, 10);  // the app and the daemon come first
    // Should the cgroup run out before RLIMIT_AS does, the OOM killer takes the child, not the
    // daemon.
    int adj = ::open("/proc/self/oom_score_adj", O_WRONLY);
    if (adj >= 0) {
      [[maybe_unused]] auto n = ::write(adj, "1000", 4);
      ::close(adj);
    }
    struct rlimit no_core {
      0, 0
    };
    ::setrlimit(RLIMIT_CORE, &no_core);  // a child over its limit must not write a huge core
    if (limits.address_space) {
      struct rlimit as {
        static_cast<rlim_t>(limits.address_space), static_cast<rlim_t>(limits.address_space)
      };
      ::setrlimit(RLIMIT_AS, &as);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  std::shared_ptr<ChildProcess> child(
      new ChildProcess(io, pid, out[0], err[0], limits, std::move(done)));
  child->reserved_ = limits.reserve;
  g_reserved += limits.reserve;
  child->begin();
  return child;
}

ChildProcess::ChildProcess(asio::io_context& io, pid_t pid, int out_fd, int err_fd,
                           const ChildLimits& limits, Done done)
    : io_(io),
      pid_(pid),
      out_(io, out_fd),
      err_(io, err_fd),
      deadline_(io),
      reap_timer_(io),
      limits_(limits),
      done_(std::move(done)) {}

void ChildProcess::release_reserve() {
  g_reserved -= reserved_;
  reserved_ = 0;
}

ChildProcess::~ChildProcess() {
  release_reserve();
  if (reaped_) return;
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  // A killed process exits within milliseconds; never block for long (a zombie is harmless).
  for (int i = 0; i < 100; ++i) {
    if (::waitpid(pid_, &status_, WNOHANG) != 0) return;
    ::usleep(1000);
  }
}

void ChildProcess::begin() {
  deadline_.expires_after(limits_.time);
  deadline_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
    if (ec || self->reaped_) return;
    self->timed_out_ = true;
    self->kill_child();
  });
  read_out();
  read_err();
}

void ChildProcess::read_out() {
  out_.async_read_some(asio::buffer(out_chunk_),
                       [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                         if (ec) return self->stream_closed();
                         if (!self->too_large_) {
                           if (self->out_buf_.size() + n > self->limits_.max_output) {
                             self->too_large_ = true;
                             self->out_buf_.clear();
                             self->out_buf_.shrink_to_fit();
                             self->kill_child();
                           } else {
                             self->out_buf_.append(self->out_chunk_, n);
                           }
                         }
                         self->read_out();
                       });
}

void ChildProcess::read_err() {
  err_.async_read_some(asio::buffer(err_chunk_),
                       [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                         if (ec) return self->stream_closed();
                         self->err_buf_.append(self->err_chunk_, n);
                         if (self->err_buf_.size() > 8192)
                           self->err_buf_.erase(0, self->err_buf_.size() - 4096);
                         self->read_err();
                       });
}

void ChildProcess::stream_closed() {
  if (--open_streams_ == 0) try_reap();
}

void ChildProcess::try_reap() {
  pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == 0) {
    // Both pipes are closed but the process has not exited yet: look again shortly.
    reap_timer_.expires_after(20ms);
    reap_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->try_reap();
    });
    return;
  }
  reaped_ = true;
  release_reserve();
  deadline_.cancel();
  if (r < 0)
    return finish(core::make_error(core::Errc::failed, "the diff process could not be waited for"));
  if (timed_out_)
    return finish(
        core::make_error(core::Errc::timeout, "the diff process ran longer than " +
                                                  std::to_string(limits_.time.count() / 1000) +
                                                  " s and was killed"));
  if (too_large_)
    return finish(
        core::make_error(core::Errc::too_large, "the diff process printed more than " +
                                                    std::to_string(limits_.max_output >> 20) +
                                                    " MiB and was killed"));
  if (WIFSIGNALED(status_)) {
    int sig = WTERMSIG(status_);
    std::string why = sig == SIGKILL   ? " (SIGKILL: the OOM killer or a stop)"
                      : sig == SIGABRT ? " (SIGABRT: usually memory exhausted under its limit)"
                                       : "";
    return finish(core::make_error(
        core::Errc::killed, "the diff process was ended by signal " + std::to_string(sig) + why));
  }
  int code = WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  if (code != 0) {
    std::string tail = printable_tail(err_buf_, 300);
    return finish(core::make_error(core::Errc::failed, "the diff process exited with " +
                                                           std::to_string(code) +
                                                           (tail.empty() ? "" : ": " + tail)));
  }
  finish(std::move(out_buf_));
}

void ChildProcess::finish(core::Result<std::string> r) {
  if (!done_) return;
  auto done = std::move(done_);
  done_ = nullptr;
  // Runs on the io thread: a bug in the consumer is logged, and the daemon goes on.
  try {
    done(std::move(r));
  } catch (const std::exception& e) {
    core::logger("engine")->error("diff result handler failed: {}", e.what());
  } catch (...) {
    core::logger("engine")->error("diff result handler failed with an unknown exception");
  }
}

void ChildProcess::kill_child() {
  if (reaped_) return;
  release_reserve();  // SIGKILL frees its memory at once
  // The whole process group: nothing the child started may keep running or hold the pipes.
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
  // Do not wait for end-of-file: the pending reads end now and the child is reaped at once.
  boost::system::error_code ignored;
  out_.close(ignored);
  err_.close(ignored);
}

void ChildProcess::cancel() {
  kill_child();
  deadline_.cancel();
  finish(core::make_error(core::Errc::cancelled, "the diff was cancelled"));
}

void ChildProcess::abandon() {
  done_ = nullptr;
  kill_child();
  deadline_.cancel();
}

}  // namespace leakwatch::engine
