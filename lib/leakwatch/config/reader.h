#pragma once
// The YAML front end of the configuration pipeline (YAML → typed structs → validation → objects).
// A Section wraps one YAML mapping: typed getters convert and range-check values, every problem is
// collected (never thrown) with file:line:column and the key path, and finish() reports the keys
// nobody asked for — usually typos — with a suggestion.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "leakwatch/config/problem.h"
#include "leakwatch/core/secret.h"

namespace leakwatch::config {

// Shared state of one load: file name, collected problems and warnings, environment lookup.
struct Context {
  std::string file;
  std::vector<Problem> problems;
  std::vector<Problem> warnings;
  std::function<std::optional<std::string>(const std::string&)> getenv;  // injectable for tests
  std::string base_dir;         // relative secret files resolve against the config file's directory
  bool resolve_secrets = true;  // false: secrets get a placeholder value (browsing commands)
  // Every key path the loader knows (list indexes written `[]`), true where the file sets it:
  // lets tests hold the example file and docs/configuration.md to the keys the code reads.
  std::map<std::string, bool> keys;

  void problem(const YAML::Node& at, const std::string& key_path, std::string message);
  void warning(const YAML::Node& at, const std::string& key_path, std::string message);
};

class Section {
 public:
  // `node` may be undefined/null (the section is absent: every getter keeps its default).
  Section(Context& ctx, YAML::Node node, std::string path);

  bool present() const { return node_.IsDefined() && !node_.IsNull(); }
  bool has(const std::string& key) const;
  const std::string& path() const { return path_; }
  YAML::Node node() const { return node_; }

  // Each getter leaves `out` untouched when the key is absent (the default stays) or invalid.
  void str(const std::string& key, std::string& out);
  void boolean(const std::string& key, bool& out);
  void integer(const std::string& key, std::int64_t& out, std::int64_t min, std::int64_t max);
  template <typename Int>
  void integer(const std::string& key, Int& out, std::int64_t min, std::int64_t max) {
    std::int64_t v = static_cast<std::int64_t>(out);
    integer(key, v, min, max);
    out = static_cast<Int>(v);
  }
  void number(const std::string& key, double& out, double min, double max);
  void size(const std::string& key, std::uint64_t& out, std::uint64_t min = 0,
            std::uint64_t max = UINT64_MAX);
  void optional_size(const std::string& key, std::optional<std::uint64_t>& out);
  void percent(const std::string& key, double& out, double min = 0.0, double max = 1.0);
  template <typename Rep, typename Period>
  void duration(const std::string& key, std::chrono::duration<Rep, Period>& out,
                std::chrono::milliseconds min = std::chrono::milliseconds(0),
                std::chrono::milliseconds max = std::chrono::hours(24 * 365)) {
    std::chrono::milliseconds ms = std::chrono::duration_cast<std::chrono::milliseconds>(out);
    duration_ms(key, ms, min, max);
    out = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(ms);
  }
  // A secret: { env: NAME } or { file: PATH } (or a plain string, accepted with a warning).
  void secret(const std::string& key, core::Secret& out);
  // A string from a fixed set of choices.
  template <typename E>
  void choice(const std::string& key, E& out,
              const std::vector<std::pair<std::string, E>>& options) {
    std::string s;
    if (!scalar(key, s)) return;
    for (const auto& [name, value] : options)
      if (name == s) {
        out = value;
        return;
      }
    std::string list;
    for (const auto& [name, value] : options)
      list += (list.empty() ? "" : ", ") + name;
    ctx_.problem(node_[key], child_path(key), "must be one of: " + list + " (got '" + s + "')");
  }
  void string_list(const std::string& key, std::vector<std::string>& out);

  // Marks `key` as required: a problem when absent.
  bool require(const std::string& key);
  // A nested mapping (absent → an empty Section whose getters keep defaults).
  Section section(const std::string& key);
  // A sequence of mappings.
  std::vector<Section> list(const std::string& key);
  // Keys that are valid but read by code elsewhere.
  void accept(const std::string& key) { known_.insert(key); }

  // Reports unknown keys (with "did you mean" suggestions). Call once all getters ran.
  void finish();

  Context& context() { return ctx_; }
  std::string child_path(const std::string& key) const;
  void problem(const std::string& key, std::string message);

 private:
  bool scalar(const std::string& key, std::string& out);
  void duration_ms(const std::string& key, std::chrono::milliseconds& out,
                   std::chrono::milliseconds min, std::chrono::milliseconds max);

  Context& ctx_;
  YAML::Node node_;
  std::string path_;
  std::set<std::string> known_;
  bool shape_ok_ = true;
};

// ${NAME} and ${NAME:-default} expansion; unknown variables are reported through `error`.
std::string expand_env(const std::string& text, const Context& ctx, std::string* error);

}  // namespace leakwatch::config
