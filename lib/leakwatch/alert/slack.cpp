#include "leakwatch/alert/slack.h"

#include <cstdio>
#include <vector>

#include "leakwatch/alert/format.h"
#include "leakwatch/core/units.h"

namespace leakwatch::alert {

using nlohmann::json;

std::size_t char_count(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

std::string truncate_chars(std::string_view text, std::size_t max_chars) {
  if (char_count(text) <= max_chars) return std::string(text);
  if (max_chars == 0) return {};
  std::size_t keep = max_chars - 1, n = 0, i = 0;
  for (; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (n == keep) break;
      ++n;
    }
  }
  return std::string(text.substr(0, i)) + "\xE2\x80\xA6";  // …
}

std::string slack_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

json plain(std::string_view text, std::size_t max) {
  return {{"type", "plain_text"}, {"text", truncate_chars(text, max)}, {"emoji", true}};
}
json mrkdwn(std::string_view text, std::size_t max) {
  return {{"type", "mrkdwn"}, {"text", truncate_chars(text, max)}};
}
json field(const std::string& label, const std::string& value) {
  return mrkdwn("*" + label + "*\n" + slack_escape(value), kSlackFieldTextMax);
}

std::string title(const Event& e) {
  std::string t = e.target.empty() ? "target" : e.target;
  std::string r = e.reminder ? "Reminder: " : "";
  switch (e.type) {
    case EventType::leak_suspected:
      if (e.leak && e.leak->oom_imminent)
        return ":rotating_light: " + r + "Out of memory soon: " + t;
      return ":warning: " + r + "Memory leak suspected: " + t;
    case EventType::capture_completed:
      return ":camera: Heap snapshot captured: " + t;
    case EventType::capture_skipped:
      return ":double_vertical_bar: Heap snapshot skipped: " + t;
    case EventType::capture_failed:
      return ":x: Heap snapshot failed: " + t;
    case EventType::oom_kill:
      return ":skull: OOM kill: " + t;
    case EventType::restart:
      return ":arrows_counterclockwise: Restarted: " + t;
    case EventType::recovered:
      return ":white_check_mark: Recovered: " + t;
    case EventType::source_unavailable:
      return ":grey_question: " + r + "Cannot read memory: " + t;
    case EventType::test:
      return ":wave: leakwatch test: " + t;
  }
  return t;
}

std::string percent(double fraction) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.0f%%", 100.0 * fraction);
  return buf;
}

json fields_for(const Event& e) {
  json f = json::array();
  auto add = [&](const std::string& label, const std::string& value) {
    if (f.size() < kSlackFieldsMax) f.push_back(field(label, value));
  };
  const auto& m = e.memory;
  switch (e.type) {
    case EventType::leak_suspected:
      if (e.leak) {
        add("Growth", detail::slope_text(e.leak->slope_bytes_per_hour));
        add("OOM in", detail::forecast_text(e));
      }
      add("Usage", detail::usage_line(m));
      if (m.working_set_bytes)
        add("Working set", core::format_bytes(static_cast<double>(*m.working_set_bytes)));
      if (e.leak) {
        add("Confidence", percent(e.leak->confidence));
        if (e.leak->window.count() > 0) add("Trend over", core::format_duration(e.leak->window));
        if (e.leak->oom_kills > 0) add("OOM kills", std::to_string(e.leak->oom_kills));
      }
      break;
    case EventType::capture_completed:
      if (e.capture) {
        if (!e.capture->archive_ids.empty()) add("Snapshot", e.capture->archive_ids.back());
        if (e.capture->size_bytes)
          add("Size", core::format_bytes(static_cast<double>(*e.capture->size_bytes)));
        if (e.capture->duration_seconds)
          add("Took", core::format_duration_seconds(*e.capture->duration_seconds));
      }
      if (m.usage_bytes) add("Usage", detail::usage_line(m));
      break;
    case EventType::oom_kill:
      if (m.usage_bytes) add("Usage", detail::usage_line(m));
      if (e.oom_kill_count) add("OOM kills (total)", std::to_string(*e.oom_kill_count));
      break;
    case EventType::restart:
      if (!e.instance.empty()) add("New instance", e.instance);
      if (m.usage_bytes) add("Usage", detail::usage_line(m));
      break;
    case EventType::recovered:
      if (e.incident_opened)
        add("Incident lasted",
            core::format_duration(
                std::chrono::duration_cast<std::chrono::seconds>(e.time - *e.incident_opened)));
      if (m.usage_bytes) add("Usage", detail::usage_line(m));
      break;
    case EventType::capture_skipped:
    case EventType::capture_failed:
    case EventType::source_unavailable:
      if (m.usage_bytes) add("Usage", detail::usage_line(m));
      break;
    case EventType::test:
      break;
  }
  if (e.reminder && e.incident_opened)
    add("Open for", core::format_duration(std::chrono::duration_cast<std::chrono::seconds>(
                        e.time - *e.incident_opened)));
  return f;
}

