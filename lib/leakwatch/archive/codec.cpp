#include "leakwatch/archive/codec.h"

#include <openssl/evp.h>
#include <zstd.h>

#include <vector>

#include "leakwatch/core/zstd.h"

namespace leakwatch::archive {

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(impl_->ctx);
}

void Sha256::update(std::string_view data) {
  if (!data.empty()) EVP_DigestUpdate(impl_->ctx, data.data(), data.size());
}

std::string Sha256::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

namespace {
core::Error zstd_error(const char* what, std::size_t code) {
  return core::make_error(core::Errc::compression,
                          std::string(what) + ": " + ZSTD_getErrorName(code));
}
}  // namespace

struct ZstdCompressor::Impl {
  ZSTD_CCtx* ctx = nullptr;
  std::vector<char> out;
};

ZstdCompressor::ZstdCompressor(int level) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(impl_->ctx, ZSTD_c_checksumFlag, 1);
  impl_->out.resize(ZSTD_CStreamOutSize());
}

ZstdCompressor::~ZstdCompressor() {
  ZSTD_freeCCtx(impl_->ctx);
}

core::Status ZstdCompressor::write(std::string_view data, const Sink& sink) {
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer o{impl_->out.data(), impl_->out.size(), 0};
    std::size_t rc = ZSTD_compressStream2(impl_->ctx, &o, &in, ZSTD_e_continue);
    if (ZSTD_isError(rc)) return zstd_error("zstd compression failed", rc);
    if (o.pos > 0) {
      auto st = sink(std::string_view(impl_->out.data(), o.pos));
      if (!st.ok()) return st;
    }
  }
  return core::ok_status();
}

core::Status ZstdCompressor::finish(const Sink& sink) {
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer o{impl_->out.data(), impl_->out.size(), 0};
    std::size_t rc = ZSTD_compressStream2(impl_->ctx, &o, &in, ZSTD_e_end);
    if (ZSTD_isError(rc)) return zstd_error("zstd compression failed", rc);
    if (o.pos > 0) {
      auto st = sink(std::string_view(impl_->out.data(), o.pos));
      if (!st.ok()) return st;
    }
    if (rc == 0) return core::ok_status();
  }
}

struct ZstdDecompressor::Impl {
  core::ZstdReader reader;
  std::vector<char> out = std::vector<char>(ZSTD_DStreamOutSize());
};

ZstdDecompressor::ZstdDecompressor() : impl_(std::make_unique<Impl>()) {}

ZstdDecompressor::~ZstdDecompressor() = default;

core::Status ZstdDecompressor::write(std::string_view data, const Sink& sink) {
  for (;;) {
    auto n = impl_->reader.read(data, impl_->out.data(), impl_->out.size());
    if (!n.ok()) return n.error();
    if (*n > 0) {
      auto st = sink(std::string_view(impl_->out.data(), *n));
      if (!st.ok()) return st;
    }
    // A full output buffer may leave decoded bytes behind: go on until there was room to spare.
    if (data.empty() && *n < impl_->out.size()) return core::ok_status();
  }
}

bool ZstdDecompressor::complete() const {
  return impl_->reader.complete();
}

}  // namespace leakwatch::archive
