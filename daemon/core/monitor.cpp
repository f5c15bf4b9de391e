#include "core/monitor.hpp"

namespace vitalsd::core {

std::string_view to_string(MonitorState s) {
  switch (s) {
    case MonitorState::online:
      return "online";
    case MonitorState::offline:
      return "offline";
    case MonitorState::error:
      return "error";
  }
  return "error";
}

std::optional<MonitorState> monitor_state_from_name(std::string_view name) {
  if (name == "online") return MonitorState::online;
  if (name == "offline") return MonitorState::offline;
  if (name == "error") return MonitorState::error;
  return std::nullopt;
}

}  // namespace vitalsd::core
