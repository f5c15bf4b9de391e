// vitalsctl: the command line for nurses, integrators and auditors (docs/vitalsctl.md).
// Talks to vitalsd's HTTP API, or reads a database file directly with --db (offline audit).
//
// Exit codes: 0 ok, 1 the server said no, 2 usage, 3 cannot connect, 4 authentication or
// permission refused.
#include <fmt/core.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "core/json_text.hpp"
#include "core/text.hpp"
#include "core/version.hpp"
#include "ctl/client.hpp"
#include "ctl/format.hpp"
#include "ctl/offline.hpp"
#include "ctl/suggest.hpp"
#include "store/queries.hpp"
#include "store/sqlite.hpp"

namespace vitalsd::ctl {
namespace {

using nlohmann::json;

struct Options {
  std::string url = "http://127.0.0.1:8573";
  std::string token;
  std::string db;
  bool json = false;
  int timeout_ms = 10'000;
};

class Ctl {
 public:
  explicit Ctl(Options o) : o_(std::move(o)) {}

  // Sends a request and either prints its body (--json) or hands the parsed body to `human`.
  // `always_human`: hand the body to `human` even with --json (watch formats it itself).
  int call(const std::string& method, const std::string& target, const json& body,
           const std::function<void(const json&)>& human, bool always_human = false) {
    std::string why;
    auto url = parse_url(o_.url, why);
    if (!url) {
      fmt::print(stderr, "vitalsctl: {}\n", why);
      return kUsage;
    }
    Client client(*url, o_.token, std::chrono::milliseconds{o_.timeout_ms});
    auto r = client.request(method, target, method == "POST" ? core::json_text(body) : "");
    if (!r.connected) {
      fmt::print(stderr, "vitalsctl: {}\n", r.error);
      return kUnreachable;
    }
    const auto parsed = json::parse(r.body, nullptr, false);
    if (r.status >= 400) {
      const auto err = parsed.is_object() ? parsed.value("error", std::string()) : std::string();
      const auto detail =
          parsed.is_object() ? parsed.value("detail", std::string()) : r.body.substr(0, 200);
      if (o_.json)
        fmt::print("{}\n", r.body);
      else
        fmt::print(stderr, "vitalsctl: {} {}{}{}\n", r.status, core::printable(err),
                   detail.empty() ? "" : ": ", core::printable(detail));
      if (r.status == 401 && o_.token.empty())
        fmt::print(stderr, "vitalsctl: give a token with --token or VITALSD_TOKEN\n");
      return (r.status == 401 || r.status == 403) ? kAuth : kRefused;
    }
    if (always_human && !parsed.is_discarded()) {
      human(parsed);
      return kOk;
    }
    return show(parsed, r.body, human);
  }

  int show(const json& parsed, const std::string& raw,
           const std::function<void(const json&)>& human) {
    if (o_.json) {
      fmt::print("{}\n", raw);
    } else if (parsed.is_discarded()) {
      fmt::print("{}\n", core::printable(raw));
    } else {
      human(parsed);
    }
    return kOk;
  }

  // --db: runs `read` on a read-only connection.
  int offline(const std::function<json(store::Db&)>& read,
              const std::function<void(const json&)>& human) {
    try {
      store::Db db(o_.db, store::Db::Mode::read_only);
      db.exec("PRAGMA query_only = 1");
      const auto j = read(db);
      if (j.is_null()) {
        fmt::print(stderr, "vitalsctl: not found\n");
        return kRefused;
      }
      return show(j, core::json_text(j), human);
    } catch (const std::exception& e) {
      fmt::print(stderr, "vitalsctl: {}\n", e.what());
      return kUnreachable;
    }
  }

  bool offline_mode() const { return !o_.db.empty(); }
  bool json_out() const { return o_.json; }

