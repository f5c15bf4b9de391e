#include "api/handler.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <cmath>

#include <boost/beast/websocket/rfc6455.hpp>

#include "api/free_text.hpp"
#include "api/routes.hpp"
#include "core/json_text.hpp"
#include "core/text.hpp"
#include "core/time.hpp"
#include "web/assets.hpp"

namespace vitalsd::api::detail {
namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 16;

Response json_response(unsigned status, const json& body) {
  Response r;
  r.status = status;
  r.body = core::json_text(body);
  return r;
}

std::string_view reason_code(unsigned status) {
  switch (status) {
    case 400:
      return "bad_request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 415:
      return "unsupported_media_type";
    case 422:
      return "unprocessable";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "error";
  }
}

// ---- query strings ----------------------------------------------------------------------

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      const char c = static_cast<char>(hi * 16 + lo);
      if (c == '\0') return std::nullopt;
      out += c;
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct Query {
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* get(std::string_view name) const {
    for (const auto& [k, v] : params)
      if (k == name) return &v;
    return nullptr;
  }
};

bool listed(std::string_view list, std::string_view name) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    if (list.substr(0, comma) == name) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Parses "a=1&b=2" accepting only the names in `allowed`; an error Response otherwise.
std::optional<Response> parse_query(std::string_view text, std::string_view allowed, Query& q) {
  while (!text.empty()) {
    const auto amp = text.find('&');
    const auto part = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto name = percent_decode(part.substr(0, eq));
    auto value = percent_decode(eq == std::string_view::npos ? "" : part.substr(eq + 1));
    if (!name || !value) return error(400, "bad_request", "malformed query string");
    if (!listed(allowed, *name)) {
      const auto shown = name->size() > 40 ? name->substr(0, 40) + "..." : *name;
      return error(400, "bad_request",
                   "unknown query parameter '" + core::json_text(json(shown)) + "'" +
                       (allowed.empty() ? "" : "; accepted: " + std::string(allowed)));
    }
    if (q.get(*name)) return error(400, "bad_request", "query parameter '" + *name + "' repeated");
    q.params.emplace_back(std::move(*name), std::move(*value));
  }
  return std::nullopt;
}

std::optional<std::int64_t> parse_int(std::string_view s, std::int64_t min) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc{} || r.ptr != s.data() + s.size() || v < min) return std::nullopt;
  return v;
}

// Reads an integer query parameter; sets `err` on a bad one.
std::optional<std::int64_t> int_param(const Query& q, std::string_view name, std::int64_t min,
                                      std::optional<Response>& err) {
  const auto* v = q.get(name);
  if (!v) return std::nullopt;
  auto n = parse_int(*v, min);
  if (!n)
    err = error(400, "bad_request",
                std::string(name) + " must be an integer >= " + std::to_string(min));
  return n;
}

std::optional<std::string> time_param(const Query& q, std::string_view name,
                                      std::optional<Response>& err) {
  const auto* v = q.get(name);
  if (!v) return std::nullopt;
  auto t = core::parse_iso8601(*v);
  if (!t) {
    err = error(400, "bad_request",
                std::string(name) + " must be ISO 8601 UTC, e.g. 2026-11-27T14:30:31.123Z");
    return std::nullopt;
  }
  return core::format_iso8601(*t);
}

// A comma list whose items must each be one of `allowed` (when given) and at most 64 bytes.
std::vector<std::string> list_param(const Query& q, std::string_view name,
                                    std::initializer_list<std::string_view> allowed,
                                    std::optional<Response>& err) {
  const auto* v = q.get(name);
  if (!v) return {};
  auto items = queries::split_list(*v);
  if (items.empty() || items.size() > 32) {
    err = error(400, "bad_request", std::string(name) + " must be a non-empty comma list");
    return {};
  }
  for (const auto& item : items) {
    bool ok = item.size() <= 64;
    if (ok && allowed.size()) {
      ok = false;
      for (auto a : allowed) ok = ok || item == a;
    }
    if (!ok) {
      std::string accepted;
      for (auto a : allowed) accepted += (accepted.empty() ? "" : ", ") + std::string(a);
      err = error(400, "bad_request",
                  "bad " + std::string(name) +
                      (accepted.empty() ? std::string() : "; accepted: " + accepted));
      return {};
    }
  }
  return items;
}

// ---- JSON bodies ------------------------------------------------------------------------

enum class Type { string, number };
struct Field {
  std::string_view name;
  Type type;
  bool required;
  std::size_t max_length = 0;  // strings
};

