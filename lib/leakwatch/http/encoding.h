// Encodings that HTTP headers need (Authorization: Basic, Content-MD5), shared by every module that
// builds requests.
#pragma once

#include <string>
#include <string_view>

namespace leakwatch::http {

// Standard base64 with padding (RFC 4648 section 4).
std::string base64(std::string_view bytes);

}  // namespace leakwatch::http
