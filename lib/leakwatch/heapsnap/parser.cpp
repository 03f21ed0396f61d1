#include "leakwatch/heapsnap/parser.h"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "leakwatch/core/fs.h"
#include "leakwatch/core/zstd.h"

namespace leakwatch::heapsnap {

namespace {

constexpr unsigned char kZstdMagic[4] = {0x28, 0xb5, 0x2f, 0xfd};

struct ParseError {
  std::string message;
};

// A pull source of bytes. read() returns 0 at the end; failures throw ParseError.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual std::size_t read(char* buf, std::size_t cap) = 0;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view data) : data_(data) {}
  std::size_t read(char* buf, std::size_t cap) override {
    std::size_t n = std::min(cap, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, n);
    pos_ += n;
    return n;
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  std::size_t read(char* buf, std::size_t cap) override {
    for (;;) {
      ssize_t n = ::read(fd_, buf, cap);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      throw ParseError{"read failed: " + core::errno_message(errno)};
    }
  }

 private:
  int fd_;
};

// Decompresses a zstd stream from an inner source.
class ZstdSource : public ByteSource {
 public:
  explicit ZstdSource(ByteSource& inner) : inner_(inner), in_buf_(ZSTD_DStreamInSize()) {}

  std::size_t read(char* buf, std::size_t cap) override {
    if (cap == 0) return 0;
    for (;;) {
      if (in_.empty() && !inner_eof_) {
        std::size_t n = inner_.read(in_buf_.data(), in_buf_.size());
        if (n == 0)
          inner_eof_ = true;
        else
          in_ = std::string_view(in_buf_.data(), n);
      }
      auto n = zstd_.read(in_, buf, cap);
      if (!n.ok()) throw ParseError{n.error().message};
      if (*n > 0) return *n;
      if (inner_eof_ && in_.empty()) {
        if (!zstd_.complete()) throw ParseError{"zstd: truncated compressed stream"};
        return 0;
      }
    }
  }

 private:
  ByteSource& inner_;
  core::ZstdReader zstd_;
  std::vector<char> in_buf_;
  std::string_view in_;
  bool inner_eof_ = false;
};

// Buffered reader with a fast path; tracks the byte offset for error messages.
class Reader {
 public:
  Reader(ByteSource& src, std::size_t buffer) : src_(src), buf_(buffer + 1) { buf_[0] = '\0'; }

