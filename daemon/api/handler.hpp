// One request in, one response (or the start of an event stream) out. Everything a client can
// send ends here as a JSON status; nothing throws out.
#pragma once

#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/state.hpp"
#include "store/queries.hpp"

namespace vitalsd::api {
namespace queries = store::queries;
}  // namespace vitalsd::api

namespace vitalsd::api::detail {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;

struct Response {
  unsigned status = 200;
  std::string body;        // JSON
  std::string allow;       // 405: Allow header
  bool challenge = false;  // 401: WWW-Authenticate: Bearer
  std::string upgrade;     // 426: Upgrade header
  std::string content_type = "application/json";
  // More header fields (Set-Cookie, the dashboard's Content-Security-Policy, ETag, ...).
  std::vector<std::pair<std::string, std::string>> headers;
};

struct StreamRequest {
  std::int64_t after = 0;
  queries::EventFilter filter;
  std::string actor;
  Auth::Digest token{};    // the actor's token digest when it opened: a reload that changes it ends
                           // the stream
  bool websocket = false;  // a WebSocket upgrade, else SSE
};

struct Outcome {
  Response response;
  std::optional<StreamRequest> stream;  // set: hand the connection to an event stream
};

Response error(unsigned status, std::string_view code, std::string_view detail);

// `state`, `req` and `address` must outlive the coroutine (the caller's members / locals).
// A 401 or 403 is reported to Actions::refused; repeated 401s from one address are answered
// after a delay (FailureThrottle: a timer on the strand, never a blocking wait).
asio::awaitable<Outcome> handle(const std::shared_ptr<State>& state, const Request& req,
                                const asio::ip::address& address);

}  // namespace vitalsd::api::detail
