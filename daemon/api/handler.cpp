#include "api/handler.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <charconv>
#include <cmath>

#include <boost/beast/websocket/rfc6455.hpp>

#include "api/routes.hpp"
#include "core/time.hpp"

namespace vitalsd::api::detail {
namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 16;

Response json_response(unsigned status, const json& body) {
  return Response{status, body.dump(-1, ' ', false, json::error_handler_t::replace), {}, false, {}};
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
                   "unknown query parameter '" +
                       json(shown).dump(-1, ' ', false, json::error_handler_t::replace) + "'" +
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
  auto s = json(name.size() > 40 ? name.substr(0, 40) + "..." : name)
               .dump(-1, ' ', false, json::error_handler_t::replace);
  return s;
}

// Parses an object body holding only `fields`. An empty body is {}.
std::optional<Response> parse_body(const std::string& body, std::initializer_list<Field> fields,
                                   json& out) {
  bool blank = true;
  for (char c : body)
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') blank = false;
  if (blank) {
    out = json::object();
  } else {
    if (!shallow(body)) return error(400, "bad_request", "JSON nested too deeply");
    out = json::parse(body, nullptr, false);
    if (out.is_discarded()) return error(400, "bad_request", "malformed JSON");
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
};

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
                     reply.body.value("id", json()).dump(), body["monitor"].get<std::string>());
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
        co_return Outcome{{}, std::move(s)};
      }
      auto page = queries::events(*st.db, s.after, static_cast<int>(limit), s.filter);
      co_return Outcome{Response{200, queries::event_page_json(page), {}, false, {}}, {}};
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

    const Match m = match_route(method, path);
    const Identity* who = nullptr;
    // Everything but health needs a token, whether or not the path exists: an anonymous
    // client learns nothing about the API.
    const bool open = m.result == Match::Result::ok && !m.route->needs_token;
    if (!open) {
      const auto auth = req[http::field::authorization];
      who = state->auth.authenticate(std::string_view(auth.data(), auth.size()));
      if (!who) {
        ++state->unauthorized;
        report_refusal(*state, address, method, m, 401,
                       unauthorized_reason(std::string_view(auth.data(), auth.size())), nullptr);
        const auto delay =
            state->throttle.failure(address.to_string(), FailureThrottle::Clock::now());
        if (delay.count() > 0) {
          ++state->delayed_unauthorized;
          asio::steady_timer timer(state->strand, delay);
          boost::system::error_code ec;
          co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        static const std::string kBody =
            R"({"error":"unauthorized","detail":"a valid bearer token is required"})";
        co_return Outcome{Response{401, kBody, {}, true, {}}, {}};
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
    Query q;
    if (auto e = parse_query(query_text, m.route->query, q)) co_return Outcome{*e, {}};
    if (!state->db) co_return Outcome{error(503, "unavailable", "the server is not started"), {}};
    // Named, not a temporary: g++ 12 destroys temporaries in a co_await expression twice.
    const Ctx ctx{state, req, m, q, who};
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
