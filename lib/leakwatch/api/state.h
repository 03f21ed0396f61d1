#pragma once
// What the HTTP API reads the status through. The status itself is the engine's one status type
// (engine/status.h): the same value feeds /status, the metrics and the dashboard.
//
// The API calls `snapshot()` once per request, on the io thread, so no lock is needed.
#include <functional>

#include "leakwatch/engine/status.h"

namespace leakwatch::api {

class StateProvider {
 public:
  virtual ~StateProvider() = default;
  // A consistent copy of the current status. Called on the io thread, once per request.
  virtual engine::Status snapshot() const = 0;
};

// A provider holding one status that its owner replaces or edits on the io thread (tests, demos).
class SharedState final : public StateProvider {
 public:
  engine::Status snapshot() const override { return state_; }
  engine::Status& state() { return state_; }
  void update(const std::function<void(engine::Status&)>& edit) { edit(state_); }

 private:
  engine::Status state_;
};

}  // namespace leakwatch::api
