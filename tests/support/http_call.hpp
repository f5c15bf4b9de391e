// One blocking HTTP/1.1 request to the daemon's API on 127.0.0.1 (Beast), for tests that talk to
// a real vitalsd: status 0 when the connection failed.
#pragma once

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "net/asio.hpp"

namespace vitalsd::test {

struct HttpReply {
  unsigned status = 0;
  std::string body;
  nlohmann::json j() const { return nlohmann::json::parse(body, nullptr, false); }
};

inline HttpReply http_call(std::uint16_t port, boost::beast::http::verb method,
                           const std::string& target, const std::string& token,
                           const std::string& body = "") {
  namespace http = boost::beast::http;
  HttpReply r;
  try {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::accept, "application/json");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
      req.prepare_payload();
    }
    http::write(s, req);
    boost::beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(s, buf, res);
    r.status = res.result_int();
    r.body = res.body();
  } catch (const std::exception&) {
  }
  return r;
}

}  // namespace vitalsd::test
