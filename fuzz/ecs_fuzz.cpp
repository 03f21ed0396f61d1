// libFuzzer target: the ECS task metadata endpoint's JSON parsers (task, task stats, one Docker
// stats object) and the sample built from them must never crash or throw on any input. The first
// byte picks the parser, so one corpus covers all three.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "leakwatch/source/ecs.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace leakwatch::source;
  if (size == 0) return 0;
  std::string_view json(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      auto task = parse_ecs_task(json);
      if (task.ok()) {
        // Pair the task with stats keyed by its own container ids.
        auto stats = parse_ecs_task_stats(json);
        if (stats.ok() && !task->containers.empty())
          (void)ecs_sample(*task, *stats, task->containers.front().name, {});
      }
      break;
    }
    case 1:
      (void)parse_ecs_task_stats(json);
      break;
    default:
      (void)parse_docker_stats(json);
      break;
  }
  return 0;
}
