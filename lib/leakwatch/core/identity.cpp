#include "leakwatch/core/identity.h"

#include <unistd.h>

#include "leakwatch/core/utf8.h"

namespace leakwatch::core {

namespace {

// One table for fields() and set(), so the names cannot drift apart.
template <typename Id, typename F>
void each_field(Id& id, F&& f) {
  f("platform", id.platform);
  f("cluster", id.cluster);
  f("service", id.service);
  f("task_family", id.family);
  f("task_revision", id.revision);
  f("task_arn", id.task_arn);
  f("task_id", id.task_id);
  f("container", id.container);
  f("container_id", id.container_id);
  f("image", id.image);
  f("image_digest", id.image_digest);
  f("availability_zone", id.availability_zone);
  f("launch_type", id.launch_type);
  f("host", id.host);
}

}  // namespace

std::string TargetIdentity::family_revision() const {
  if (family.empty()) return {};
  return revision.empty() ? family : family + ":" + revision;
}

std::vector<std::pair<std::string, std::string>> TargetIdentity::fields() const {
  std::vector<std::pair<std::string, std::string>> out;
  each_field(*this, [&](const char* name, const std::string& value) {
    if (!value.empty()) out.emplace_back(name, value);
  });
  return out;
}

bool TargetIdentity::set(std::string_view name, std::string_view value) {
  bool found = false;
  each_field(*this, [&](const char* n, std::string& field) {
    if (!found && name == n) {
      field = identity_value(value);
      found = true;
    }
  });
  return found;
}

std::string identity_value(std::string_view raw) {
  std::string s = display_text(raw, kIdentityValueMax);
  for (auto& c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return s;
}

TargetIdentity host_identity() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) buf[0] = '\0';
  TargetIdentity id;
  id.platform = "host";
  id.host = identity_value(buf);
  return id;
}

}  // namespace leakwatch::core
