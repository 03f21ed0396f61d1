#pragma once
// Streaming building blocks of the archive: SHA-256 (OpenSSL EVP) and zstd compression /
// decompression, fed chunk by chunk with bounded memory (one zstd window + one output buffer).
// They hold no file descriptors and do no I/O, so a capture can run them on any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "leakwatch/core/result.h"

namespace leakwatch::archive {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  // Lowercase hex digest; the object is spent afterwards.
  std::string finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(std::string_view data);

// Output callback: receives compressed (or decompressed) bytes; an error aborts the stream.
using Sink = std::function<core::Status(std::string_view)>;

class ZstdCompressor {
 public:
  explicit ZstdCompressor(int level);
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;
  core::Status write(std::string_view data, const Sink& out);
  core::Status finish(const Sink& out);  // writes the frame epilogue

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class ZstdDecompressor {
 public:
  ZstdDecompressor();
  ~ZstdDecompressor();
  ZstdDecompressor(const ZstdDecompressor&) = delete;
  ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;
  core::Status write(std::string_view data, const Sink& out);
  // True when the last frame is complete (no truncated input pending).
  bool complete() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace leakwatch::archive