  int peek() {
    if (pos_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(buf_[pos_]);
  }
  int get() {
    if (pos_ == end_ && !refill()) return -1;
    return static_cast<unsigned char>(buf_[pos_++]);
  }
  void skip_ws() {
    for (;;) {
      while (pos_ < end_) {
        char c = buf_[pos_];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
        ++pos_;
      }
      if (!refill()) return;
    }
  }
  std::uint64_t offset() const { return base_ + pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError{what + " at byte " + std::to_string(offset())};
  }
  void expect(char c) {
    skip_ws();
    int got = get();
    if (got != static_cast<unsigned char>(c)) {
      if (got < 0) fail(std::string("unexpected end of input, expected '") + c + "'");
      fail(std::string("expected '") + c + "'");
    }
  }

  // Reads a flat array of unsigned 32-bit integers ("[1,2,3]") in records of `width` values,
  // calling sink(const std::uint32_t* record) once per complete record. Returns the number of
  // values in a trailing incomplete record (0 when the length is a multiple of `width`); the
  // caller reports that as an error with its own wording.
  template <typename Sink>
  std::size_t read_uint_records(std::size_t width, Sink&& sink, const char* what) {
    expect('[');
    skip_ws();
    if (peek() == ']') {
      get();
      return 0;
    }
    std::vector<std::uint32_t> record(width);
    std::uint32_t* rec = record.data();
    std::size_t field = 0;
    for (;;) {
      std::uint32_t v;
      int sep;
      if (!fast_uint(v, sep)) slow_uint(v, sep, what);
      rec[field] = v;
      if (++field == width) {
        sink(static_cast<const std::uint32_t*>(rec));
        field = 0;
      }
      if (sep == ']') return field;
    }
  }

  // Same, one value at a time.
  template <typename Sink>
  void read_uint_array(Sink&& sink, const char* what) {
    read_uint_records(
        1, [&](const std::uint32_t* r) { sink(r[0]); }, what);
  }

  // Reads a JSON string (the opening quote not yet consumed), decoding escapes to UTF-8 (lone
  // surrogates as WTF-8), appending to out. At most max_len output bytes.
  void read_string(std::string& out, std::uint64_t max_len, const char* what) {
    skip_ws();
    if (get() != '"') fail(std::string("expected a string in ") + what);
    std::size_t start = out.size();
    for (;;) {
      // Fast path: copy a run of plain bytes.
      std::size_t run = pos_;
      while (run < end_ && buf_[run] != '"' && buf_[run] != '\\' &&
             static_cast<unsigned char>(buf_[run]) >= 0x20)
        ++run;
      if (run > pos_) {
        out.append(buf_.data() + pos_, run - pos_);
        pos_ = run;
        if (out.size() - start > max_len) fail(std::string("string too long in ") + what);
      }
      int c = get();
      if (c < 0) fail(std::string("unexpected end of input in a string in ") + what);
      if (c == '"') return;
      if (c < 0x20) fail(std::string("control character in a string in ") + what);
      if (c != '\\') {
        out.push_back(static_cast<char>(c));
        continue;
      }
      int e = get();
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          std::uint32_t cp = read_hex4(what);
          if (cp >= 0xd800 && cp <= 0xdbff && peek() == '\\') {
            // Possible surrogate pair.
            get();
            if (get() != 'u') fail(std::string("bad escape in ") + what);
            std::uint32_t lo = read_hex4(what);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
              append_utf8(out, 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00));
            } else {
              append_utf8(out, cp);
              append_utf8(out, lo);
            }
          } else {
            append_utf8(out, cp);
          }
          break;
        }
        default:
          if (e < 0) fail(std::string("unexpected end of input in a string in ") + what);
          fail(std::string("bad escape in a string in ") + what);
      }
      if (out.size() - start > max_len) fail(std::string("string too long in ") + what);
    }
  }

  // Skips any JSON value, iteratively, with a nesting limit. When capture is set, the raw text is
  // appended to it (bounded by max_capture bytes).
  void skip_value(std::uint32_t max_depth, std::string* capture = nullptr,
                  std::uint64_t max_capture = 0) {
    std::vector<char> stack;
    std::string scratch;
    auto put = [&](char c) {
      if (capture != nullptr) {
        capture->push_back(c);
        if (capture->size() > max_capture) fail("snapshot header too large");
      }
    };
    for (;;) {
      skip_ws();
      int c = peek();
      if (c < 0) fail("unexpected end of input");
      if (c == '{' || c == '[') {
        get();
        put(static_cast<char>(c));
        if (stack.size() >= max_depth) fail("nesting too deep");
        stack.push_back(c == '{' ? '}' : ']');
        skip_ws();
        if (peek() == stack.back()) {
          put(static_cast<char>(get()));
          stack.pop_back();
        } else {
          if (stack.back() == '}') {
            scratch.clear();
            read_string(scratch, max_capture ? max_capture : (1ull << 32), "object key");
            if (capture) put_json_string(*capture, scratch, max_capture);
            expect(':');
            put(':');
          }
          continue;
        }
      } else if (c == '"') {
        scratch.clear();
        read_string(scratch, capture ? max_capture : (1ull << 34), "value");
        if (capture) put_json_string(*capture, scratch, max_capture);
      } else if (c == '-' || (c >= '0' && c <= '9')) {
        for (;;) {
          int d = peek();
          if ((d >= '0' && d <= '9') || d == '-' || d == '+' || d == '.' || d == 'e' || d == 'E') {
            put(static_cast<char>(get()));
          } else {
            break;
          }
        }
      } else if (c == 't' || c == 'f' || c == 'n') {
        const char* word = c == 't' ? "true" : (c == 'f' ? "false" : "null");
        for (const char* p = word; *p; ++p) {
          if (get() != *p) fail("invalid literal");
          put(*p);
        }
      } else {
        fail("unexpected character");
      }
      // After a value: close containers or continue with a separator.
      for (;;) {
        if (stack.empty()) return;
        skip_ws();
        int s = get();
        if (s == ',') {
          put(',');
          if (stack.back() == '}') {
            scratch.clear();
            read_string(scratch, max_capture ? max_capture : (1ull << 32), "object key");
            if (capture) put_json_string(*capture, scratch, max_capture);
            expect(':');
            put(':');
          }
          break;
        }
        if (s == stack.back()) {
          put(static_cast<char>(s));
          stack.pop_back();
          continue;
        }
        if (s < 0) fail("unexpected end of input");
        fail("expected ',' or a closing bracket");
      }
    }
  }

 private:
  static bool is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

  // Fast path of the integer tokenizer: one number and its separator (',' or ']'), entirely
  // inside the current buffer. The buffer ends with a NUL sentinel, so the scanning loops need no
  // bounds checks. Returns false, consuming nothing, when the value or its separator is not
  // complete in the buffer or is malformed; slow_uint() then takes over (and reports errors).
  bool fast_uint(std::uint32_t& out, int& sep) {
    const char* const base = buf_.data();
    const char* p = base + pos_;
    while (is_ws(*p))
      ++p;
    const char* const start = p;
    unsigned d = static_cast<unsigned char>(*p) - '0';
    if (d > 9) return false;
    std::uint64_t v = d;
    ++p;
    while ((d = static_cast<unsigned char>(*p) - '0') <= 9) {
      v = v * 10 + d;
      ++p;
    }
    if (p - start > 10 || v > 0xffffffffull) return false;
    while (is_ws(*p))
      ++p;
    const char c = *p;
    if (c != ',' && c != ']') return false;  // also the sentinel at the end of the buffer
    if (static_cast<std::size_t>(p - base) >= end_) return false;
    pos_ = static_cast<std::size_t>(p - base) + 1;
    out = static_cast<std::uint32_t>(v);
    sep = c;
    return true;
  }

  // Slow path: crosses buffer boundaries and reports every error.
  void slow_uint(std::uint32_t& out, int& sep, const char* what) {
    skip_ws();
    std::uint64_t v = 0;
    int digits = 0;
    for (;;) {
      while (pos_ < end_) {
        unsigned c = static_cast<unsigned char>(buf_[pos_]) - '0';
        if (c > 9) goto done;
        v = v * 10 + c;
        ++pos_;
        if (++digits > 10) fail(std::string("number too large in ") + what);
      }
      if (!refill()) break;
    }
  done:
    if (digits == 0) {
      if (peek() < 0) fail(std::string("unexpected end of input in ") + what);
      fail(std::string("expected an unsigned integer in ") + what);
    }
    if (v > 0xffffffffull) fail(std::string("number too large in ") + what);
    skip_ws();
    int c = get();
    if (c == ',' || c == ']') {
      out = static_cast<std::uint32_t>(v);
      sep = c;
      return;
    }
    if (c < 0) fail(std::string("unexpected end of input in ") + what);
    fail(std::string("expected ',' or ']' in ") + what);
  }

  bool refill() {
    base_ += end_;
    pos_ = end_ = 0;
    end_ = src_.read(buf_.data(), buf_.size() - 1);
    buf_[end_] = '\0';  // sentinel for the fast integer path
    return end_ > 0;
  }
  std::uint32_t read_hex4(const char* what) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      int c = get();
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else
        fail(std::string("bad \\u escape in ") + what);
    }
    return v;
  }
  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }
  void put_json_string(std::string& out, const std::string& s, std::uint64_t max) {
    out += nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (out.size() > max) fail("snapshot header too large");
  }

  ByteSource& src_;
  std::vector<char> buf_;
  std::size_t pos_ = 0;
  std::size_t end_ = 0;
  std::uint64_t base_ = 0;
};

