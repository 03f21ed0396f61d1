#include "leakwatch/heapsnap/stream_histogram.h"

#include <algorithm>
#include <map>

namespace leakwatch::heapsnap {

namespace {

constexpr std::uint64_t kLabelBit = std::uint64_t{1} << 63;
constexpr std::size_t kMaxNumberChars = 24;
constexpr std::size_t kMaxMetaEntries = 256;
constexpr const char* kReplacement = "\xEF\xBF\xBD";

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Valid UTF-8 of at most `max` bytes: invalid sequences become U+FFFD, the cut falls between
// characters.
std::string clean_utf8(std::string_view in, std::size_t max) {
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    auto b = static_cast<unsigned char>(in[i]);
    std::size_t len = b < 0x80           ? 1
                      : (b >> 5) == 0x6  ? 2
                      : (b >> 4) == 0xE  ? 3
                      : (b >> 3) == 0x1E ? 4
                                         : 0;
    bool ok = len > 0 && i + len <= in.size();
    std::uint32_t cp = 0;
    if (ok) {
      cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
      for (std::size_t k = 1; k < len && ok; ++k) {
        auto c = static_cast<unsigned char>(in[i + k]);
        if ((c & 0xC0) != 0x80) ok = false;
        cp = (cp << 6) | (c & 0x3F);
      }
      // Overlong forms, surrogates and values past U+10FFFF are invalid too.
      if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
                 (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)))
        ok = false;
    }
    std::string_view piece = ok ? in.substr(i, len) : std::string_view(kReplacement);
    if (out.size() + piece.size() > max) break;
    out += piece;
    i += ok ? len : 1;
  }
  return out;
}

}  // namespace

StreamHistogram::StreamHistogram(Limits limits) : limits_(limits) {}

void StreamHistogram::feed(std::string_view chunk) noexcept {
  try {
    for (char c : chunk) {
      if (failed_ || done_) return;
      on_char(c);
    }
  } catch (...) {
    // Only allocation can throw here: give up on the histogram, never on the capture.
    failed_ = true;
  }
}

StreamHistogram::Where StreamHistogram::compute_where() const {
  const std::size_t n = stack_.size();
  if (n == 0 || !stack_[0].object) return Where::other;
  if (n == 2 && !stack_[1].object) {
    if (stack_[0].key == "nodes") return Where::nodes;
    if (stack_[0].key == "strings") return Where::strings;
    return Where::other;
  }
  if ((n == 4 || n == 5) && stack_[0].key == "snapshot" && stack_[1].object &&
      stack_[1].key == "meta" && stack_[2].object && !stack_[3].object) {
    if (n == 4 && stack_[2].key == "node_fields") return Where::node_fields;
    if (n == 5 && stack_[2].key == "node_types" && stack_[3].index == 0 && !stack_[4].object)
      return Where::node_types;
  }
  return Where::other;
}

void StreamHistogram::begin_value() {
  if (after_value_) return fail();  // two values without a separator
  if (!stack_.empty() && stack_.back().object && stack_.back().expect_key) return fail();
}

