// vitalsd: wiring only. Loads the config, opens the journal, starts the drivers and the poll
// loop on one io_context, and stops cleanly on SIGTERM/SIGINT (flush, close, exit 0).
#include <sys/resource.h>
#include <systemd/sd-daemon.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "acquisition/acquisition.hpp"
#include "api/server.hpp"
#include "app/log_format.hpp"
#include "app/pipeline.hpp"
#include "app/reload.hpp"
#include "core/version.hpp"
#include "drivers/registry.hpp"
#include "feeds/feed.hpp"
#include "net/asio.hpp"
#include "settings/settings.hpp"
#include "store/journal.hpp"
#include "store/records.hpp"
#include "store/sqlite.hpp"

namespace {

using namespace vitalsd;

constexpr int kExitConfig = 2;
constexpr int kExitStartup = 1;

// What each chair's monitor measures and how often it sends, for the sessions started on it
// (docs/alarms.md, "What a chair measures"). A sender without a declared list is logged once:
// every rule applies to it, including those on parameters it may not have.
void describe_monitors(sessions::Manager& sessions,
                       const std::vector<core::MonitorConfig>& monitors, bool log) {
  for (const auto& m : monitors) {
    alarms::MonitorCapabilities caps;
    caps.parameters = drivers::monitor_parameters(m);
    caps.send_interval_s = drivers::send_interval_s(m);
    if (log && caps.parameters.empty())
      spdlog::warn(
          "monitor {}: no `parameters` declared: every rule of a session's protocol applies, and "
          "a parameter it does not measure raises its missing-value alert",
          m.id);
    sessions.describe(m.id, std::move(caps));
  }
}

// Open files: the soft limit up to the hard one, so that held connections (API, HL7) run into
// the caps and their eviction (docs/api.md), never into "too many open files". Logged.
void raise_open_files_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) {
    spdlog::warn("open files: getrlimit: {}", std::strerror(errno));
    return;
  }
  const auto soft = lim.rlim_cur;
  if (soft != lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) {
      spdlog::warn("open files: cannot raise the limit from {} to {}: {}", soft, lim.rlim_max,
                   std::strerror(errno));
      return;
    }
  }
  spdlog::info("open files: limit {} (was {})", lim.rlim_cur, soft);
}

// Settings plus every driver's own check; every problem as file:line:column: message.
settings::LoadResult check_config(const std::string& path) {
  auto result = settings::load(path);
  if (result.settings)
    for (const auto& m : result.settings->monitors) drivers::check_monitor(m, result.diagnostics);
  return result;
}

// The same, printed to stderr (start-up and --check-config).
std::optional<settings::Settings> load_config(const std::string& path) {
  auto result = check_config(path);
  const auto& diags = result.diagnostics;
  for (const auto& d : diags) std::cerr << core::to_string(d) << '\n';
  if (!diags.empty()) {
    std::cerr << path << ": " << diags.size() << " problem" << (diags.size() == 1 ? "" : "s")
              << " found\n";
    return std::nullopt;
  }
  return std::move(result.settings);
}

