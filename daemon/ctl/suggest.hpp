// vitalsctl as people type it: an unknown command is named, with the nearest one suggested.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vitalsd::ctl {

// The closest of `names` to `typed` (a prefix either way, or a small edit distance), if any.
std::optional<std::string> nearest(std::string_view typed, const std::vector<std::string>& names);

// Walks argv the way `app` would parse it; at the first word that is not a command where one is
// expected, returns "unknown command 'acknowledge' (did you mean 'ack'?)". Nullopt otherwise.
std::optional<std::string> unknown_command(CLI::App& app, int argc, char** argv);

}  // namespace vitalsd::ctl
