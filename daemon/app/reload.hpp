// Reload (SIGHUP, docs/config.md "Reload"): what changed between the running config and the
// one just read and checked. Pure: the app applies the difference (acquisition, sessions,
// API tokens, feeds) and journals it as `config.reloaded`.
#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "settings/settings.hpp"

namespace vitalsd::app {

// Lowercase hex SHA-256 of a file's bytes (what `sha256sum` prints), "" when unreadable.
std::string sha256_file(const std::filesystem::path& file);
// Every loaded protocol's name -> the SHA-256 of the file it came from.
std::map<std::string, std::string> protocol_digests(const settings::Settings& s);
// Every feed's TLS file (tls_ca, tls_cert, tls_key) -> its SHA-256: a certificate renewed in
// place (same path, new contents) restarts the feeds on reload.
std::map<std::string, std::string> tls_digests(const settings::Settings& s);

struct ConfigDiff {
  std::vector<std::string> monitors_added;    // polled from now on
  std::vector<std::string> monitors_removed;  // no longer polled (an open session stays)
  std::vector<std::string> monitors_changed;  // driver restarted with the new settings
  std::set<std::string> protocols_changed;    // in both, different file contents
  std::vector<std::string> protocols_added;
  std::vector<std::string> protocols_removed;
  bool tokens_changed = false;
  bool feeds_changed = false;
  // Settings a reload does not apply (the running value stays until a restart): their keys.
  std::vector<std::string> needs_restart;

  bool monitors_touched() const {
    return !monitors_added.empty() || !monitors_removed.empty() || !monitors_changed.empty();
  }
};

// What the running config and its files were, as diff() compares them.
struct Digests {
  std::map<std::string, std::string> protocols;  // protocol_digests()
  std::map<std::string, std::string> tls;        // tls_digests()
};
Digests digests(const settings::Settings& s);

ConfigDiff diff(const settings::Settings& before, const Digests& before_files,
                const settings::Settings& after, const Digests& after_files);

// Field by field, positions in the file ignored.
bool same_monitor(const core::MonitorConfig& a, const core::MonitorConfig& b);
bool same_feed(const core::FeedConfig& a, const core::FeedConfig& b);

}  // namespace vitalsd::app
