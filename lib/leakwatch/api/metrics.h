#pragma once
// Prometheus text exposition format 0.0.4. The data model (families of samples) is separate from
// the text: `render_metrics` is a pure function from an engine::Status to text, tested on
// hand-built states.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "leakwatch/api/state.h"

namespace leakwatch::api {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

struct MetricSample {
  using Labels = std::vector<std::pair<std::string, std::string>>;
  MetricSample() = default;
  MetricSample(Labels l, double v, std::string s = {})
      : labels(std::move(l)), value(v), suffix(std::move(s)) {}

  Labels labels;
  double value = 0;
  std::string suffix;  // "_sum" / "_count" for a summary's samples
};

struct MetricFamily {
  std::string name;
  std::string help;
  std::string type;  // gauge | counter | summary | untyped
  std::vector<MetricSample> samples;
};

// Label values: backslash, double quote and line feed escaped. HELP text: backslash and line feed.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);
// Go-style float formatting: integers without exponent up to 2^53, "+Inf", "-Inf", "NaN".
std::string format_value(double v);

std::string render(const std::vector<MetricFamily>& families);

// Every leakwatch metric (see docs/api.md for the list).
std::vector<MetricFamily> collect_metrics(const engine::Status& state);
inline std::string render_metrics(const engine::Status& state) {
  return render(collect_metrics(state));
}

}  // namespace leakwatch::api
