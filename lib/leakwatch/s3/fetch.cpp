#include "leakwatch/s3/fetch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "leakwatch/archive/codec.h"
#include "leakwatch/core/utf8.h"

namespace leakwatch::s3 {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxKey = 1024;
constexpr std::uint64_t kMaxMetadataBytes = 16u << 20;

core::Error invalid(std::string_view id, const std::string& why) {
  return core::make_error(
      core::Errc::invalid_id,
      "not a snapshot id: \"" + core::display_text(id, 200) + "\" (" + why + ")");
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_hex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

core::Result<SnapshotRef> snapshot_ref(std::string_view id, std::string_view archive) {
  std::string bucket, key;
  if (id.rfind("s3://", 0) == 0) {
    auto loc = parse_s3_url(id);
    if (!loc.ok()) return invalid(id, loc.error().message);
    bucket = loc->first;
    key = loc->second;
  } else {
    if (archive.rfind("s3://", 0) != 0)
      return invalid(id, "give s3://bucket/key, or --archive s3://bucket/prefix");
    auto loc = parse_s3_url(archive);
    if (!loc.ok()) return invalid(archive, loc.error().message);
    bucket = loc->first;
    std::string prefix = loc->second;
    while (!prefix.empty() && prefix.back() == '/')
      prefix.pop_back();
    if (id.empty() || id.front() == '/') return invalid(id, "an id under the archive prefix");
    key = prefix.empty() ? std::string(id) : prefix + "/" + std::string(id);
  }
  if (key.empty()) return invalid(id, "no key");
  if (key.size() > kMaxKey) return invalid(id, "longer than 1024 bytes");
  for (unsigned char c : key)
    if (c < 0x20 || c == 0x7f) return invalid(id, "control characters");
  for (std::string_view suffix : {".heapsnapshot.zst", ".heapsnapshot", ".json"})
    if (ends_with(key, suffix)) {
      key.resize(key.size() - suffix.size());
      break;
    }
  SnapshotRef ref;
  ref.bucket = bucket;
  auto slash = key.rfind('/');
  ref.stem = slash == std::string::npos ? key : key.substr(slash + 1);
  ref.dir = slash == std::string::npos ? std::string() : key.substr(0, slash);
  std::size_t start = 0;
  while (start <= key.size()) {
    auto end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string_view seg(key.data() + start, end - start);
    if (seg.empty() || seg == "." || seg == "..")
      return invalid(id, "empty, \".\" or \"..\" segment");
    start = end + 1;
  }
  return ref;
}

core::Result<archive::Metadata> fetch_metadata(Client& client, const SnapshotRef& ref) {
  auto body = client.get_object(ref.metadata_key(), kMaxMetadataBytes);
  if (!body.ok()) return body.error();
  auto j = nlohmann::json::parse(*body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return core::make_error(core::Errc::corrupt,
                            ref.metadata_key() + " is not snapshot metadata (not JSON)");
  auto m = archive::Metadata::from_json(j);
  if (!m.ok())
    return core::make_error(core::Errc::corrupt, ref.metadata_key() + ": " + m.error().message);
  // The metadata names the file; the key layout decides where it may be.
  const bool zst = m->compression == archive::Compression::zstd;
  const std::string expected = ref.stem + (zst ? ".heapsnapshot.zst" : ".heapsnapshot");
  if (m->file != expected)
    return core::make_error(core::Errc::corrupt, ref.metadata_key() +
                                                     " names the snapshot file \"" +
                                                     core::display_text(m->file, 200) +
                                                     "\", expected \"" + expected + "\"");
  return m;
}

core::Status fetch_snapshot(Client& client, const SnapshotRef& ref, const archive::Metadata& m,
                            const std::function<core::Status(std::string_view)>& out) {
  if (!is_hex64(m.sha256) || m.size_bytes == 0)
    return core::make_error(
        core::Errc::corrupt,
        ref.metadata_key() + " has no SHA-256 or size to check the snapshot against");
  const bool zst = m.compression == archive::Compression::zstd;
  archive::Sha256 sha;
  std::uint64_t plain = 0, stored = 0;
  archive::Sink sink = [&](std::string_view d) -> core::Status {
    plain += d.size();
    if (plain > m.size_bytes)
      return core::make_error(core::Errc::corrupt,
                              "the snapshot is larger than its metadata says (" +
                                  std::to_string(m.size_bytes) + " bytes)");
    sha.update(d);
    return out(d);
  };
  archive::ZstdDecompressor zstd;
  auto st = client.get_object(ref.key_of(m.file), [&](std::string_view chunk) -> core::Status {
    stored += chunk.size();
    return zst ? zstd.write(chunk, sink) : sink(chunk);
  });
  if (!st.ok()) return st;
  if (zst && !zstd.complete())
    return core::make_error(core::Errc::corrupt,
                            "the compressed snapshot ends mid-frame (truncated)");
  if (m.stored_bytes && stored != m.stored_bytes)
    return core::make_error(core::Errc::corrupt, "got " + std::to_string(stored) +
                                                     " stored bytes, metadata says " +
                                                     std::to_string(m.stored_bytes));
  if (plain != m.size_bytes)
    return core::make_error(core::Errc::corrupt, "got " + std::to_string(plain) +
                                                     " snapshot bytes, metadata says " +
                                                     std::to_string(m.size_bytes));
  std::string digest = sha.finish();
  if (digest != m.sha256)
    return core::make_error(core::Errc::corrupt,
                            "the snapshot's SHA-256 is " + digest + ", metadata says " + m.sha256);
  return core::ok_status();
}

core::Status export_snapshot(Client& client, const SnapshotRef& ref, const archive::Metadata& m,
                             const fs::path& dest) {
  fs::path dir = dest.parent_path();
  if (dir.empty()) dir = ".";
  fs::path tmp = dir / ("." + dest.filename().string() + ".partial-" + std::to_string(::getpid()));
  ::unlink(tmp.c_str());  // a leftover of this pid (a crash); never someone else's (O_EXCL)
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return core::make_error(core::Errc::io,
                            "cannot create " + tmp.string() + ": " + std::strerror(errno));
  auto fail = [&](core::Error e) -> core::Status {
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  };
  auto st = fetch_snapshot(client, ref, m, [&](std::string_view d) -> core::Status {
    while (!d.empty()) {
      ssize_t n = ::write(fd, d.data(), d.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        return core::make_error(errno == ENOSPC ? core::Errc::disk_full : core::Errc::io,
                                "cannot write " + tmp.string() + ": " + std::strerror(errno));
      d.remove_prefix(static_cast<std::size_t>(n));
    }
    return core::ok_status();
  });
  if (!st.ok()) return fail(st.error());
  if (::fsync(fd) != 0)
    return fail(core::make_error(core::Errc::io,
                                 "cannot fsync " + tmp.string() + ": " + std::strerror(errno)));
  int rc = ::close(fd);
  fd = -1;
  if (rc != 0) return fail(core::make_error(core::Errc::io, "cannot close " + tmp.string()));
  if (::rename(tmp.c_str(), dest.c_str()) != 0)
    return fail(core::make_error(
        core::Errc::io, "cannot rename to " + dest.string() + ": " + std::strerror(errno)));
  return core::ok_status();
}

}  // namespace leakwatch::s3