NodeKind node_kind_of(const std::string& name) {
  static constexpr std::pair<const char*, NodeKind> kKinds[] = {
      {"hidden", NodeKind::hidden},
      {"array", NodeKind::array},
      {"string", NodeKind::string},
      {"object", NodeKind::object},
      {"code", NodeKind::code},
      {"closure", NodeKind::closure},
      {"regexp", NodeKind::regexp},
      {"number", NodeKind::number},
      {"native", NodeKind::native},
      {"synthetic", NodeKind::synthetic},
      {"concatenated string", NodeKind::concatenated_string},
      {"sliced string", NodeKind::sliced_string},
      {"symbol", NodeKind::symbol},
      {"bigint", NodeKind::bigint},
      {"object shape", NodeKind::object_shape},
  };
  for (const auto& [n, k] : kKinds)
    if (name == n) return k;
  return NodeKind::other;
}

EdgeKind edge_kind_of(const std::string& name) {
  static constexpr std::pair<const char*, EdgeKind> kKinds[] = {
      {"context", EdgeKind::context},   {"element", EdgeKind::element},
      {"property", EdgeKind::property}, {"internal", EdgeKind::internal},
      {"hidden", EdgeKind::hidden},     {"shortcut", EdgeKind::shortcut},
      {"weak", EdgeKind::weak},
  };
  for (const auto& [n, k] : kKinds)
    if (name == n) return k;
  return EdgeKind::other;
}

