#pragma once
// What must survive a restart of leakwatch itself: the detector's aggregated history (so a restart
// during a slow leak does not restart the learning from zero), capture counters (cooldown, daily
// cap), the capture series in progress, the open incidents and the ids of the series' snapshots.
// One JSON file per target in state_dir, written atomically (temp, fsync, rename).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "leakwatch/core/clock.h"
#include "leakwatch/core/result.h"

namespace leakwatch::engine {

inline constexpr int kStateVersion = 1;

class StateStore {
 public:
  StateStore(std::filesystem::path dir, std::string target);

  const std::filesystem::path& path() const { return path_; }

  // The saved state, or an error: "not_found" (first start), "parse" (corrupt: the caller starts
  // fresh and the bad file is kept aside as <name>.corrupt for inspection), "version".
  core::Result<nlohmann::json> load() const;
  // Writes {"version":..., "target":..., "saved_at":..., ...state} atomically.
  core::Status save(const nlohmann::json& state, core::TimePoint now) const;

 private:
  std::filesystem::path dir_;
  std::string target_;
  std::filesystem::path path_;
};

}  // namespace leakwatch::engine