// Depth check before parsing, so a deeply nested body costs nothing.
bool shallow(std::string_view body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

std::string shown_name(const std::string& name) {
  return core::json_text(
      json(name.size() > 40 ? std::string(core::utf8_prefix(name, 40)) + "..." : name));
}

// JSON's whitespace only (an empty body is {}).
bool blank(std::string_view body) {
  for (char c : body)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  return true;
}

bool has_nul(const json& j) {
  if (j.is_string()) return j.get_ref<const std::string&>().find('\0') != std::string::npos;
  if (j.is_object()) {
    for (const auto& [key, value] : j.items())
      if (key.find('\0') != std::string::npos || has_nul(value)) return true;
  } else if (j.is_array()) {
    for (const auto& value : j)
      if (has_nul(value)) return true;
  }
  return false;
}

// Parses an object body holding only `fields`. An empty body is {}.
std::optional<Response> parse_body(const std::string& body, std::initializer_list<Field> fields,
                                   json& out) {
  if (blank(body)) {
    out = json::object();
  } else {
    if (!shallow(body)) return error(400, "bad_request", "JSON nested too deeply");
    // RFC 8259 leaves duplicate names to the parser; two parsers reading one body differently is
    // how a check is slipped past, so a name given twice is refused.
    std::vector<std::vector<std::string>> names;  // per open object
    std::string duplicate;
    out = json::parse(
        body,
        [&](int, json::parse_event_t event, json& parsed) {
          if (event == json::parse_event_t::object_start) {
            names.emplace_back();
          } else if (event == json::parse_event_t::object_end) {
            if (!names.empty()) names.pop_back();
          } else if (event == json::parse_event_t::key && !names.empty()) {
            const auto& key = parsed.get_ref<const std::string&>();
            for (const auto& seen : names.back())
              if (seen == key && duplicate.empty()) duplicate = key;
            names.back().push_back(key);
          }
          return true;
        },
        false);
    if (out.is_discarded()) {
      if (const auto field = field_with_invalid_utf8(body); !field.empty())
        return error(400, "bad_request", "field " + shown_name(field) + " is not valid UTF-8");
      if (const auto at = first_invalid_utf8(body); at != std::string::npos)
        return error(400, "bad_request",
                     "the body is not valid UTF-8 (byte " + std::to_string(at) + ")");
      return error(400, "bad_request", "malformed JSON");
    }
    if (!duplicate.empty())
      return error(400, "bad_request", "field " + shown_name(duplicate) + " given twice");
    if (has_nul(out)) return error(400, "bad_request", "a string holds a NUL character (\\u0000)");
  }
  if (!out.is_object()) return error(400, "bad_request", "the body must be a JSON object");
  for (const auto& [key, value] : out.items()) {
    const Field* f = nullptr;
    for (const auto& candidate : fields)
      if (candidate.name == key) f = &candidate;
    if (!f) return error(400, "bad_request", "unknown field " + shown_name(key));
    if (f->type == Type::string) {
      if (!value.is_string())
        return error(400, "bad_request", "field \"" + key + "\" must be a string");
      const auto& s = value.get_ref<const std::string&>();
      if (s.empty() && f->required)
        return error(400, "bad_request", "field \"" + key + "\" must not be empty");
      if (f->max_length && s.size() > f->max_length)
        return error(400, "bad_request",
                     "field \"" + key + "\" longer than " + std::to_string(f->max_length));
      if (auto problem = free_text_error(s))
        return error(400, "bad_request", "field \"" + key + "\" " + *problem);
    } else if (!value.is_number() || !std::isfinite(value.get<double>())) {
      return error(400, "bad_request", "field \"" + key + "\" must be a number");
    }
  }
  for (const auto& f : fields)
    if (f.required && !out.contains(f.name))
      return error(400, "bad_request", "missing field \"" + std::string(f.name) + "\"");
  return std::nullopt;
}

// ---- actions ----------------------------------------------------------------------------

// Calls an Actions method and waits, on the strand, for its Done.
template <class F>
asio::awaitable<Reply> act(const std::shared_ptr<State>& state, F f) {
  auto initiate = [state, f = std::move(f)](auto handler) mutable {
    using Handler = decltype(handler);
    auto slot = std::make_shared<std::optional<Handler>>(std::move(handler));
    Done done = [slot, strand = state->strand](Reply reply) {
      asio::post(strand, [slot, reply = std::move(reply)]() mutable {
        if (!*slot) return;  // Done called twice: the first one answered
        auto h = std::move(**slot);
        slot->reset();
        std::move(h)(std::move(reply));
      });
    };
    Done fallback = done;
    try {
      f(std::move(done));
    } catch (const std::exception& e) {
      spdlog::error("api: action threw: {}", e.what());
      fallback(Reply{500, {{"error", "internal"}, {"detail", "the action failed"}}});
    }
  };
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(Reply)>(
      std::move(initiate), asio::use_awaitable);
}

Response from_reply(Reply r) {
  unsigned status = (r.status >= 200 && r.status <= 599) ? static_cast<unsigned>(r.status) : 500;
  if (status >= 400 && (!r.body.is_object() || !r.body.contains("error")))
    r.body =
        json{{"error", reason_code(status)}, {"detail", r.body.is_string() ? r.body : json("")}};
  if (r.body.is_null()) r.body = json::object();
  return json_response(status, r.body);
}

// A 409 that an override reason would pass (the baseline gate, the discharge guard) says how to
// give one, for the API and for vitalsctl, which prints `detail` (docs/api.md).
void say_how_to_override(Reply& r, std::int64_t session) {
  if (r.status != 409 || !r.body.is_object()) return;
  const auto code = r.body.value("error", std::string());
  const auto id = std::to_string(session);
  std::string how;
  if (code == "discharge_blocked")
    how = "To end anyway give an override reason: {\"override\": \"REASON\"} " +
          ("(vitalsctl session end " + id + " --override REASON).");
  else if (code == "gate_blocked")
    how =
        "To start infusing anyway give an override reason: {\"phase\": \"infusing\", "
        "\"override\": \"REASON\"} (vitalsctl session phase " +
        id + " infusing --override REASON).";
  else
    return;
  auto detail = r.body.value("detail", std::string());
  if (!detail.empty() && detail.back() != '.') detail += '.';
  r.body["detail"] = detail.empty() ? how : detail + " " + how;
}

// GET /api/v1/events is the live stream (DESIGN.md's contract) unless the client asks for a
// JSON page of the journal with `Accept: application/json` (vitalsctl does).
bool wants_event_stream(const Request& req) {
  const auto accept = req[http::field::accept];
  if (accept.find("text/event-stream") != boost::beast::string_view::npos) return true;
  return accept.find("application/json") == boost::beast::string_view::npos;
}

struct Ctx {
  std::shared_ptr<State> state;
  const Request& req;
  const Match& match;
  const Query& query;
  const Identity* who;
  const asio::ip::address& address;
  const WebSessions::Valid* web;  // the browser session the request came with, if any
};

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string iso_from_unix(std::int64_t s) {
  return core::format_iso8601(core::Timestamp{std::chrono::seconds{s}});
}

std::string address_text(const asio::ip::address& a) {
  return a.is_unspecified() ? std::string("unknown") : a.to_string();
}

// The session cookie's attributes: never readable by script, never sent cross-site, only to the
// API. `max_age` 0 deletes it.
std::string session_cookie(std::string_view value, std::int64_t max_age, bool secure) {
  return std::string(WebSessions::kCookie) + "=" + std::string(value) +
         "; Path=/api/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
         (secure ? "; Secure" : "");
}

json who_json(const Identity& who, const std::string& csrf, std::int64_t expires) {
  return {{"name", who.name},
          {"role", role_name(who.role)},
          {"csrf", csrf},
          {"expires_at", iso_from_unix(expires)}};
}

asio::awaitable<Outcome> dispatch(const Ctx& c) {
  auto& st = *c.state;
  std::optional<Response> err;
  const auto id = c.match.id;
  const std::string actor = c.who ? c.who->name : std::string();
  json body;
  switch (c.match.route->endpoint) {
    case Endpoint::health: {
      co_return Outcome{json_response(200, st.actions.health()), {}};
    }
    case Endpoint::monitors: {
      json list = st.actions.monitors();
      if (!list.is_array()) list = json::array();
      co_return Outcome{json_response(200, {{"monitors", std::move(list)}}), {}};
    }
    case Endpoint::sessions_create: {
      if ((err = parse_body(c.req.body(),
                            {{"monitor", Type::string, true, 64},
                             {"patient", Type::string, true, 128},
                             {"protocol", Type::string, true, 64}},
                            body)))
        co_return Outcome{*err, {}};
      auto reply = co_await act(c.state, [&](Done done) {
        st.actions.start_session(body["monitor"], body["patient"], body["protocol"], actor,
                                 std::move(done));
      });
      if (reply.status == 200) reply.status = 201;
      if (reply.status == 201)
        spdlog::info("api: {} started session {} on {}", actor,
                     core::json_text(reply.body.value("id", json())),
                     body["monitor"].get<std::string>());
      co_return Outcome{from_reply(std::move(reply)), {}};
    }
    case Endpoint::sessions_list: {
      queries::SessionFilter f;
      if (const auto* s = c.query.get("state")) {
        if (*s != "active" && *s != "ended")
          co_return Outcome{error(400, "bad_request", "state must be active or ended"), {}};
        f.state = *s;
      }
      f.monitors = list_param(c.query, "monitor", {}, err);
      f.before = int_param(c.query, "before", 1, err);
      f.limit = static_cast<int>(int_param(c.query, "limit", 1, err).value_or(200));
      if (err) co_return Outcome{*err, {}};
      co_return Outcome{json_response(200, queries::sessions(*st.db, f)), {}};
    }
    case Endpoint::session_show: {
      json live = st.actions.session(id);
      if (!live.is_null()) co_return Outcome{json_response(200, live), {}};
      auto row = queries::session(*st.db, id);
      if (!row) co_return Outcome{error(404, "not_found", "no session " + std::to_string(id)), {}};
      co_return Outcome{json_response(200, *row), {}};
    }
    case Endpoint::session_phase: {
      if ((err = parse_body(
               c.req.body(),
               {{"phase", Type::string, true, 32}, {"override", Type::string, false, 500}}, body)))
        co_return Outcome{*err, {}};
      const std::string phase = body["phase"];
      const std::string reason = body.value("override", std::string());
      auto reply = co_await act(c.state, [&](Done done) {
        st.actions.set_phase(id, phase, reason, actor, std::move(done));
      });
      say_how_to_override(reply, id);
      if (reply.status < 300)
        spdlog::info("api: {} moved session {} to {}{}", actor, id, phase,
                     reason.empty() ? "" : " (override)");
      co_return Outcome{from_reply(std::move(reply)), {}};
    }
    case Endpoint::session_end: {
      if ((err = parse_body(c.req.body(), {{"override", Type::string, false, 500}}, body)))
        co_return Outcome{*err, {}};
      const std::string reason = body.value("override", std::string());
      auto reply = co_await act(
          c.state, [&](Done done) { st.actions.end_session(id, reason, actor, std::move(done)); });
      say_how_to_override(reply, id);
      if (reply.status < 300)
        spdlog::info("api: {} ended session {}{}", actor, id, reason.empty() ? "" : " (override)");
      co_return Outcome{from_reply(std::move(reply)), {}};
    }
    case Endpoint::session_observations: {
      queries::ObservationFilter f;
      f.session = id;
      f.since = time_param(c.query, "since", err);
      f.until = time_param(c.query, "until", err);
      f.parameters = list_param(c.query, "parameter", {}, err);
      f.after = int_param(c.query, "after", 0, err);
      f.limit = static_cast<int>(int_param(c.query, "limit", 1, err).value_or(500));
      if (err) co_return Outcome{*err, {}};
      if (st.actions.session(id).is_null() && !queries::session(*st.db, id))
        co_return Outcome{error(404, "not_found", "no session " + std::to_string(id)), {}};
      co_return Outcome{json_response(200, queries::observations(*st.db, f)), {}};
    }
    case Endpoint::alerts_list: {
      queries::AlertFilter f;
      f.states =
          list_param(c.query, "state",
                     {"active", "acknowledged", "paused", "latched", "cleared", "open"}, err);
      f.monitors = list_param(c.query, "monitor", {}, err);
      f.session = int_param(c.query, "session", 1, err);
      f.before = int_param(c.query, "before", 1, err);
      f.limit = static_cast<int>(int_param(c.query, "limit", 1, err).value_or(200));
      // What a nurse reads first: priority, then escalation level, then newest (docs/api.md).
      f.order = queries::AlertOrder::urgency;
      if (const auto* o = c.query.get("order")) {
        if (*o == "newest")
          f.order = queries::AlertOrder::newest;
        else if (*o != "urgency")
          co_return Outcome{error(400, "bad_request", "order must be urgency or newest"), {}};
      }
      if (err) co_return Outcome{*err, {}};
      co_return Outcome{json_response(200, queries::alerts(*st.db, f)), {}};
    }
    case Endpoint::alert_show: {
      auto row = queries::alert(*st.db, id);
      if (!row) co_return Outcome{error(404, "not_found", "no alert " + std::to_string(id)), {}};
      co_return Outcome{json_response(200, *row), {}};
    }
    case Endpoint::alert_ack:
    case Endpoint::alert_reset: {
      if ((err = parse_body(c.req.body(), {}, body))) co_return Outcome{*err, {}};
      const bool ack = c.match.route->endpoint == Endpoint::alert_ack;
      auto reply = co_await act(c.state, [&](Done done) {
        if (ack)
          st.actions.acknowledge(id, actor, std::move(done));
        else
          st.actions.reset(id, actor, std::move(done));
      });
      if (reply.status < 300)
        spdlog::info("api: {} {} alert {}", actor, ack ? "acknowledged" : "reset", id);
      co_return Outcome{from_reply(std::move(reply)), {}};
    }
    case Endpoint::alert_pause: {
      if ((err = parse_body(c.req.body(), {{"seconds", Type::number, true}}, body)))
        co_return Outcome{*err, {}};
      const double seconds = body["seconds"].get<double>();
      if (!(seconds > 0 && seconds <= 86400))
        co_return Outcome{error(400, "bad_request", "seconds must be in (0, 86400]"), {}};
      auto reply = co_await act(
          c.state, [&](Done done) { st.actions.pause(id, seconds, actor, std::move(done)); });
      if (reply.status < 300) spdlog::info("api: {} paused alert {} for {} s", actor, id, seconds);
      co_return Outcome{from_reply(std::move(reply)), {}};
    }
    case Endpoint::login:  // answered by handle(): a wrong token is a 401 like any other
      break;
    case Endpoint::login_status: {
      if (c.web)
        co_return Outcome{json_response(200, who_json(*c.who, c.web->csrf, c.web->expires)), {}};
      // A bearer token: who it is; there is no browser session and so no CSRF token.
      co_return Outcome{
          json_response(200, {{"name", c.who->name}, {"role", role_name(c.who->role)}}), {}};
    }
    case Endpoint::logout: {
      if ((err = parse_body(c.req.body(), {}, body))) co_return Outcome{*err, {}};
      auto r = json_response(200, {{"signed_out", c.web != nullptr}});
      if (c.web) {
        if (!st.web.revoke(*c.web, unix_now()))
          spdlog::warn("api: could not save the sign-out of {} (it holds until a restart)",
                       c.who->name);
        Access a;
        a.address = address_text(c.address);
        a.actor = c.who->name;
        a.role = std::string(role_name(c.who->role));
        a.signed_in = false;
        st.actions.access(a);
        spdlog::info("api: {} signed out from {}", c.who->name, a.address);
      }
      r.headers.emplace_back("Set-Cookie", session_cookie("", 0, st.settings.tls.enabled));
      co_return Outcome{std::move(r), {}};
    }
    case Endpoint::protocols: {
      co_return Outcome{json_response(200, st.actions.protocols()), {}};
    }
    case Endpoint::events_page:
    case Endpoint::events_stream:
    case Endpoint::events_ws: {
      StreamRequest s;
      s.after = int_param(c.query, "after", 0, err).value_or(0);
      s.filter.types = list_param(c.query, "type", {}, err);
      s.filter.monitors = list_param(c.query, "monitor", {}, err);
      s.filter.priorities = list_param(c.query, "priority", {"high", "medium", "low"}, err);
      const auto limit = int_param(c.query, "limit", 1, err).value_or(100);
      if (err) co_return Outcome{*err, {}};
      if (c.match.route->endpoint == Endpoint::events_ws) {
        if (!boost::beast::websocket::is_upgrade(c.req)) {
          auto r = error(426, "upgrade_required",
                         "events/ws is a WebSocket; send Upgrade: websocket (or use "
                         "events/stream for Server-Sent Events)");
          r.upgrade = "websocket";
          co_return Outcome{std::move(r), {}};
        }
        s.websocket = true;
      }
      if (c.match.route->endpoint != Endpoint::events_page || wants_event_stream(c.req)) {
        const auto last = c.req["Last-Event-ID"];
        if (!last.empty()) {
          auto n = parse_int(std::string_view(last.data(), last.size()), 0);
          if (!n) co_return Outcome{error(400, "bad_request", "bad Last-Event-ID"), {}};
          s.after = *n;
        }
        s.actor = actor;
        if (const auto* token = st.auth.digest_of(actor)) s.token = *token;
        co_return Outcome{{}, std::move(s)};
      }
      auto page = queries::events(*st.db, s.after, static_cast<int>(limit), s.filter);
      Response r;
      r.body = queries::event_page_json(page);
      co_return Outcome{std::move(r), {}};
    }
  }
  co_return Outcome{error(404, "not_found", "no such endpoint"), {}};
}

// Why a request got 401, from its Authorization header alone; nothing of the token itself.
std::string_view unauthorized_reason(std::string_view header) {
  if (header.empty()) return "no_token";
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return "not_bearer";
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return "not_bearer";
  }
  return "unknown_token";
}

