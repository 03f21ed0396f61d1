#pragma once
// Where the watched target runs: the ECS task (from the task metadata endpoint v4) or, outside ECS,
// the host. Resolved once when the daemon starts (source/identity.h) and then copied as it is into
// every alert, every archived snapshot's metadata, the status API, the `leakwatch_target_info`
// metric and the S3 key layout, so that each surface names the same task with the same words.
//
// It holds names, never secrets: no environment, no credentials, no container labels or log
// options. Every value is external text, so it is stored cleaned (identity_value): valid UTF-8, no
// control characters, at most kIdentityValueMax bytes.
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leakwatch::core {

inline constexpr std::size_t kIdentityValueMax = 256;

struct TargetIdentity {
  std::string platform;           // "ecs" or "host"; empty: unknown
  std::string cluster;            // ECS cluster, short name (the ARN's last segment)
  std::string service;            // ECS service name, when the metadata gives it
  std::string family;             // task definition family
  std::string revision;           // task definition revision
  std::string task_arn;           // full task ARN
  std::string task_id;            // the task ARN's last segment
  std::string container;          // the target's container name in the task
  std::string container_id;       // its DockerId when leakwatch started
  std::string image;              // its image reference
  std::string image_digest;       // its image manifest digest ("sha256:...")
  std::string availability_zone;  // e.g. "eu-west-1a"
  std::string launch_type;        // EC2, FARGATE, MANAGED_INSTANCES
  std::string host;               // the host name (outside ECS; also set on ECS when known)

  bool ecs() const { return platform == "ecs"; }
  bool empty() const { return fields().empty(); }
  // "family:revision", "family", or "".
  std::string family_revision() const;
  // The known fields, in a fixed order, as (name, value) with the names every surface uses:
  // platform, cluster, service, task_family, task_revision, task_arn, task_id, container,
  // container_id, image, image_digest, availability_zone, launch_type, host. Empty values are left
  // out.
  std::vector<std::pair<std::string, std::string>> fields() const;
  // Sets the field called `name` (one of the names above) to identity_value(value); false for an
  // unknown name. Reading identities back (archived metadata) goes through here.
  bool set(std::string_view name, std::string_view value);

  bool operator==(const TargetIdentity&) const = default;
};

// A value as every surface may show it: valid UTF-8, control characters replaced by '?', at most
// kIdentityValueMax bytes (a cut value ends with "…").
std::string identity_value(std::string_view raw);

// Outside ECS: platform "host" and the host name.
TargetIdentity host_identity();

}  // namespace leakwatch::core
