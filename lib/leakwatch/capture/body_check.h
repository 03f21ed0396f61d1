#pragma once
// Checks, chunk by chunk, that a response body looks like a V8 heap snapshot: it must start with
// `{"snapshot":{` (whitespace allowed between the tokens, at most 4 KiB of leading whitespace) and
// end with `}` (trailing whitespace allowed). Pure; keeps a few bytes only.
#include <cstddef>
#include <string>
#include <string_view>

namespace leakwatch::capture {

class SnapshotBodyCheck {
 public:
  enum class State { need_more, ok, reject };

  // Feeds the next chunk; returns the state of the prefix check.
  State feed(std::string_view chunk);
  State state() const { return state_; }
  // At the end of the body: empty when it looks complete, else why not.
  std::string finish() const;
  // Short, printable description of what the body started with (for the rejection message).
  std::string seen() const;

 private:
  void advance();

  State state_ = State::need_more;
  std::string head_;     // the first bytes, up to the end of the prefix (bounded)
  std::size_t pos_ = 0;  // scan position in head_
  int token_ = 0;        // next expected token of the prefix
  char last_ = 0;        // last non-whitespace byte seen in the body
  std::size_t total_ = 0;
};

}  // namespace leakwatch::capture
