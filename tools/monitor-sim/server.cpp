#include "server.hpp"

#include <arpa/inet.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>
#include <tuple>

namespace vitalsd::monitor_sim {

using drivers::modbus::Register;
using drivers::modbus::Table;

std::optional<Fault> fault_from_name(std::string_view name) {
  if (name == "none") return Fault::none;
  if (name == "silent") return Fault::silent;
  if (name == "drop") return Fault::drop;
  if (name == "exception") return Fault::exception;
  if (name == "garbage") return Fault::garbage;
  return std::nullopt;
}

Server::Server(ServerOptions options) : options_(std::move(options)) {
  if (options_.units.empty()) options_.units = {1};
  for (int unit : options_.units) {
    auto* m = modbus_mapping_new(0, 0, options_.registers, options_.registers);
    if (!m) throw std::runtime_error("monitor-sim: cannot allocate registers");
    maps_[unit] = m;
  }
  if (!options_.rtu_device.empty()) {
    ctx_ = modbus_new_rtu(options_.rtu_device.c_str(), options_.baud, options_.parity,
                          options_.data_bits, options_.stop_bits);
    if (!ctx_) throw std::runtime_error("monitor-sim: " + std::string(modbus_strerror(errno)));
    modbus_set_slave(ctx_, options_.units.front());
    if (modbus_connect(ctx_) != 0)
      throw std::runtime_error("monitor-sim: open " + options_.rtu_device + ": " +
                               modbus_strerror(errno));
    return;
  }
  ctx_ = modbus_new_tcp(options_.host.c_str(), options_.port);
  if (!ctx_) throw std::runtime_error("monitor-sim: " + std::string(modbus_strerror(errno)));
  listen_fd_ = modbus_tcp_listen(ctx_, 64);
  if (listen_fd_ < 0)
    throw std::runtime_error("monitor-sim: listen on " + options_.host + ":" +
                             std::to_string(options_.port) + ": " + modbus_strerror(errno));
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
}

Server::~Server() {
  stop();
  if (ctx_) {
    if (!options_.rtu_device.empty()) modbus_close(ctx_);
    modbus_free(ctx_);
  }
  for (auto& [unit, m] : maps_) modbus_mapping_free(m);
}

void Server::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void Server::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

void Server::set_registers(int unit, Table table, std::uint16_t address,
                           std::span<const std::uint16_t> words) {
  std::lock_guard lock(mutex_);
  auto it = maps_.find(unit);
  if (it == maps_.end()) return;
  auto* m = it->second;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto a = address + i;
    if (a >= static_cast<std::size_t>(options_.registers)) break;
    (table == Table::holding ? m->tab_registers : m->tab_input_registers)[a] = words[i];
  }
}

void Server::set_raw(int unit, const Register& reg, double raw) {
  auto words = drivers::modbus::encode_raw(reg, raw);
  set_registers(unit, reg.table, reg.address, words);
}

void Server::write(int unit, const drivers::modbus::Profile& profile,
                   std::span<const core::Observation> observations) {
  // A status bit shared by several values says "valid" only when all of them are.
  std::map<std::tuple<Table, std::uint16_t, int>, std::pair<bool, bool>> bits;  // valid, when
  std::optional<std::uint64_t> nibp_id;
  std::optional<core::Timestamp> nibp_time;
  for (const auto& f : profile.fields) {
    const auto it =
        std::find_if(observations.begin(), observations.end(),
                     [&](const core::Observation& o) { return o.parameter == f.parameter; });
    const bool have = it != observations.end();
    const bool valid = have && it->validity == core::Validity::valid;
    double raw = have ? (it->value / f.unit_factor - f.offset) / f.scale : 0;
    if (!valid) {
      if (!f.sentinels.empty())
        raw = f.sentinels.front();
      else if (f.reg.type == drivers::modbus::ValueType::f32)
        raw = std::nan("");
    }
    set_raw(unit, f.reg, raw);
    if (f.status) {
      auto [it2, fresh] = bits.try_emplace({f.status->table, f.status->address, f.status->bit},
                                           valid, f.status->valid_when);
      if (!fresh) it2->second.first = it2->second.first && valid;
    }
    if (have && it->measurement_id) nibp_id = it->measurement_id;
    if (have && it->device_time) nibp_time = it->device_time;
  }
  std::map<std::pair<Table, std::uint16_t>, std::uint16_t> status;
  for (const auto& [key, v] : bits) {
    auto& w = status[{std::get<0>(key), std::get<1>(key)}];
    const bool bit = v.first ? v.second : !v.second;
    if (bit) w = static_cast<std::uint16_t>(w | (1U << std::get<2>(key)));
  }
  for (const auto& [key, w] : status) {
    const std::uint16_t word = w;
    set_registers(unit, key.first, key.second, std::span(&word, 1));
  }
  if (profile.nibp) {
    set_raw(unit, profile.nibp->id, nibp_id ? static_cast<double>(*nibp_id) : 0);
    if (profile.nibp->time && !(profile.nibp->time->address == profile.nibp->id.address &&
                                profile.nibp->time->table == profile.nibp->id.table)) {
      const double secs =
          nibp_time ? static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                              nibp_time->time_since_epoch())
                                              .count())
                    : 0;
      set_raw(unit, *profile.nibp->time, secs);
    }
  }
}

