// The one way vitalsd writes JSON text: nlohmann's dump() with invalid UTF-8 replaced by U+FFFD
// instead of thrown on (json::type_error 316), so no text from outside can make serialising an
// event, a frame or a reply fail. Control characters come out as JSON's own escapes (\n, \u001b).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vitalsd::core {

inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace vitalsd::core
