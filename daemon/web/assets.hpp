// The dashboard's files (daemon/web), compiled in by embed.cmake.
#pragma once

#include <span>
#include <string_view>

namespace vitalsd::web {

struct Asset {
  std::string_view path;  // "/index.html"
  std::string_view content_type;
  std::string_view body;
  std::string_view etag;  // quoted, from the file's SHA-256
};

const std::span<const Asset> assets();
// The asset a request path names ("/" is /index.html), or nullptr.
const Asset* find_asset(std::string_view path);

}  // namespace vitalsd::web
