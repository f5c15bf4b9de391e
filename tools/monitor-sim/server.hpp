// A libmodbus server playing one or more patient monitors (unit ids) over Modbus TCP or RTU, with
// faults on demand. The `vitals-monitor-sim` tool drives it from the simulator scenarios; the
// integration tests and benchmarks run it in-process and set registers directly.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "core/observation.hpp"
#include "drivers/modbus/profile.hpp"

struct _modbus;
struct _modbus_mapping_t;

namespace vitalsd::monitor_sim {

enum class Fault : std::uint8_t {
  none,
  silent,     // receive requests, never answer
  drop,       // close the connection on every request
  exception,  // answer every request with exception `exception_code`
  garbage,    // answer with bytes that are not a Modbus frame
};
std::optional<Fault> fault_from_name(std::string_view name);

struct ServerOptions {
  std::string host = "127.0.0.1";  // TCP: listen address
  int port = 0;                    // TCP: 0 picks a free port (see Server::port())
  std::string rtu_device;          // RTU instead of TCP when set
  int baud = 19200;
  char parity = 'E';
  int data_bits = 8;
  int stop_bits = 1;
  std::vector<int> units{1};  // RTU serves the first only
  int registers = 1024;       // holding and input registers per unit, from address 0
};

class Server {
 public:
  // Binds/opens at once (throws std::runtime_error); serves from start() until stop().
  explicit Server(ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  void start();
  void stop();  // closes the listening socket and every client connection, joins the thread

  void set_registers(int unit, drivers::modbus::Table table, std::uint16_t address,
                     std::span<const std::uint16_t> words);
  // Writes a raw value (before scale) in the register's type and word order.
  void set_raw(int unit, const drivers::modbus::Register& reg, double raw);
  // Writes observations as the profile maps them: the inverse of decode(). An invalid
  // observation writes the first sentinel (if any) and clears/sets its status bit.
  void write(int unit, const drivers::modbus::Profile& profile,
             std::span<const core::Observation> observations);

  void set_fault(Fault f, int exception_code = 4) {
    exception_code_ = exception_code;
    fault_ = f;
  }
  std::uint64_t requests() const { return requests_; }
  std::uint64_t connections() const { return connections_; }

 private:
  void run();
  void serve_tcp();
  void serve_rtu();
  // Handles one received request on the context's current socket; false to close it.
  bool handle(const std::uint8_t* req, int length, int fd);

  ServerOptions options_;
  _modbus* ctx_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;
  std::map<int, _modbus_mapping_t*> maps_;
  std::mutex mutex_;  // guards maps_' registers
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<Fault> fault_{Fault::none};
  std::atomic<int> exception_code_{4};
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> connections_{0};
  std::uint64_t garbage_seed_ = 0x5eed;
};

}  // namespace vitalsd::monitor_sim
