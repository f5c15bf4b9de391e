// The monitor side of Philips IntelliVue Data Export over UDP, for tests, the demo and a clinic's
// IT without hardware (`vitals-monitor-sim --intellivue`). Written from the programming guide,
// independently of the driver's codec: it encodes what a monitor sends and reads only what it
// must of the client's requests. Values come from the simulator's scenarios.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/monitor.hpp"
#include "drivers/simulator/simulator.hpp"

namespace vitalsd::monitor_sim {

struct IntellivueOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0: any free port (see IntellivueEmulator::port())
  core::SimulatorConfig scenario;
  // The association ends (abort) when the client sends nothing for this long, as a monitor's
  // own timeout does.
  double timeout_s = 10;
  bool absolute_time = true;  // give NOM_ATTR_TIME_ABS and poll time stamps (else 0xFF)
  bool utc = false;           // absolute time in UTC (else the host's local time)
  int linked_parts = 1;       // answer each poll in this many linked results
};

// What the emulator sends in place of the HR value (the programming guide's special values).
enum class Special : std::uint8_t { none, nan, nres, pos_inf, neg_inf };

class IntellivueEmulator {
 public:
  explicit IntellivueEmulator(IntellivueOptions options);  // binds at once (throws)
  ~IntellivueEmulator();
  IntellivueEmulator(const IntellivueEmulator&) = delete;
  IntellivueEmulator& operator=(const IntellivueEmulator&) = delete;

  int port() const { return port_; }
  void start();
  void stop();

  // Faults and modes, settable while it runs.
  void set_silent(bool s) { silent_ = s; }
  void set_special(Special s) { special_ = s; }
  void set_linked_parts(int n) { linked_parts_ = n < 1 ? 1 : n; }
  void set_hr_state(std::uint16_t measurement_state) { hr_state_ = measurement_state; }
  // Sends one datagram of `bytes` to the associated client (garbage, duplicates, ...).
  void inject(const std::vector<std::uint8_t>& bytes);

  std::uint64_t polls() const { return polls_; }
  std::uint64_t associations() const { return associations_; }
  bool associated() const { return associated_; }

 private:
  void run();
  void on_datagram(const std::uint8_t* d, std::size_t n, const void* from, unsigned from_len);
  void send(const std::vector<std::uint8_t>& bytes);
  void answer_poll(std::uint16_t invoke_id, std::uint16_t poll_number, std::uint16_t object_type,
                   bool extended);
  std::uint32_t relative_time() const;

  IntellivueOptions options_;
  drivers::simulator::Model model_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> silent_{false};
  std::atomic<Special> special_{Special::none};
  std::atomic<int> linked_parts_{1};
  std::atomic<std::uint16_t> hr_state_{0};
  std::atomic<std::uint64_t> polls_{0};
  std::atomic<std::uint64_t> associations_{0};
  std::atomic<bool> associated_{false};
  std::mutex mutex_;                  // the client's address, for inject()
  std::vector<std::uint8_t> client_;  // sockaddr bytes of the associated client
  bool mds_answered_ = false;
  std::uint16_t mds_invoke_id_ = 0;
  std::chrono::steady_clock::time_point last_rx_{};
  std::chrono::steady_clock::time_point started_{};
  std::chrono::system_clock::time_point start_wall_{};
};

// `vitals-monitor-sim --intellivue ...`
int intellivue_main(int argc, char** argv);

}  // namespace vitalsd::monitor_sim
