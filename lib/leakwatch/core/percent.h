#pragma once
// Percent-decoding, the one copy: URL paths and query strings (http/router.h) and RFC 5987
// `filename*` values in Content-Disposition (the archive).
#include <optional>
#include <string>
#include <string_view>

namespace leakwatch::core {

// "%2F" -> "/"; '+' -> ' ' when `plus_is_space`. An invalid or cut escape gives nullopt. The result
// may hold any bytes (even NUL): callers that show it clean it first.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

}  // namespace leakwatch::core
