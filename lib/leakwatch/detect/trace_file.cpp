#include "leakwatch/detect/trace_file.h"

#include <zstd.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "leakwatch/detect/trace_csv.h"

namespace leakwatch::detect {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct DctxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

}  // namespace

core::Result<std::string> read_trace_text(const std::string& path, std::size_t max_bytes) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return core::make_error(core::Errc::trace, path + ": cannot open");
  std::string raw((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (!ends_with(path, ".zst")) {
    if (raw.size() > max_bytes) return core::make_error(core::Errc::trace, path + ": too large");
    return raw;
  }
  std::unique_ptr<ZSTD_DCtx, DctxFree> ctx(ZSTD_createDCtx());
  if (!ctx) return core::make_error(core::Errc::trace, path + ": out of memory");
  ZSTD_DCtx_setParameter(ctx.get(), ZSTD_d_windowLogMax, 27);
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{raw.data(), raw.size(), 0};
  std::size_t last = 1;
  while (true) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(ctx.get(), &o, &in);
    if (ZSTD_isError(last)) {
      return core::make_error(core::Errc::trace,
                              path + ": bad zstd data (" + ZSTD_getErrorName(last) + ")");
    }
    out.append(buf.data(), o.pos);
    if (out.size() > max_bytes) return core::make_error(core::Errc::trace, path + ": too large");
    // Done when all input is consumed and the decoder had nothing more to flush.
    if (in.pos == in.size && o.pos < o.size) break;
  }
  if (last != 0) return core::make_error(core::Errc::trace, path + ": truncated zstd data");
  return out;
}

core::Result<std::vector<core::Sample>> load_trace(const std::string& path) {
  auto text = read_trace_text(path);
  if (!text) return text.error();
  std::istringstream in(std::move(*text));
  auto reader = TraceReader::open(in);
  if (!reader) return core::make_error(core::Errc::trace, path + ": " + reader.error().message);
  std::vector<core::Sample> out;
  core::Sample s;
  while (true) {
    auto more = reader->next(s);
    if (!more) return core::make_error(core::Errc::trace, path + ": " + more.error().message);
    if (!*more) break;
    out.push_back(s);
  }
  return out;
}

}  // namespace leakwatch::detect
