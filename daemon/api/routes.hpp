// The API's endpoints in one table: method, path pattern, the roles that may call it (the
// role × endpoint matrix documented in docs/api.md) and the query parameters it accepts.
// Anything not in this table is 404 (unknown path) or 405 (known path, other method).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/auth.hpp"

namespace vitalsd::api {

enum class Endpoint {
  health,
  monitors,
  sessions_create,
  sessions_list,
  session_show,
  session_phase,
  session_end,
  session_observations,
  alerts_list,
  alert_show,
  alert_ack,
  alert_pause,
  alert_reset,
  events_page,
  events_stream,
  events_ws,
  login,         // POST: a token for a browser session cookie
  login_status,  // GET: who the cookie (or token) is, with the CSRF token for the page
  logout,        // POST: sign the browser session out
  protocols,     // GET: the protocols and their rules (the dashboard draws the limits)
};

enum class Method { get, post };

struct Route {
  Endpoint endpoint;
  Method method;
  std::string_view pattern;  // below /api/v1/; "{id}" is a positive decimal integer
  bool needs_token;
  Roles roles;             // who may call it (when it needs a token)
  std::string_view query;  // accepted query parameters, comma separated
};

namespace roles {
inline constexpr Roles kNurse = bit(Role::nurse);
inline constexpr Roles kSystem = bit(Role::system);
inline constexpr Roles kAuditor = bit(Role::auditor);
inline constexpr Roles kAdmin = bit(Role::admin);
inline constexpr Roles kEveryone = kNurse | kSystem | kAuditor | kAdmin;
inline constexpr Roles kNurseActions = kNurse | kAdmin;  // changes: sessions and alert actions
}  // namespace roles

// THE role matrix. Reads are open to every role (the auditor reads everything; nurses read the
// journal too, because `vitalsctl watch` and the dashboard follow it); only nurses and admins
// change anything.
inline constexpr std::array kRoutes{
    Route{Endpoint::health, Method::get, "health", false, 0, ""},
    Route{Endpoint::monitors, Method::get, "monitors", true, roles::kEveryone, ""},
    Route{Endpoint::sessions_create, Method::post, "sessions", true, roles::kNurseActions, ""},
    Route{Endpoint::sessions_list, Method::get, "sessions", true, roles::kEveryone,
          "state,monitor,before,limit"},
    Route{Endpoint::session_show, Method::get, "sessions/{id}", true, roles::kEveryone, ""},
    Route{Endpoint::session_phase, Method::post, "sessions/{id}/phase", true, roles::kNurseActions,
          ""},
    Route{Endpoint::session_end, Method::post, "sessions/{id}/end", true, roles::kNurseActions, ""},
    Route{Endpoint::session_observations, Method::get, "sessions/{id}/observations", true,
          roles::kEveryone, "since,until,parameter,after,limit"},
    Route{Endpoint::alerts_list, Method::get, "alerts", true, roles::kEveryone,
          "state,monitor,session,before,limit,order"},
    Route{Endpoint::alert_show, Method::get, "alerts/{id}", true, roles::kEveryone, ""},
    Route{Endpoint::alert_ack, Method::post, "alerts/{id}/ack", true, roles::kNurseActions, ""},
    Route{Endpoint::alert_pause, Method::post, "alerts/{id}/pause", true, roles::kNurseActions, ""},
    Route{Endpoint::alert_reset, Method::post, "alerts/{id}/reset", true, roles::kNurseActions, ""},
    Route{Endpoint::events_page, Method::get, "events", true, roles::kEveryone,
          "after,limit,type,monitor,priority"},
    Route{Endpoint::events_stream, Method::get, "events/stream", true, roles::kEveryone,
          "after,type,monitor,priority"},
    Route{Endpoint::events_ws, Method::get, "events/ws", true, roles::kEveryone,
          "after,type,monitor,priority"},
    Route{Endpoint::login, Method::post, "login", false, 0, ""},
    Route{Endpoint::login_status, Method::get, "login", true, roles::kEveryone, ""},
    Route{Endpoint::logout, Method::post, "logout", true, roles::kEveryone, ""},
    Route{Endpoint::protocols, Method::get, "protocols", true, roles::kEveryone, ""},
};

inline constexpr std::string_view kPrefix = "/api/v1/";

struct Match {
  enum class Result { ok, bad_path, not_found, method_not_allowed } result = Result::not_found;
  const Route* route = nullptr;
  std::int64_t id = 0;  // the {id} segment, when the pattern has one
  std::string allow;    // for 405: the methods the path accepts
  std::string detail;   // for bad_path / not_found
};

// Matches a request path (without the query string). Rejects, without touching anything:
// percent-encoding, "." and ".." segments, empty segments ("//"), characters outside
// [A-Za-z0-9_-] and paths longer than 256 bytes.
Match match_route(Method method, std::string_view path);

bool allows(const Route& route, Role role);
std::string_view method_name(Method m);

}  // namespace vitalsd::api