void StreamHistogram::on_char(char c) {
  if (tok_ == Tok::string) {
    if (escape_) {
      escape_ = false;
      switch (c) {
        case 'u':
          unicode_left_ = 4;
          unicode_ = 0;
          return;
        case 'n':
          c = '\n';
          break;
        case 't':
          c = '\t';
          break;
        case 'r':
          c = '\r';
          break;
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        default:
          break;  // '"', '\\', '/' and anything else stand for themselves
      }
      if (keep_text_ && text_.size() < limits_.max_name_bytes + 8) text_ += c;
      return;
    }
    if (unicode_left_ > 0) {
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return fail();
      unicode_ = (unicode_ << 4) | static_cast<std::uint32_t>(d);
      if (--unicode_left_ > 0) return;
      std::uint32_t cp = unicode_;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        high_surrogate_ = cp;
        return;
      }
      if (cp >= 0xDC00 && cp <= 0xDFFF) {
        cp = high_surrogate_ ? 0x10000 + ((high_surrogate_ - 0xD800) << 10) + (cp - 0xDC00)
                             : 0xFFFD;  // a lone low surrogate
      } else if (high_surrogate_) {
        if (keep_text_) text_ += kReplacement;  // a lone high surrogate
      }
      high_surrogate_ = 0;
      if (keep_text_ && text_.size() < limits_.max_name_bytes + 8) append_utf8(text_, cp);
      return;
    }
    if (high_surrogate_) {
      if (keep_text_) text_ += kReplacement;
      high_surrogate_ = 0;
    }
    if (c == '\\') {
      escape_ = true;
      return;
    }
    if (c == '"') return end_string();
    if (keep_text_ && text_.size() < limits_.max_name_bytes + 8) text_ += c;
    return;
  }
  if (tok_ == Tok::number) {
    if (c >= '0' && c <= '9') {
      if (++num_len_ > kMaxNumberChars) return fail();
      const auto d = static_cast<std::uint64_t>(c - '0');
      if (num_ > (UINT64_MAX - d) / 10) num_ok_ = false;
      num_ = num_ * 10 + d;
      return;
    }
    if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
      if (++num_len_ > kMaxNumberChars) return fail();
      num_ok_ = false;  // not a plain non-negative integer
      return;
    }
    end_number();
    if (failed_) return;
  } else if (tok_ == Tok::literal) {
    if (c >= 'a' && c <= 'z') {
      if (++literal_len_ > 5) return fail();
      return;
    }
    tok_ = Tok::none;
    on_scalar_done();
  }
  switch (c) {
    case ' ':
    case '\n':
    case '\r':
    case '\t':
      return;
    case '{':
    case '[': {
      begin_value();
      if (failed_) return;
      if (stack_.size() >= limits_.max_depth) return fail();
      Frame f;
      f.object = c == '{';
      f.expect_key = f.object;
      stack_.push_back(std::move(f));
      where_ = compute_where();
      if (where_ == Where::nodes && !nodes_seen_) {
        // The meta must come first (V8 writes it first): without it the numbers mean nothing.
        nodes_seen_ = true;
        auto field = [&](const char* name) {
          auto it = std::find(node_fields_.begin(), node_fields_.end(), name);
          return it == node_fields_.end() ? -1 : static_cast<int>(it - node_fields_.begin());
        };
        f_type_ = field("type");
        f_name_ = field("name");
        f_size_ = field("self_size");
        field_count_ = node_fields_.size();
        if (f_type_ < 0 || f_name_ < 0 || f_size_ < 0) return fail();
        for (const auto& t : node_types_) {
          std::string label;
          if (t == "object" || t == "native") {
            type_group_.push_back(-1);
            continue;
          }
          label = t == "hidden"    ? "(system)"
                  : t == "code"    ? "(compiled code)"
                  : t == "closure" ? "Function"
                  : t == "regexp"  ? "RegExp"
                                   : "(" + clean_utf8(t, 64) + ")";
          auto it = std::find(labels_.begin(), labels_.end(), label);
          if (it == labels_.end()) {
            labels_.push_back(label);
            it = labels_.end() - 1;
          }
          type_group_.push_back(static_cast<int>(it - labels_.begin()));
        }
      }
      return;
    }
    case '}':
    case ']': {
      if (stack_.empty() || stack_.back().object != (c == '}')) return fail();
      if (where_ == Where::nodes && field_ != 0) return fail();  // a truncated last node
      if (where_ == Where::strings) strings_seen_ = true;
      stack_.pop_back();
      where_ = compute_where();
      after_value_ = true;
      if (stack_.empty()) done_ = true;
      return;
    }
    case ',':
      if (stack_.empty() || !after_value_) return fail();
      after_value_ = false;
      if (stack_.back().object) {
        stack_.back().expect_key = true;
      } else {
        ++stack_.back().index;
        if (stack_.size() == 4 || stack_.size() == 5) where_ = compute_where();
      }
      return;
    case ':':
      if (stack_.empty() || !stack_.back().object || stack_.back().expect_key || !after_value_)
        return fail();
      after_value_ = false;
      return;
    case '"': {
      text_.clear();
      escape_ = false;
      unicode_left_ = 0;
      high_surrogate_ = 0;
      if (!stack_.empty() && stack_.back().object && stack_.back().expect_key) {
        if (after_value_) return fail();
        in_key_ = true;
        keep_text_ = true;
        tok_ = Tok::string;
        return;
      }
      begin_value();
      if (failed_) return;
      in_key_ = false;
      switch (where_) {
        case Where::node_fields:
        case Where::node_types:
          keep_text_ = true;
          break;
        case Where::strings:
          if (names_.empty() && !counters_.empty() && !strings_seen_) {
            // The nodes are done: remember which strings name a counted class.
            for (const auto& [key, counter] : counters_)
              if (!(key & kLabelBit)) names_.emplace(key, std::string());
          }
          keep_text_ = names_.count(stack_.back().index) > 0;
          break;
        default:
          keep_text_ = false;
          break;
      }
      tok_ = Tok::string;
      return;
    }
    default:
      if ((c >= '0' && c <= '9') || c == '-') {
        begin_value();
        if (failed_) return;
        num_ok_ = c != '-';
        num_ = num_ok_ ? static_cast<std::uint64_t>(c - '0') : 0;
        num_len_ = 1;
        tok_ = Tok::number;
        return;
      }
      if (c == 't' || c == 'f' || c == 'n') {
        begin_value();
        if (failed_) return;
        literal_len_ = 1;
        tok_ = Tok::literal;
        return;
      }
      return fail();
  }
}