struct Meta {
  std::size_t node_fields = 0;
  int n_type = -1, n_name = -1, n_id = -1, n_self = -1, n_edges = -1, n_detached = -1;
  std::size_t edge_fields = 0;
  int e_type = -1, e_name = -1, e_to = -1;
  std::size_t loc_fields = 0;
  int l_index = -1, l_script = -1, l_line = -1, l_col = -1;
  std::optional<std::uint64_t> node_count, edge_count;
  std::optional<std::uint64_t> root_index;
};

int index_of(const nlohmann::json& fields, const char* name) {
  for (std::size_t i = 0; i < fields.size(); ++i)
    if (fields[i].is_string() && fields[i].get_ref<const std::string&>() == name)
      return static_cast<int>(i);
  return -1;
}

std::optional<std::uint64_t> opt_uint(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
    throw ParseError{std::string("snapshot.") + key + " is not an unsigned integer"};
  return it->get<std::uint64_t>();
}

void parse_header(const std::string& text, Meta& meta, HeapSnapshot& snap) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw ParseError{"snapshot header is not a JSON object"};
  auto mit = j.find("meta");
  if (mit == j.end() || !mit->is_object()) throw ParseError{"snapshot.meta is missing"};
  const auto& m = *mit;
  auto get_array = [&](const char* key) -> const nlohmann::json& {
    auto it = m.find(key);
    if (it == m.end() || !it->is_array())
      throw ParseError{std::string("snapshot.meta.") + key + " is missing"};
    return *it;
  };
  const auto& nf = get_array("node_fields");
  const auto& nt = get_array("node_types");
  const auto& ef = get_array("edge_fields");
  const auto& et = get_array("edge_types");
  meta.node_fields = nf.size();
  meta.edge_fields = ef.size();
  if (meta.node_fields == 0 || meta.node_fields > 64 || meta.edge_fields == 0 ||
      meta.edge_fields > 64)
    throw ParseError{"snapshot.meta has an unreasonable number of fields"};
  meta.n_type = index_of(nf, "type");
  meta.n_name = index_of(nf, "name");
  meta.n_id = index_of(nf, "id");
  meta.n_self = index_of(nf, "self_size");
  meta.n_edges = index_of(nf, "edge_count");
  meta.n_detached = index_of(nf, "detachedness");
  if (meta.n_type < 0 || meta.n_name < 0 || meta.n_id < 0 || meta.n_self < 0 || meta.n_edges < 0)
    throw ParseError{
        "snapshot.meta.node_fields lacks one of type, name, id, self_size, edge_count"};
  meta.e_type = index_of(ef, "type");
  meta.e_name = index_of(ef, "name_or_index");
  meta.e_to = index_of(ef, "to_node");
  if (meta.e_type < 0 || meta.e_name < 0 || meta.e_to < 0)
    throw ParseError{"snapshot.meta.edge_fields lacks one of type, name_or_index, to_node"};
  if (nt.size() <= static_cast<std::size_t>(meta.n_type) || !nt[meta.n_type].is_array())
    throw ParseError{"snapshot.meta.node_types has no list of node types"};
  if (et.size() <= static_cast<std::size_t>(meta.e_type) || !et[meta.e_type].is_array())
    throw ParseError{"snapshot.meta.edge_types has no list of edge types"};
  const auto& ntypes = nt[meta.n_type];
  const auto& etypes = et[meta.e_type];
  if (ntypes.size() > 255 || etypes.size() > 255) throw ParseError{"too many node or edge types"};
  for (const auto& t : ntypes) {
    if (!t.is_string()) throw ParseError{"a node type is not a string"};
    snap.node_type_names.push_back(t.get<std::string>());
    snap.node_type_kinds.push_back(node_kind_of(snap.node_type_names.back()));
  }
  for (const auto& t : etypes) {
    if (!t.is_string()) throw ParseError{"an edge type is not a string"};
    snap.edge_type_names.push_back(t.get<std::string>());
    snap.edge_type_kinds.push_back(edge_kind_of(snap.edge_type_names.back()));
  }
  auto lit = m.find("location_fields");
  if (lit != m.end() && lit->is_array() && !lit->empty()) {
    meta.loc_fields = lit->size();
    if (meta.loc_fields > 64) throw ParseError{"snapshot.meta.location_fields is too long"};
    meta.l_index = index_of(*lit, "object_index");
    meta.l_script = index_of(*lit, "script_id");
    meta.l_line = index_of(*lit, "line");
    meta.l_col = index_of(*lit, "column");
  }
  meta.node_count = opt_uint(j, "node_count");
  meta.edge_count = opt_uint(j, "edge_count");
  meta.root_index = opt_uint(j, "root_index");
  if (auto extra = opt_uint(j, "extra_native_bytes")) snap.extra_native_bytes = *extra;
}