 private:
  Options o_;
};

std::string query(std::initializer_list<std::pair<const char*, std::string>> params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    q += (q.empty() ? "?" : "&") + std::string(k) + "=";
    for (char c : v) {
      const bool plain = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                         c == '.' || c == ',' || c == ':' || c == '*';
      q += plain ? std::string(1, c) : fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return q;
}

std::string num(std::optional<std::int64_t> v) {
  return v ? std::to_string(*v) : std::string();
}

int run(int argc, char** argv) {
  CLI::App app{"vitalsctl — talk to vitalsd (see docs/vitalsctl.md)", "vitalsctl"};
  app.set_version_flag("--version", std::string(core::kVersion));
  Options o;
  if (const char* u = std::getenv("VITALSD_URL")) o.url = u;
  if (const char* t = std::getenv("VITALSD_TOKEN")) o.token = t;
  app.add_option("--url", o.url, "daemon URL (env VITALSD_URL)")->capture_default_str();
  app.add_option("--token", o.token, "bearer token (env VITALSD_TOKEN)");
  app.add_option("--db", o.db,
                 "read this database file instead (alerts, events, session list/show)");
  app.add_flag("--json", o.json, "print the API's JSON body as is");
  app.add_option("--timeout-ms", o.timeout_ms, "per request timeout")
      ->check(CLI::Range(100, 600000));
  app.require_subcommand(1);

  int rc = kOk;
  std::function<int(Ctl&)> action;
  auto set = [&](CLI::App* sub, std::function<int(Ctl&)> f) {
    sub->callback([&action, f = std::move(f)] { action = f; });
  };
  auto online_only = [](Ctl& c, const char* what) {
    if (!c.offline_mode()) return false;
    fmt::print(stderr,
               "vitalsctl: {} needs the daemon; --db is for alerts, events and session list/show\n",
               what);
    return true;
  };

  app.add_subcommand("health", "is the daemon up (no token needed)")->callback([&] {
    action = [](Ctl& c) {
      return c.call("GET", "/api/v1/health", {},
                    [](const json& j) { fmt::print("{}\n", j.value("status", "?")); });
    };
  });

  auto* monitors = app.add_subcommand("monitors", "each monitor: state, session, last values");
  set(monitors, [&](Ctl& c) {
    if (online_only(c, "monitors")) return int(kUsage);
    return c.call("GET", "/api/v1/monitors", {}, print_monitors);
  });

  // session start|phase|end|list|show
  auto* session = app.add_subcommand("session", "infusion sessions");
  session->require_subcommand(1);
  std::string s_monitor, s_patient, s_protocol = "ketamine-iv", s_phase, s_override, s_state;
  std::int64_t s_id = 0;
  std::optional<std::int64_t> s_before;
  int s_limit = 0;
  auto* start = session->add_subcommand("start", "start a session at a monitor");
  start->add_option("--monitor,-m", s_monitor, "monitor id")->required();
  start->add_option("--patient,-p", s_patient, "patient reference")->required();
  start->add_option("--protocol", s_protocol, "alarm protocol")->capture_default_str();
  set(start, [&](Ctl& c) {
    if (online_only(c, "session start")) return int(kUsage);
    return c.call("POST", "/api/v1/sessions",
                  {{"monitor", s_monitor}, {"patient", s_patient}, {"protocol", s_protocol}},
                  [](const json& j) {
                    fmt::print("session {} started on {} (phase {})\n",
                               core::json_text(j.value("id", json())),
                               core::printable(j.value("monitor", "?")),
                               core::printable(j.value("phase", "?")));
                  });
  });
  auto* phase = session->add_subcommand("phase", "move a session to infusing, recovery or ended");
  phase->add_option("id", s_id, "session id")->required()->check(CLI::PositiveNumber);
  phase->add_option("phase", s_phase, "infusing | recovery | ended")->required();
  phase->add_option("--override", s_override, "reason for overriding a blocked baseline gate");
  set(phase, [&](Ctl& c) {
    if (online_only(c, "session phase")) return int(kUsage);
    json body{{"phase", s_phase}};
    if (!s_override.empty()) body["override"] = s_override;
    return c.call("POST", "/api/v1/sessions/" + std::to_string(s_id) + "/phase", body,
                  [](const json& j) {
                    fmt::print("session {}: {}\n", core::json_text(j.value("id", json())),
                               core::printable(j.value("phase", "?")));
                  });
  });
  auto* end = session->add_subcommand("end", "end a session");
  end->add_option("id", s_id, "session id")->required()->check(CLI::PositiveNumber);
  end->add_option("--override", s_override,
                  "reason for ending though the discharge guard holds the session (journaled)");
  set(end, [&](Ctl& c) {
    if (online_only(c, "session end")) return int(kUsage);
    json body = json::object();
    if (!s_override.empty()) body["override"] = s_override;
    return c.call("POST", "/api/v1/sessions/" + std::to_string(s_id) + "/end", body,
                  [](const json& j) {
                    fmt::print("session {}: {}\n", core::json_text(j.value("id", json())),
                               core::printable(j.value("phase", "ended")));
                  });
  });
  auto* list = session->add_subcommand("list", "sessions, newest first");
  list->add_option("--state", s_state, "active | ended")->check(CLI::IsMember({"active", "ended"}));
  list->add_option("--monitor,-m", s_monitor, "only this monitor (comma list)");
  list->add_option("--before", s_before, "page cursor: sessions older than this id");
  list->add_option("--limit", s_limit, "page size (max 1000)")->check(CLI::Range(1, 1000));
  set(list, [&](Ctl& c) {
    if (c.offline_mode())
      return c.offline(
          [&](store::Db& db) {
            store::queries::SessionFilter f;
            if (!s_state.empty()) f.state = s_state;
            f.monitors = store::queries::split_list(s_monitor);
            f.before = s_before;
            if (s_limit) f.limit = s_limit;
            return store::queries::sessions(db, f);
          },
          print_sessions);
    return c.call("GET",
                  "/api/v1/sessions" + query({{"state", s_state},
                                              {"monitor", s_monitor},
                                              {"before", num(s_before)},
                                              {"limit", s_limit ? std::to_string(s_limit) : ""}}),
                  {}, print_sessions);
  });
  auto* show = session->add_subcommand("show", "one session");
  show->add_option("id", s_id, "session id")->required()->check(CLI::PositiveNumber);
  set(show, [&](Ctl& c) {
    if (c.offline_mode())
      return c.offline(
          [&](store::Db& db) { return store::queries::session(db, s_id).value_or(json()); },
          print_object);
    return c.call("GET", "/api/v1/sessions/" + std::to_string(s_id), {}, print_object);
  });

  // alerts [ID]
  auto* alerts = app.add_subcommand(
      "alerts", "alerts, most urgent first (priority, level, newest); or one alert by id");
  std::optional<std::int64_t> a_id, a_session, a_before;
  std::string a_state, a_monitor, a_order;
  int a_limit = 0;
  alerts->add_option("id", a_id, "show this alert only")->check(CLI::PositiveNumber);
  alerts->add_option("--state", a_state,
                     "comma list of active, acknowledged, paused, latched, cleared, open");
  alerts->add_option("--monitor,-m", a_monitor, "only these monitors (comma list)");
  alerts->add_option("--session,-s", a_session, "only this session");
  alerts->add_option("--before", a_before, "page cursor: the alerts after this one in the order");
  alerts
      ->add_option("--order", a_order,
                   "urgency (default: priority, escalation level, newest) or newest (by id)")
      ->check(CLI::IsMember({"urgency", "newest"}));
  alerts->add_option("--limit", a_limit, "page size (max 1000)")->check(CLI::Range(1, 1000));
  set(alerts, [&](Ctl& c) {
    if (a_id) {
      if (c.offline_mode())
        return c.offline(
            [&](store::Db& db) { return store::queries::alert(db, *a_id).value_or(json()); },
            print_object);
      return c.call("GET", "/api/v1/alerts/" + std::to_string(*a_id), {}, print_object);
    }
    if (c.offline_mode())
      return c.offline(
          [&](store::Db& db) {
            store::queries::AlertFilter f;
            f.states = store::queries::split_list(a_state);
            f.monitors = store::queries::split_list(a_monitor);
            f.session = a_session;
            f.before = a_before;
            if (a_limit) f.limit = a_limit;
            f.order = a_order == "newest" ? store::queries::AlertOrder::newest
                                          : store::queries::AlertOrder::urgency;
            return store::queries::alerts(db, f);
          },
          print_alerts);
    return c.call("GET",
                  "/api/v1/alerts" + query({{"state", a_state},
                                            {"monitor", a_monitor},
                                            {"session", num(a_session)},
                                            {"before", num(a_before)},
                                            {"limit", a_limit ? std::to_string(a_limit) : ""},
                                            {"order", a_order}}),
                  {}, print_alerts);
  });

  // ack ID, pause ID SECONDS, reset ID
  std::int64_t x_id = 0;
  double x_seconds = 0;
  auto alert_action = [&](const char* name, const char* help, const char* path) {
    auto* sub = app.add_subcommand(name, help);
    sub->add_option("id", x_id, "alert id")->required()->check(CLI::PositiveNumber);
    if (std::string(name) == "pause")
      sub->add_option("seconds", x_seconds,
                      "how long (s): more than 0, at most 86400 (the API's bound); the "
                      "protocol's max_pause_s may allow less, and the daemon says so")
          ->required()
          ->check(CLI::PositiveNumber & CLI::Range(0.0, 86400.0));
    if (std::string(name) == "ack") sub->alias("acknowledge");
    set(sub, [&, name, path](Ctl& c) {
      if (online_only(c, name)) return int(kUsage);
      json body = json::object();
      if (std::string(name) == "pause") body["seconds"] = x_seconds;
      return c.call("POST", "/api/v1/alerts/" + std::to_string(x_id) + path, body,
                    [](const json& j) {
                      fmt::print("alert {}: {}\n", core::json_text(j.value("id", json())),
                                 core::printable(j.value("state", "?")));
                    });
    });
  };
  alert_action("ack", "acknowledge an alert", "/ack");
  alert_action("pause", "pause an alert's audible signal for SECONDS", "/pause");
  alert_action("reset", "reset a latched alert", "/reset");

  // events (a page), watch (follow)
  std::int64_t e_after = 0;
  int e_limit = 100;
  std::string e_type, e_monitor, e_priority;
  auto* events = app.add_subcommand("events", "a page of the journal after a seq");
  events->add_option("--after", e_after, "events after this seq")->check(CLI::NonNegativeNumber);
  events->add_option("--limit", e_limit, "page size (max 1000)")->check(CLI::Range(1, 1000));
  events->add_option("--type", e_type, "comma list; 'alert.*' for a prefix");
  events->add_option("--monitor,-m", e_monitor, "comma list");
  events->add_option("--priority", e_priority, "comma list of high, medium, low");
  auto print_events = [&](const json& j) {
    const bool colour = ::isatty(STDOUT_FILENO);
    for (const auto& e : j.value("events", json::array()))
      fmt::print("{}\n", event_line(e, colour));
    if (j.value("more", false))
      fmt::print("(more: --after {})\n", core::json_text(j.value("next", json())));
  };
  set(events, [&](Ctl& c) {
    if (c.offline_mode())
      return c.offline(
          [&](store::Db& db) {
            store::queries::EventFilter f;
            f.types = store::queries::split_list(e_type);
            f.monitors = store::queries::split_list(e_monitor);
            f.priorities = store::queries::split_list(e_priority);
            return json::parse(
                store::queries::event_page_json(store::queries::events(db, e_after, e_limit, f)));
          },
          print_events);
    return c.call("GET",
                  "/api/v1/events" + query({{"after", std::to_string(e_after)},
                                            {"limit", std::to_string(e_limit)},
                                            {"type", e_type},
                                            {"monitor", e_monitor},
                                            {"priority", e_priority}}),
                  {}, print_events);
  });

  auto* watch = app.add_subcommand("watch", "follow new events, one line each (Ctrl-C stops)");
  std::optional<std::int64_t> w_after;
  int w_interval = 1000;
  watch->add_option("--after", w_after, "start after this seq (default: from now)");
  watch->add_option("--interval-ms", w_interval, "poll interval")->check(CLI::Range(100, 60000));
  bool w_all = false;
  watch->add_option("--type", e_type,
                    "comma list; 'alert.*' for a prefix (default: all but observations)");
  watch->add_option("--monitor,-m", e_monitor, "comma list");
  watch->add_option("--priority", e_priority, "comma list of high, medium, low");
  watch->add_flag("--all", w_all, "every event, observations too");
  set(watch, [&](Ctl& c) {
    if (online_only(c, "watch")) return int(kUsage);
    // Alerts, sessions and what the daemon says about itself: a reading a second per monitor
    // would drown them (filtered here, so event types added later are shown too).
    const bool skip_observations = e_type.empty() && !w_all;
    std::int64_t after = 0;
    if (w_after) {
      after = *w_after;
    } else {
      int r = c.call(
          "GET", "/api/v1/events?after=0&limit=1", {},
          [&](const json& j) { after = j.value("last", std::int64_t{0}); }, true);
      if (r != kOk) return r;
    }
    const bool colour = ::isatty(STDOUT_FILENO);
    for (;;) {
      bool more = false;
      int r = c.call(
          "GET",
          "/api/v1/events" + query({{"after", std::to_string(after)},
                                    {"limit", "1000"},
                                    {"type", e_type},
                                    {"monitor", e_monitor},
                                    {"priority", e_priority}}),
          {},
          [&](const json& j) {
            for (const auto& e : j.value("events", json::array()))
              if (!skip_observations ||
                  (e.value("type", "") != "observation" && e.value("type", "") != "observations"))
                fmt::print("{}\n", c.json_out() ? core::json_text(e) : event_line(e, colour));
            after = std::max(after, j.value("next", after));
            more = j.value("more", false);
          },
          true);
      std::fflush(stdout);
      if (r == kAuth || r == kUsage) return r;
      if (r != kOk) fmt::print(stderr, "vitalsctl: retrying\n");
      if (!more) std::this_thread::sleep_for(std::chrono::milliseconds{w_interval});
    }
  });

  // Auditor commands: a database file, read-only, never through the daemon (docs/auditing.md).
  auto* audit = app.add_subcommand("audit", "check a journal database (read-only)");
  audit->require_subcommand(1);
  VerifyArgs v;
  auto* verify = audit->add_subcommand(
      "verify", "hash chain, gapless seq, and every table row against its journal event");
  auto need_db = [&](std::string& db) {
    if (db.empty()) db = o.db;  // vitalsctl --db FILE audit verify works too
    if (!db.empty()) return true;
    fmt::print(stderr, "vitalsctl: --db FILE is required\n");
    return false;
  };
  verify->add_option("--db", v.db, "the database file (opened read-only)");
  verify->add_option("--anchor", v.anchors, "SEQ:HASH recorded earlier (a checkpoint); repeatable");
  verify->add_option("--anchors", v.anchors_file,
                     "file of JSON lines with seq/hash (e.g. <state_dir>/checkpoints.jsonl)");
  verify->add_option("--archive", v.archives,
                     "an archive file to check against the journal's journal.archived checkpoint "
                     "(its SHA-256, its chain, its last seq and hash); repeatable");
  verify->add_flag("--chain-only", v.chain_only, "check the chain only, not the tables");
  verify->add_flag("--json", v.json, "print the result as JSON");
  verify->add_flag("--quiet,-q", v.quiet, "no progress on stderr");
  verify->callback(
      [&] { action = [&](Ctl&) { return need_db(v.db) ? audit_verify(v) : int(kUsage); }; });

  ExportArgs x;
  auto* exp = app.add_subcommand(
      "export",
      "observations, alert transitions and session events as CSV, JSON or FHIR (read-only)");
  exp->add_option("--db", x.db, "the database file (opened read-only)");
  exp->add_option("--session,-s", x.session, "one session")->check(CLI::PositiveNumber);
  exp->add_option("--from", x.from, "range start, UTC ISO 8601 (inclusive)");
  exp->add_option("--until", x.until, "range end, UTC ISO 8601 (exclusive)");
  exp->add_option("--format", x.format, "csv | json | fhir")
      ->check(CLI::IsMember({"csv", "json", "fhir"}))
      ->capture_default_str();
  exp->add_option("--out,-o", x.out, "write here (whole or not at all) instead of stdout");
  exp->callback(
      [&] { action = [&](Ctl&) { return need_db(x.db) ? export_records(x) : int(kUsage); }; });

  ReportArgs rp;
  auto* rep = app.add_subcommand("report", "one session as a self-contained HTML report");
  rep->add_option("--db", rp.db, "the database file (opened read-only)");
  rep->add_option("--session,-s", rp.session, "the session")
      ->required()
      ->check(CLI::PositiveNumber);
  rep->add_option("--out,-o", rp.out, "the HTML file to write")->required();
  rep->callback([&] { action = [&](Ctl&) { return need_db(rp.db) ? report(rp) : int(kUsage); }; });

  ArchiveArgs ar;
  auto* arc = app.add_subcommand(
      "archive",
      "move ended sessions' records older than --before to a verified archive file, leaving a "
      "checkpoint (the daemon must be stopped)");
  arc->add_option("--db", ar.db, "the live database file (<state_dir>/vitals.db)");
  arc->add_option("--before", ar.before, "UTC date or time, e.g. 2026-01-01")->required();
  arc->add_option("--out,-o", ar.out, "directory for the archive file")->required();
  arc->add_option("--by", ar.by, "who signs the checkpoint off (default: your user name)");
  arc->callback([&] { action = [&](Ctl&) { return need_db(ar.db) ? archive(ar) : int(kUsage); }; });

  if (auto unknown = unknown_command(app, argc, argv)) {
    fmt::print(stderr, "vitalsctl: {}\n", *unknown);
    return kUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kOk : kUsage;
  }
  Ctl ctl(o);
  rc = action ? action(ctl) : kUsage;
  return rc;
}

}  // namespace
}  // namespace vitalsd::ctl

int main(int argc, char** argv) {
  try {
    return vitalsd::ctl::run(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "vitalsctl: {}\n", e.what());
    return 1;
  }
}
