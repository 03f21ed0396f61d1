#include "leakwatch/config/reader.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "leakwatch/core/secret_file.h"
#include "leakwatch/core/units.h"

namespace leakwatch::config {

std::string Problem::to_string() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line) + ":" + std::to_string(column);
  s += ": ";
  if (!key_path.empty()) s += key_path + ": ";
  return s + message;
}

namespace {
Problem make_problem(const Context& ctx, const YAML::Node& at, const std::string& key_path,
                     std::string message) {
  Problem p{ctx.file, 0, 0, key_path, std::move(message)};
  if (at.IsDefined()) {
    auto m = at.Mark();
    if (m.line >= 0) {
      p.line = m.line + 1;
      p.column = m.column + 1;
    }
  }
  return p;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "undefined";
  }
}
}  // namespace

void Context::problem(const YAML::Node& at, const std::string& key_path, std::string message) {
  problems.push_back(make_problem(*this, at, key_path, std::move(message)));
}
void Context::warning(const YAML::Node& at, const std::string& key_path, std::string message) {
  warnings.push_back(make_problem(*this, at, key_path, std::move(message)));
}

std::string expand_env(const std::string& text, const Context& ctx, std::string* error) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '$') {  // "$$" escapes "$"
      out.push_back('$');
      i += 2;
      continue;
    }
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      auto close = text.find('}', i + 2);
      if (close == std::string::npos) {
        if (error) *error = "unterminated ${ in value";
        return text;
      }
      std::string inner = text.substr(i + 2, close - i - 2);
      std::string name = inner, fallback;
      bool has_fallback = false;
      if (auto d = inner.find(":-"); d != std::string::npos) {
        name = inner.substr(0, d);
        fallback = inner.substr(d + 2);
        has_fallback = true;
      }
      std::optional<std::string> v = ctx.getenv ? ctx.getenv(name) : std::nullopt;
      if (v && !v->empty()) {
        out += *v;
      } else if (has_fallback) {
        out += fallback;
      } else {
        if (error) *error = "environment variable " + name + " is not set";
        return text;
      }
      i = close + 1;
      continue;
    }
    out.push_back(text[i++]);
  }
  return out;
}

Section::Section(Context& ctx, YAML::Node node, std::string path)
    : ctx_(ctx), node_(std::move(node)), path_(std::move(path)) {
  if (present() && !node_.IsMap()) {
    ctx_.problem(node_, path_, "must be a mapping of keys to values, got " + type_name(node_));
    shape_ok_ = false;
  }
}

std::string Section::child_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void Section::problem(const std::string& key, std::string message) {
  const YAML::Node& n = node_;
  ctx_.problem(shape_ok_ && present() && n[key] ? n[key] : node_, child_path(key),
               std::move(message));
}

bool Section::has(const std::string& key) const {
  if (!present() || !shape_ok_) return false;
  const YAML::Node& n = node_;
  return n[key].IsDefined();
}

bool Section::require(const std::string& key) {
  known_.insert(key);
  if (has(key) && !static_cast<const YAML::Node&>(node_)[key].IsNull()) return true;
  if (shape_ok_)
    ctx_.problem(node_, child_path(key),
                 "required key is missing" + (path_.empty() ? std::string() : " in " + path_));
  return false;
}

bool Section::scalar(const std::string& key, std::string& out) {
  known_.insert(key);
  if (!has(key)) return false;
  const YAML::Node& n = static_cast<const YAML::Node&>(node_)[key];
  if (n.IsNull()) return false;
  if (!n.IsScalar()) {
    ctx_.problem(n, child_path(key), "expected a single value, got " + type_name(n));
    return false;
  }
  std::string err;
  out = expand_env(n.Scalar(), ctx_, &err);
  if (!err.empty()) {
    ctx_.problem(n, child_path(key), err);
    return false;
  }
  return true;
}

void Section::str(const std::string& key, std::string& out) {
  std::string s;
  if (scalar(key, s)) out = s;
}

