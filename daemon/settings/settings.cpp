#include "settings/settings.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "core/toml_reader.hpp"
#include "core/version.hpp"

namespace vitalsd::settings {
namespace {

using core::TomlReader;
constexpr auto kMaxInt = std::numeric_limits<std::int64_t>::max();

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool is_hex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

void read_daemon(const toml::table& t, const std::filesystem::path& base, Settings& s,
                 const std::string& file, core::Diagnostics& out) {
  TomlReader r(t, "daemon", file, out);
  if (auto v = r.string("state_dir")) {
    if (v->empty())
      r.error("state_dir", "must not be empty");
    else
      s.daemon.state_dir = base / *v;
  }
  if (auto v = r.string("site")) {
    if (!valid_id(*v))
      r.error("site", "must be 1-64 characters of letters, digits, '-', '_' or '.'");
    else
      s.daemon.site = *v;
  }
  if (auto v = r.string("log_level")) {
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error"};
    if (!levels.count(*v))
      r.error("log_level", "'" + *v + "' is not one of trace, debug, info, warn, error");
    else
      s.daemon.log_level = *v;
  }
  if (auto v = r.integer("status_log_s", 0, 86400)) s.daemon.status_log_s = static_cast<int>(*v);
  if (auto v = r.integer("storage_backlog_observations", 1000, 10'000'000))
    s.daemon.storage_backlog_observations = static_cast<std::size_t>(*v);
  if (auto v = r.integer("storage_stop_timeout_s", 0, 600))
    s.daemon.storage_stop_timeout_s = static_cast<int>(*v);
  // A directory named here must be one: refused at its key, not later without a position.
  for (auto [key, dir] : {std::pair{"profiles_dir", &s.daemon.profiles_dir},
                          std::pair{"protocols_dir", &s.daemon.protocols_dir}}) {
    if (auto v = r.string(key)) {
      *dir = base / *v;
      std::error_code ec;
      if (!std::filesystem::is_directory(*dir, ec))
        r.error(key,
                "'" + dir->string() + "' " +
                    (std::filesystem::exists(*dir, ec) ? "is not a directory" : "does not exist"));
    }
  }
  if (auto v = r.string("default_protocol")) s.daemon.default_protocol = *v;
  r.finish();
}

void read_tls(TomlReader& r, core::TlsConfig& tls, const std::filesystem::path& base);

void read_api(const toml::table& t, Settings& s, const std::string& file, core::Diagnostics& out,
              const std::filesystem::path& base) {
  TomlReader r(t, "api", file, out);
  read_tls(r, s.api.tls, base);
  if (s.api.tls.enabled && s.api.tls.cert.empty())
    r.error("tls", "HTTPS needs tls_cert and tls_key (the API's certificate)");
  if (auto v = r.string("listen")) {
    if (auto ep = parse_endpoint(*v))
      s.api.listen = *ep;
    else
      r.error("listen", "'" + *v + "' is not host:port");
  }
  if (auto v = r.integer("body_limit_bytes", 1024, 16 * 1024 * 1024))
    s.api.body_limit_bytes = static_cast<std::size_t>(*v);
  if (auto v = r.integer("header_timeout_ms", 100, 600'000))
    s.api.header_timeout = std::chrono::milliseconds{*v};
  if (auto v = r.integer("idle_timeout_ms", 100, 3'600'000))
    s.api.idle_timeout = std::chrono::milliseconds{*v};
  if (auto v = r.integer("max_connections", 1, 100'000))
    s.api.max_connections = static_cast<std::size_t>(*v);
  if (auto v = r.integer("max_connections_per_address", 1, 100'000))
    s.api.max_connections_per_address = static_cast<std::size_t>(*v);
  if (auto v = r.integer("failure_delay_after", 0, 100'000))
    s.api.failure_delay_after = static_cast<std::size_t>(*v);
  if (auto v = r.integer("failure_delay_max_ms", 0, 10'000))
    s.api.failure_delay_max = std::chrono::milliseconds{*v};
  if (auto v = r.integer("web_session_hours", 1, 24 * 14))
    s.api.web_session_hours = std::chrono::hours{*v};
  if (const auto* origins = r.array("allowed_origins")) {
    for (const auto& node : *origins) {
      const auto* text = node.as_string();
      auto origin = text ? canonical_origin(text->get()) : std::nullopt;
      if (!origin) {
        out.push_back({core::position(node, file),
                       "api.allowed_origins: " +
                           (text ? "'" + text->get() + "' is not an origin" : "not a string") +
                           ": each entry must be scheme://host[:port] "
                           "with scheme http or https and nothing after the port (e.g. "
                           "\"https://station.example:8573\")"});
        continue;
      }
      s.api.allowed_origins.push_back(std::move(*origin));
    }
  }
  if (const auto* tokens = r.array("tokens")) {
    std::map<std::string, int> names;
    for (const auto& node : *tokens) {
      const auto* tt = node.as_table();
      if (!tt) {
        out.push_back({core::position(node, file), "api.tokens: each entry must be a table"});
        continue;
      }
      TomlReader tr(*tt, "api.tokens", file, out);
      Token tok;
      tok.where = core::position(*tt, file);
      auto name = tr.string("name", true);
      auto role = tr.string("role", true);
      auto hash = tr.string("sha256", true);
      if (name) {
        if (!valid_id(*name))
          tr.error("name", "must be 1-64 characters of letters, digits, '-', '_' or '.'");
        else if (names.count(*name))
          tr.error("name", "duplicate token name '" + *name + "' (first on line " +
                               std::to_string(names[*name]) + ")");
        else
          names[*name] = tok.where.line;
        tok.name = *name;
      }
      if (role) {
        if (*role != "nurse" && *role != "system" && *role != "auditor" && *role != "admin")
          tr.error("role", "'" + *role + "' is not one of nurse, system, auditor, admin");
        tok.role = *role;
      }
      if (hash) {
        if (!is_hex64(*hash))
          tr.error("sha256", "must be the 64 hex digits of the token's SHA-256");
        tok.sha256 = *hash;
        std::transform(tok.sha256.begin(), tok.sha256.end(), tok.sha256.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      }
      tr.finish();
      s.api.tokens.push_back(std::move(tok));
    }
  }
  r.finish();
}

// Keys each driver reads on top of id, driver, location, poll_ms and comm_timeout_ms.
const std::map<std::string, std::set<std::string>>& driver_keys() {
  static const std::map<std::string, std::set<std::string>> keys{
      {"simulator",
       {"scenario", "seed", "nibp_interval_s", "event_at_s", "event_duration_s", "clock_offset_s"}},
      {"modbus-tcp", {"endpoint", "unit", "profile"}},
      {"modbus-rtu", {"device", "baud", "parity", "data_bits", "stop_bits", "unit", "profile"}},
      {"hl7", {"source"}},
      {"intellivue", {"host", "port", "clock"}},
      {"masimo-serial", {"device", "baud"}},
      {"datex-s5", {"device"}},
  };
  return keys;
}

void read_monitor(const toml::table& t, Settings& s, const std::string& file,
                  core::Diagnostics& out) {
  core::MonitorConfig m;
  m.table = core::position(t, file);
  std::string context = "monitors";
  if (const auto* idn = t.get("id"); idn && idn->is_string())
    context = "monitors[" + idn->as_string()->get() + "]";
  TomlReader r(t, context, file, out);
  for (const auto& [k, v] : t) m.where[std::string(k.str())] = core::position(v, file);

  if (auto v = r.string("id", true)) {
    if (!valid_id(*v))
      r.error("id", "'" + *v + "' must be 1-64 characters of letters, digits, '-', '_' or '.'");
    m.id = *v;
  }
  if (auto v = r.string("driver", true)) m.driver = *v;
  if (auto v = r.string("location")) m.location = *v;
  if (auto v = r.integer("poll_ms", 100, 600'000)) m.poll = std::chrono::milliseconds{*v};
  m.comm_timeout = 3 * m.poll;
  if (auto v = r.integer("comm_timeout_ms", 100, 3'600'000)) {
    if (std::chrono::milliseconds{*v} < m.poll)
      r.error("comm_timeout_ms", "must be at least poll_ms (" + std::to_string(m.poll.count()) +
                                     "): a monitor cannot be declared lost between two polls");
    else
      m.comm_timeout = std::chrono::milliseconds{*v};
  }

  if (auto v = r.integer("max_skew_ms", 0, 86'400'000)) m.max_skew = std::chrono::milliseconds{*v};
  // What the chair's monitor measures (docs/alarms.md, "What a chair measures").
  if (const auto* a = r.array("parameters")) {
    for (const auto& e : *a) {
      const auto name = e.value<std::string>();
      const auto p = name ? core::parameter_from_name(*name) : std::nullopt;
      if (!p) {
        std::string known;
        for (const auto& i : core::all_parameters())
          known += (known.empty() ? "" : ", ") + std::string(i.name);
        out.push_back({core::position(e, file), context + ".parameters: " +
                                                    (name ? "unknown parameter '" + *name + "'"
                                                          : std::string("expected names")) +
                                                    " (known: " + known + ")"});
        continue;
      }
      if (std::find(m.parameters.begin(), m.parameters.end(), *p) == m.parameters.end())
        m.parameters.push_back(*p);
    }
    if (a->empty()) r.error("parameters", "is empty (leave it out to take the driver's own list)");
  }
  if (auto v = r.number("send_interval_s", 0.1, 3600)) m.send_interval_s = *v;

  const auto& keys = driver_keys();
  const auto dk = keys.find(m.driver);
  const auto has = [&](const char* key) { return dk != keys.end() && dk->second.count(key); };
  // Driver-specific keys: read only those of this driver; the others stay unread and are
  // reported by finish() as unknown for this driver.
  if (has("scenario"))
    if (auto v = r.string("scenario")) m.simulator.scenario = *v;
  if (has("seed"))
    if (auto v = r.integer("seed", 0, kMaxInt)) m.simulator.seed = static_cast<std::uint64_t>(*v);
  if (has("nibp_interval_s"))
    if (auto v = r.number("nibp_interval_s", 1, 86400)) m.simulator.nibp_interval_s = *v;
  if (has("event_at_s"))
    if (auto v = r.number("event_at_s", 0, 7 * 86400)) m.simulator.event_at_s = *v;
  if (has("event_duration_s"))
    if (auto v = r.number("event_duration_s", 0, 7 * 86400)) m.simulator.event_duration_s = *v;
  if (has("clock_offset_s"))
    if (auto v = r.number("clock_offset_s", -86400, 86400)) m.simulator.clock_offset_s = *v;
  if (has("endpoint")) {
    if (auto v = r.string("endpoint", true)) {
      if (!parse_endpoint(*v)) r.error("endpoint", "'" + *v + "' is not host:port");
      m.modbus.endpoint = *v;
    }
  }
  if (has("device"))
    if (auto v = r.string("device", true)) m.modbus.device = *v;
  if (m.driver == "masimo-serial") m.modbus.baud = 9600;  // the oximeters' default
  if (has("baud"))
    if (auto v = r.integer("baud", 300, 921600)) m.modbus.baud = static_cast<int>(*v);
  if (has("parity")) {
    if (auto v = r.string("parity")) {
      if (*v == "none" || *v == "N")
        m.modbus.parity = 'N';
      else if (*v == "even" || *v == "E")
        m.modbus.parity = 'E';
      else if (*v == "odd" || *v == "O")
        m.modbus.parity = 'O';
      else
        r.error("parity", "'" + *v + "' is not one of none, even, odd");
    }
  }
  if (has("data_bits"))
    if (auto v = r.integer("data_bits", 5, 8)) m.modbus.data_bits = static_cast<int>(*v);
  if (has("stop_bits"))
    if (auto v = r.integer("stop_bits", 1, 2)) m.modbus.stop_bits = static_cast<int>(*v);
  if (has("unit"))
    if (auto v = r.integer("unit", 0, 247)) m.modbus.unit = static_cast<int>(*v);
  if (has("profile")) {
    if (auto v = r.string("profile", true)) {
      if (!valid_id(*v))
        r.error("profile", "'" + *v + "' must be a profile name (the file name without .toml)");
      m.modbus.profile = *v;
      m.modbus.profile_path = (s.daemon.profiles_dir / (*v + ".toml")).string();
    }
  }
  if (has("source"))
    if (auto v = r.string("source", true)) m.hl7.source = *v;
  if (has("host"))
    if (auto v = r.string("host", true)) m.intellivue.host = *v;
  if (has("port"))
    if (auto v = r.integer("port", 1, 65535)) m.intellivue.port = static_cast<int>(*v);
  if (has("clock")) {
    if (auto v = r.string("clock")) {
      if (*v != "local" && *v != "utc")
        r.error("clock", "'" + *v + "' is not one of local, utc");
      else
        m.intellivue.clock = *v;
    }
  }
  r.finish();
  // Kept even when it had errors, so that duplicate ids are still reported.
  if (!m.id.empty()) s.monitors.push_back(std::move(m));
}

// [hl7]: the PCD-01 listener shared by every `driver = "hl7"` monitor.
void read_tls(TomlReader& r, core::TlsConfig& tls, const std::filesystem::path& base);

void read_hl7(const toml::table& t, core::Hl7MonitorConfig& hl7, const std::string& file,
              core::Diagnostics& out, const std::filesystem::path& base) {
  TomlReader r(t, "hl7", file, out);
  if (auto v = r.string("listen")) {
    if (!parse_endpoint(*v))
      r.error("listen", "'" + *v + "' is not host:port");
    else
      hl7.listen = *v;
  }
  if (auto v = r.integer("max_message_bytes", 1024, 16 * 1024 * 1024))
    hl7.max_message_bytes = static_cast<std::size_t>(*v);
  if (auto v = r.integer("max_clients", 1, 10'000)) hl7.max_clients = static_cast<std::size_t>(*v);
  if (auto v = r.integer("max_clients_per_address", 1, 10'000))
    hl7.max_clients_per_address = static_cast<std::size_t>(*v);
  if (auto v = r.integer("idle_timeout_s", 5, 86'400)) hl7.idle_timeout = std::chrono::seconds{*v};
  if (const auto* codes = r.table("codes")) {
    for (const auto& [k, v] : *codes) {
      const std::string code(k.str());
      const auto* name = v.as_string();
      if (!name || !core::parameter_from_name(name->get())) {
        out.push_back({core::position(v, file),
                       "hl7.codes." + code + ": must name a parameter (nibp_sys, hr, spo2, ...)"});
        continue;
      }
      hl7.codes[code] = name->get();
    }
  }
  read_tls(r, hl7.tls, base);
  if (hl7.tls.enabled && hl7.tls.cert.empty())
    r.error("tls", "the listener needs tls_cert and tls_key (its certificate)");
  r.finish();
}

// tls, tls_ca, tls_cert, tls_key of one link: paths relative to the config's directory; each
// file is loaded with OpenSSL here, so a bad path or a bad PEM is a --check-config error on
// its own line.
void read_tls(TomlReader& r, core::TlsConfig& tls, const std::filesystem::path& base) {
  if (auto v = r.boolean("tls")) tls.enabled = *v;
  for (auto [key, field] : {std::pair{"tls_ca", &tls.ca}, std::pair{"tls_cert", &tls.cert},
                            std::pair{"tls_key", &tls.key}})
    if (auto v = r.string(key)) {
      *field = (base / *v).string();
      if (!tls.enabled) r.error(key, "is set but tls is not true");
    }
  if (!tls.enabled) return;
  if (tls.cert.empty() != tls.key.empty())
    r.error(tls.cert.empty() ? "tls_key" : "tls_cert", "tls_cert and tls_key go together");
  if (auto problem = check_tls_file(tls.ca, TlsFile::ca)) r.error("tls_ca", *problem);
  if (auto problem = check_tls_file(tls.cert, TlsFile::cert)) r.error("tls_cert", *problem);
  if (auto problem = check_tls_file(tls.key, TlsFile::key)) r.error("tls_key", *problem);
  if (!tls.cert.empty() && !tls.key.empty())
    if (auto problem = check_tls_pair(tls.cert, tls.key)) r.error("tls_key", *problem);
}

void read_feed(const toml::table& t, Settings& s, const std::string& file, core::Diagnostics& out,
               const std::filesystem::path& base) {
  core::FeedConfig f;
  f.table = core::position(t, file);
  for (const auto& [k, v] : t) f.where[std::string(k.str())] = core::position(v, file);
  std::string context = "feeds";
  if (const auto* n = t.get("name"); n && n->is_string())
    context = "feeds[" + n->as_string()->get() + "]";
  TomlReader r(t, context, file, out);
  if (auto v = r.string("name")) {
    if (!valid_id(*v))
      r.error("name", "must be 1-64 characters of letters, digits, '-', '_' or '.'");
    f.name = *v;
  }
  if (auto v = r.string("type", true)) {
    if (*v != "hl7" && *v != "mqtt") r.error("type", "'" + *v + "' is not one of hl7, mqtt");
    f.type = *v;
  }
  if (auto v = r.string("endpoint", true)) {
    if (!parse_endpoint(*v)) r.error("endpoint", "'" + *v + "' is not host:port");
    f.endpoint = *v;
  }
  if (auto v = r.integer("undelivered_after_s", 1, 86400))
    f.undelivered_after = std::chrono::seconds{*v};
  if (const auto* types = r.array("event_types")) {
    for (const auto& n : *types) {
      if (const auto* str = n.as_string())
        f.event_types.push_back(str->get());
      else
        out.push_back(
            {core::position(n, file), context + ".event_types: each entry must be a string"});
    }
  }
  if (f.type == "hl7") {
    if (auto v = r.string("sending_application")) f.sending_application = *v;
    if (auto v = r.string("receiving_application")) f.receiving_application = *v;
    if (auto v = r.string("receiving_facility")) f.receiving_facility = *v;
    if (auto v = r.integer("ack_timeout_ms", 100, 600'000))
      f.ack_timeout = std::chrono::milliseconds{*v};
    if (auto v = r.integer("retry_window_s", 1, 7 * 86'400))
      f.retry_window = std::chrono::seconds{*v};
  } else if (f.type == "mqtt") {
    if (auto v = r.string("topic_prefix")) {
      if (v->empty() || v->find_first_of("#+") != std::string::npos)
        r.error("topic_prefix", "must be non-empty and hold no MQTT wildcard (# or +)");
      f.topic_prefix = *v;
    }
    if (auto v = r.string("client_id")) f.client_id = *v;
    if (auto v = r.string("username")) f.username = *v;
    if (auto v = r.string("password")) f.password = *v;
    if (auto v = r.integer("keepalive_s", 5, 3600)) f.keepalive_s = static_cast<int>(*v);
  }
  read_tls(r, f.tls, base);
  r.finish();
  s.feeds.push_back(std::move(f));
}

std::string read_file(const std::filesystem::path& path, bool& ok) {
  std::ifstream in(path, std::ios::binary);
  ok = static_cast<bool>(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string sha256_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

// Every protocols_dir/*.toml, parsed by the alarm core; each problem names its file and line.
void load_protocols(Settings& s, const toml::table* daemon, const std::string& config_file,
                    core::Diagnostics& out) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(s.daemon.protocols_dir, ec))
    if (e.path().extension() == ".toml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    bool ok = false;
    const auto text = read_file(f, ok);
    if (!ok) {
      out.push_back({{f.string(), 0, 0}, "cannot read protocol file"});
      continue;
    }
    toml::table table;
    try {
      table = toml::parse(text, f.string());
    } catch (const toml::parse_error& e) {
      out.push_back({{f.string(), static_cast<int>(e.source().begin.line),
                      static_cast<int>(e.source().begin.column)},
                     std::string(e.description())});
      continue;
    }
    auto p = alarms::parse_protocol(table, f.string(), out);
    if (!p) continue;
    p->sha256 = sha256_hex(text);  // of the bytes parsed: what the journal records as applied
    if (auto prev = s.protocols.find(p->name); prev != s.protocols.end()) {
      out.push_back({{f.string(), 0, 0},
                     "protocol '" + p->name + "' is also defined in " + prev->second->file});
      continue;
    }
    auto name = p->name;
    s.protocols.emplace(std::move(name), std::make_shared<const alarms::Protocol>(std::move(*p)));
  }
  if (!s.protocols.count(s.daemon.default_protocol)) {
    core::SourcePos where{config_file, 1, 1};
    if (daemon) {
      where = core::position(*daemon, config_file);
      if (const auto* n = daemon->get("protocols_dir")) where = core::position(*n, config_file);
      if (const auto* n = daemon->get("default_protocol")) where = core::position(*n, config_file);
    }
    out.push_back({where, "default protocol '" + s.daemon.default_protocol + "' not found in " +
                              s.daemon.protocols_dir.string()});
  }
}

}  // namespace

std::optional<Endpoint> parse_endpoint(const std::string& text) {
  std::string host;
  std::string port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || (host.find(':') != std::string::npos && text.front() != '[') ||
      ec != std::errc{} || p != port.data() + port.size() || value == 0 || value > 65535)
    return std::nullopt;
  return Endpoint{host, static_cast<std::uint16_t>(value)};
}

std::optional<std::string> canonical_origin(std::string_view text) {
  const auto lower = [](std::string_view v) {
    std::string out(v);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || text.size() > 300) return std::nullopt;
  const auto scheme = lower(text.substr(0, sep));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  auto rest = text.substr(sep + 3);
  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {  // [IPv6]
    const auto close = rest.find(']');
    if (close == std::string_view::npos || close < 2) return std::nullopt;
    host = rest.substr(0, close + 1);
    for (char c : host.substr(1, host.size() - 2))
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.')
        return std::nullopt;
    rest.remove_prefix(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port = rest.substr(1);
      has_port = true;
    }
  } else {
    const auto colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      has_port = true;
    }
    // A name or an IPv4 address: nothing that could start a user, path, query or fragment.
    if (host.empty()) return std::nullopt;
    for (char c : host)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
        return std::nullopt;
  }
  unsigned number = scheme == "https" ? 443 : 80;
  if (has_port) {
    if (port.empty() || port.size() > 5) return std::nullopt;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc{} || p != port.data() + port.size() || number == 0 || number > 65535)
      return std::nullopt;
  }
  return scheme + "://" + lower(host) + ":" + std::to_string(number);
}

LoadResult parse(const std::string& text, const std::filesystem::path& path) {
  LoadResult result;
  auto& out = result.diagnostics;
  const std::string file = path.string();
  toml::table root;
  try {
    root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    out.push_back(
        {{file, static_cast<int>(e.source().begin.line), static_cast<int>(e.source().begin.column)},
         std::string(e.description())});
    return result;
  }
  Settings s;
  s.file = path;
  const auto base = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  // Shipped profiles and protocols apply unless the config's directory has its own.
  std::error_code ec;
  for (auto [dir, name] : {std::pair{&s.daemon.profiles_dir, "profiles"},
                           std::pair{&s.daemon.protocols_dir, "protocols"}})
    *dir = std::filesystem::is_directory(base / name, ec)
               ? base / name
               : std::filesystem::path(core::kDataDir) / name;

  TomlReader r(root, "config", file, out);
  const toml::table empty;
  const auto* daemon = r.table("daemon");
  read_daemon(daemon ? *daemon : empty, base, s, file, out);
  // Problems of the whole file are reported at its start (1:1), like every other problem at a
  // position editors and CI logs can jump to.
  if (root.empty())
    out.push_back({{file, 1, 1},
                   "the config is empty: at least [daemon] with state_dir is required (see "
                   "config/vitalsd.toml and docs/config.md)"});
  else if (!daemon)
    out.push_back({{file, 1, 1}, "[daemon] table missing: state_dir and site are required"});
  else if (!daemon->get("state_dir"))
    out.push_back({core::position(*daemon, file), "daemon.state_dir: required key missing"});
  if (const auto* api = r.table("api")) read_api(*api, s, file, out, base);
  core::Hl7MonitorConfig hl7;
  if (const auto* t = r.table("hl7")) read_hl7(*t, hl7, file, out, base);
  if (const auto* feeds = r.array("feeds")) {
    std::map<std::string, int> names;
    for (const auto& node : *feeds) {
      const auto* t = node.as_table();
      if (!t) {
        out.push_back({core::position(node, file), "feeds: each entry must be a [[feeds]] table"});
        continue;
      }
      read_feed(*t, s, file, out, base);
    }
    for (const auto& f : s.feeds) {
      if (f.name.empty()) continue;
      auto pos = f.where.count("name") ? f.where.at("name") : f.table;
      if (auto [it, fresh] = names.emplace(f.name, pos.line); !fresh)
        out.push_back({pos, "feeds: duplicate feed name '" + f.name + "' (first on line " +
                                std::to_string(it->second) + ")"});
    }
  }
  if (const auto* monitors = r.array("monitors")) {
    std::map<std::string, int> seen;
    for (const auto& node : *monitors) {
      const auto* t = node.as_table();
      if (!t) {
        out.push_back(
            {core::position(node, file), "monitors: each entry must be a [[monitors]] table"});
        continue;
      }
      read_monitor(*t, s, file, out);
    }
    for (const auto& m : s.monitors) {
      if (m.id.empty()) continue;
      if (auto it = seen.find(m.id); it != seen.end())
        out.push_back({m.position("id"), "monitors: duplicate monitor id '" + m.id +
                                             "' (first on line " + std::to_string(it->second) +
                                             ")"});
      else
        seen[m.id] = m.position("id").line;
    }
  }
  for (auto& m : s.monitors) {
    const auto source = m.hl7.source;
    m.hl7 = hl7;
    m.hl7.source = source;
  }
  r.finish();
  // A protocols_dir that is no directory was reported at its key; there is nothing to load.
  std::error_code dir_ec;
  const auto* protocols_key = daemon ? daemon->get("protocols_dir") : nullptr;
  if (!protocols_key || std::filesystem::is_directory(s.daemon.protocols_dir, dir_ec))
    load_protocols(s, daemon, file, out);
  result.settings = std::move(s);
  return result;
}

LoadResult load(const std::filesystem::path& path) {
  bool ok = false;
  const auto text = read_file(path, ok);
  std::error_code dir_ec;
  if (!ok || std::filesystem::is_directory(path, dir_ec)) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    LoadResult r;
    r.diagnostics.push_back(
        {{path.string(), 0, 0},
         exists ? "cannot read the config file (permission denied?)" : "config file not found"});
    return r;
  }
  return parse(text, path);
}

}  // namespace vitalsd::settings
