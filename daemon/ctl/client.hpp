// vitalsctl's HTTP client: one blocking request at a time over Beast, with a timeout on
// connect, write and read.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace vitalsd::ctl {

struct Url {
  std::string host;
  std::string port;
  std::string base;  // path prefix before /api/v1, usually empty
};
// "http://host:port[/prefix]"; nullopt and `why` when it is not one.
std::optional<Url> parse_url(const std::string& text, std::string& why);

struct HttpResult {
  bool connected = false;  // false: `error` says why (DNS, refused, timeout)
  std::string error;
  unsigned status = 0;
  std::string body;
};

class Client {
 public:
  Client(Url url, std::string token, std::chrono::milliseconds timeout);
  // method "GET"/"POST"; target below the base ("/api/v1/alerts").
  HttpResult request(const std::string& method, const std::string& target,
                     const std::string& body = "");

 private:
  Url url_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace vitalsd::ctl
