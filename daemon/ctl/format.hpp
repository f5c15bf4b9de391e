// Human output of vitalsctl (the --json output is the API's body, unchanged).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace vitalsd::ctl {

void print_monitors(const nlohmann::json& body);
void print_sessions(const nlohmann::json& body);
void print_object(const nlohmann::json& object);  // one session or alert, "key: value" lines
void print_alerts(const nlohmann::json& body);
// One line for one event; coloured by priority when `colour`.
std::string event_line(const nlohmann::json& event, bool colour);

}  // namespace vitalsd::ctl
