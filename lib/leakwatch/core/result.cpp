#include "leakwatch/core/result.h"

#include <ostream>

namespace leakwatch::core {

std::string_view to_string(Errc code) {
  switch (code) {
    case Errc::aborted:
      return "aborted";
    case Errc::bad_output:
      return "bad_output";
    case Errc::bind:
      return "bind";
    case Errc::busy:
      return "busy";
    case Errc::cancelled:
      return "cancelled";
    case Errc::closed:
      return "closed";
    case Errc::compression:
      return "compression";
    case Errc::config:
      return "config";
    case Errc::connect:
      return "connect";
    case Errc::corrupt:
      return "corrupt";
    case Errc::credentials:
      return "credentials";
    case Errc::detector_state:
      return "detector_state";
    case Errc::disabled:
      return "disabled";
    case Errc::disk_full:
      return "disk_full";
    case Errc::empty:
      return "empty";
    case Errc::failed:
      return "failed";
    case Errc::forbidden:
      return "forbidden";
    case Errc::http_status:
      return "http_status";
    case Errc::inspector_error:
      return "inspector_error";
    case Errc::invalid_duration:
      return "invalid_duration";
    case Errc::invalid_id:
      return "invalid_id";
    case Errc::invalid_key:
      return "invalid_key";
    case Errc::invalid_listen:
      return "invalid_listen";
    case Errc::invalid_percent:
      return "invalid_percent";
    case Errc::invalid_signal:
      return "invalid_signal";
    case Errc::invalid_size:
      return "invalid_size";
    case Errc::invalid_url:
      return "invalid_url";
    case Errc::io:
      return "io";
    case Errc::io_network:
      return "io_network";
    case Errc::killed:
      return "killed";
    case Errc::no_container:
      return "no_container";
    case Errc::no_counts:
      return "no_counts";
    case Errc::no_credentials:
      return "no_credentials";
    case Errc::no_memcg:
      return "no_memcg";
    case Errc::no_process:
      return "no_process";
    case Errc::not_a_snapshot:
      return "not_a_snapshot";
    case Errc::not_found:
      return "not_found";
    case Errc::not_inspector:
      return "not_inspector";
    case Errc::not_loopback:
      return "not_loopback";
    case Errc::not_running:
      return "not_running";
    case Errc::over_budget:
      return "over_budget";
    case Errc::parse:
      return "parse";
    case Errc::permission:
      return "permission";
    case Errc::protocol:
      return "protocol";
    case Errc::resolve:
      return "resolve";
    case Errc::s3:
      return "s3";
    case Errc::sd_notify:
      return "sd_notify";
    case Errc::server_error:
      return "server_error";
    case Errc::spawn:
      return "spawn";
    case Errc::timeout:
      return "timeout";
    case Errc::tls:
      return "tls";
    case Errc::too_large:
      return "too_large";
    case Errc::trace:
      return "trace";
    case Errc::truncated:
      return "truncated";
    case Errc::unavailable:
      return "unavailable";
    case Errc::version:
      return "version";
  }
  return "failed";
}

std::ostream& operator<<(std::ostream& out, Errc code) {
  return out << to_string(code);
}

std::string Error::code_text() const {
  std::string text(core::to_string(code));
  if (code == Errc::http_status) return "http_" + detail;
  if (code == Errc::s3) return "s3_" + detail;
  return text;
}

}  // namespace leakwatch::core
