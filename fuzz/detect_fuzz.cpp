// libFuzzer target: the replay trace reader, the detector fed from it, and the detector's saved
// state. The first byte picks the input: even = a CSV trace (replayed, then saved and restored:
// whatever the detector saves must restore), odd = a state file (restored, then fed and saved);
// its next bits pick the settings.
// Nothing may crash, throw or cast a value out of range.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "leakwatch/detect/detector.h"
#include "leakwatch/detect/trace_csv.h"

namespace {
namespace ld = leakwatch::detect;

ld::DetectorSettings small() {
  // Short windows and buckets, so that short inputs reach the trend tests.
  ld::DetectorSettings s;
  s.bucket = std::chrono::seconds(10);
  s.min_window = std::chrono::minutes(1);
  s.max_window = std::chrono::hours(1);
  s.confirm_window = std::chrono::minutes(3);
  s.fast_window = std::chrono::seconds(0);
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  // Bit 1: short windows; bit 2: fast windows on 30 s buckets of their own (fast_window: 3m).
  auto settings = (data[0] & 2) ? small() : ld::DetectorSettings{};
  if (data[0] & 4) settings.fast_window = std::chrono::minutes(3);
  if (data[0] % 2 == 0) {
    std::istringstream in(text);
    auto reader = ld::TraceReader::open(in);
    if (!reader.ok()) return 0;
    ld::Detector d(settings);
    leakwatch::core::Sample s;
    for (int n = 0; n < 20000; ++n) {
      auto more = reader->next(s);
      if (!more.ok() || !*more) break;
      (void)d.observe(s);
    }
    const auto saved = nlohmann::json::parse(d.save().dump());
    if (!ld::Detector::restore(saved, settings).ok()) __builtin_trap();
    return 0;
  }
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  auto d = ld::Detector::restore(j, settings);
  if (!d.ok()) return 0;
  leakwatch::core::Sample s;
  s.usage_bytes = 100u << 20;
  s.limit_bytes = 512u << 20;
  for (int i = 0; i < 50; ++i) {
    s.time = leakwatch::core::from_unix_seconds(1.7e9 + 30.0 * i);
    (void)d->observe(s);
  }
  (void)d->save().dump();
  return 0;
}
