#pragma once
// The dashboard's files (web/*), embedded in the binary at build time (embed_assets.cmake turns
// them into byte arrays in a generated assets_data.cpp): the page works offline, with no CDN.
#include <span>
#include <string_view>

namespace leakwatch::api {

struct Asset {
  std::string_view path;  // "/index.html", "/app.js", ...
  std::string_view content_type;
  std::string_view data;
  std::string_view etag;  // quoted, from the file's SHA-256
};

// The asset served at `path` ("/" is "/index.html"); null when none.
const Asset* find_asset(std::string_view path);
// All assets (for tests).
std::span<const Asset> all_assets();

}  // namespace leakwatch::api
