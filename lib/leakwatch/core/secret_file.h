#pragma once
// A secret kept in a file (a mounted secret, a key file), read the one way both the configuration
// (`{ file: PATH }`) and `leakwatch capture --key-file` read it.
#include <filesystem>

#include "leakwatch/core/result.h"
#include "leakwatch/core/secret.h"

namespace leakwatch::core {

inline constexpr std::size_t kSecretFileMax = 64 * 1024;

// The whole file (at most kSecretFileMax bytes) without its trailing line ends; the origin names
// the file, never the value. Errors: read_file's (not_found, permission, io, too_large), "empty".
Result<Secret> read_secret_file(const std::filesystem::path& path);

}  // namespace leakwatch::core
