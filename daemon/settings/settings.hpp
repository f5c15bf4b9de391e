// The config file (one TOML file) as typed settings. Every key is documented in docs/config.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <map>
#include <memory>

#include "alarms/protocol.hpp"
#include "core/diagnostic.hpp"
#include "core/feed.hpp"
#include "core/monitor.hpp"
#include "core/tls.hpp"

namespace vitalsd::settings {

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};
// "host:port" or "[v6]:port"; nullopt when malformed.
std::optional<Endpoint> parse_endpoint(const std::string& text);

// A web origin (RFC 6454) as browsers send it in `Origin`: "http" or "https", "://", a host
// (name, IPv4, or [IPv6]) and an optional port; no user, path, query or fragment. Returned in
// one canonical form, "scheme://host:port" with scheme and host in lower case and the default
// port (80, 443) written out, so that two spellings of one origin compare equal. nullopt for
// anything else ("null" included).
std::optional<std::string> canonical_origin(std::string_view text);

struct DaemonSettings {
  std::filesystem::path state_dir = "/var/lib/vitalsd";
  std::string site = "clinic";
  std::string log_level = "info";
  int status_log_s = 60;  // a log line per monitor with its latest values; 0 = off
  // Storage faults (docs/reliability.md): observations held in memory while the journal cannot
  // write, and how long a stop keeps retrying before it gives up and exits non-zero.
  std::size_t storage_backlog_observations = 100'000;
  int storage_stop_timeout_s = 10;
  // Defaults: <config dir>/profiles and <config dir>/protocols when they exist, else the
  // shipped ones (core::kDataDir).
  std::filesystem::path profiles_dir;
  std::filesystem::path protocols_dir;
  std::string default_protocol = "ketamine-iv";
};

struct Token {
  std::string name;    // the actor recorded for everything done with it
  std::string role;    // nurse | system | auditor | admin
  std::string sha256;  // lowercase hex digest of the token
  core::SourcePos where;
};

struct ApiSettings {
  Endpoint listen{"127.0.0.1", 8573};
  std::size_t body_limit_bytes = 65536;
  std::chrono::milliseconds header_timeout{10'000};
  std::chrono::milliseconds idle_timeout{60'000};
  // Caps on open connections, in total and per client address; at a cap the connection idle
  // longest is closed to make room (docs/api.md "Connection limits").
  std::size_t max_connections = 512;
  std::size_t max_connections_per_address = 256;
  // Repeated 401s from one address: after this many in 10 s its further 401 answers are
  // delayed, growing to failure_delay_max (docs/api.md "Refused attempts"); 0 never delays.
  std::size_t failure_delay_after = 10;
  std::chrono::milliseconds failure_delay_max{1000};
  // How long a browser stays signed in (the dashboard's session cookie): one shift by default.
  std::chrono::hours web_session_hours{12};
  // Origins besides the daemon's own (the Host a request came to, with this listener's
  // scheme) whose pages may open the event streams with a browser session cookie
  // (docs/api.md "Origins"); canonical_origin() form.
  std::vector<std::string> allowed_origins;
  std::vector<Token> tokens;
  // HTTPS / WSS (docs/tls.md): tls_cert + tls_key; with tls_ca, clients must present a
  // certificate signed by it.
  core::TlsConfig tls;
};

struct Settings {
  std::filesystem::path file;  // the config file, as given
  DaemonSettings daemon;
  ApiSettings api;
  std::vector<core::MonitorConfig> monitors;
  std::vector<core::FeedConfig> feeds;
  // Every protocol in protocols_dir, by name (docs/alarms.md).
  std::map<std::string, std::shared_ptr<const alarms::Protocol>> protocols;

  std::filesystem::path database() const { return daemon.state_dir / "vitals.db"; }
};

struct LoadResult {
  // Set unless the file is not TOML at all; usable only when diagnostics is empty (it is
  // returned with errors so that drivers can still check the monitors that did parse).
  std::optional<Settings> settings;
  core::Diagnostics diagnostics;
};

// TLS files of a link (docs/tls.md), loaded with OpenSSL as the link will load them: nullopt
// when `path` is empty or loads, else why not ("cannot read ...: No such file or directory",
// "not a PEM certificate", "certificate expired on ...", "key does not match the certificate").
enum class TlsFile { ca, cert, key };
std::optional<std::string> check_tls_file(const std::string& path, TlsFile what);
std::optional<std::string> check_tls_pair(const std::string& cert, const std::string& key);

// Reads and validates the file. Never throws; every problem is a diagnostic.
LoadResult load(const std::filesystem::path& file);
// The same from text already in memory (`file` names it in diagnostics).
LoadResult parse(const std::string& text, const std::filesystem::path& file);

}  // namespace vitalsd::settings
