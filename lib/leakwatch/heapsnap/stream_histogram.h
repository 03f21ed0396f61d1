#pragma once
// Numbers at capture time: a per-constructor histogram (count, self size) of a V8 heap snapshot,
// computed from the bytes as they stream to disk, chunk by chunk, without holding the snapshot.
//
// Memory is bounded by the number of distinct class names (capped at `max_classes`; the rest is
// counted in "(other)"), never by the heap: the node array is folded into counters as it passes,
// and only the strings that name a counted class are kept (cut at `max_name_bytes`, on a UTF-8
// character boundary, invalid UTF-8 replaced by U+FFFD).
//
// Grouping: objects, native objects and closures by their constructor name as V8 writes it (a
// plain object is `Object`: the shape names DevTools' Summary shows need the property edges, which
// are not kept); other node types by their type, as in DevTools: "(string)", "(array)", "(system)",
// "(compiled code)", "(number)", ... Hostile input never aborts: a malformed stream stops the
// histogram (complete() is false) and feed() keeps accepting bytes.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace leakwatch::heapsnap {

struct HistogramEntry {
  std::string name;
  std::uint64_t count = 0;
  std::uint64_t self_size = 0;
};

struct Histogram {
  std::vector<HistogramEntry> classes;  // by self size, biggest first
  std::uint64_t nodes = 0;
  std::uint64_t total_self_size = 0;
  bool complete = false;  // the whole snapshot was read and understood
};

// Per-class change from `base` to `target`, by size delta (biggest growth first), at most `top`.
struct HistogramDelta {
  std::string name;
  std::int64_t count_delta = 0;
  std::int64_t size_delta = 0;
};
std::vector<HistogramDelta> histogram_delta(const Histogram& base, const Histogram& target,
                                            std::size_t top = 10);

nlohmann::json to_json(const Histogram& h);
// Total: anything unexpected yields an empty, incomplete histogram.
Histogram histogram_from_json(const nlohmann::json& j);

class StreamHistogram {
 public:
  struct Limits {
    std::size_t max_classes = 20000;
    std::size_t max_name_bytes = 200;
    std::size_t max_depth = 64;
  };
  StreamHistogram() : StreamHistogram(Limits{}) {}
  explicit StreamHistogram(Limits limits);

  // Feeds the next bytes of the snapshot. Never throws.
  void feed(std::string_view chunk) noexcept;
  // The histogram so far; complete when the whole document was read and understood. Keeps at most
  // `max_entries` classes (the biggest by self size).
  Histogram result(std::size_t max_entries = 500) const;
  bool failed() const { return failed_; }

 private:
  enum class Tok { none, string, number, literal };
  enum class Where { other, node_fields, node_types, nodes, strings };
  void fail() { failed_ = true; }
  void on_char(char c);
  void begin_value();
  void end_string();
  void end_number();
  void on_scalar_done();
  Where compute_where() const;
  void node_value(std::uint64_t v);
  void add_node();

  Limits limits_;
  bool failed_ = false;
  bool done_ = false;
  // Tokenizer.
  struct Frame {
    bool object = false;
    bool expect_key = false;  // object: the next string is a key
    std::string key;          // object: the key of the current member (cut)
    std::uint64_t index = 0;  // array: index of the current element
  };
  std::vector<Frame> stack_;
  Tok tok_ = Tok::none;
  bool after_value_ = false;  // a value ended: only ',' ']' '}' or whitespace may follow
  bool in_key_ = false;
  bool escape_ = false;
  int unicode_left_ = 0;
  std::uint32_t unicode_ = 0;
  std::uint32_t high_surrogate_ = 0;
  std::string text_;  // string (cut) or number being read
  bool keep_text_ = false;
  std::size_t literal_len_ = 0;
  std::uint64_t num_ = 0;  // number being read (only node values are used)
  bool num_ok_ = false;    // a plain non-negative integer that fits
  std::size_t num_len_ = 0;
  Where where_ = Where::other;  // where the parser is; recomputed when the path changes

  // Snapshot meta.
  std::vector<std::string> node_fields_;
  std::vector<std::string> node_types_;
  int f_type_ = -1, f_name_ = -1, f_size_ = -1;
  std::size_t field_count_ = 0;
  std::vector<int> type_group_;  // per node type: -1 = by name, else a fixed label index
  std::vector<std::string> labels_;

  // Nodes.
  std::size_t field_ = 0;
  std::uint64_t cur_type_ = 0, cur_name_ = 0, cur_size_ = 0;
  bool nodes_seen_ = false;
  struct Counter {
    std::uint64_t count = 0;
    std::uint64_t self_size = 0;
  };
  // Key: name string index for named groups; (1 << 63) | label index for fixed labels.
  std::unordered_map<std::uint64_t, Counter> counters_;
  Counter other_;
  std::uint64_t nodes_ = 0;
  std::uint64_t total_ = 0;
  // Strings: the names of counted classes, by string index.
  std::unordered_map<std::uint64_t, std::string> names_;
  bool strings_seen_ = false;
};

}  // namespace leakwatch::heapsnap