void Server::run() {
  if (options_.rtu_device.empty())
    serve_tcp();
  else
    serve_rtu();
}

bool Server::handle(const std::uint8_t* req, int length, int fd) {
  ++requests_;
  const int header = modbus_get_header_length(ctx_);
  const int unit = req[header - 1];
  switch (fault_.load()) {
    case Fault::silent:
      return true;
    case Fault::drop:
      return false;
    case Fault::exception:
      modbus_reply_exception(ctx_, req, static_cast<unsigned>(exception_code_.load()));
      return true;
    case Fault::garbage: {
      std::uint8_t junk[11];
      for (auto& b : junk) {
        garbage_seed_ = garbage_seed_ * 6364136223846793005ULL + 1442695040888963407ULL;
        b = static_cast<std::uint8_t>(garbage_seed_ >> 56);
      }
      junk[2] = 0x4a;  // never a valid MBAP protocol id
      return ::write(fd, junk, sizeof junk) == static_cast<ssize_t>(sizeof junk);
    }
    case Fault::none:
      break;
  }
  std::lock_guard lock(mutex_);
  auto it = maps_.find(unit);
  if (it == maps_.end()) {
    modbus_reply_exception(ctx_, req, MODBUS_EXCEPTION_GATEWAY_TARGET);
    return true;
  }
  modbus_reply(ctx_, req, length, it->second);
  return true;
}

void Server::serve_tcp() {
  std::set<int> clients;
  std::uint8_t query[MODBUS_TCP_MAX_ADU_LENGTH];
  while (!stop_) {
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(listen_fd_, &rd);
    int max_fd = listen_fd_;
    for (int c : clients) {
      FD_SET(c, &rd);
      max_fd = std::max(max_fd, c);
    }
    timeval tv{0, 20000};
    const int n = ::select(max_fd + 1, &rd, nullptr, nullptr, &tv);
    if (n <= 0) continue;
    if (FD_ISSET(listen_fd_, &rd)) {
      sockaddr_in addr{};
      socklen_t len = sizeof addr;
      const int c = ::accept(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
      if (c >= 0 && c < FD_SETSIZE) {
        clients.insert(c);
        ++connections_;
      } else if (c >= 0) {
        ::close(c);
      }
    }
    for (auto it = clients.begin(); it != clients.end();) {
      const int c = *it;
      if (!FD_ISSET(c, &rd)) {
        ++it;
        continue;
      }
      modbus_set_socket(ctx_, c);
      const int rc = modbus_receive(ctx_, query);
      bool keep = rc >= 0;
      if (rc > 0) keep = handle(query, rc, c);
      if (!keep) {
        ::close(c);
        it = clients.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (int c : clients) ::close(c);
  modbus_set_socket(ctx_, -1);
}

void Server::serve_rtu() {
  std::uint8_t query[MODBUS_RTU_MAX_ADU_LENGTH];
  const int fd = modbus_get_socket(ctx_);
  while (!stop_) {
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    timeval tv{0, 20000};
    if (::select(fd + 1, &rd, nullptr, nullptr, &tv) <= 0) continue;
    const int rc = modbus_receive(ctx_, query);
    if (rc > 0) {
      if (!handle(query, rc, fd)) modbus_flush(ctx_);
    } else if (rc < 0) {
      modbus_flush(ctx_);
    }
  }
}

}  // namespace vitalsd::monitor_sim