void StreamHistogram::end_string() {
  tok_ = Tok::none;
  if (in_key_) {
    in_key_ = false;
    auto& f = stack_.back();
    f.key = text_.size() <= 32 ? text_ : std::string();  // only short keys are ever compared
    f.expect_key = false;
    where_ = compute_where();
    after_value_ = true;  // ':' comes next
    return;
  }
  switch (where_) {
    case Where::node_fields:
      if (node_fields_.size() < kMaxMetaEntries) node_fields_.push_back(text_);
      break;
    case Where::node_types:
      if (node_types_.size() < kMaxMetaEntries) node_types_.push_back(text_);
      break;
    case Where::strings:
      if (keep_text_) {
        std::string name = clean_utf8(text_, limits_.max_name_bytes);
        // As the Summary view: "<div class=…>" is grouped as "<div>".
        if (name.starts_with('<')) {
          auto sp = name.find(' ');
          if (sp != std::string::npos) name = name.substr(0, sp) + ">";
        }
        names_[stack_.back().index] = std::move(name);
      }
      break;
    default:
      break;
  }
  on_scalar_done();
}

void StreamHistogram::end_number() {
  tok_ = Tok::none;
  if (where_ == Where::nodes) {
    if (!num_ok_) return fail();
    node_value(num_);
  }
  on_scalar_done();
}

void StreamHistogram::on_scalar_done() {
  after_value_ = true;
  if (stack_.empty()) done_ = true;
}

void StreamHistogram::node_value(std::uint64_t v) {
  if (!nodes_seen_ || field_count_ == 0) return fail();
  const int f = static_cast<int>(field_);
  if (f == f_type_) cur_type_ = v;
  if (f == f_name_) cur_name_ = v;
  if (f == f_size_) cur_size_ = v;
  if (++field_ == field_count_) {
    field_ = 0;
    add_node();
  }
}

void StreamHistogram::add_node() {
  ++nodes_;
  total_ += cur_size_;
  const int group = cur_type_ < type_group_.size() ? type_group_[cur_type_] : -2;
  std::uint64_t key;
  if (group == -1) {
    key = cur_name_ & ~kLabelBit;
  } else if (group >= 0) {
    key = kLabelBit | static_cast<std::uint64_t>(group);
  } else {
    other_.count += 1;
    other_.self_size += cur_size_;
    return;
  }
  auto it = counters_.find(key);
  if (it == counters_.end()) {
    if (counters_.size() >= limits_.max_classes) {
      other_.count += 1;
      other_.self_size += cur_size_;
      return;
    }
    it = counters_.emplace(key, Counter{}).first;
  }
  it->second.count += 1;
  it->second.self_size += cur_size_;
}

