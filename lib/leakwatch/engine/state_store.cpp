#include "leakwatch/engine/state_store.h"

#include <system_error>

#include "leakwatch/core/fs.h"

namespace leakwatch::engine {

StateStore::StateStore(std::filesystem::path dir, std::string target)
    : dir_(std::move(dir)), target_(std::move(target)), path_(dir_ / (target_ + ".state.json")) {}

core::Result<nlohmann::json> StateStore::load() const {
  auto text = core::read_file(path_, 64 << 20);
  if (!text.ok()) return text.error();
  nlohmann::json j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::error_code ec;
    std::filesystem::rename(path_, path_.string() + ".corrupt", ec);
    return core::make_error(
        core::Errc::parse,
        "state file " + path_.string() + " is not valid JSON; kept as .corrupt, starting fresh");
  }
  if (j.value("version", 0) != kStateVersion)
    return core::make_error(core::Errc::version, "state file " + path_.string() + " has version " +
                                                     std::to_string(j.value("version", 0)) +
                                                     ", expected " + std::to_string(kStateVersion) +
                                                     "; starting fresh");
  if (j.value("target", std::string()) != target_)
    return core::make_error(core::Errc::version,
                            "state file " + path_.string() + " belongs to another target");
  return j;
}

core::Status StateStore::save(const nlohmann::json& state, core::TimePoint now) const {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec)
    return core::make_error(core::Errc::io,
                            "cannot create state directory " + dir_.string() + ": " + ec.message());
  nlohmann::json j = state;
  j["version"] = kStateVersion;
  j["target"] = target_;
  j["saved_at"] = core::to_unix_seconds(now);
  return core::write_file_atomic(
      path_, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), 0600);
}

}  // namespace leakwatch::engine