void Section::boolean(const std::string& key, bool& out) {
  std::string s;
  if (!scalar(key, s)) return;
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "true" || l == "yes" || l == "on") {
    out = true;
  } else if (l == "false" || l == "no" || l == "off") {
    out = false;
  } else {
    problem(key, "expected true or false, got '" + s + "'");
  }
}

void Section::integer(const std::string& key, std::int64_t& out, std::int64_t min,
                      std::int64_t max) {
  std::string s;
  if (!scalar(key, s)) return;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno == ERANGE) {
    problem(key, "expected a whole number, got '" + s + "'");
    return;
  }
  if (v < min || v > max) {
    problem(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + std::to_string(v));
    return;
  }
  out = v;
}

void Section::number(const std::string& key, double& out, double min, double max) {
  std::string s;
  if (!scalar(key, s)) return;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) {
    problem(key, "expected a number, got '" + s + "'");
    return;
  }
  if (v < min || v > max) {
    problem(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + s);
    return;
  }
  out = v;
}

void Section::size(const std::string& key, std::uint64_t& out, std::uint64_t min,
                   std::uint64_t max) {
  std::string s;
  if (!scalar(key, s)) return;
  auto r = core::parse_size(s);
  if (!r.ok()) {
    problem(key, r.error().message + " (got '" + s + "')");
    return;
  }
  if (*r < min || *r > max) {
    problem(key, "must be between " + core::format_bytes(static_cast<double>(min)) + " and " +
                     core::format_bytes(static_cast<double>(max)) + ", got '" + s + "'");
    return;
  }
  out = *r;
}

void Section::optional_size(const std::string& key, std::optional<std::uint64_t>& out) {
  std::string s;
  if (!scalar(key, s)) return;
  if (s == "none" || s == "max" || s == "unlimited") {
    out.reset();
    return;
  }
  auto r = core::parse_size(s);
  if (!r.ok()) {
    problem(key, r.error().message + " (got '" + s + "')");
    return;
  }
  out = *r;
}

void Section::percent(const std::string& key, double& out, double min, double max) {
  std::string s;
  if (!scalar(key, s)) return;
  auto r = core::parse_percent(s);
  if (!r.ok()) {
    problem(key, r.error().message + " (got '" + s + "')");
    return;
  }
  if (*r < min || *r > max) {
    problem(key, "must be between " + std::to_string(static_cast<int>(min * 100)) + "% and " +
                     std::to_string(static_cast<int>(max * 100)) + "%, got '" + s + "'");
    return;
  }
  out = *r;
}

void Section::duration_ms(const std::string& key, std::chrono::milliseconds& out,
                          std::chrono::milliseconds min, std::chrono::milliseconds max) {
  std::string s;
  if (!scalar(key, s)) return;
  auto r = core::parse_duration(s);
  if (!r.ok()) {
    problem(key, r.error().message + " (got '" + s + "')");
    return;
  }
  if (*r < min || *r > max) {
    auto fmt = [](std::chrono::milliseconds d) {
      return d.count() < 1000
                 ? std::to_string(d.count()) + "ms"
                 : core::format_duration_seconds(static_cast<double>(d.count()) / 1000.0);
    };
    problem(key, "must be between " + fmt(min) + " and " + fmt(max) + ", got '" + s + "'");
    return;
  }
  out = *r;
}

