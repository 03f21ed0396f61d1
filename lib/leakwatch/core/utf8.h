#pragma once
// Total UTF-8: text that comes from outside (heap snapshot strings, HTTP bodies, file names) may
// hold any bytes, but everything leakwatch writes (JSON, Slack text, logs) must be valid UTF-8.
// These helpers never throw and never split a character.
#include <cstddef>
#include <string>
#include <string_view>

namespace leakwatch::core {

// True when `text` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view text);

// `text` with every ill-formed sequence (stray or truncated bytes, overlong forms, encoded
// surrogates as WTF-8/CESU-8 writes them) replaced by U+FFFD, one per maximal ill-formed subpart.
std::string to_valid_utf8(std::string_view text);

// The longest prefix of `text` of at most `max_bytes` bytes that does not end inside a
// well-formed multi-byte character.
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes);

// A display form: valid UTF-8, at most about `max_bytes` bytes; a cut text ends with "…".
std::string display_text(std::string_view text, std::size_t max_bytes);

}  // namespace leakwatch::core
