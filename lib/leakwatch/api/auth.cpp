#include "leakwatch/api/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>

namespace leakwatch::api {

bool constant_time_equal(std::string_view a, std::string_view b) {
  unsigned char da[SHA256_DIGEST_LENGTH];
  unsigned char db[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(a.data()), a.size(), da);
  SHA256(reinterpret_cast<const unsigned char*>(b.data()), b.size(), db);
  return CRYPTO_memcmp(da, db, SHA256_DIGEST_LENGTH) == 0;
}

AuthResult check_bearer(std::string_view authorization, const core::Secret& token) {
  if (token.empty()) return AuthResult::disabled;
  // Trim surrounding whitespace.
  while (!authorization.empty() &&
         std::isspace(static_cast<unsigned char>(authorization.front()))) {
    authorization.remove_prefix(1);
  }
  while (!authorization.empty() && std::isspace(static_cast<unsigned char>(authorization.back()))) {
    authorization.remove_suffix(1);
  }
  if (authorization.empty()) return AuthResult::missing;
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return AuthResult::missing;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) {
      return AuthResult::missing;
    }
  }
  if (authorization[kScheme.size()] != ' ') return AuthResult::missing;
  auto presented = authorization.substr(kScheme.size() + 1);
  while (!presented.empty() && presented.front() == ' ')
    presented.remove_prefix(1);
  if (presented.empty()) return AuthResult::missing;
  return constant_time_equal(presented, token.reveal()) ? AuthResult::ok : AuthResult::invalid;
}

}  // namespace leakwatch::api