// The snapshots' S3 objects: the s3:// id the CLI takes, the upload state in words (an object
// whose upload is pending is said to be so, not linked as if it existed), the console page, and the
// diff to run from anywhere with read access to the bucket.
std::string s3_text(const Event& e) {
  auto shown = detail::shown_objects(e);
  if (shown.empty()) return {};
  std::string s = shown.size() > 1 ? "*Snapshots in S3*" : "*Snapshot in S3*";
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const auto& o = *shown[i];
    s += "\n";
    if (shown.size() > 1) s += i + 1 == shown.size() ? "New: " : "Base: ";
    s += "`" + slack_escape(o.url()) + "` \xE2\x80\x94 " + slack_escape(detail::upload_text(o));
    if (!o.console_url.empty())
      s += " \xC2\xB7 <" + slack_escape(o.console_url) + "|" +
           (o.state == s3::UploadState::uploaded  ? "Open in the AWS console"
            : o.state == s3::UploadState::pending ? "AWS console (once uploaded)"
                                                  : "AWS console (if it was uploaded)") +
           ">";
  }
  if (auto cmd = detail::s3_diff_command(e); !cmd.empty())
    s += "\nFrom anywhere with read access to the bucket:\n```" + slack_escape(cmd) + "```";
  return s;
}

std::string summary_text(const Event& e) {
  std::string who = "*" + slack_escape(e.target.empty() ? "target" : e.target) + "*";
  if (!e.instance.empty()) who += " (`" + slack_escape(e.instance) + "`)";
  std::string what;
  if (e.type == EventType::leak_suspected && e.leak && !e.leak->explanation.empty())
    what = e.leak->explanation;
  else if (!e.reason.empty())
    what = e.reason;
  else
    what = headline(e);
  std::string s = who + ": " + slack_escape(what);
  if (e.escalated)
    s += "\n:arrow_up: Severity rose to *" + std::string(to_string(e.severity())) + "*.";
  return s;
}

std::string growers_text(const Event& e) {
  if (!e.capture || e.capture->top_growers.empty()) return {};
  std::string s = "*Top growers*";
  std::size_t shown = 0;
  for (const auto& g : e.capture->top_growers) {
    if (shown++ == 5) break;
    s += "\n\xE2\x80\xA2 `" + slack_escape(g.name) + "` " +
         detail::signed_bytes(static_cast<double>(g.size_delta));
    if (g.count_delta)
      s += " (" + std::string(*g.count_delta >= 0 ? "+" : "") + std::to_string(*g.count_delta) +
           " objects)";
    if (!g.retainer_path.empty())
      s += "\n      retained by: " +
           slack_escape(truncate_chars(detail::short_path(g.retainer_path), 400));
    if (!g.path_note.empty()) s += "\n      " + slack_escape(g.path_note);
  }
  return s;
}

