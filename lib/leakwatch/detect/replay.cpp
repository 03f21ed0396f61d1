#include "leakwatch/detect/replay.h"

#include <string>

#include "leakwatch/detect/detector.h"
#include "leakwatch/detect/trace_csv.h"

namespace leakwatch::detect {

core::Result<ReplaySummary> replay(std::istream& trace, const DetectorSettings& settings,
                                   std::ostream& out) {
  auto reader = TraceReader::open(trace);
  if (!reader) return reader.error();
  Detector detector(settings);
  ReplaySummary summary;
  core::Sample sample;
  std::string line;
  while (true) {
    auto more = reader->next(sample);
    if (!more) {
      out.flush();
      return more.error();
    }
    if (!*more) break;
    ++summary.samples;
    const Decision d = detector.observe(sample);
    if (summary.samples == 1 || d.changed || d.restarted) {
      nlohmann::json j = d.to_json();
      const double t = core::to_unix_seconds(sample.time);
      j["t"] = t;
      line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      line.push_back('\n');
      out.write(line.data(), static_cast<std::streamsize>(line.size()));
      ++summary.lines_written;
      if (!summary.first_leak_t && d.state == State::leak_suspected) summary.first_leak_t = t;
    }
  }
  out.flush();
  return summary;
}

}  // namespace leakwatch::detect
