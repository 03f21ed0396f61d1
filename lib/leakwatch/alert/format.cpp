#include "leakwatch/alert/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "leakwatch/core/units.h"

namespace leakwatch::alert::detail {

std::string usage_line(const MemoryFigures& m) {
  if (!m.usage_bytes) return "unknown";
  std::string s = core::format_bytes(static_cast<double>(*m.usage_bytes));
  if (m.limit_bytes && *m.limit_bytes > 0) {
    char pct[16];
    std::snprintf(
        pct, sizeof pct, "%.0f%%",
        100.0 * static_cast<double>(*m.usage_bytes) / static_cast<double>(*m.limit_bytes));
    s += " of " + core::format_bytes(static_cast<double>(*m.limit_bytes)) + " (" + pct + ")";
  } else {
    s += " (no limit)";
  }
  return s;
}

std::string forecast_text(const Event& e) {
  if (e.leak && e.leak->forecast_seconds)
    return "~" + core::format_duration_seconds(std::max(0.0, *e.leak->forecast_seconds));
  if (!e.memory.limit_bytes) return "no limit set";
  return "not forecast";
}

std::string slope_text(double bytes_per_hour) {
  return (bytes_per_hour < 0 ? "-" : "+") + core::format_bytes(std::fabs(bytes_per_hour)) + "/h";
}

std::string short_path(const std::vector<std::string>& steps, std::size_t max_steps) {
  max_steps = std::max<std::size_t>(max_steps, 2);
  std::string out;
  auto add = [&](const std::string& step) {
    out += (out.empty() ? "" : " \xE2\x86\x92 ") + step;  // →
  };
  if (steps.size() <= max_steps) {
    for (const auto& s : steps)
      add(s);
    return out;
  }
  add(steps.front());
  add("\xE2\x80\xA6");  // …
  for (std::size_t i = steps.size() - (max_steps - 1); i < steps.size(); ++i)
    add(steps[i]);
  return out;
}

std::string signed_bytes(double bytes) {
  return (bytes < 0 ? "-" : "+") + core::format_bytes(std::fabs(bytes));
}

namespace {
// The pair the alert's diff compares: the series' first and newest snapshot, the pair the top
// growers come from (the engine diffs those two), so a proposed command shows the alert's numbers.
std::pair<std::string, std::string> diff_ids(const Event& e) {
  const auto& ids = e.capture->archive_ids;
  if (ids.size() < 2) return {};
  return {ids.front(), ids.back()};
}
}  // namespace

std::string diff_command(const Event& e) {
  if (!e.capture) return {};
  if (!e.capture->diff_command.empty()) return e.capture->diff_command;
  auto [base, newest] = diff_ids(e);
  if (base.empty()) return {};
  return "leakwatch diff " + base + " " + newest;
}

std::string next_step(const Event& e) {
  switch (e.type) {
    case EventType::leak_suspected:
      if (auto cmd = diff_command(e); !cmd.empty()) return "Compare the heap snapshots: " + cmd;
      if (e.leak && e.leak->oom_imminent)
        return "Plan a restart or more memory before the kill; leakwatch captures a heap snapshot "
               "if there is enough headroom.";
      return "leakwatch captures a heap snapshot when there is enough headroom; two snapshots "
             "compared with `leakwatch diff BASE TARGET` show what grows.";
    case EventType::capture_completed:
      if (auto cmd = diff_command(e); !cmd.empty()) return "See what grew: " + cmd;
      if (e.capture && !e.capture->archive_ids.empty())
        return "Inspect it: leakwatch snapshots show " + e.capture->archive_ids.back() +
               " (the next capture can be diffed against it)";
      return "Inspect it with: leakwatch snapshots list";
    case EventType::capture_skipped:
      return "Nothing to do now: leakwatch tries again when the guard rails allow it.";
    case EventType::capture_failed:
      return "Check the app's heap-dump endpoint and key (capture.url, capture.key) and the app's "
             "logs.";
    case EventType::oom_kill:
      return "The container was killed for memory. Snapshots taken before: leakwatch snapshots "
             "list";
    case EventType::restart:
      return "Memory history starts again; a leak shows again as a rising floor.";
    case EventType::recovered:
      return "No action needed.";
    case EventType::source_unavailable:
      return "Check that the target runs and that leakwatch can read its cgroup, process or ECS "
             "metadata endpoint.";
    case EventType::test:
      return "Nothing to do: this alert sink works.";
  }
  return {};
}

namespace {
const s3::ObjectLink* object_for(const Event& e, const std::string& id) {
  for (const auto& o : e.capture->s3_objects)
    if (o.archive_id == id) return &o;
  return nullptr;
}

}  // namespace

std::vector<const s3::ObjectLink*> shown_objects(const Event& e) {
  std::vector<const s3::ObjectLink*> out;
  if (!e.capture || e.capture->s3_objects.empty() || e.capture->archive_ids.empty()) return out;
  if (auto [base, newest] = diff_ids(e); !base.empty())
    if (auto* o = object_for(e, base)) out.push_back(o);
  if (auto* o = object_for(e, e.capture->archive_ids.back())) out.push_back(o);
  return out;
}

std::string upload_text(const s3::ObjectLink& o) {
  switch (o.state) {
    case s3::UploadState::uploaded:
      return "uploaded";
    case s3::UploadState::pending:
      return "upload pending: the object exists once the upload completes";
    case s3::UploadState::not_uploaded:
      return "not uploaded: the local file was removed before the upload";
    case s3::UploadState::unknown:
      return "not uploaded by this leakwatch run: it may not be in S3";
  }
  return "upload not confirmed";
}

std::string s3_diff_command(const Event& e) {
  if (!e.capture) return {};
  auto [base_id, newest_id] = diff_ids(e);
  if (base_id.empty()) return {};
  const auto *base = object_for(e, base_id), *newest = object_for(e, newest_id);
  if (!base || !newest) return {};
  // Not proposed for an object that will never be there.
  if (base->state == s3::UploadState::not_uploaded ||
      newest->state == s3::UploadState::not_uploaded)
    return {};
  return "leakwatch diff " + base->url() + " " + newest->url();
}

std::string join_url(const std::string& base, const std::string& path) {
  if (base.empty()) return {};
  std::string b = base;
  while (!b.empty() && b.back() == '/')
    b.pop_back();
  return b + path;
}

}  // namespace leakwatch::alert::detail