// Where the target runs, one line for a context block: which task of a fleet this is.
std::string identity_text(const TaskInfo& id) {
  auto code = [](const std::string& v) {
    std::string t = slack_escape(v);
    for (auto& c : t)
      if (c == '`') c = '\'';  // a backtick would end the code span
    return "`" + t + "`";
  };
  std::vector<std::string> parts;
  auto add = [&](const std::string& label, const std::string& v) {
    if (!v.empty()) parts.push_back(label.empty() ? code(v) : label + " " + code(v));
  };
  if (id.ecs()) {
    add("ECS cluster", id.cluster);
    add("service", id.service);
    add("task", id.task_id);
    add("", id.family_revision());
    add("container", id.container);
    add("", id.availability_zone);
    if (!id.image_digest.empty()) add("image", id.image_digest.substr(0, 19));
  } else {
    add("host", id.host);
  }
  std::string out;
  for (const auto& p : parts)
    out += (out.empty() ? "" : " \xC2\xB7 ") + p;
  return out;
}

// The same for the plain-text fallback (notifications): short names only.
std::string identity_fallback(const TaskInfo& id) {
  if (id.ecs()) {
    std::string s = id.cluster;
    if (!id.family_revision().empty()) s += (s.empty() ? "" : "/") + id.family_revision();
    if (!id.task_id.empty()) s += (s.empty() ? "task " : " task ") + id.task_id;
    return s;
  }
  return id.host.empty() ? std::string() : "host " + id.host;
}

}  // namespace

json slack_message(const Event& e, const RenderOptions& options) {
  json blocks = json::array();
  blocks.push_back({{"type", "header"}, {"text", plain(title(e), kSlackHeaderMax)}});

  json section = {{"type", "section"}, {"text", mrkdwn(summary_text(e), kSlackSectionTextMax)}};
  json f = fields_for(e);
  if (!f.empty()) section["fields"] = f;
  blocks.push_back(section);
  if (auto who = identity_text(e.task); !who.empty())
    blocks.push_back(
        {{"type", "context"}, {"elements", json::array({mrkdwn(who, kSlackSectionTextMax)})}});

  if (auto g = growers_text(e); !g.empty())
    blocks.push_back({{"type", "section"}, {"text", mrkdwn(g, kSlackSectionTextMax)}});

  if (auto objects = s3_text(e); !objects.empty())
    blocks.push_back({{"type", "section"}, {"text", mrkdwn(objects, kSlackSectionTextMax)}});

  std::string next;
  if (auto cmd = detail::diff_command(e); !cmd.empty() && (e.type == EventType::leak_suspected ||
                                                           e.type == EventType::capture_completed))
    next = "*Next:* see what grew between the two snapshots\n```" + slack_escape(cmd) + "```";
  else
    next = "*Next:* " + slack_escape(detail::next_step(e));
  blocks.push_back({{"type", "section"}, {"text", mrkdwn(next, kSlackSectionTextMax)}});

  std::string ctx = "leakwatch \xC2\xB7 " + core::format_utc(e.time);
  if (!e.incident_id.empty()) ctx += " \xC2\xB7 incident `" + e.incident_id + "`";
  if (e.reminder) ctx += " \xC2\xB7 reminder " + std::to_string(e.reminder_count);
  json elements = json::array({mrkdwn(ctx, kSlackSectionTextMax)});
  if (auto url = detail::join_url(options.dashboard_url, "/"); !url.empty())
    elements.push_back(
        mrkdwn("<" + slack_escape(url) + "|Open the dashboard>", kSlackSectionTextMax));
  blocks.push_back({{"type", "context"}, {"elements", elements}});

  // The fallback shows in notifications and on clients without blocks: it must stand alone.
  std::string text = headline(e);
  if (auto who = identity_fallback(e.task); !who.empty()) text += " (" + who + ")";
  text += ". Next: " + detail::next_step(e);
  if (auto shown = detail::shown_objects(e); !shown.empty())
    text += " In S3: " + shown.back()->url() + " (" + detail::upload_text(*shown.back()) + ")";
  return {{"text", slack_escape(truncate_chars(text, kSlackSectionTextMax))}, {"blocks", blocks}};
}

