#include "leakwatch/s3/identity.h"

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "leakwatch/http/client.h"

namespace leakwatch::s3 {

TaskIdentity host_identity() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) buf[0] = '\0';
  std::string host = key_segment(buf);
  TaskIdentity id;
  id.cluster = id.family = id.task_id = host;
  return id;
}

core::Result<TaskIdentity> parse_ecs_task_identity(std::string_view json) {
  auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return core::make_error("parse", "the ECS task metadata is not a JSON object");
  auto str = [&](const char* k) -> std::string {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  TaskIdentity id;
  id.ecs = true;
  std::string cluster = str("Cluster");
  id.cluster = cluster.substr(cluster.rfind('/') == std::string::npos ? 0 : cluster.rfind('/') + 1);
  id.task_arn = str("TaskARN");
  id.task_id = id.task_arn.substr(
      id.task_arn.rfind('/') == std::string::npos ? 0 : id.task_arn.rfind('/') + 1);
  id.family = str("Family");
  id.revision = str("Revision");
  id.availability_zone = str("AvailabilityZone");
  if (id.task_arn.empty() || id.family.empty())
    return core::make_error("parse", "the ECS task metadata has no TaskARN or Family");
  return id;
}

core::Result<TaskIdentity> fetch_ecs_identity(const std::string& metadata_uri) {
  auto u = http::Url::parse(metadata_uri + "/task");
  if (!u.ok()) return u.error();
  http::Request req;
  req.url = *u;
  req.connect_timeout = std::chrono::seconds(2);
  req.total_timeout = std::chrono::seconds(5);
  req.max_body_bytes = 1 << 20;
  auto r = http::fetch_sync(std::move(req));
  if (!r.ok()) return r.error();
  if (r->status != 200)
    return core::make_error("http_" + std::to_string(r->status),
                            "ECS task metadata: HTTP " + std::to_string(r->status));
  return parse_ecs_task_identity(r->body);
}

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
  std::string key = p.empty() ? "" : p + "/";
  key += key_segment(id.cluster) + "/" + key_segment(id.family) + "/" + key_segment(id.task_id) +
         "/" + key_segment(target) + "/" + key_segment(file);
  return key;
}

}  // namespace leakwatch::s3
