#pragma once
// The one zstd decoder for everything leakwatch reads compressed: archived snapshots, S3 objects
// and snapshots parsed straight from .zst files. Frames come from outside, so the window a frame
// may ask for is bounded, errors are results, and a truncated stream is told from a whole one.
#include <cstddef>
#include <string_view>

#include "leakwatch/core/result.h"

struct ZSTD_DCtx_s;

namespace leakwatch::core {

class ZstdReader {
 public:
  // Frames asking for a larger window than 2^27 bytes (128 MiB) are refused.
  static constexpr int kWindowLogMax = 27;

  ZstdReader();
  ~ZstdReader();
  ZstdReader(const ZstdReader&) = delete;
  ZstdReader& operator=(const ZstdReader&) = delete;

  // Decodes from `in` (consuming what it used) into out[0, cap) and returns the bytes written.
  // Fewer than `cap` bytes with `in` empty means the decoder holds nothing more for now.
  Result<std::size_t> read(std::string_view& in, char* out, std::size_t cap);
  // True once some input was seen and its last frame ended.
  bool complete() const { return seen_input_ && pending_ == 0; }

 private:
  ZSTD_DCtx_s* ctx_ = nullptr;
  std::size_t pending_ = 1;  // last hint of ZSTD_decompressStream; 0 at a frame's end
  bool seen_input_ = false;
};

}  // namespace leakwatch::core