// Stable sort by node ordinal: V8 writes locations in heap order, not node order. Two passes of a
// 16-bit LSD radix sort (node ordinals are below 2^32) instead of a comparison sort.
void sort_by_node(std::vector<Location>& locations) {
  std::vector<Location> tmp(locations.size());
  for (unsigned shift = 0; shift < 32; shift += 16) {
    std::vector<std::size_t> start(1u << 16, 0);
    for (const Location& l : locations)
      ++start[(l.node >> shift) & 0xffff];
    std::size_t sum = 0;
    for (auto& c : start) {
      const std::size_t count = c;
      c = sum;
      sum += count;
    }
    for (const Location& l : locations)
      tmp[start[(l.node >> shift) & 0xffff]++] = l;
    locations.swap(tmp);
  }
}

class SnapshotParser {
 public:
  SnapshotParser(Reader& r, const ParseLimits& limits) : r_(r), limits_(limits) {}

  HeapSnapshot run() {
    r_.expect('{');
    r_.skip_ws();
    if (r_.peek() == '}') r_.fail("empty snapshot object");
    std::string key;
    for (;;) {
      key.clear();
      r_.read_string(key, 256, "top-level key");
      r_.expect(':');
      if (key == "snapshot") {
        once(have_header_, key);
        std::string text;
        r_.skip_value(limits_.max_depth, &text, limits_.max_header_bytes);
        parse_header(text, meta_, snap_);
      } else if (key == "nodes") {
        once(have_nodes_, key);
        need_header(key);
        read_nodes();
      } else if (key == "edges") {
        once(have_edges_, key);
        need_header(key);
        if (!have_nodes_) r_.fail("\"edges\" before \"nodes\"");
        read_edges();
      } else if (key == "strings") {
        once(have_strings_, key);
        read_strings();
      } else if (key == "locations") {
        once(have_locations_, key);
        need_header(key);
        read_locations();
      } else {
        r_.skip_value(limits_.max_depth);
      }
      r_.skip_ws();
      int c = r_.get();
      if (c == ',') continue;
      if (c == '}') break;
      if (c < 0) r_.fail("unexpected end of input");
      r_.fail("expected ',' or '}' after a top-level value");
    }
    r_.skip_ws();
    if (r_.peek() >= 0) r_.fail("trailing data after the snapshot");
    finish();
    return std::move(snap_);
  }

 private:
  void once(bool& flag, const std::string& key) {
    if (flag) r_.fail("duplicate key \"" + key + "\"");
    flag = true;
  }
  void need_header(const std::string& key) {
    if (!have_header_) r_.fail("\"" + key + "\" before the \"snapshot\" header");
  }

