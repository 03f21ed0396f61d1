#include "leakwatch/s3/identity.h"

#include <cctype>

namespace leakwatch::s3 {

std::string region_from_az(std::string_view az) {
  // Regions end in a digit; an AZ name adds one or more letters ("us-east-1a", "us-west-2-lax-1a").
  std::string s(az);
  while (!s.empty() && std::isalpha(static_cast<unsigned char>(s.back())))
    s.pop_back();
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.back())) ||
      s.find('-') == std::string::npos)
    return {};
  return s;
}

std::string key_segment(std::string_view s) {
  std::string out;
  for (unsigned char c : s)
    out.push_back(std::isalnum(c) || c == '.' || c == '_' || c == '-' ? static_cast<char>(c) : '_');
  if (out.empty() || out == "." || out == "..") return "unknown";
  return out;
}

std::string object_key(const std::string& prefix, const TaskIdentity& id, const std::string& target,
                       const std::string& file) {
  std::string p = prefix;
  while (!p.empty() && p.back() == '/')
    p.pop_back();
  while (!p.empty() && p.front() == '/')
    p.erase(0, 1);
  auto or_host = [&](const std::string& v) { return key_segment(v.empty() ? id.host : v); };
  std::string key = p.empty() ? "" : p + "/";
  key += or_host(id.cluster) + "/" + or_host(id.family) + "/" + or_host(id.task_id) + "/" +
         key_segment(target) + "/" + key_segment(file);
  return key;
}

}  // namespace leakwatch::s3
