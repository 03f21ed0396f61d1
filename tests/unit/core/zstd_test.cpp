#include "leakwatch/core/zstd.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <string>
#include <vector>

using leakwatch::core::Errc;
using leakwatch::core::ZstdReader;

namespace {

// Streams `plain` into one frame whose header asks for a 2^window_log window: fed as a stream of
// unknown size, so the window is not shrunk to the content.
std::string compress(const std::string& plain, int window_log) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, window_log);
  std::string out(ZSTD_compressBound(plain.size()) + 64, '\0');
  ZSTD_inBuffer in{plain.data(), plain.size(), 0};
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  while (in.pos < in.size)
    ZSTD_compressStream2(c, &o, &in, ZSTD_e_continue);
  ZSTD_inBuffer none{nullptr, 0, 0};
  while (ZSTD_compressStream2(c, &o, &none, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(c);
  out.resize(o.pos);
  return out;
}

std::string sample_text(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i)
    s += "node " + std::to_string(i * 7919 % 1000) + ",";
  s.resize(n);
  return s;
}

// Feeds `frame` in `piece`-byte pieces into a `cap`-byte output, the way both callers do.
struct Decoded {
  std::string text;
  bool ok = true;
  Errc code = Errc::failed;
  bool complete = false;
};
Decoded decode(const std::string& frame, std::size_t piece, std::size_t cap) {
  ZstdReader z;
  Decoded d;
  std::vector<char> out(cap);
  for (std::size_t at = 0; at < frame.size() && d.ok; at += piece) {
    std::string_view in(frame.data() + at, std::min(piece, frame.size() - at));
    for (;;) {
      auto n = z.read(in, out.data(), out.size());
      if (!n.ok()) {
        d.ok = false;
        d.code = n.error().code;
        break;
      }
      d.text.append(out.data(), *n);
      if (in.empty() && *n < out.size()) break;
    }
  }
  d.complete = z.complete();
  return d;
}

}  // namespace

TEST(ZstdReader, DecodesAFrameFedInAnyPiecesIntoAnyBuffer) {
  const std::string plain = sample_text(300'000);
  const std::string frame = compress(plain, 20);
  for (auto [piece, cap] : {std::pair<std::size_t, std::size_t>{1, 7},
                            {13, 4096},
                            {frame.size(), 1},
                            {65536, 131072}}) {
    auto d = decode(frame, piece, cap);
    ASSERT_TRUE(d.ok) << piece << "/" << cap;
    EXPECT_EQ(d.text, plain) << piece << "/" << cap;
    EXPECT_TRUE(d.complete);
  }
}

TEST(ZstdReader, ATruncatedFrameIsNeverComplete) {
  const std::string plain = sample_text(100'000);
  const std::string frame = compress(plain, 20);
  auto d = decode(frame.substr(0, frame.size() - 3), 4096, 4096);
  EXPECT_TRUE(d.ok);
  EXPECT_FALSE(d.complete);
  EXPECT_LT(d.text.size(), plain.size());
  EXPECT_FALSE(ZstdReader().complete()) << "no input at all is not a whole stream";
}

TEST(ZstdReader, RefusesGarbageAndFramesAskingForAHugeWindow) {
  auto garbage = decode(std::string(64, 'x'), 64, 4096);
  EXPECT_FALSE(garbage.ok);
  EXPECT_EQ(garbage.code, Errc::compression);
  // 2^28 bytes is one more than the bound: a hostile header must not make the reader allocate it.
  auto huge = decode(compress(sample_text(1 << 20), ZstdReader::kWindowLogMax + 1), 4096, 4096);
  EXPECT_FALSE(huge.ok);
  EXPECT_EQ(huge.code, Errc::compression);
  auto bounded = decode(compress(sample_text(1 << 20), ZstdReader::kWindowLogMax), 4096, 4096);
  EXPECT_TRUE(bounded.ok);
}
