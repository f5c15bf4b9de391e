#include "ctl/client.hpp"

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "net/asio.hpp"

namespace vitalsd::ctl {

namespace beast = boost::beast;
namespace http = beast::http;

std::optional<Url> parse_url(const std::string& text, std::string& why) {
  constexpr std::string_view kScheme = "http://";
  if (text.rfind(kScheme, 0) != 0) {
    why = "the URL must start with http:// (got '" + text + "')";
    return std::nullopt;
  }
  std::string rest = text.substr(kScheme.size());
  Url u;
  const auto slash = rest.find('/');
  if (slash != std::string::npos) {
    u.base = rest.substr(slash);
    while (!u.base.empty() && u.base.back() == '/') u.base.pop_back();
    rest = rest.substr(0, slash);
  }
  std::string hostport = rest;
  if (!hostport.empty() && hostport.front() == '[') {
    const auto close = hostport.find(']');
    if (close == std::string::npos) {
      why = "bad IPv6 address in URL";
      return std::nullopt;
    }
    u.host = hostport.substr(1, close - 1);
    u.port = close + 2 <= hostport.size() && hostport[close + 1] == ':' ? hostport.substr(close + 2)
                                                                        : "";
  } else {
    const auto colon = hostport.rfind(':');
    u.host = hostport.substr(0, colon);
    u.port = colon == std::string::npos ? "" : hostport.substr(colon + 1);
  }
  if (u.port.empty()) u.port = "80";
  if (u.host.empty()) {
    why = "no host in URL '" + text + "'";
    return std::nullopt;
  }
  return u;
}

Client::Client(Url url, std::string token, std::chrono::milliseconds timeout)
    : url_(std::move(url)), token_(std::move(token)), timeout_(timeout) {}

HttpResult Client::request(const std::string& method, const std::string& target,
                           const std::string& body) {
  HttpResult out;
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::request<http::string_body> req{http::string_to_verb(method), url_.base + target, 11};
  req.set(http::field::host, url_.host);
  req.set(http::field::user_agent, "vitalsctl");
  req.set(http::field::accept, "application/json");
  if (!token_.empty()) req.set(http::field::authorization, "Bearer " + token_);
  if (method == "POST") {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  boost::system::error_code failure;
  bool connected = false;

  // Blocking from the caller's view; run on a private io_context so every step has a timeout.
  resolver.async_resolve(
      url_.host, url_.port,
      [&](boost::system::error_code ec, asio::ip::tcp::resolver::results_type results) {
        if (ec) {
          failure = ec;
          return;
        }
        stream.expires_after(timeout_);
        stream.async_connect(results, [&](boost::system::error_code ec2,
                                          const asio::ip::tcp::endpoint&) {
          if (ec2) {
            failure = ec2;
            return;
          }
          connected = true;
          stream.expires_after(timeout_);
          http::async_write(stream, req, [&](boost::system::error_code ec3, std::size_t) {
            if (ec3) {
              failure = ec3;
              return;
            }
            stream.expires_after(timeout_);
            http::async_read(stream, buffer, parser,
                             [&](boost::system::error_code ec4, std::size_t) { failure = ec4; });
          });
        });
      });
  io.run();
  if (failure || !parser.is_header_done()) {
    out.connected = false;
    out.error = (connected ? "no answer from " : "cannot connect to ") + url_.host + ":" +
                url_.port + ": " +
                (failure == beast::error::timeout ? std::string("timed out") : failure.message());
    return out;
  }
  out.connected = true;
  out.status = parser.get().result_int();
  out.body = parser.get().body();
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return out;
}

}  // namespace vitalsd::ctl