  template <typename T>
  static void reserve_bounded(std::vector<T>& v, std::optional<std::uint64_t> declared) {
    // Trust a declared count only up to 64M entries; beyond, the vector grows with the input.
    if (declared)
      v.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*declared, 64ull << 20)));
  }

  void read_nodes() {
    const std::size_t nf = meta_.node_fields;
    const bool detached = meta_.n_detached >= 0;
    if (detached) reserve_bounded(snap_.node_detachedness, meta_.node_count);
    reserve_bounded(snap_.node_id, meta_.node_count);
    reserve_bounded(snap_.node_name, meta_.node_count);
    reserve_bounded(snap_.node_self_size, meta_.node_count);
    reserve_bounded(snap_.node_type, meta_.node_count);
    // One more: the end of the last node's edges.
    if (meta_.node_count) reserve_bounded(snap_.first_edge, *meta_.node_count + 1);
    const std::size_t f_type = meta_.n_type, f_name = meta_.n_name, f_id = meta_.n_id,
                      f_self = meta_.n_self, f_edges = meta_.n_edges,
                      f_det = detached ? meta_.n_detached : 0;
    std::uint64_t edge_total = 0;
    const std::size_t ntypes = snap_.node_type_names.size();
    const std::uint64_t max_nodes = limits_.max_nodes, max_edges = limits_.max_edges;
    std::uint32_t max_name = 0;
    std::size_t count = 0;
    const std::size_t rest = r_.read_uint_records(
        nf,
        [&](const std::uint32_t* r) {
          const std::uint32_t t = r[f_type];
          if (t >= ntypes) r_.fail("node type " + std::to_string(t) + " out of range");
          if (count >= max_nodes) r_.fail("too many nodes");
          ++count;
          snap_.node_type.push_back(static_cast<std::uint8_t>(t));
          snap_.node_name.push_back(r[f_name]);
          max_name = std::max(max_name, r[f_name]);
          snap_.node_id.push_back(r[f_id]);
          snap_.node_self_size.push_back(r[f_self]);
          snap_.first_edge.push_back(static_cast<std::uint32_t>(edge_total));
          edge_total += r[f_edges];
          if (edge_total > max_edges) r_.fail("too many edges declared by nodes");
          if (detached) snap_.node_detachedness.push_back(static_cast<std::uint8_t>(r[f_det] & 3));
        },
        "nodes");
    max_node_name_ = max_name;
    if (rest != 0)
      r_.fail("nodes array length is not a multiple of " + std::to_string(nf) + " (node_fields)");
    snap_.first_edge.push_back(static_cast<std::uint32_t>(edge_total));
    if (snap_.node_id.empty()) r_.fail("the snapshot has no nodes");
    if (meta_.node_count && *meta_.node_count != snap_.node_id.size())
      r_.fail("snapshot.node_count is " + std::to_string(*meta_.node_count) + " but nodes holds " +
              std::to_string(snap_.node_id.size()));
    declared_edges_ = edge_total;
  }

  void read_edges() {
    // The division by node_fields is by a constant for the usual layouts (V8 writes 6 or 7 node
    // fields), which the compiler turns into a multiplication.
    switch (meta_.node_fields) {
      case 6:
        read_edges_impl<6>();
        break;
      case 7:
        read_edges_impl<7>();
        break;
      default:
        read_edges_impl<0>();
        break;
    }
  }

  template <std::size_t kNodeFields>
  void read_edges_impl() {
    const std::size_t ef = meta_.edge_fields;
    const std::size_t f_type = meta_.e_type, f_name = meta_.e_name, f_to = meta_.e_to;
    const std::size_t n_edges = static_cast<std::size_t>(declared_edges_);
    // Edge counts come from the nodes array, already bounded by the input read so far.
    snap_.edge_type.reserve(n_edges);
    snap_.edge_name.reserve(n_edges);
    snap_.edge_to.reserve(n_edges);
    const std::uint64_t nf = kNodeFields != 0 ? kNodeFields : meta_.node_fields;
    const std::uint64_t node_limit = snap_.node_id.size() * nf;
    const std::size_t etypes = snap_.edge_type_names.size();
    // Which edge types name their edge with a string (the others carry an index): the largest
    // string index is checked against the strings table when it is known.
    std::uint32_t name_mask[256] = {};
    for (std::size_t t = 0; t < etypes; ++t) {
      const EdgeKind k = snap_.edge_type_kinds[t];
      name_mask[t] = (k == EdgeKind::element || k == EdgeKind::hidden) ? 0 : 0xffffffffu;
    }
    std::uint32_t max_name = 0;
    std::size_t count = 0;
    const std::size_t rest = r_.read_uint_records(
        ef,
        [&](const std::uint32_t* r) {
          const std::uint32_t t = r[f_type];
          if (t >= etypes) r_.fail("edge type " + std::to_string(t) + " out of range");
          if (count >= n_edges) r_.fail("more edges than the nodes' edge_count sum");
          ++count;
          const std::uint64_t to = r[f_to];
          if (to % nf != 0 || to >= node_limit)
            r_.fail("edge to_node " + std::to_string(to) + " is not a valid node index");
          snap_.edge_type.push_back(static_cast<std::uint8_t>(t));
          snap_.edge_name.push_back(r[f_name]);
          max_name = std::max(max_name, r[f_name] & name_mask[t]);
          snap_.edge_to.push_back(static_cast<std::uint32_t>(to / nf));
        },
        "edges");
    max_edge_name_ = max_name;
    if (rest != 0)
      r_.fail("edges array length is not a multiple of " + std::to_string(ef) + " (edge_fields)");
    if (snap_.edge_to.size() != n_edges)
      r_.fail("edges holds " + std::to_string(snap_.edge_to.size()) +
              " edges but the nodes declare " + std::to_string(n_edges));
    if (meta_.edge_count && *meta_.edge_count != n_edges)
      r_.fail("snapshot.edge_count is " + std::to_string(*meta_.edge_count) + " but edges holds " +
              std::to_string(n_edges));
  }

  void read_strings() {
    r_.expect('[');
    r_.skip_ws();
    if (r_.peek() == ']') {
      r_.get();
      return;
    }
    for (;;) {
      std::uint64_t room =
          limits_.max_string_bytes -
          std::min<std::uint64_t>(limits_.max_string_bytes, snap_.string_data.size());
      r_.read_string(snap_.string_data, room, "strings");
      if (snap_.string_offsets.size() > limits_.max_strings) r_.fail("too many strings");
      snap_.string_offsets.push_back(snap_.string_data.size());
      r_.skip_ws();
      int c = r_.get();
      if (c == ',') continue;
      if (c == ']') break;
      if (c < 0) r_.fail("unexpected end of input in strings");
      r_.fail("expected ',' or ']' in strings");
    }
  }

  void read_locations() {
    if (meta_.loc_fields == 0) {
      r_.read_uint_array([](std::uint32_t) {}, "locations");
      return;
    }
    const bool usable =
        meta_.l_index >= 0 && meta_.l_script >= 0 && meta_.l_line >= 0 && meta_.l_col >= 0;
    // Kept with the raw object index (a multiple of node_fields): checked in finish().
    const std::size_t rest = r_.read_uint_records(
        meta_.loc_fields,
        [&](const std::uint32_t* r) {
          if (usable)
            snap_.locations.push_back(
                Location{r[meta_.l_index], r[meta_.l_script], r[meta_.l_line], r[meta_.l_col]});
        },
        "locations");
    if (rest != 0) r_.fail("locations array length is not a multiple of location_fields");
  }

  void finish() {
    if (!have_header_) throw ParseError{"the \"snapshot\" header is missing"};
    if (!have_nodes_) throw ParseError{"the \"nodes\" array is missing"};
    if (!have_edges_) {
      if (declared_edges_ != 0) throw ParseError{"the \"edges\" array is missing"};
      have_edges_ = true;
    }
    if (!have_strings_) throw ParseError{"the \"strings\" array is missing"};
    const std::size_t n = snap_.node_id.size();
    const std::size_t ns = snap_.string_count();
    // The maxima were taken while parsing; the loops only find the first offender to name it.
    for (std::size_t i = 0; i < n && max_node_name_ >= ns; ++i)
      if (snap_.node_name[i] >= ns)
        throw ParseError{"node " + std::to_string(i) + " has name index " +
                         std::to_string(snap_.node_name[i]) + " beyond the " + std::to_string(ns) +
                         " strings"};
    for (std::size_t e = 0; e < snap_.edge_to.size() && max_edge_name_ >= ns; ++e)
      if (snap_.edge_has_string_name(static_cast<std::uint32_t>(e)) && snap_.edge_name[e] >= ns)
        throw ParseError{"edge " + std::to_string(e) + " has name index " +
                         std::to_string(snap_.edge_name[e]) + " beyond the " + std::to_string(ns) +
                         " strings"};
    if (meta_.root_index) {
      if (*meta_.root_index % meta_.node_fields != 0 || *meta_.root_index / meta_.node_fields >= n)
        throw ParseError{"snapshot.root_index is not a valid node index"};
      snap_.root = static_cast<std::uint32_t>(*meta_.root_index / meta_.node_fields);
    }
    if (!snap_.locations.empty()) {
      const std::uint64_t nf = meta_.node_fields;
      bool increasing = true;
      std::uint32_t prev = 0;
      for (std::size_t i = 0; i < snap_.locations.size(); ++i) {
        Location& l = snap_.locations[i];
        if (l.node % nf != 0 || l.node / nf >= n)
          throw ParseError{"a location's object_index is not a valid node index"};
        l.node = static_cast<std::uint32_t>(l.node / nf);
        if (i > 0 && l.node <= prev) increasing = false;
        prev = l.node;
      }
      // V8 writes them in node order; otherwise later entries win, as in a Map keyed by node
      // index.
      if (!increasing) {
        sort_by_node(snap_.locations);
        std::vector<Location> dedup;
        dedup.reserve(snap_.locations.size());
        for (const auto& l : snap_.locations) {
          if (!dedup.empty() && dedup.back().node == l.node)
            dedup.back() = l;
          else
            dedup.push_back(l);
        }
        snap_.locations = std::move(dedup);
      } else {
        snap_.locations.shrink_to_fit();
      }
    }
    snap_.string_data.shrink_to_fit();
    snap_.string_offsets.shrink_to_fit();
  }

  Reader& r_;
  const ParseLimits& limits_;
  Meta meta_;
  HeapSnapshot snap_;
  bool have_header_ = false, have_nodes_ = false, have_edges_ = false, have_strings_ = false,
       have_locations_ = false;
  std::uint64_t declared_edges_ = 0;
  std::uint32_t max_node_name_ = 0, max_edge_name_ = 0;
};

