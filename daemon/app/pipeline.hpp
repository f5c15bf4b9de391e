// The daemon's one path for data and actions, on the io_context thread:
//   acquisition -> sessions (owner, phase, baseline, alarm engine) -> journal (persist) -> feeds
// and the API's nurse actions through the same sessions manager and journal. Nothing reaches
// a subscriber or an API answer before it is committed.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "acquisition/acquisition.hpp"
#include "api/actions.hpp"
#include "api/refusal_log.hpp"
#include "net/asio.hpp"
#include "sessions/manager.hpp"
#include "store/journal.hpp"

namespace vitalsd::app {

class Pipeline final : public acquisition::Sink, public api::Actions {
 public:
  Pipeline(asio::io_context& io, store::Journal& journal, sessions::Manager& sessions,
           const std::vector<core::MonitorConfig>& monitors);

  void set_acquisition(const acquisition::Acquisition* a) { acquisition_ = a; }
  // Reload: the monitors listed from now on (a removed one's last view is dropped).
  void set_monitors(const std::vector<core::MonitorConfig>& monitors);
  // Starts the 1 s tick that drives escalations, pause ends and overdue cuffs.
  void start();
  void stop();

  // acquisition::Sink
  void observations(std::vector<core::Observation> observations,
                    std::function<void(bool)> receipt) override;
  void monitor_state(const std::string& monitor, core::MonitorState state,
                     const std::string& detail, core::Timestamp at) override;
  void clock_skew(const std::string& monitor, core::Duration skew, core::Timestamp at) override;
  void parameter_unmapped(const std::string& monitor, const drivers::UnmappedCode& code,
                          core::Timestamp at) override;
  // Journals each as a `monitor.alarm` event (persist before publish) and keeps the monitor's
  // present alarms for GET /monitors and the session view.
  void monitor_alarms(const std::string& monitor, std::vector<drivers::MonitorAlarm> alarms,
                      core::Timestamp at) override;
  // Start-up: the alarms each monitor last reported present (store::present_monitor_alarms).
  void restore_monitor_alarms(const std::map<std::string, std::vector<nlohmann::json>>& present);
  // A monitor's present alarms as the API shows them (oldest first); `stale` when the monitor
  // is not online (what it last said, not known to be current).
  nlohmann::json monitor_alarms_json(const std::string& monitor);
  // The payload of a `monitor.alarm` event (docs/events.md).
  static nlohmann::json monitor_alarm_payload(const drivers::MonitorAlarm& alarm);
  // Present alarms kept per monitor at most (the oldest goes first beyond it).
  static constexpr std::size_t kMaxMonitorAlarms = 64;

  // api::Actions
  void start_session(const std::string& monitor, const std::string& patient,
                     const std::string& protocol, const std::string& actor,
                     api::Done done) override;
  void set_phase(std::int64_t session, const std::string& phase, const std::string& override_reason,
                 const std::string& actor, api::Done done) override;
  void end_session(std::int64_t session, const std::string& override_reason,
                   const std::string& actor, api::Done done) override;
  void acknowledge(std::int64_t alert, const std::string& actor, api::Done done) override;
  void pause(std::int64_t alert, double seconds, const std::string& actor, api::Done done) override;
  void reset(std::int64_t alert, const std::string& actor, api::Done done) override;
  nlohmann::json monitors() override;
  nlohmann::json session(std::int64_t id) override;
  nlohmann::json health() override;
  // Journals `api.refused` events, aggregated by api::RefusalLog (a flood costs bounded rows).
  void refused(const api::RefusedAttempt& attempt) override;
  // Journals `api.signed_in` / `api.signed_out`.
  void access(const api::Access& access) override;
  nlohmann::json protocols() override;

  static core::Timestamp now();
  // One log line per monitor with its latest values (the demo's "readings arrive").
  void log_status();

 private:
  void persist(const sessions::Change& change);
  void journal_refusals(std::vector<store::Event> events);
  void answer(const sessions::Outcome& outcome, int ok_status, nlohmann::json body, api::Done done);
  // While storage fails, a nurse's action is refused at once (503 storage_unavailable) rather
  // than left hanging: true when it was refused.
  bool refuse_while_storage_fails(api::Done& done);
  nlohmann::json alert_reply(const sessions::Outcome& outcome);

  asio::io_context& io_;
  store::Journal& journal_;
  sessions::Manager& sessions_;
  const acquisition::Acquisition* acquisition_ = nullptr;
  std::vector<core::MonitorConfig> monitors_;
  struct MonitorView {
    std::optional<core::MonitorState> state;
    core::Timestamp state_since{};
    std::string detail;
    std::map<core::Parameter, core::Observation> last;
    // The monitor's own alarms present now, by key, with the order they first came in.
    struct Present {
      std::uint64_t order = 0;
      nlohmann::json payload;
    };
    std::map<std::string, Present> alarms;
  };
  std::uint64_t alarm_order_ = 0;
  std::map<std::string, MonitorView> view_;
  api::RefusalLog refusals_;
  asio::steady_timer tick_;
  bool stopped_ = false;
};

}  // namespace vitalsd::app
