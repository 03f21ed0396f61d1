#pragma once
// The full snapshot diff (retained sizes, retainer paths) in a child process: `leakwatch diff
// --json BASE TARGET`, run from the daemon's own binary with its own address-space and time
// limits. Its memory grows with the snapshots; a wrong guess kills the child, never the daemon, and
// the io thread never waits for it (cancel() kills it and returns at once).
//
// Also here: the peak-memory model used to decide whether the diff fits the budget at all, and the
// parsing of the child's output into typed growers (the only JSON step on the way to an alert).
#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/alert/event.h"
#include "leakwatch/archive/archive.h"
#include "leakwatch/core/result.h"

namespace leakwatch::engine {

// Node and edge counts from a snapshot's header ("snapshot":{"meta":…,"node_count":N,
// "edge_count":M}), read from its first bytes without parsing the file.
struct SnapshotCounts {
  std::uint64_t nodes = 0;
  std::uint64_t edges = 0;
};
// Looks for the counts in the first bytes of a snapshot (`head`). Errors: "no_counts".
core::Result<SnapshotCounts> counts_from_header(std::string_view head);
// Reads the first bytes of an archived snapshot (decompressed) and takes the counts from them.
core::Result<SnapshotCounts> read_counts(const archive::Archive& archive, const std::string& id);

// Peak resident memory of `leakwatch diff` on two snapshots, from the measured model in
// docs/operations.md ("Sizing"): a fixed part plus a cost per node and per edge of both files.
std::uint64_t predict_diff_peak(const SnapshotCounts& base, const SnapshotCounts& target);

// resources.memory_budget when set; else 75 % of the memory limit of leakwatch's own cgroup (found
// under `root`) when it has one; else 256 MiB.
std::uint64_t resolve_memory_budget(const std::optional<std::uint64_t>& configured,
                                    const std::filesystem::path& root = "/");
// This process's resident set size now (0 when /proc is unreadable).
std::uint64_t current_rss();
// The peak memory predicted for the diff children running now (ChildLimits::reserve, summed over
// every child of this process neither reaped nor killed): the series diff and an API diff can run
// side by side, and each is counted against the budget by whoever starts the next.
std::uint64_t reserved_child_memory();
// current_rss() + reserved_child_memory(): what the daemon and its running diff children need.
std::uint64_t memory_in_use();

struct DiffOutcome {
  std::vector<alert::Grower> growers;  // biggest first, at most `max_growers`
  nlohmann::json report;  // the child's report with at most `max_classes` classes (served by API)
};
// Parses `leakwatch diff --json` output. Classes past `max_classes` are dropped while parsing, so a
// report with a million classes costs no more than one with `max_classes`. Errors: "bad_output".
core::Result<DiffOutcome> parse_diff_output(std::string_view text, std::size_t max_classes = 25,
                                            std::size_t max_growers = 5);

struct ChildLimits {
  std::uint64_t address_space = 0;  // RLIMIT_AS of the child; 0 = none
  std::chrono::milliseconds time{std::chrono::minutes(10)};
  std::size_t max_output = 32u << 20;  // stdout beyond this kills the child
  std::uint64_t reserve = 0;  // counted in reserved_child_memory() until it is reaped or killed
};

// Whether a diff of two archived snapshots fits the memory budget, and the child's limits if so.
struct DiffPlan {
  SnapshotCounts base, target;
  std::uint64_t predicted = 0;  // predict_diff_peak
  std::uint64_t room = 0;       // the budget less memory_in_use()
  ChildLimits limits;           // address space and reserve set; time and output left as default
};
// Reads both headers and decides. Errors: the archive's ("not_found", ...), "no_counts", and
// "over_budget", whose message says how many nodes and edges need how much, and what is left.
core::Result<DiffPlan> plan_diff(const archive::Archive& archive, const std::string& base_id,
                                 const std::string& target_id, std::uint64_t budget);

class ChildProcess;

// How the diff child is run: its command ("diff --json --retainer-paths N BASE TARGET" is
// appended), time limit, retainer paths, and how much of its report is kept.
struct DiffCommand {
  std::vector<std::string> command{"/proc/self/exe"};  // the daemon's own binary
  std::chrono::milliseconds time_limit{std::chrono::minutes(10)};
  std::size_t retainer_paths = 1;
  std::size_t max_classes = 25;
  std::size_t max_growers = 5;
};
// The one way a daemon diffs two archived snapshots: plan_diff against `budget`, then the child.
// Errors before the child starts are returned ("not_found", "no_counts", "over_budget", "spawn")
// and `done` is not called; otherwise `done` runs once on the io thread with the parsed outcome
// or the child's error (ChildProcess::start).
core::Result<std::shared_ptr<ChildProcess>> start_diff(
    boost::asio::io_context& io, const archive::Archive& archive, const std::string& base_id,
    const std::string& target_id, std::uint64_t budget, const DiffCommand& how,
    std::function<void(core::Result<DiffOutcome>)> done);
// The command that runs the same diff by hand (e.g. on a machine with more memory), its words
// quoted for a POSIX shell where needed.
std::string diff_command_line(const std::filesystem::path& archive_dir, const std::string& base_id,
                              const std::string& target_id);

// A child process whose stdout is collected. `done` runs once, on the io thread, with the
// complete stdout when the child exited 0, else an error: "cancelled", "timeout", "killed" (by a
// signal, e.g. its memory limit), "failed" (non-zero exit; the end of its stderr in the message),
// "too_large", "spawn".
class ChildProcess : public std::enable_shared_from_this<ChildProcess> {
 public:
  using Done = std::function<void(core::Result<std::string>)>;
  static core::Result<std::shared_ptr<ChildProcess>> start(boost::asio::io_context& io,
                                                           const std::vector<std::string>& argv,
                                                           const ChildLimits& limits, Done done);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Kills the child; `done` runs at once with "cancelled". Reaping continues in the background.
  void cancel();
  // Kills the child without calling `done` (its owner is going away). Reaping continues.
  void abandon();
  pid_t pid() const { return pid_; }
  bool finished() const { return !done_; }

 private:
  ChildProcess(boost::asio::io_context& io, pid_t pid, int out_fd, int err_fd,
               const ChildLimits& limits, Done done);
  void begin();
  void read_out();
  void read_err();
  void stream_closed();
  void try_reap();
  void finish(core::Result<std::string> r);
  void kill_child();

  boost::asio::io_context& io_;
  pid_t pid_;
  bool reaped_ = false;
  int status_ = 0;
  boost::asio::posix::stream_descriptor out_, err_;
  boost::asio::steady_timer deadline_, reap_timer_;
  ChildLimits limits_;
  Done done_;
  std::string out_buf_, err_buf_;
  char out_chunk_[65536];
  char err_chunk_[4096];
  int open_streams_ = 2;
  bool timed_out_ = false;
  bool too_large_ = false;
  std::uint64_t reserved_ = 0;  // still counted in reserved_child_memory()
  void release_reserve();
};

}  // namespace leakwatch::engine