nlohmann::json digests_json(const std::map<std::string, std::string>& digests) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, sha] : digests) out[name] = sha;
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"vitalsd — secondary vitals alerting and record daemon"};
  std::string config_path;
  bool check_only = false;
  bool version = false;
  cli.add_option("-c,--config", config_path, "config file (TOML)");
  cli.add_flag("--check-config", check_only, "check the config, print every problem, exit 0 or 2");
  cli.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(cli, argc, argv);
  if (version) {
    std::cout << "vitalsd " << core::kVersion << '\n';
    return 0;
  }
  if (config_path.empty()) {
    std::cerr << "vitalsd: --config FILE is required\n";
    return kExitConfig;
  }

  auto config = load_config(config_path);
  if (!config) return kExitConfig;
  if (check_only) {
    std::cout << config_path << ": OK (" << config->monitors.size() << " monitors)\n";
    return 0;
  }

  auto log = spdlog::stderr_color_mt("vitalsd");
  spdlog::set_default_logger(log);
  spdlog::set_formatter(app::log_formatter());
  spdlog::set_level(spdlog::level::from_str(config->daemon.log_level));
  raise_open_files_limit();

  std::unique_ptr<store::Journal> journal;
  try {
    store::Journal::Options options{config->daemon.state_dir};
    options.max_backlog_observations = config->daemon.storage_backlog_observations;
    options.stop_timeout = std::chrono::seconds{config->daemon.storage_stop_timeout_s};
    journal = std::make_unique<store::Journal>(std::move(options));
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return kExitStartup;
  }
  std::string monitor_list;
  for (const auto& m : config->monitors)
    monitor_list += (monitor_list.empty() ? "" : ", ") + m.id + " (" + m.driver + ")";
  spdlog::info("vitalsd {} starting: config {}, database {}, site {}, monitors: {}", core::kVersion,
               config_path, journal->database().string(), config->daemon.site,
               monitor_list.empty() ? "none" : monitor_list);

  asio::io_context io;
  drivers::Context driver_context(io);
  std::unique_ptr<sessions::Manager> sessions;
  std::unique_ptr<app::Pipeline> pipeline;
  std::unique_ptr<acquisition::Acquisition> acquisition;
  std::unique_ptr<api::Server> api_server;
  std::vector<std::unique_ptr<feeds::Feed>> feed_list;
  try {
    const auto now = acquisition::Acquisition::system_now();
    journal->register_monitors(config->monitors, now);
    // Active sessions and their open alerts come back as they were; nothing is raised twice.
    store::Db reader(journal->database(), store::Db::Mode::read_only);
    auto restored = store::restore(reader);
    std::set<std::string> monitor_ids;
    for (const auto& m : config->monitors) monitor_ids.insert(m.id);
    sessions = std::make_unique<sessions::Manager>(
        config->protocols, monitor_ids, restored.next_session_id, restored.next_alert_id);
    describe_monitors(*sessions, config->monitors, true);
    for (auto& [session, snapshot] : restored.sessions) {
      if (!config->protocols.count(session.protocol) || !monitor_ids.count(session.monitor)) {
        spdlog::error(
            "session {} on {} uses protocol '{}' or a monitor no longer configured; "
            "it stays in the database but is not monitored",
            session.id, session.monitor, session.protocol);
        continue;
      }
      spdlog::info("session {} on {} restored in phase {} with {} open alerts", session.id,
                   session.monitor, alarms::to_string(session.phase), snapshot.alerts.size());
      sessions->restore(std::move(session), std::move(snapshot));
    }
    pipeline = std::make_unique<app::Pipeline>(io, *journal, *sessions, config->monitors);
    acquisition = std::make_unique<acquisition::Acquisition>(io, *pipeline);
    pipeline->set_acquisition(acquisition.get());
    // The monitors' own alarms shown as they last reported them until they report again.
    pipeline->restore_monitor_alarms(store::present_monitor_alarms(reader));
    // The cuff a monitor sends again after the restart is the one already stored.
    const auto last_cuffs = store::last_measurements(reader);
    for (const auto& m : config->monitors) {
      acquisition->add(m, drivers::find_driver(m.driver)->make(m, driver_context));
      if (auto it = last_cuffs.find(m.id); it != last_cuffs.end())
        for (const auto& last : it->second)
          acquisition->remember_measurement(m.id, last.parameter, last.measurement_id,
                                            last.device_time);
    }
    api_server = std::make_unique<api::Server>(io, config->api, *pipeline, journal->database());
    api_server->start();
    spdlog::info("API listening on {}:{}", api_server->local_endpoint().address().to_string(),
                 api_server->local_endpoint().port());
    feed_list =
        feeds::make_feeds(io, config->feeds, config->daemon.site, *journal, journal->database());
    for (auto& f : feed_list) f->start();
    // Persist before publish: the writer thread hands over only what it committed.
    store::JournalHooks hooks;
    hooks.on_commit = [&io, &api_server,
                       &feed_list](const std::vector<store::CommittedEventPtr>& events) {
      asio::post(io, [&api_server, &feed_list, events] {
        if (api_server) api_server->publish(events);
        for (auto& f : feed_list) f->notify(events);
      });
    };
    // Fail loud: while the journal cannot write, what it holds is published from memory,
    // marked not persisted, through every path that still works.
    hooks.on_uncommitted = [&io, &api_server, &feed_list](const std::vector<store::Event>& events) {
      asio::post(io, [&api_server, &feed_list, events] {
        if (api_server) api_server->publish_uncommitted(events);
        for (auto& f : feed_list) f->notify_uncommitted(events);
      });
    };
    hooks.on_storage = [](const store::StorageStatus& s) {
      if (s.failing)
        spdlog::critical(
            "storage_failed: the journal cannot write ({}); holding what arrives in memory "
            "(observations bounded, alerts and actions never dropped), retrying",
            s.error);
      else
        spdlog::warn(
            "storage recovered after {} failed commits ({}); {} observations were dropped while "
            "it failed",
            s.failed_commits, s.error, s.dropped_observations);
    };
    journal->start(std::move(hooks));
    std::vector<std::string> protocol_names;
    for (const auto& [name, p] : config->protocols) protocol_names.push_back(name);
    store::Event loaded{"config.loaded",
                        now,
                        "",
                        std::nullopt,
                        {{"file", config_path},
                         {"sha256", app::sha256_file(config_path)},
                         {"version", core::kVersion},
                         {"site", config->daemon.site},
                         {"monitors", config->monitors.size()},
                         {"protocols", protocol_names},
                         {"protocol_sha256", digests_json(app::protocol_digests(*config))}}};
    journal->record(std::move(loaded), store::Durability::urgent);
    store::journal_protocols_applied(*journal, config->protocols,
                                     store::AppliedBecause::config_loaded, now);
  } catch (const std::exception& e) {
    spdlog::critical("start-up failed: {}", e.what());
    return kExitStartup;
  }

  asio::steady_timer status_timer(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::signal_set hangup(io, SIGHUP);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signo == SIGTERM ? "SIGTERM" : "SIGINT");
    acquisition->stop();
    pipeline->stop();
    status_timer.cancel();
    hangup.cancel();
    api_server->stop();
    for (auto& f : feed_list) f->stop();
    io.stop();
  });

  // SIGHUP (systemd's ExecReload): re-read and check the config; when valid, apply what changed
  // without a restart (docs/config.md "Reload"); when not, keep running on the old config.
  // Either way the outcome is journaled (config.reloaded / config.reload_failed).
  auto files = app::digests(*config);
  auto reload = [&] {
    sd_notify(0, "RELOADING=1");
    const auto now = app::Pipeline::now();
    const auto config_sha = app::sha256_file(config_path);
    auto fail = [&](std::vector<std::string> problems) {
      for (const auto& p : problems) spdlog::error("reload: {}", p);
      spdlog::error("reload: {} has {} problem{}; still running on the config loaded before",
                    config_path, problems.size(), problems.size() == 1 ? "" : "s");
      journal->record({"config.reload_failed",
                       now,
                       "",
                       std::nullopt,
                       {{"file", config_path}, {"sha256", config_sha}, {"problems", problems}}},
                      store::Durability::urgent);
      sd_notify(0, "READY=1");
    };
    auto result = check_config(config_path);
    if (!result.diagnostics.empty() || !result.settings) {
      std::vector<std::string> problems;
      for (const auto& d : result.diagnostics) problems.push_back(core::to_string(d));
      if (problems.empty()) problems.push_back(config_path + ": cannot be read");
      fail(std::move(problems));
      return;
    }
    auto& next = *result.settings;
    const auto next_files = app::digests(next);
    const auto d = app::diff(*config, files, next, next_files);
    if (d.tokens_changed) {
      try {
        api_server->set_tokens(next.api.tokens);
      } catch (const std::exception& e) {
        fail({e.what()});
        return;
      }
    }
    std::set<std::string> monitor_ids;
    for (const auto& m : next.monitors) monitor_ids.insert(m.id);
    describe_monitors(*sessions, next.monitors, false);
    const auto rebuilt = sessions->reconfigure(next.protocols, monitor_ids, d.protocols_changed);
    std::vector<std::string> failed;
    for (const auto& id : d.monitors_removed) {
      acquisition->remove(id);
      // Fail loud: a session still open on it is no longer monitored (comm_lost).
      if (sessions->active_on(id))
        pipeline->monitor_state(id, core::MonitorState::offline,
                                "removed from the config by a reload", now);
    }
    for (const auto& id : d.monitors_changed) acquisition->remove(id);
    std::vector<core::MonitorConfig> registered;
    for (const auto& m : next.monitors) {
      const bool added = std::find(d.monitors_added.begin(), d.monitors_added.end(), m.id) !=
                         d.monitors_added.end();
      const bool changed = std::find(d.monitors_changed.begin(), d.monitors_changed.end(), m.id) !=
                           d.monitors_changed.end();
      if (!added && !changed) continue;
      registered.push_back(m);
      try {
        acquisition->add(m, drivers::find_driver(m.driver)->make(m, driver_context));
      } catch (const std::exception& e) {
        spdlog::error("reload: monitor {}: {}", m.id, e.what());
        failed.push_back(m.id + ": " + e.what());
      }
    }
    pipeline->set_monitors(next.monitors);
    if (d.feeds_changed) {
      for (auto& f : feed_list) f->stop();
      feed_list.clear();
      try {
        feed_list =
            feeds::make_feeds(io, next.feeds, next.daemon.site, *journal, journal->database());
        for (auto& f : feed_list) f->start();
      } catch (const std::exception& e) {
        spdlog::error("reload: feeds: {}", e.what());
        failed.push_back(std::string("feeds: ") + e.what());
      }
    }
    for (const auto& key : d.needs_restart)
      spdlog::warn("reload: {} changed; it applies at the next restart", key);
    spdlog::info(
        "reload: {} applied: monitors +{} -{} ~{}, protocols changed {}, tokens {}, feeds {}",
        config_path, d.monitors_added.size(), d.monitors_removed.size(), d.monitors_changed.size(),
        d.protocols_changed.size(), d.tokens_changed ? "replaced" : "unchanged",
        d.feeds_changed ? "restarted" : "unchanged");
    nlohmann::json payload{
        {"file", config_path},
        {"sha256", config_sha},
        {"protocol_sha256", digests_json(next_files.protocols)},
        {"monitors", next.monitors.size()},
        {"monitors_added", d.monitors_added},
        {"monitors_removed", d.monitors_removed},
        {"monitors_changed", d.monitors_changed},
        {"protocols_changed",
         std::vector<std::string>(d.protocols_changed.begin(), d.protocols_changed.end())},
        {"protocols_added", d.protocols_added},
        {"protocols_removed", d.protocols_removed},
        {"sessions_rules_reloaded", rebuilt},
        {"tokens_changed", d.tokens_changed},
        {"feeds_changed", d.feeds_changed},
        {"needs_restart", d.needs_restart},
        {"failed", failed}};
    const auto since = core::format_iso8601(now);
    journal->record(
        {"config.reloaded", now, "", std::nullopt, std::move(payload)}, store::Durability::urgent,
        [registered, since](store::Db& db) -> std::optional<std::string> {
          store::Stmt up(db,
                         "INSERT INTO monitors (id, driver, location, configured_at) "
                         "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(id) DO UPDATE SET driver = ?2, "
                         "location = ?3, configured_at = ?4");
          for (const auto& m : registered) {
            up.reset();
            up.bind(1, m.id).bind(2, m.driver).bind(3, m.location).bind(4, since);
            up.step();
            if (!up.ok()) return "register monitor " + m.id + ": " + db.error_message();
          }
          return std::nullopt;
        });
    *config = std::move(next);
    files = next_files;
    // Each protocol as it now applies (the record of what was decided, issue 13).
    store::journal_protocols_applied(*journal, config->protocols,
                                     store::AppliedBecause::config_reloaded, now);
    sd_notify(0, "READY=1");
  };
  std::function<void()> wait_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      spdlog::info("signal SIGHUP: reloading {}", config_path);
      reload();
      wait_hangup();
    });
  };
  wait_hangup();

  // systemd: READY once the database is open and monitors are starting; WATCHDOG from the
  // io_context itself, so a stalled loop stops the pings.
  asio::steady_timer watchdog(io);
  std::uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0) {
    const auto period = std::chrono::microseconds(watchdog_usec / 2);
    std::function<void()> ping = [&] {
      sd_notify(0, "WATCHDOG=1");
      watchdog.expires_after(period);
      watchdog.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) ping();
      });
    };
    ping();
  }
  acquisition->start();
  pipeline->start();
  std::function<void()> status_log = [&] {
    status_timer.expires_after(std::chrono::seconds{config->daemon.status_log_s});
    status_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      pipeline->log_status();
      status_log();
    });
  };
  if (config->daemon.status_log_s > 0) status_log();
  sd_notify(0, "READY=1");
  spdlog::info("polling {} monitors", config->monitors.size());

  // Nothing after start-up may take the daemon down because one monitor, one client or one
  // message misbehaved: an exception that escapes a handler is a bug, logged with what it was;
  // the io_context carries on with every other handler (Asio's documented way to resume).
  for (;;) {
    try {
      io.run();
      break;
    } catch (const std::exception& e) {
      spdlog::critical(
          "a bug: an exception escaped an I/O handler: {}; carrying on (please report "
          "it with this line)",
          e.what());
    }
  }

  sd_notify(0, "STOPPING=1");
  journal->record({"daemon.stopped",
                   acquisition::Acquisition::system_now(),
                   "",
                   std::nullopt,
                   {{"reason", "signal"}}},
                  store::Durability::urgent);
  journal->stop();
  const auto stats = journal->stats();
  spdlog::info("stopped: {} observations and {} events written in {} commits (last seq {})",
               stats.observations, stats.events, stats.commits, stats.last_seq);
  if (const auto lost = journal->unwritten(); !lost.empty()) {
    spdlog::critical("stopped with storage failing ({}): not written: {}", journal->last_error(),
                     lost);
    return kExitStartup;
  }
  return 0;
}
