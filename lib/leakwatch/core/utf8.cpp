#include "leakwatch/core/utf8.h"

#include <cstdint>

namespace leakwatch::core {

namespace {

// Length of the well-formed character starting at text[i], or 0 when the bytes there are
// ill-formed. `bad` then receives the length of the maximal ill-formed subpart (at least 1), as
// Unicode's "substitution of maximal subparts" counts them.
std::size_t char_length(std::string_view text, std::size_t i, std::size_t& bad) {
  const auto byte = [&](std::size_t k) { return static_cast<std::uint8_t>(text[k]); };
  const std::uint8_t c = byte(i);
  bad = 1;
  if (c < 0x80) return 1;
  std::size_t need;
  std::uint8_t lo = 0x80, hi = 0xbf;  // range of the second byte
  if (c >= 0xc2 && c <= 0xdf) {
    need = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    need = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;  // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  for (std::size_t k = 1; k < need; ++k) {
    if (i + k >= text.size()) return 0;
    const std::uint8_t b = byte(i + k);
    const std::uint8_t min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xbf;
    if (b < min || b > max) return 0;
    bad = k + 1;
  }
  return need;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  std::size_t bad = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<std::uint8_t>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = char_length(text, i, bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  std::size_t bad = 0;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t n = char_length(text, i, bad);
    if (n == 0) {
      out += "\xef\xbf\xbd";
      i += bad;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t end = max_bytes;
  // Step back over continuation bytes to the start of the character that would be split; keep
  // it only if it ends at the cut.
  std::size_t start = end;
  while (start > 0 && end - start < 4 && (static_cast<std::uint8_t>(text[start]) & 0xc0) == 0x80)
    --start;
  if (start < end && (static_cast<std::uint8_t>(text[start]) & 0xc0) == 0xc0) {
    std::size_t bad = 0;
    const std::size_t n = char_length(text, start, bad);
    if (n != 0 && start + n > end) end = start;
  }
  return text.substr(0, end);
}

std::string display_text(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return to_valid_utf8(text);
  std::string out = to_valid_utf8(utf8_prefix(text, max_bytes));
  out += "…";
  return out;
}

}  // namespace leakwatch::core
