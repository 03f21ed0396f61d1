#include "leakwatch/core/secret.h"

namespace leakwatch::core {

std::string redact(std::string text, const Secret& secret) {
  const std::string& v = secret.reveal();
  if (v.size() < 4) return text;  // too short to redact meaningfully without mangling text
  for (std::size_t pos = text.find(v); pos != std::string::npos; pos = text.find(v, pos)) {
    text.replace(pos, v.size(), "<redacted>");
    pos += 10;
  }
  return text;
}

}  // namespace leakwatch::core
