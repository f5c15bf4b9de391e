// What the API asks of the daemon beyond reading the database: the nurse's actions and the
// live monitor view. The app implements it (daemon/app/pipeline.*) on top of the sessions
// manager and the journal; the API depends only on this interface.
//
// Every call is made on the io_context thread. `done` is called exactly once, on the
// io_context thread, after what the action changed is committed to the journal (so a GET
// right after it sees the change). Errors come back as a Reply with a 4xx status and
// {"error": "...", "detail": "..."}.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace vitalsd::api {

struct Reply {
  int status = 200;  // 200, 201; 400 bad argument, 404 unknown, 409 conflict (state/gate),
                     // 503 storage_unavailable (the journal cannot write)
  nlohmann::json body;
};
using Done = std::function<void(Reply)>;

// A request the API refused with 401 or 403 (docs/auditing.md "Refused attempts"). Never the
// token, nor its hash: for a 401 nothing about what was presented but `reason`.
struct RefusedAttempt {
  std::string address;  // the client's IP address
  std::string method;   // "GET" | "POST"
  std::string path;     // the route pattern ("/api/v1/alerts/{id}/ack"), else the path (no query)
  int status = 401;     // 401 | 403
  // 401: "no_token" (no Authorization header), "not_bearer" (another scheme or malformed),
  //      "unknown_token" (a bearer token that matches none), "session_invalid" (a browser
  //      session cookie that expired, was signed out or tampered with); 403: "role_not_allowed",
  //      "csrf_failed"
  std::string reason;
  std::string actor;  // 403: the valid token's name; empty for a 401
  std::string role;   // 403: the token's role
};

// A browser signing in or out (docs/api.md "Signing in from a browser"), for the journal.
struct Access {
  std::string address;  // the client's IP address
  std::string actor;    // the token's name
  std::string role;
  bool signed_in = true;   // false: signed out
  std::string expires_at;  // sign-in: when the session cookie expires (ISO 8601)
};

class Actions {
 public:
  virtual ~Actions() = default;

  // 201 {"id", "monitor", "patient", "protocol", "phase", "started_at", "started_by", ...}
  virtual void start_session(const std::string& monitor, const std::string& patient,
                             const std::string& protocol, const std::string& actor, Done done) = 0;
  // phase: "infusing" | "recovery" | "ended"; override_reason empty unless the nurse overrides a
  // blocked baseline gate (409 with the gate's reasons otherwise). 200 with the session.
  virtual void set_phase(std::int64_t session, const std::string& phase,
                         const std::string& override_reason, const std::string& actor,
                         Done done) = 0;
  // Refused with 409 discharge_blocked and the reasons (a high-priority alert open, less than
  // the protocol's min_recovery_s in recovery) unless override_reason is given.
  virtual void end_session(std::int64_t session, const std::string& override_reason,
                           const std::string& actor, Done done) = 0;
  // 200 with the alert after the action.
  virtual void acknowledge(std::int64_t alert, const std::string& actor, Done done) = 0;
  virtual void pause(std::int64_t alert, double seconds, const std::string& actor, Done done) = 0;
  virtual void reset(std::int64_t alert, const std::string& actor, Done done) = 0;

  // Synchronous, in memory: [{"id","location","driver","state","state_since","session",
  //   "last": {"hr": {"value","unit","validity","at","age_s"}, ...}}]
  virtual nlohmann::json monitors() = 0;
  // Synchronous, in memory: {"status": "ok" | "degraded", "storage": {"state": "ok" | "failing",
  //   ...}, "alerts": [technical alerts of the daemon itself, e.g. storage_failed]}.
  virtual nlohmann::json health() = 0;
  // Synchronous, in memory: a session as the API shows it (with phase, baseline, gate), or null.
  virtual nlohmann::json session(std::int64_t id) = 0;
  // Synchronous, never blocks: a refused request, for the journal (rate-limited by the app).
  virtual void refused(const RefusedAttempt& attempt) = 0;
  // Synchronous, never blocks: a browser signed in or out (journaled as api.signed_in /
  // api.signed_out).
  virtual void access(const Access& access) = 0;
  // Synchronous, in memory: {"protocols": [{"name", "description", "max_pause_s", ...,
  //   "baseline": {...}, "rules": [{"id", "name", "kind", "parameter", "condition", "limit",
  //   "priority", "phases", ...}]}]}.
  virtual nlohmann::json protocols() = 0;
};

}  // namespace vitalsd::api
