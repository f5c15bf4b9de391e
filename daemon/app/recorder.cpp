#include "app/recorder.hpp"

#include <spdlog/spdlog.h>

namespace vitalsd::app {

void Recorder::observations(std::vector<core::Observation> observations) {
  journal_.record(std::move(observations));
}

void Recorder::monitor_state(const std::string& monitor, core::MonitorState state,
                             const std::string& detail, core::Timestamp at) {
  if (state == core::MonitorState::online)
    spdlog::info("monitor {}: online", monitor);
  else
    spdlog::warn("monitor {}: {} ({})", monitor, core::to_string(state), detail);
  const std::string name(core::to_string(state));
  const std::string since = core::format_iso8601(at);
  store::Event e{"monitor.state", at, monitor, std::nullopt, {{"state", name}, {"detail", detail}}};
  journal_.record(std::move(e), store::Durability::batched,
                  [monitor, name, since, detail](store::Db& db) -> std::optional<std::string> {
                    store::Stmt up(db,
                                   "UPDATE monitors SET state = ?1, state_since = ?2, "
                                   "state_detail = ?3 WHERE id = ?4");
                    up.bind(1, name).bind(2, since).bind(3, detail).bind(4, monitor);
                    up.step();
                    if (!up.ok()) return "update monitor state: " + db.error_message();
                    return std::nullopt;
                  });
}

}  // namespace vitalsd::app
