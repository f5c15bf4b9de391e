#include "app/reload.hpp"

#include <fstream>
#include <sstream>
#include <tuple>

#include "api/auth.hpp"

namespace vitalsd::app {

std::string sha256_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::ostringstream s;
  s << in.rdbuf();
  return api::sha256_hex(s.str());
}

std::map<std::string, std::string> protocol_digests(const settings::Settings& s) {
  std::map<std::string, std::string> out;
  for (const auto& [name, p] : s.protocols) out[name] = p ? sha256_file(p->file) : "";
  return out;
}

std::map<std::string, std::string> tls_digests(const settings::Settings& s) {
  std::map<std::string, std::string> out;
  for (const auto& f : s.feeds)
    for (const auto* file : {&f.tls.ca, &f.tls.cert, &f.tls.key})
      if (f.tls.enabled && !file->empty()) out[*file] = sha256_file(*file);
  return out;
}

Digests digests(const settings::Settings& s) {
  return {protocol_digests(s), tls_digests(s)};
}

namespace {

auto monitor_fields(const core::MonitorConfig& m) {
  const auto& s = m.simulator;
  const auto& b = m.modbus;
  return std::tie(m.id, m.driver, m.location, m.poll, m.comm_timeout, m.max_skew, s.scenario,
                  s.seed, s.nibp_interval_s, s.event_at_s, s.event_duration_s, s.clock_offset_s,
                  b.endpoint, b.device, b.baud, b.parity, b.data_bits, b.stop_bits, b.unit,
                  b.profile, b.profile_path, m.hl7.source);
}

// The [hl7] listener's settings (one listener, shared by every hl7 monitor).
auto listener_fields(const core::Hl7MonitorConfig& h) {
  return std::tie(h.listen, h.max_message_bytes, h.codes, h.max_clients, h.max_clients_per_address,
                  h.idle_timeout, h.tls.enabled, h.tls.ca, h.tls.cert, h.tls.key);
}

const core::Hl7MonitorConfig* first_hl7(const settings::Settings& s) {
  for (const auto& m : s.monitors)
    if (m.driver == "hl7") return &m.hl7;
  return nullptr;
}

auto feed_fields(const core::FeedConfig& f) {
  return std::tie(f.name, f.type, f.endpoint, f.undelivered_after, f.event_types,
                  f.sending_application, f.receiving_application, f.receiving_facility,
                  f.ack_timeout, f.retry_window, f.topic_prefix, f.client_id, f.username,
                  f.password, f.keepalive_s, f.tls.enabled, f.tls.ca, f.tls.cert, f.tls.key);
}

auto token_fields(const settings::Token& t) {
  return std::tie(t.name, t.role, t.sha256);
}

}  // namespace

bool same_monitor(const core::MonitorConfig& a, const core::MonitorConfig& b) {
  return monitor_fields(a) == monitor_fields(b);
}

bool same_feed(const core::FeedConfig& a, const core::FeedConfig& b) {
  return feed_fields(a) == feed_fields(b);
}

ConfigDiff diff(const settings::Settings& before, const Digests& before_files,
                const settings::Settings& after, const Digests& after_files) {
  const auto& before_protocols = before_files.protocols;
  const auto& after_protocols = after_files.protocols;
  ConfigDiff d;
  std::map<std::string, const core::MonitorConfig*> old_monitors;
  for (const auto& m : before.monitors) old_monitors[m.id] = &m;
  std::set<std::string> kept;
  for (const auto& m : after.monitors) {
    auto it = old_monitors.find(m.id);
    if (it == old_monitors.end())
      d.monitors_added.push_back(m.id);
    else if (!same_monitor(*it->second, m))
      d.monitors_changed.push_back(m.id);
    kept.insert(m.id);
  }
  for (const auto& m : before.monitors)
    if (!kept.count(m.id)) d.monitors_removed.push_back(m.id);

  for (const auto& [name, sha] : after_protocols) {
    auto it = before_protocols.find(name);
    if (it == before_protocols.end())
      d.protocols_added.push_back(name);
    else if (it->second != sha)
      d.protocols_changed.insert(name);
  }
  for (const auto& [name, sha] : before_protocols)
    if (!after_protocols.count(name)) d.protocols_removed.push_back(name);

  const auto& bt = before.api.tokens;
  const auto& at = after.api.tokens;
  d.tokens_changed = bt.size() != at.size();
  for (std::size_t i = 0; !d.tokens_changed && i < bt.size(); ++i)
    d.tokens_changed = token_fields(bt[i]) != token_fields(at[i]);

  d.feeds_changed = before.feeds.size() != after.feeds.size();
  for (std::size_t i = 0; !d.feeds_changed && i < before.feeds.size(); ++i)
    d.feeds_changed = !same_feed(before.feeds[i], after.feeds[i]);
  if (before_files.tls != after_files.tls) d.feeds_changed = true;  // a certificate renewed

  const auto& b = before.daemon;
  const auto& a = after.daemon;
  if (b.state_dir != a.state_dir) d.needs_restart.push_back("daemon.state_dir");
  if (b.site != a.site) d.needs_restart.push_back("daemon.site");
  if (b.log_level != a.log_level) d.needs_restart.push_back("daemon.log_level");
  if (b.storage_backlog_observations != a.storage_backlog_observations)
    d.needs_restart.push_back("daemon.storage_backlog_observations");
  if (b.storage_stop_timeout_s != a.storage_stop_timeout_s)
    d.needs_restart.push_back("daemon.storage_stop_timeout_s");
  const auto* bh = first_hl7(before);
  const auto* ah = first_hl7(after);
  if (bh && ah && listener_fields(*bh) != listener_fields(*ah))
    d.needs_restart.push_back("hl7 (the listener: listen, limits, codes, TLS)");
  const auto& ba = before.api;
  const auto& aa = after.api;
  if (ba.listen.host != aa.listen.host || ba.listen.port != aa.listen.port)
    d.needs_restart.push_back("api.listen");
  if (std::tie(ba.body_limit_bytes, ba.header_timeout, ba.idle_timeout, ba.max_connections,
               ba.max_connections_per_address, ba.failure_delay_after, ba.failure_delay_max) !=
      std::tie(aa.body_limit_bytes, aa.header_timeout, aa.idle_timeout, aa.max_connections,
               aa.max_connections_per_address, aa.failure_delay_after, aa.failure_delay_max))
    d.needs_restart.push_back("api (limits and timeouts)");
  if (std::tie(ba.tls.enabled, ba.tls.ca, ba.tls.cert, ba.tls.key) !=
      std::tie(aa.tls.enabled, aa.tls.ca, aa.tls.cert, aa.tls.key))
    d.needs_restart.push_back("api.tls");
  if (ba.web_session_hours != aa.web_session_hours)
    d.needs_restart.push_back("api.web_session_hours");
  if (ba.allowed_origins != aa.allowed_origins) d.needs_restart.push_back("api.allowed_origins");
  return d;
}

}  // namespace vitalsd::app
