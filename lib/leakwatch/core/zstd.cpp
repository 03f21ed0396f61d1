#include "leakwatch/core/zstd.h"

#include <zstd.h>

#include <string>

namespace leakwatch::core {

ZstdReader::ZstdReader() : ctx_(ZSTD_createDCtx()) {
  if (ctx_ != nullptr) ZSTD_DCtx_setParameter(ctx_, ZSTD_d_windowLogMax, kWindowLogMax);
}

ZstdReader::~ZstdReader() {
  ZSTD_freeDCtx(ctx_);
}

Result<std::size_t> ZstdReader::read(std::string_view& in, char* out, std::size_t cap) {
  if (ctx_ == nullptr)
    return make_error(Errc::compression, "zstd: cannot create a decompression context");
  if (!in.empty()) seen_input_ = true;
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  ZSTD_outBuffer dst{out, cap, 0};
  std::size_t rc = ZSTD_decompressStream(ctx_, &dst, &src);
  in.remove_prefix(src.pos);
  if (ZSTD_isError(rc))
    return make_error(Errc::compression, std::string("zstd: ") + ZSTD_getErrorName(rc));
  // A call that moved nothing says nothing of the stream (past a frame's end it already asks for
  // the next frame's header).
  if (src.pos > 0 || dst.pos > 0) pending_ = rc;
  return dst.pos;
}

}  // namespace leakwatch::core