std::vector<std::string> check_slack_message(const json& message) {
  std::vector<std::string> p;
  if (!message.is_object()) return {"message is not a JSON object"};
  bool has_text = message.contains("text") && message["text"].is_string() &&
                  !message["text"].get<std::string>().empty();
  if (!message.contains("blocks")) {
    if (!has_text) p.push_back("message needs `text` or `blocks`");
    return p;
  }
  const json& blocks = message["blocks"];
  if (!blocks.is_array() || blocks.empty()) return {"`blocks` must be a non-empty array"};
  if (blocks.size() > kSlackMaxBlocks) p.push_back("more than 50 blocks");
  if (!has_text) p.push_back("no top-level `text` fallback (notifications would be empty)");

  auto check_text = [&](const json& t, const std::string& where, std::size_t max, bool plain_only) {
    if (!t.is_object() || !t.contains("type") || !t.contains("text") || !t["text"].is_string()) {
      p.push_back(where + ": not a text object");
      return;
    }
    std::string type = t["type"].is_string() ? t["type"].get<std::string>() : "";
    if (type != "plain_text" && type != "mrkdwn") p.push_back(where + ": unknown text type");
    if (plain_only && type != "plain_text") p.push_back(where + ": must be plain_text");
    if (t.contains("emoji") && type != "plain_text")
      p.push_back(where + ": emoji only on plain_text");
    if (t.contains("verbatim") && type != "mrkdwn")
      p.push_back(where + ": verbatim only on mrkdwn");
    auto s = t["text"].get<std::string>();
    if (s.empty()) p.push_back(where + ": empty text");
    if (char_count(s) > max)
      p.push_back(where + ": longer than " + std::to_string(max) + " characters");
  };

  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const json& b = blocks[i];
    std::string where = "blocks[" + std::to_string(i) + "]";
    if (!b.is_object() || !b.contains("type") || !b["type"].is_string()) {
      p.push_back(where + ": not a block");
      continue;
    }
    if (b.contains("block_id") &&
        (!b["block_id"].is_string() || b["block_id"].get<std::string>().size() > kSlackBlockIdMax))
      p.push_back(where + ".block_id: not a string of at most 255 characters");
    std::string type = b["type"];
    if (type == "header") {
      if (!b.contains("text"))
        p.push_back(where + ": header without text");
      else
        check_text(b["text"], where + ".text", kSlackHeaderMax, true);
    } else if (type == "section") {
      bool text = b.contains("text"), fields = b.contains("fields");
      if (!text && !fields) p.push_back(where + ": section needs text or fields");
      if (text) check_text(b["text"], where + ".text", kSlackSectionTextMax, false);
      if (fields) {
        const json& f = b["fields"];
        if (!f.is_array() || f.empty() || f.size() > kSlackFieldsMax) {
          p.push_back(where + ".fields: must hold 1 to 10 text objects");
        } else {
          for (std::size_t j = 0; j < f.size(); ++j)
            check_text(f[j], where + ".fields[" + std::to_string(j) + "]", kSlackFieldTextMax,
                       false);
        }
      }
      if (b.contains("accessory") &&
          (!b["accessory"].is_object() || !b["accessory"].contains("type")))
        p.push_back(where + ".accessory: not an element");
    } else if (type == "context") {
      const json* el = b.contains("elements") ? &b["elements"] : nullptr;
      if (!el || !el->is_array() || el->empty() || el->size() > kSlackContextElementsMax) {
        p.push_back(where + ".elements: must hold 1 to 10 elements");
      } else {
        for (std::size_t j = 0; j < el->size(); ++j) {
          const json& x = (*el)[j];
          std::string w = where + ".elements[" + std::to_string(j) + "]";
          if (x.is_object() && x.value("type", "") == "image") {
            if (!x.contains("image_url") || !x.contains("alt_text"))
              p.push_back(w + ": image needs image_url and alt_text");
          } else {
            check_text(x, w, kSlackSectionTextMax, false);
          }
        }
      }
    } else if (type == "divider") {
      // no fields
    } else if (type == "image") {
      if (!b.contains("image_url") || !b.contains("alt_text"))
        p.push_back(where + ": image needs image_url and alt_text");
    } else {
      p.push_back(where + ": block type '" + type + "' is not used by leakwatch messages");
    }
  }
  return p;
}

}  // namespace leakwatch::alert
