#pragma once
// Checks shared by the inspector method and the configuration check.
#include <string>

namespace leakwatch::capture {

// True for 127.0.0.0/8, ::1 and "localhost": the only hosts leakwatch's inspector client talks to.
bool is_loopback_host(const std::string& host);

}  // namespace leakwatch::capture