Histogram StreamHistogram::result(std::size_t max_entries) const {
  Histogram h;
  h.nodes = nodes_;
  h.total_self_size = total_;
  h.complete = done_ && !failed_ && nodes_seen_ && strings_seen_;
  // Several string indexes can carry the same text: merge by name.
  std::map<std::string, Counter> by_name;
  for (const auto& [key, c] : counters_) {
    std::string name;
    if (key & kLabelBit) {
      auto i = static_cast<std::size_t>(key & ~kLabelBit);
      name = i < labels_.size() ? labels_[i] : "(unknown)";
    } else {
      auto it = names_.find(key);
      name = it != names_.end() && !it->second.empty() ? it->second : "(unnamed)";
    }
    auto& m = by_name[name];
    m.count += c.count;
    m.self_size += c.self_size;
  }
  if (other_.count) {
    auto& m = by_name["(other)"];
    m.count += other_.count;
    m.self_size += other_.self_size;
  }
  for (const auto& [name, c] : by_name)
    h.classes.push_back({name, c.count, c.self_size});
  std::sort(h.classes.begin(), h.classes.end(), [](const auto& a, const auto& b) {
    return a.self_size != b.self_size ? a.self_size > b.self_size : a.name < b.name;
  });
  if (h.classes.size() > max_entries) h.classes.resize(max_entries);
  return h;
}

std::vector<HistogramDelta> histogram_delta(const Histogram& base, const Histogram& target,
                                            std::size_t top) {
  std::map<std::string, HistogramDelta> d;
  for (const auto& e : target.classes) {
    auto& x = d[e.name];
    x.name = e.name;
    x.count_delta += static_cast<std::int64_t>(e.count);
    x.size_delta += static_cast<std::int64_t>(e.self_size);
  }
  for (const auto& e : base.classes) {
    auto& x = d[e.name];
    x.name = e.name;
    x.count_delta -= static_cast<std::int64_t>(e.count);
    x.size_delta -= static_cast<std::int64_t>(e.self_size);
  }
  std::vector<HistogramDelta> out;
  for (auto& [name, x] : d)
    if (x.size_delta > 0) out.push_back(std::move(x));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.size_delta != b.size_delta ? a.size_delta > b.size_delta : a.name < b.name;
  });
  if (out.size() > top) out.resize(top);
  return out;
}

nlohmann::json to_json(const Histogram& h) {
  nlohmann::json classes = nlohmann::json::array();
  for (const auto& e : h.classes)
    classes.push_back({{"name", e.name}, {"count", e.count}, {"self_size", e.self_size}});
  return {{"nodes", h.nodes},
          {"total_self_size", h.total_self_size},
          {"complete", h.complete},
          {"classes", std::move(classes)}};
}

Histogram histogram_from_json(const nlohmann::json& j) {
  Histogram h;
  if (!j.is_object()) return h;
  auto u64 = [](const nlohmann::json& o, const char* k) -> std::uint64_t {
    auto it = o.find(k);
    return it != o.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
  };
  h.nodes = u64(j, "nodes");
  h.total_self_size = u64(j, "total_self_size");
  if (auto c = j.find("complete"); c != j.end() && c->is_boolean()) h.complete = c->get<bool>();
  if (auto cl = j.find("classes"); cl != j.end() && cl->is_array()) {
    for (const auto& e : *cl) {
      if (!e.is_object()) continue;
      auto n = e.find("name");
      if (n == e.end() || !n->is_string()) continue;
      h.classes.push_back({n->get<std::string>(), u64(e, "count"), u64(e, "self_size")});
    }
  }
  return h;
}

}  // namespace leakwatch::heapsnap
