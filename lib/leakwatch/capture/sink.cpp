#include "leakwatch/capture/sink.h"

#include <algorithm>

#include "leakwatch/capture/capturer.h"

namespace leakwatch::capture {

using core::make_error;

CaptureSink::CaptureSink(archive::Archive& archive, const CaptureSettings& settings,
                         std::string source)
    : archive_(archive), settings_(settings), source_(std::move(source)) {}

CaptureSink::~CaptureSink() {
  abort();
}

core::Status CaptureSink::open(const std::string& target, core::TimePoint started,
                               const archive::Reason& reason) {
  if (pending_) return core::ok_status();
  auto compression = settings_.compress ? archive::Compression::zstd : archive::Compression::none;
  auto p = archive_.begin(target, started, reason, compression,
                          std::clamp(settings_.compression_level, 1, 19));
  if (!p.ok()) return p.error();
  pending_ = std::move(*p);
  return core::ok_status();
}

core::Status CaptureSink::write(std::string_view chunk) {
  if (!pending_) return make_error(core::Errc::io, "snapshot bytes without a capture file");
  if (chunk.size() > settings_.max_bytes - std::min(bytes_, settings_.max_bytes))
    return make_error(core::Errc::too_large, source_ + " exceeds capture.max_bytes (" +
                                                 std::to_string(settings_.max_bytes) + " bytes)");
  if (check_.feed(chunk) == SnapshotBodyCheck::State::reject)
    return make_error(core::Errc::not_a_snapshot,
                      source_ + " is not a heap snapshot: " + check_.finish());
  bytes_ += chunk.size();
  return pending_->write(chunk);
}

core::Result<archive::Metadata> CaptureSink::commit(archive::Metadata meta) {
  if (!pending_) return make_error(core::Errc::io, "no capture file was opened");
  if (auto why = check_.finish(); !why.empty()) {
    bool truncated = check_.state() == SnapshotBodyCheck::State::ok;
    abort();
    return make_error(
        truncated ? core::Errc::truncated : core::Errc::not_a_snapshot,
        source_ + " is not a " + (truncated ? "complete " : "") + "heap snapshot: " + why);
  }
  auto committed = pending_->commit(std::move(meta));
  pending_.reset();
  return committed;
}

void CaptureSink::abort() {
  if (pending_) {
    pending_->abort();
    pending_.reset();
  }
}

void CaptureSink::reset() {
  abort();
  check_ = SnapshotBodyCheck{};
  bytes_ = 0;
}

archive::Metadata capture_metadata(const CaptureRequest& request, core::TimePoint started_wall,
                                   core::TimePoint finished_wall, double duration_seconds,
                                   std::string source, std::string original_filename,
                                   int attempts) {
  archive::Metadata meta;
  meta.started_at = started_wall;
  meta.finished_at = finished_wall;
  meta.duration_seconds = duration_seconds;
  meta.reason = request.reason;
  meta.sample = request.sample;
  meta.detector_state = request.detector_state;
  meta.original_filename = std::move(original_filename);
  meta.source = std::move(source);
  meta.attempts = attempts;
  meta.forced = request.forced;
  return meta;
}

}  // namespace leakwatch::capture
