// A real mosquitto broker for one test: its own config in a temp directory, a free port on
// 127.0.0.1, started and stopped (and restarted on the same port) by the test; start() returns
// once the broker accepts TCP connections.
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::test {

// A TCP port on 127.0.0.1 that was free a moment ago.
inline unsigned short free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

inline bool port_accepts(unsigned short port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class Mosquitto {
 public:
  struct Options {
    // Non-empty: anonymous logins are refused and this user/password is the only account.
    std::string username;
    std::string password;
    // Non-empty: a second listener, TLS (1.2 minimum) with this certificate and key, on
    // tls_port(); with tls_cafile set, clients must present a certificate signed by it.
    std::string tls_certfile;
    std::string tls_keyfile;
    std::string tls_cafile;
    // Keeps retained messages and persistent sessions (with what is queued for them) across a
    // stop() and start(), in its temp folder.
    bool persistence = false;
    std::string extra;  // more configuration, appended (e.g. a bridge)

    static Options login(std::string user, std::string pass) {
      Options o;
      o.username = std::move(user);
      o.password = std::move(pass);
      return o;
    }
    static Options tls(std::string cert, std::string key, std::string ca) {
      Options o;
      o.tls_certfile = std::move(cert);
      o.tls_keyfile = std::move(key);
      o.tls_cafile = std::move(ca);
      return o;
    }
  };
  Mosquitto() : Mosquitto(Options{}) {}
  explicit Mosquitto(Options options) : port_(free_port()) {
    std::ofstream conf(dir_ / "mosquitto.conf");
    conf << "per_listener_settings false\n"
         << "persistence " << (options.persistence ? "true" : "false") << "\n"
         << "persistence_location " << dir_.path().string() << "/\n"
         << "log_dest stdout\n"
         << "listener " << port_ << " 127.0.0.1\n";
    if (!options.tls_certfile.empty()) {
      tls_port_ = free_port();
      // The keys are the test's own (mode 0600 in its temp folder): a broker started as root
      // stays root to read them, instead of switching to the mosquitto user.
      if (::geteuid() == 0) conf << "user root\n";
      conf << "listener " << tls_port_ << " 127.0.0.1\n"
           << "certfile " << options.tls_certfile << "\nkeyfile " << options.tls_keyfile << "\n"
           << "tls_version tlsv1.2\n";
      if (!options.tls_cafile.empty())
        conf << "cafile " << options.tls_cafile << "\nrequire_certificate true\n";
    }
    if (options.username.empty()) {
      conf << "allow_anonymous true\n";
    } else {
      const auto pw = dir_ / "passwd";
      run({"/usr/bin/mosquitto_passwd", "-b", "-c", pw.string(), options.username,
           options.password},
          dir_ / "passwd.log");
      conf << "allow_anonymous false\npassword_file " << pw.string() << "\n";
    }
    conf << options.extra;
  }
  ~Mosquitto() { stop(); }
  Mosquitto(const Mosquitto&) = delete;
  Mosquitto& operator=(const Mosquitto&) = delete;

  unsigned short port() const { return port_; }
  unsigned short tls_port() const { return tls_port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  // Starts the broker (again, on the same port); true once it accepts connections.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    stop();
    proc_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/sbin/mosquitto", "-c", (dir_ / "mosquitto.conf").string()},
        dir_ / ("broker-" + std::to_string(++starts_) + ".log"));
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      if (port_accepts(port_) && (tls_port_ == 0 || port_accepts(tls_port_))) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return false;
  }

  void stop() {
    if (!proc_) return;
    proc_->signal(SIGTERM);
    if (!proc_->wait(std::chrono::seconds{5})) proc_->signal(SIGKILL);
    proc_->wait(std::chrono::seconds{5});
    proc_.reset();
  }

  std::string log() const { return proc_ ? proc_->output() : std::string(); }

 private:
  TempDir dir_;
  unsigned short port_;
  unsigned short tls_port_ = 0;
  int starts_ = 0;
  std::unique_ptr<Process> proc_;
};

}  // namespace vitalsd::test
