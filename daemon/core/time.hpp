// Time types. Wall-clock instants are UTC with millisecond resolution and are written as
// ISO 8601 ("2026-11-27T14:30:31.123Z") in every interface. Nothing in core reads a clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace vitalsd::core {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;

// "2026-11-27T14:30:31.123Z"
std::string format_iso8601(Timestamp t);
// The same, appended to `out` (no allocation when `out` has room): the journal's hot path.
void append_iso8601(std::string& out, Timestamp t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff]Z" and "+HH:MM"/"-HH:MM" offsets; nullopt if malformed.
std::optional<Timestamp> parse_iso8601(std::string_view text);

}  // namespace vitalsd::core
