#pragma once
// Slack incoming-webhook messages: Block Kit blocks (header, section with fields, context) plus a
// plain `text` fallback (notifications, screen readers, old clients). Laid out for a phone: what
// happened, which container, how fast, how long until OOM, and what to do next.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "leakwatch/alert/event.h"

namespace leakwatch::alert {

// Documented Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
inline constexpr std::size_t kSlackMaxBlocks = 50;
inline constexpr std::size_t kSlackHeaderMax = 150;
inline constexpr std::size_t kSlackSectionTextMax = 3000;
inline constexpr std::size_t kSlackFieldsMax = 10;
inline constexpr std::size_t kSlackFieldTextMax = 2000;
inline constexpr std::size_t kSlackContextElementsMax = 10;
inline constexpr std::size_t kSlackBlockIdMax = 255;

struct RenderOptions {
  std::string dashboard_url;  // base URL for links; empty = none
};

nlohmann::json slack_message(const Event& e, const RenderOptions& options = {});

// Structural check of a Slack message against the documented Block Kit rules we rely on (block
// types, text objects, limits). Empty = valid. Used by the tests, also on Slack's own examples.
std::vector<std::string> check_slack_message(const nlohmann::json& message);

// Escapes &, < and > as Slack's mrkdwn requires (user data must not form links or mentions).
std::string slack_escape(std::string_view text);
// Cuts `text` to at most `max_chars` Unicode characters, ending with "…" when cut.
std::string truncate_chars(std::string_view text, std::size_t max_chars);
// Number of Unicode characters (code points) in UTF-8 text.
std::size_t char_count(std::string_view text);

}  // namespace leakwatch::alert
