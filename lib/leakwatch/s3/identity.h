#pragma once
// Who is uploading: the ECS task (from the task metadata endpoint v4 `/task`) or, outside ECS, the
// host. It names the fleet in S3 keys: <prefix>/<cluster>/<family>/<task id>/<target>/<file>.
#include <string>
#include <string_view>

#include "leakwatch/core/result.h"

namespace leakwatch::s3 {

struct TaskIdentity {
  bool ecs = false;
  std::string cluster;   // short name (the ARN's last segment)
  std::string task_arn;  // empty outside ECS
  std::string task_id;   // the task ARN's last segment; the host name outside ECS
  std::string family;    // task definition family; the host name outside ECS
  std::string revision;  // task definition revision
  std::string availability_zone;
};

// The host name in every place (outside ECS).
TaskIdentity host_identity();
// Parses `/task` (Cluster, TaskARN, Family, Revision, AvailabilityZone). Errors: "parse".
core::Result<TaskIdentity> parse_ecs_task_identity(std::string_view json);
// GET <metadata_uri>/task (ECS_CONTAINER_METADATA_URI_V4). Errors: the http client's, "parse".
core::Result<TaskIdentity> fetch_ecs_identity(const std::string& metadata_uri);
// "eu-west-1a" -> "eu-west-1" (also "use1-az1"-style ids give ""), for the default region.
std::string region_from_az(std::string_view az);
// A key segment: anything outside [A-Za-z0-9._-] becomes '_'; empty -> "unknown".
std::string key_segment(std::string_view s);
// <prefix>/<cluster>/<family>/<task id>/<target>/<file> (prefix omitted when empty).
std::string object_key(const std::string& prefix, const TaskIdentity& id, const std::string& target,
                       const std::string& file);

}  // namespace leakwatch::s3
