// An ECS target identity as source::ecs_identity builds it, with only the fields the alert tests
// look at.
#pragma once

#include <string>

#include "leakwatch/core/identity.h"

namespace leakwatch::testing {

inline core::TargetIdentity ecs_task(const std::string& cluster, const std::string& task_id,
                                     const std::string& family, const std::string& revision,
                                     const std::string& container) {
  core::TargetIdentity t;
  t.platform = "ecs";
  t.cluster = cluster;
  t.task_id = task_id;
  t.task_arn = "arn:aws:ecs:eu-west-1:1:task/" + cluster + "/" + task_id;
  t.family = family;
  t.revision = revision;
  t.container = container;
  return t;
}

}  // namespace leakwatch::testing