// Tells the app about a 401 or 403 (it journals them, rate-limited). A path that matches no
// route is recorded as "*": it is the client's text and could carry anything, a token included.
void report_refusal(State& st, const asio::ip::address& address, Method method, const Match& m,
                    int status, std::string_view reason, const Identity* who) {
  RefusedAttempt a;
  a.address = address.is_unspecified() ? std::string("unknown") : address.to_string();
  a.method = std::string(method_name(method));
  a.path = m.result == Match::Result::ok && m.route
               ? std::string(kPrefix) + std::string(m.route->pattern)
               : std::string("*");
  a.status = status;
  a.reason = std::string(reason);
  if (who) {
    a.actor = who->name;
    a.role = std::string(role_name(who->role));
  }
  try {
    st.actions.refused(a);
  } catch (const std::exception& e) {
    spdlog::error("api: recording a refused request failed: {}", e.what());
  }
}

}  // namespace

Response error(unsigned status, std::string_view code, std::string_view detail) {
  return json_response(status, {{"error", code}, {"detail", detail}});
}

namespace {

// The dashboard's files (daemon/web), for GET and HEAD outside /api/. Nothing is loaded from
// elsewhere: the policy lets the page reach only this origin.
Response asset_response(const Request& req, std::string_view path) {
  const auto* a = web::find_asset(path);
  if (!a)
    return error(404, "not_found", "no such page; the dashboard is at /, the API under /api/v1/");
  Response r;
  r.content_type = std::string(a->content_type);
  r.headers = {{"ETag", std::string(a->etag)},
               {"Cache-Control", "no-cache"},
               {"Content-Security-Policy",
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'none'"},
               {"X-Content-Type-Options", "nosniff"},
               {"X-Frame-Options", "DENY"},
               {"Referrer-Policy", "no-referrer"}};
  const auto inm = req[http::field::if_none_match];
  if (std::string_view(inm.data(), inm.size()) == a->etag) {
    r.status = 304;
    return r;
  }
  r.body = std::string(a->body);
  return r;
}

// A JSON body's media type: application/json, with or without parameters ("; charset=utf-8").
bool json_media_type(std::string_view type) {
  const auto semi = type.find(';');
  auto base = type.substr(0, semi);
  while (!base.empty() && base.back() == ' ') base.remove_suffix(1);
  return boost::beast::iequals(boost::beast::string_view(base.data(), base.size()),
                               "application/json");
}

// GET events (as a stream), events/stream, events/ws.
bool opens_event_stream(const Route& route, const Request& req) {
  return route.endpoint == Endpoint::events_ws || route.endpoint == Endpoint::events_stream ||
         (route.endpoint == Endpoint::events_page && wants_event_stream(req));
}

std::string header_text(const Request& req, std::string_view name) {
  const auto v = req[boost::beast::string_view(name.data(), name.size())];
  return std::string(v.data(), v.size());
}

// Why a browser-session request for an event stream is refused for its origin, or nullopt
// (docs/api.md "Origins"). Accepted: the daemon's own origin (this listener's scheme and the
// Host the request came to) and [api] allowed_origins. A WebSocket always carries Origin in a
// browser, so one without it is refused. Chromium leaves Origin off a same-origin EventSource:
// there Sec-Fetch-Site, when sent, must say same-origin (or none: typed in the address bar);
// with neither header (plain HTTP to a LAN name: no Sec-Fetch-*) it is served, since a page
// of another origin always sends Origin with an EventSource, and CORS keeps anything else
// (an <img>, a no-cors fetch) from reading the answer.
std::optional<std::string> origin_refusal(const State& st, const Request& req, bool websocket) {
  const bool has_origin = req.find(http::field::origin) != req.end();
  if (!has_origin) {
    if (websocket)
      return "a WebSocket opened with a browser session must carry Origin (browsers always send "
             "it); clinic systems use a bearer token";
    const auto site = header_text(req, "Sec-Fetch-Site");
    if (site.empty() || boost::beast::iequals(site, "same-origin") ||
        boost::beast::iequals(site, "none"))
      return std::nullopt;
    return "this event stream was requested by a page of another origin (Sec-Fetch-Site: " +
           site.substr(0, 20) + "); open it from the dashboard's own origin";
  }
  const auto origin_text = header_text(req, "Origin");
  const auto origin = settings::canonical_origin(origin_text);
  const auto host = header_text(req, "Host");
  const auto own = settings::canonical_origin(
      std::string(st.settings.tls.enabled ? "https://" : "http://") + host);
  if (origin) {
    if (own && *origin == *own) return std::nullopt;
    for (const auto& allowed : st.settings.allowed_origins)
      if (*origin == allowed) return std::nullopt;
  }
  auto shown = origin_text.substr(0, 100);
  for (auto& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F) c = '?';
  return "origin " + shown + " may not open the event streams with a browser session: only " +
         (own ? *own : std::string("this daemon's own origin")) + " and [api] allowed_origins may";
}

// A 401, reported for the journal and answered late when this address keeps failing.
asio::awaitable<Outcome> unauthorized(const std::shared_ptr<State>& state,
                                      const asio::ip::address& address, Method method,
                                      const Match& m, std::string_view reason,
                                      std::string_view detail, bool challenge) {
  ++state->unauthorized;
  report_refusal(*state, address, method, m, 401, reason, nullptr);
  const auto delay = state->throttle.failure(address.to_string(), FailureThrottle::Clock::now());
  if (delay.count() > 0) {
    ++state->delayed_unauthorized;
    asio::steady_timer timer(state->strand, delay);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  auto r = error(401, "unauthorized", detail);
  r.challenge = challenge;
  co_return Outcome{std::move(r), {}};
}

}  // namespace

asio::awaitable<Outcome> handle(const std::shared_ptr<State>& state, const Request& req,
                                const asio::ip::address& address) {
  ++state->requests;
  try {
    Method method;
    if (req.method() == http::verb::get || req.method() == http::verb::head)
      method = Method::get;
    else if (req.method() == http::verb::post)
      method = Method::post;
    else
      co_return Outcome{error(405, "method_not_allowed", "only GET and POST"), {}};

    const std::string_view target(req.target().data(), req.target().size());
    if (target.size() > Limits::kTargetBytes)
      co_return Outcome{error(400, "bad_request", "request target too long"), {}};
    const auto qmark = target.find('?');
    const auto path = target.substr(0, qmark);
    const auto query_text =
        qmark == std::string_view::npos ? std::string_view() : target.substr(qmark + 1);

    if (path.substr(0, 5) != "/api/" && path != "/api") {
      if (method != Method::get) {
        auto r = error(405, "method_not_allowed", "the dashboard's pages are read with GET");
        r.allow = "GET, HEAD";
        co_return Outcome{std::move(r), {}};
      }
      co_return Outcome{asset_response(req, path), {}};
    }

    const Match m = match_route(method, path);
    const Identity* who = nullptr;
    std::optional<WebSessions::Valid> web;
    // Everything but health and login needs a token or a browser session, whether or not the
    // path exists: an anonymous client learns nothing about the API.
    const bool open = m.result == Match::Result::ok && !m.route->needs_token;
    if (!open) {
      const auto auth = req[http::field::authorization];
      const std::string_view auth_text(auth.data(), auth.size());
      const auto cookie = req[http::field::cookie];
      const std::string_view cookie_text(cookie.data(), cookie.size());
      if (auth_text.empty() && !WebSessions::find_cookie(cookie_text).empty()) {
        web = state->web.check(cookie_text, unix_now(), state->auth);
        if (web) who = state->auth.find(web->name);
        if (!who)
          co_return co_await unauthorized(
              state, address, method, m, "session_invalid",
              "the browser session has expired, was signed out or its token was removed; sign in "
              "again",
              false);
      } else {
        who = state->auth.authenticate(auth_text);
        if (!who)
          co_return co_await unauthorized(state, address, method, m, unauthorized_reason(auth_text),
                                          "a valid bearer token is required", true);
      }
    }
    switch (m.result) {
      case Match::Result::ok:
        break;
      case Match::Result::bad_path:
        co_return Outcome{error(400, "bad_request", m.detail), {}};
      case Match::Result::not_found:
        co_return Outcome{error(404, "not_found", m.detail), {}};
      case Match::Result::method_not_allowed: {
        auto r = error(405, "method_not_allowed", m.detail);
        r.allow = m.allow;
        co_return Outcome{std::move(r), {}};
      }
    }
    if (who && !allows(*m.route, who->role)) {
      ++state->forbidden;
      report_refusal(*state, address, method, m, 403, "role_not_allowed", who);
      co_return Outcome{error(403, "forbidden",
                              "role '" + std::string(role_name(who->role)) + "' may not " +
                                  std::string(method_name(m.route->method)) + " " +
                                  std::string(m.route->pattern)),
                        {}};
    }
    // A change made with a browser session carries the session's CSRF token: another site's
    // page can make the browser send the cookie (were SameSite ever bypassed) but cannot read
    // the token.
    if (web && method == Method::post) {
      const auto csrf = req["X-CSRF-Token"];
      const std::string_view csrf_text(csrf.data(), csrf.size());
      if (!WebSessions::csrf_matches(*web, csrf_text)) {
        ++state->forbidden;
        report_refusal(*state, address, method, m, 403, "csrf_failed", who);
        co_return Outcome{error(403, "csrf_failed",
                                "a change made from a browser needs the X-CSRF-Token the "
                                "sign-in gave; reload the page"),
                          {}};
      }
    }
    // An event stream opened with a browser session: only from this daemon's own origin or one
    // of [api] allowed_origins. A page of another origin of the same site (another port, another
    // host of the clinic's domain) gets the SameSite=Strict cookie sent along, and a WebSocket
    // has no CORS to keep it from reading what comes back.
    if (web && opens_event_stream(*m.route, req)) {
      if (auto why = origin_refusal(*state, req, m.route->endpoint == Endpoint::events_ws)) {
        ++state->forbidden;
        report_refusal(*state, address, method, m, 403, "origin_refused", who);
        co_return Outcome{error(403, "origin_refused", *why), {}};
      }
    }
    if (method == Method::post && !blank(req.body())) {
      const auto type = req[http::field::content_type];
      if (!json_media_type(std::string_view(type.data(), type.size())))
        co_return Outcome{error(415, "unsupported_media_type",
                                "request bodies are JSON: send Content-Type: application/json"),
                          {}};
    }
    Query q;
    if (auto e = parse_query(query_text, m.route->query, q)) co_return Outcome{*e, {}};
    if (!state->db) co_return Outcome{error(503, "unavailable", "the server is not started"), {}};
    if (m.route->endpoint == Endpoint::login) {
      json body;
      if (auto e = parse_body(req.body(), {{"token", Type::string, true, 512}}, body))
        co_return Outcome{*e, {}};
      const std::string header = "Bearer " + body["token"].get<std::string>();
      const Identity* id = state->auth.authenticate(header);
      if (!id)
        co_return co_await unauthorized(state, address, method, m, "unknown_token",
                                        "that token is not known here", false);
      const auto* digest = state->auth.digest_of(id->name);
      const auto now = unix_now();
      const auto issued = digest ? state->web.issue(id->name, *digest, now) : std::nullopt;
      if (!issued) {
        auto r = error(503, "sign_in_unavailable",
                       "too many browser sessions were signed out and have not expired yet (" +
                           std::to_string(state->web.max_sign_outs()) +
                           "); sign-ins resume as they expire (Retry-After). Bearer tokens "
                           "still work.");
        r.headers.emplace_back("Retry-After", std::to_string(state->web.retry_after(now)));
        co_return Outcome{std::move(r), {}};
      }
      Access a;
      a.address = address_text(address);
      a.actor = id->name;
      a.role = std::string(role_name(id->role));
      a.expires_at = iso_from_unix(issued->expires);
      state->actions.access(a);
      spdlog::info("api: {} signed in from {}", id->name, a.address);
      auto r = json_response(200, who_json(*id, issued->csrf, issued->expires));
      r.headers.emplace_back("Set-Cookie",
                             session_cookie(issued->cookie, state->web.lifetime().count(),
                                            state->settings.tls.enabled));
      co_return Outcome{std::move(r), {}};
    }
    // Named, not a temporary: g++ 12 destroys temporaries in a co_await expression twice.
    const Ctx ctx{state, req, m, q, who, address, web ? &*web : nullptr};
    auto out = co_await dispatch(ctx);
    spdlog::debug("api: {} {} {} id={} -> {}", who ? who->name : "-", method_name(method),
                  m.route->pattern, m.id, out.stream ? 200u : out.response.status);
    co_return out;
  } catch (const std::exception& e) {
    spdlog::error("api: request failed: {}", e.what());
    co_return Outcome{error(500, "internal", "the request failed; see the daemon's log"), {}};
  }
}

}  // namespace vitalsd::api::detail
