// Monitor connection state, as acquisition reports it and the journal records it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace vitalsd::core {

enum class MonitorState : std::uint8_t {
  online,   // valid answers arriving
  offline,  // no valid answer for comm_timeout_ms (link down, device silent)
  error,    // the device answers, but with something unusable (exceptions, garbage)
};

std::string_view to_string(MonitorState s);
std::optional<MonitorState> monitor_state_from_name(std::string_view name);

}  // namespace vitalsd::core

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/diagnostic.hpp"
#include "core/parameter.hpp"
#include "core/tls.hpp"

namespace vitalsd::core {

// How one monitor is reached: the `[[monitors]]` table of the config, typed. Each driver reads
// the part that is its own; `where` keeps each key's position for error messages.
struct SimulatorConfig {
  std::string scenario =
      "steady";  // steady | hypertensive-spike | bradycardia | desaturation | dropout
  std::uint64_t seed = 1;
  double nibp_interval_s = 300;      // cuff cycle
  std::optional<double> event_at_s;  // when the scenario's event starts; scenario default if unset
  std::optional<double> event_duration_s;  // how long it lasts; scenario default if unset
  double clock_offset_s = 0;  // the simulated device's clock error (to exercise clock_skew)
};

// device and baud are also the serial port of the masimo-serial and datex-s5 drivers.
struct ModbusConfig {
  std::string endpoint;  // modbus-tcp: "host:port"
  std::string device;    // modbus-rtu, masimo-serial, datex-s5: "/dev/ttyUSB0"
  int baud = 19200;
  char parity = 'E';  // 'N', 'E', 'O'
  int data_bits = 8;
  int stop_bits = 1;
  int unit = 1;         // Modbus unit (slave) id
  std::string profile;  // profile name, resolved to profile_path
  std::string profile_path;
};

struct Hl7MonitorConfig {
  std::string source;  // matched against MSH-3.1, PV1-3 or OBX-18
  // From the [hl7] table, the same for every hl7 monitor:
  std::string listen = "127.0.0.1:2575";  // the PCD-01 MLLP listener
  std::size_t max_message_bytes = 1 << 20;
  std::map<std::string, std::string> codes;  // vendor-local OBX-3 code -> parameter name
  std::size_t max_clients = 256;             // connections; at the cap the longest idle goes
  std::size_t max_clients_per_address = 64;  // the same, per sender address (a gateway or
                                             // central station sends for many monitors)
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{2}};
  // MLLP over TLS (docs/tls.md): the listener's certificate and key; with tls_ca, senders must
  // present a certificate signed by it.
  TlsConfig tls;
};

// driver = "intellivue": a Philips IntelliVue monitor's Data Export over the LAN (UDP).
struct IntellivueConfig {
  std::string host;  // the monitor's address (name or IP)
  int port = 24105;  // the monitor's Data Export port
  // How the monitor's own clock reads: "local" (the host's time zone, as IntelliVue monitors
  // are normally set) or "utc".
  std::string clock = "local";
};

struct MonitorConfig {
  std::string id;
  std::string driver;
  std::string location;  // free text shown to nurses, e.g. "Room 2, chair 3"
  std::chrono::milliseconds poll{1000};
  std::chrono::milliseconds comm_timeout{3000};
  // Device time and receive time further apart than this: a clock_skew event (once).
  std::chrono::milliseconds max_skew{5000};
  // The parameters the monitor measures, as the config declares them (empty: the driver's own
  // list, see drivers::monitor_parameters), and how often it sends a value (empty: poll_ms for
  // polled drivers, 10 s for HL7 senders). The alarm engine scales its delays with it.
  std::vector<Parameter> parameters;
  std::optional<double> send_interval_s;
  SimulatorConfig simulator;
  ModbusConfig modbus;
  Hl7MonitorConfig hl7;
  IntellivueConfig intellivue;
  SourcePos table;                         // the [[monitors]] header
  std::map<std::string, SourcePos> where;  // key -> position of its value

  // Position of `key`'s value, or of the table when the key was not written.
  const SourcePos& position(const std::string& key) const {
    auto it = where.find(key);
    return it == where.end() ? table : it->second;
  }
};

}  // namespace vitalsd::core
