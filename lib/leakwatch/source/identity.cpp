#include "leakwatch/source/identity.h"

#include <cstdlib>

#include "leakwatch/http/client.h"
#include "leakwatch/source/ecs.h"

namespace leakwatch::source {

core::Result<core::TargetIdentity> fetch_ecs_identity(const std::string& metadata_uri,
                                                      const std::string& container,
                                                      std::chrono::milliseconds timeout) {
  std::string base = metadata_uri;
  while (!base.empty() && base.back() == '/')
    base.pop_back();
  auto u = http::Url::parse(base + "/task");
  if (!u.ok()) return u.error();
  http::Request req;
  req.url = *u;
  req.connect_timeout = timeout;
  req.idle_timeout = timeout;
  req.total_timeout = timeout;
  req.max_body_bytes = 1 << 20;
  auto r = http::fetch_sync(std::move(req));
  if (!r.ok()) return r.error();
  if (r->status != 200)
    return core::make_error(core::Errc::http_status,
                            "ECS task metadata: HTTP " + std::to_string(r->status),
                            std::to_string(r->status));
  auto task = parse_ecs_task(r->body);
  if (!task.ok()) return task.error();
  auto id = ecs_identity(*task, container);
  if (!id.ok()) return id.error();
  // The host name too: on EC2 it names the container instance's view, on Fargate the task's.
  id->host = core::host_identity().host;
  return id;
}

ResolvedIdentity resolve_identity(const TargetSettings& target) {
  std::string uri = target.ecs_metadata_uri;
  if (const char* env = std::getenv("ECS_CONTAINER_METADATA_URI_V4"); uri.empty() && env) uri = env;
  if (target.source != SourceKind::ecs && uri.empty()) return {core::host_identity(), {}};
  if (uri.empty()) return {core::host_identity(), "ECS_CONTAINER_METADATA_URI_V4 is not set"};
  auto id = fetch_ecs_identity(
      uri, target.source == SourceKind::ecs ? target.ecs_container : std::string(),
      target.ecs_timeout);
  if (!id.ok()) return {core::host_identity(), id.error().to_string()};
  return {std::move(*id), {}};
}

}  // namespace leakwatch::source
