// Every string of a JSON document, one per line: for checking what an alert payload says wherever
// its format puts it (Slack blocks, webhook fields, Alertmanager annotations).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace leakwatch::testing {

inline std::string all_text(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>() + "\n";
  std::string s;
  if (j.is_structured())
    for (const auto& x : j)
      s += all_text(x);
  return s;
}

}  // namespace leakwatch::testing
