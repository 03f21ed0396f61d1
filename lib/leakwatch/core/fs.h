#pragma once
// Small filesystem helpers shared by the readers and the archive. All take explicit paths; readers
// take an injectable root so tests run against fixture trees.
#include <filesystem>
#include <string>
#include <string_view>

#include "leakwatch/core/result.h"

namespace leakwatch::core {

// Reads a whole (small) file. Errors: "not_found", "permission", "io" with the path in the message.
Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes = 16 << 20);

// Writes `data` to `path` atomically: a temporary sibling (".tmp-<name>-<pid>"), fsync, rename,
// fsync of the directory. A file with the final name is always complete.
Status write_file_atomic(const std::filesystem::path& path, std::string_view data, int mode = 0644);

// fsyncs a directory so a rename in it is durable.
Status fsync_dir(const std::filesystem::path& dir);

std::string errno_message(int err);

}  // namespace leakwatch::core
