#pragma once
// The S3 key layout names the fleet: <prefix>/<cluster>/<family>/<task id>/<target>/<file>, from
// the target's identity (core/identity.h, resolved once by source/identity.h). Outside ECS the host
// name stands for cluster, family and task.
#include <string>
#include <string_view>

#include "leakwatch/core/identity.h"

namespace leakwatch::s3 {

using TaskIdentity = core::TargetIdentity;

// "eu-west-1a" -> "eu-west-1" (also "use1-az1"-style ids give ""), for the default region.
std::string region_from_az(std::string_view az);
// A key segment: anything outside [A-Za-z0-9._-] becomes '_'; empty -> "unknown".
std::string key_segment(std::string_view s);
// <prefix>/<cluster>/<family>/<task id>/<target>/<file> (prefix omitted when empty); the host name
// in place of each of cluster, family and task id that the identity lacks.
std::string object_key(const std::string& prefix, const TaskIdentity& id, const std::string& target,
                       const std::string& file);

}  // namespace leakwatch::s3
