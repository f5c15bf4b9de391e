// Certificates for TLS tests, made by the openssl CLI in the test's own temporary folder
// (nothing secret is committed): a CA, a server certificate for 127.0.0.1 / localhost signed by
// it, a client certificate signed by it, and a second, unrelated CA with its own server
// certificate (a "wrong CA" for either side). EC P-256 keys: quick to make. Throws when the
// openssl CLI fails (its output is in openssl.log there).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace vitalsd::test {

class TestCerts {
 public:
  explicit TestCerts(const std::filesystem::path& dir) : dir_(dir) {
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "san.ext") << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    std::ofstream(dir_ / "client.ext") << "extendedKeyUsage=clientAuth\n";
    make_ca("ca");
    make_signed("server", "ca", "localhost", "san.ext");
    make_signed("client", "ca", "vitalsd-client", "client.ext");
    make_ca("other-ca");
    make_signed("other-server", "other-ca", "localhost", "san.ext");
  }

  std::filesystem::path path(const std::string& name) const { return dir_ / name; }
  std::string ca() const { return (dir_ / "ca.crt").string(); }
  std::string server_cert() const { return (dir_ / "server.crt").string(); }
  std::string server_key() const { return (dir_ / "server.key").string(); }
  std::string client_cert() const { return (dir_ / "client.crt").string(); }
  std::string client_key() const { return (dir_ / "client.key").string(); }
  std::string other_ca() const { return (dir_ / "other-ca.crt").string(); }
  std::string other_server_cert() const { return (dir_ / "other-server.crt").string(); }
  std::string other_server_key() const { return (dir_ / "other-server.key").string(); }

 private:
  void run(const std::string& cmd) {
    const auto rc =
        std::system(("cd '" + dir_.string() + "' && " + cmd + " >>openssl.log 2>&1").c_str());
    if (rc != 0) throw std::runtime_error("certificates: '" + cmd + "' failed (openssl.log)");
  }
  void make_ca(const std::string& name) {
    run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " +
        name + ".key -out " + name + ".crt -days 2 -subj /CN=" + name + "-vitalsd-test");
  }
  void make_signed(const std::string& name, const std::string& ca, const std::string& cn,
                   const std::string& ext) {
    run("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
        ".key -out " + name + ".csr -subj /CN=" + cn);
    run("openssl x509 -req -in " + name + ".csr -CA " + ca + ".crt -CAkey " + ca +
        ".key -CAcreateserial -out " + name + ".crt -days 2 -extfile " + ext);
  }

  std::filesystem::path dir_;
};

}  // namespace vitalsd::test
