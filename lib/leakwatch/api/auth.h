#pragma once
// Bearer-token check for snapshot downloads and diffs. The comparison is constant-time: both
// sides are hashed (SHA-256) and the digests compared with CRYPTO_memcmp, so neither the content
// nor the length of the configured token leaks through timing.
#include <string_view>

#include "leakwatch/core/secret.h"

namespace leakwatch::api {

enum class AuthResult {
  ok,
  disabled,  // no token configured: downloads and diffs are off (403)
  missing,   // no "Authorization: Bearer ..." header (401)
  invalid,   // wrong token (403)
};

// `authorization` is the raw Authorization header value ("" when absent).
AuthResult check_bearer(std::string_view authorization, const core::Secret& token);

bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace leakwatch::api