core::Result<HeapSnapshot> parse_source(ByteSource& src, bool zstd, const ParseLimits& limits,
                                        std::size_t buffer = 1 << 20) {
  try {
    std::unique_ptr<ZstdSource> z;
    ByteSource* s = &src;
    if (zstd) {
      z = std::make_unique<ZstdSource>(src);
      s = z.get();
    }
    Reader reader(*s, buffer);
    SnapshotParser parser(reader, limits);
    return parser.run();
  } catch (const ParseError& e) {
    return core::make_error(core::Errc::parse, "invalid heap snapshot: " + e.message);
  } catch (const std::bad_alloc&) {
    return core::make_error(core::Errc::parse,
                            "invalid heap snapshot: out of memory while parsing");
  } catch (const std::length_error&) {
    return core::make_error(core::Errc::parse, "invalid heap snapshot: too large");
  }
}

}  // namespace

const Location* HeapSnapshot::location(std::uint32_t node) const {
  auto it = std::lower_bound(locations.begin(), locations.end(), node,
                             [](const Location& l, std::uint32_t n) { return l.node < n; });
  if (it == locations.end() || it->node != node) return nullptr;
  return &*it;
}

std::size_t HeapSnapshot::memory_bytes() const {
  return string_data.capacity() + string_offsets.capacity() * 8 + node_type.capacity() +
         node_detachedness.capacity() +
         (node_name.capacity() + node_id.capacity() + node_self_size.capacity() +
          first_edge.capacity()) *
             4 +
         edge_type.capacity() + (edge_name.capacity() + edge_to.capacity()) * 4 +
         locations.capacity() * 16;
}

core::Result<HeapSnapshot> parse_snapshot(std::string_view data, const ParseLimits& limits) {
  bool zstd = data.size() >= 4 && std::memcmp(data.data(), kZstdMagic, 4) == 0;
  MemorySource src(data);
  // Small inputs (tests, fuzzing) need no 1 MiB buffer.
  return parse_source(src, zstd, limits,
                      zstd ? (1 << 20) : std::min<std::size_t>(1 << 20, data.size() + 1));
}

core::Result<HeapSnapshot> load_file(const std::filesystem::path& path, const ParseLimits& limits) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return core::make_error(err == ENOENT ? core::Errc::not_found : core::Errc::io,
                            "cannot open " + path.string() + ": " + core::errno_message(err));
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
#ifdef POSIX_FADV_SEQUENTIAL
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
  unsigned char magic[4] = {0, 0, 0, 0};
  ssize_t got = ::pread(fd, magic, 4, 0);
  bool zstd = got == 4 && std::memcmp(magic, kZstdMagic, 4) == 0;
  FdSource src(fd);
  auto result = parse_source(src, zstd, limits);
  if (!result.ok()) return result.error().prefixed(path.string() + ": ");
  return result;
}

}  // namespace leakwatch::heapsnap
