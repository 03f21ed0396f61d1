#include "leakwatch/capture/body_check.h"

namespace leakwatch::capture {

namespace {
constexpr std::size_t kMaxHead = 4096 + 64;
constexpr std::string_view kTokens[] = {"{", "\"snapshot\"", ":", "{"};
bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
}  // namespace

void SnapshotBodyCheck::advance() {
  while (state_ == State::need_more) {
    while (pos_ < head_.size() && space(head_[pos_]))
      ++pos_;
    if (pos_ >= head_.size()) break;
    // A UTF-8 byte order mark before the first token is tolerated.
    if (token_ == 0 && pos_ == 0 && head_[0] == '\xEF') {
      std::string_view bom = "\xEF\xBB\xBF";
      std::size_t n = std::min(head_.size(), bom.size());
      if (head_.compare(0, n, bom.substr(0, n)) != 0) {
        state_ = State::reject;
        break;
      }
      if (n < bom.size()) break;  // BOM split across chunks
      pos_ = 3;
      continue;
    }
    std::string_view tok = kTokens[token_];
    std::size_t avail = head_.size() - pos_;
    std::size_t n = std::min(avail, tok.size());
    if (head_.compare(pos_, n, tok.substr(0, n)) != 0) {
      state_ = State::reject;
      break;
    }
    if (n < tok.size()) break;  // token split across chunks
    pos_ += tok.size();
    if (++token_ == static_cast<int>(std::size(kTokens))) state_ = State::ok;
  }
  if (state_ == State::need_more && head_.size() >= kMaxHead) state_ = State::reject;
}

SnapshotBodyCheck::State SnapshotBodyCheck::feed(std::string_view chunk) {
  total_ += chunk.size();
  for (auto it = chunk.rbegin(); it != chunk.rend(); ++it)
    if (!space(*it)) {
      last_ = *it;
      break;
    }
  if (state_ == State::need_more) {
    head_.append(chunk.substr(0, std::min(chunk.size(), kMaxHead - head_.size())));
    advance();
  } else if (state_ == State::reject && head_.size() < 64) {
    head_.append(chunk.substr(0, std::min(chunk.size(), 64 - head_.size())));  // for seen()
  }
  return state_;
}

std::string SnapshotBodyCheck::finish() const {
  if (total_ == 0) return "the body is empty";
  if (state_ == State::reject)
    return "the body does not start like a heap snapshot (" + seen() + ")";
  if (state_ == State::need_more)
    return "the body ends before the heap snapshot header (" + seen() + ")";
  if (last_ != '}') return "the body ends abruptly: a heap snapshot ends with '}' (truncated?)";
  return {};
}

std::string SnapshotBodyCheck::seen() const {
  std::string out = "starts with \"";
  std::size_t n = 0;
  for (char c : head_) {
    if (n++ >= 40) {
      out += "...";
      break;
    }
    auto u = static_cast<unsigned char>(c);
    if (c == '\n')
      out += "\\n";
    else if (u < 0x20 || u >= 0x7f)
      out += '?';
    else
      out += c;
  }
  return out + "\"";
}

}  // namespace leakwatch::capture