void Section::secret(const std::string& key, core::Secret& out) {
  known_.insert(key);
  if (!has(key)) return;
  const YAML::Node& n = static_cast<const YAML::Node&>(node_)[key];
  std::string path = child_path(key);
  if (n.IsNull()) return;
  if (n.IsScalar()) {
    std::string err;
    std::string v = expand_env(n.Scalar(), ctx_, &err);
    if (!err.empty()) {
      ctx_.problem(n, path, err);
      return;
    }
    ctx_.warning(n, path,
                 "secret written inline in the config file: use { env: NAME } or "
                 "{ file: PATH } outside of tests");
    out = core::Secret(v, "inline in " + ctx_.file);
    return;
  }
  if (!n.IsMap()) {
    ctx_.problem(n, path, "a secret must be { env: NAME } or { file: PATH }");
    return;
  }
  Section s(ctx_, n, path);
  std::string env, file;
  s.str("env", env);
  s.str("file", file);
  s.finish();
  if (env.empty() == file.empty()) {
    ctx_.problem(n, path, "a secret must have exactly one of env: or file:");
    return;
  }
  if (!ctx_.resolve_secrets) {
    out = core::Secret::unresolved(env.empty() ? "file " + file : "env " + env);
    return;
  }
  if (!env.empty()) {
    auto v = ctx_.getenv ? ctx_.getenv(env) : std::nullopt;
    if (!v || v->empty()) {
      ctx_.problem(n, path, "environment variable " + env + " is not set or empty");
      return;
    }
    out = core::Secret(*v, "env " + env);
    return;
  }
  std::filesystem::path p(file);
  if (p.is_relative() && !ctx_.base_dir.empty()) p = std::filesystem::path(ctx_.base_dir) / p;
  auto r = core::read_secret_file(p);
  if (!r.ok()) {
    ctx_.problem(n, path,
                 r.error().code == core::Errc::empty
                     ? r.error().message
                     : "cannot read secret file: " + r.error().message);
    return;
  }
  out = std::move(*r);
}

void Section::string_list(const std::string& key, std::vector<std::string>& out) {
  known_.insert(key);
  if (!has(key)) return;
  const YAML::Node& n = static_cast<const YAML::Node&>(node_)[key];
  if (n.IsNull()) return;
  if (!n.IsSequence()) {
    ctx_.problem(n, child_path(key), "expected a list, got " + type_name(n));
    return;
  }
  std::vector<std::string> v;
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (!n[i].IsScalar()) {
      ctx_.problem(n[i], child_path(key) + "[" + std::to_string(i) + "]", "expected a string");
      return;
    }
    v.push_back(n[i].Scalar());
  }
  out = std::move(v);
}

Section Section::section(const std::string& key) {
  known_.insert(key);
  if (!has(key)) return Section(ctx_, YAML::Node(YAML::NodeType::Undefined), child_path(key));
  return Section(ctx_, static_cast<const YAML::Node&>(node_)[key], child_path(key));
}

std::vector<Section> Section::list(const std::string& key) {
  known_.insert(key);
  std::vector<Section> out;
  if (!has(key)) return out;
  const YAML::Node& n = static_cast<const YAML::Node&>(node_)[key];
  if (n.IsNull()) return out;
  if (!n.IsSequence()) {
    ctx_.problem(n, child_path(key), "expected a list, got " + type_name(n));
    return out;
  }
  for (std::size_t i = 0; i < n.size(); ++i)
    out.emplace_back(ctx_, n[i], child_path(key) + "[" + std::to_string(i) + "]");
  return out;
}

void Section::finish() {
  // Key paths with list indexes folded: alerts.slack[0].name -> alerts.slack[].name.
  std::string generic;
  for (std::size_t i = 0; i < path_.size(); ++i) {
    if (path_[i] == '[') {
      generic += "[]";
      while (i < path_.size() && path_[i] != ']')
        ++i;
    } else {
      generic += path_[i];
    }
  }
  for (const auto& k : known_) {
    bool& set = ctx_.keys[generic.empty() ? k : generic + "." + k];
    set = set || has(k);
  }
  if (!present() || !shape_ok_) return;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    std::string k = it->first.Scalar();
    if (known_.count(k)) continue;
    std::string best;
    std::size_t best_d = 3;
    for (const auto& cand : known_) {
      auto d = edit_distance(k, cand);
      if (d < best_d) {
        best_d = d;
        best = cand;
      }
    }
    ctx_.problem(
        it->first, child_path(k),
        "unknown key" + (best.empty() ? std::string() : " (did you mean '" + best + "'?)"));
  }
}

}  // namespace leakwatch::config
