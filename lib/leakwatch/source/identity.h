#pragma once
// Resolves the target's identity (core/identity.h) once, when the daemon starts: inside an ECS task
// (source ecs, or ECS_CONTAINER_METADATA_URI_V4 set) from the task metadata endpoint v4 `/task`,
// otherwise, or when that fails, the host name.
#include <string>

#include "leakwatch/core/identity.h"
#include "leakwatch/core/result.h"
#include "leakwatch/source/settings.h"

namespace leakwatch::source {

// GET <metadata_uri>/task (blocking, bounded by `timeout`, body at most 1 MiB) and ecs_identity()
// for `container` (may be empty: the task's fields only). Errors: the HTTP client's, http_<status>,
// parse, no_container.
core::Result<core::TargetIdentity> fetch_ecs_identity(const std::string& metadata_uri,
                                                      const std::string& container,
                                                      std::chrono::milliseconds timeout);

struct ResolvedIdentity {
  core::TargetIdentity identity;
  std::string warning;  // why the ECS identity could not be read (then `identity` is the host's)
};
// The identity for `target`: ECS when the source is ecs or the ECS metadata variable is set (the
// container is target.ecs_container), else the host's.
ResolvedIdentity resolve_identity(const TargetSettings& target);

}  // namespace leakwatch::source
