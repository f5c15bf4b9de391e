#include "settings/settings.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/version.hpp"
#include "drivers/registry.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::settings {
namespace {

constexpr const char* kGood = R"(
[daemon]
state_dir = "/tmp/vitalsd-test"
site = "clinic-1"

[api]
listen = "127.0.0.1:8573"

[[api.tokens]]
name = "station-1"
role = "nurse"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

[[monitors]]
id = "chair-1"
driver = "simulator"
scenario = "steady"
seed = 1
poll_ms = 1000

[[monitors]]
id = "chair-2"
driver = "modbus-tcp"
endpoint = "10.0.0.21:502"
unit = 1
profile = "generic-vitals"
poll_ms = 1000
)";

// Settings plus the drivers' own checks, as vitalsd --check-config runs them.
core::Diagnostics check(const std::string& text) {
  auto r = parse(text, "/etc/vitalsd/vitalsd.toml");
  if (r.settings)
    for (const auto& m : r.settings->monitors) drivers::check_monitor(m, r.diagnostics);
  return r.diagnostics;
}

std::string fmt_hex(unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {kHex[c >> 4], kHex[c & 15]};
}

std::string first(const core::Diagnostics& d) {
  return d.empty() ? std::string("(none)") : core::to_string(d.front());
}

TEST(Settings, TheDesignExampleLoads) {
  auto r = parse(kGood, "/etc/vitalsd/vitalsd.toml");
  ASSERT_TRUE(r.settings) << first(r.diagnostics);
  const auto& s = *r.settings;
  EXPECT_EQ(s.daemon.state_dir, "/tmp/vitalsd-test");
  EXPECT_EQ(s.database(), "/tmp/vitalsd-test/vitals.db");
  EXPECT_EQ(s.daemon.site, "clinic-1");
  EXPECT_EQ(s.api.listen.port, 8573);
  ASSERT_EQ(s.api.tokens.size(), 1u);
  EXPECT_EQ(s.api.tokens[0].role, "nurse");
  ASSERT_EQ(s.monitors.size(), 2u);
  EXPECT_EQ(s.monitors[0].comm_timeout, std::chrono::milliseconds{3000});
  EXPECT_EQ(s.monitors[1].modbus.endpoint, "10.0.0.21:502");
  // /etc/vitalsd has no profiles/ or protocols/ here: the shipped ones apply.
  EXPECT_EQ(s.monitors[1].modbus.profile_path,
            std::string(core::kDataDir) + "/profiles/generic-vitals.toml");
  EXPECT_EQ(s.daemon.protocols_dir, std::string(core::kDataDir) + "/protocols");
  ASSERT_TRUE(s.protocols.count("ketamine-iv"));
}

TEST(Settings, RelativeStateDirIsRelativeToTheConfigFile) {
  auto r = parse("[daemon]\nstate_dir = \"state\"\n", "/srv/cfg/v.toml");
  ASSERT_TRUE(r.settings) << first(r.diagnostics);
  EXPECT_EQ(r.settings->daemon.state_dir, "/srv/cfg/state");
}

struct BadCase {
  const char* name;
  std::string text;
  int line;
  const char* words;  // a fragment the message must contain
};

class SettingsErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(SettingsErrors, NamesFileLineAndProblem) {
  const auto& c = GetParam();
  const auto diags = check(c.text);
  ASSERT_FALSE(diags.empty()) << c.name;
  bool found = false;
  for (const auto& d : diags)
    if (d.where.line == c.line && core::to_string(d).find(c.words) != std::string::npos &&
        d.where.file == "/etc/vitalsd/vitalsd.toml")
      found = true;
  EXPECT_TRUE(found) << c.name << ": got " << first(diags);
}

const std::string kHead = "[daemon]\nstate_dir = \"/tmp/x\"\n";  // lines 1-2

INSTANTIATE_TEST_SUITE_P(
    Issue2, SettingsErrors,
    ::testing::Values(
        BadCase{"unknown_key", kHead + "no_such_key = 1\n", 3, "unknown key 'no_such_key'"},
        BadCase{"unknown_daemon_key", "[daemon]\nstate_dir = \"/x\"\nstat_dir = \"/y\"\n", 3,
                "unknown key 'stat_dir'"},
        BadCase{"malformed_toml", kHead + "site = \n", 3, ""},
        BadCase{"wrong_type",
                kHead + "[[monitors]]\nid = \"c\"\ndriver = \"simulator\"\npoll_ms = \"fast\"\n", 6,
                "expected an integer, got a string"},
        BadCase{"duplicate_id",
                kHead +
                    "[[monitors]]\nid = \"c\"\ndriver = \"simulator\"\n[[monitors]]\nid = \"c\"\n"
                    "driver = \"simulator\"\n",
                7, "duplicate monitor id 'c' (first on line 4)"},
        BadCase{"unknown_monitor_parameter",
                kHead + "[[monitors]]\nid = \"c\"\ndriver = \"simulator\"\n"
                        "parameters = [\"spo2\", \"sp02\"]\n",
                6, "monitors[c].parameters: unknown parameter 'sp02' (known: nibp_sys"},
        BadCase{"send_interval_zero",
                kHead + "[[monitors]]\nid = \"c\"\ndriver = \"hl7\"\nsource = \"S\"\n"
                        "send_interval_s = 0\n",
                7, "out of range [0.1, 3600]"},
        BadCase{"poll_too_fast",
                kHead + "[[monitors]]\nid = \"c\"\ndriver = \"simulator\"\npoll_ms = 5\n", 6,
                "out of range [100, 600000]"},
        BadCase{"comm_timeout_below_poll",
                kHead + "[[monitors]]\nid = \"c\"\ndriver = \"simulator\"\npoll_ms = 1000\n"
                        "comm_timeout_ms = 500\n",
                7, "must be at least poll_ms"},
        BadCase{"unknown_driver", kHead + "[[monitors]]\nid = \"c\"\ndriver = \"snmp\"\n", 5,
                "unknown driver 'snmp'"},
        BadCase{"unknown_scenario",
                kHead + "[[monitors]]\nid = \"c\"\ndriver = \"simulator\"\nscenario = \"chaos\"\n",
                6, "unknown scenario 'chaos'"},
        BadCase{"key_of_another_driver",
                kHead + "[[monitors]]\nid = \"c\"\ndriver = \"simulator\"\nendpoint = \"h:1\"\n", 6,
                "unknown key 'endpoint'"},
        BadCase{"missing_id", kHead + "[[monitors]]\ndriver = \"simulator\"\n", 3,
                "required key missing"},
        BadCase{"bad_role",
                kHead + "[[api.tokens]]\nname = \"t\"\nrole = \"root\"\nsha256 = \"" +
                    std::string(64, 'a') + "\"\n",
                5, "not one of nurse, system, auditor, admin"},
        BadCase{"bad_hash",
                kHead + "[[api.tokens]]\nname = \"t\"\nrole = \"nurse\"\nsha256 = \"abc\"\n", 6,
                "64 hex digits"},
        BadCase{"bad_listen", kHead + "[api]\nlisten = \"localhost\"\n", 4, "not host:port"},
        BadCase{"negative_interval",
                kHead + "[[monitors]]\nid = \"c\"\ndriver = \"simulator\"\nnibp_interval_s = -5\n",
                6, "out of range"}),
    [](const auto& p) { return std::string(p.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Issue17, SettingsErrors,
    ::testing::Values(
        BadCase{"per_address_zero", kHead + "[api]\nmax_connections_per_address = 0\n", 4,
                "out of range [1, 100000]"},
        BadCase{"hl7_idle_too_short", kHead + "[hl7]\nidle_timeout_s = 1\n", 4,
                "out of range [5, 86400]"},
        BadCase{"hl7_clients_not_integer", kHead + "[hl7]\nmax_clients_per_address = \"many\"\n", 4,
                "expected an integer"},
        BadCase{
            "retry_window_zero",
            kHead + "[[feeds]]\ntype = \"hl7\"\nendpoint = \"127.0.0.1:1\"\nretry_window_s = 0\n",
            6, "out of range"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(Settings, ConnectionCapsAndTheRetryWindowAreRead) {
  auto r =
      parse(kHead +
                "[api]\nmax_connections = 2000\nmax_connections_per_address = 300\n"
                "[hl7]\nmax_clients = 100\nmax_clients_per_address = 8\nidle_timeout_s = 30\n"
                "[[monitors]]\nid = \"m\"\ndriver = \"hl7\"\nsource = \"M\"\n"
                "[[feeds]]\ntype = \"hl7\"\nendpoint = \"127.0.0.1:1\"\nretry_window_s = 900\n",
            "/etc/vitalsd/vitalsd.toml");
  ASSERT_TRUE(r.diagnostics.empty()) << first(r.diagnostics);
  const auto& s = *r.settings;
  EXPECT_EQ(s.api.max_connections, 2000u);
  EXPECT_EQ(s.api.max_connections_per_address, 300u);
  ASSERT_EQ(s.monitors.size(), 1u);
  EXPECT_EQ(s.monitors[0].hl7.max_clients, 100u);
  EXPECT_EQ(s.monitors[0].hl7.max_clients_per_address, 8u);
  EXPECT_EQ(s.monitors[0].hl7.idle_timeout, std::chrono::seconds{30});
  ASSERT_EQ(s.feeds.size(), 1u);
  EXPECT_EQ(s.feeds[0].retry_window, std::chrono::seconds{900});
  // The defaults.
  auto d = parse(kHead, "/etc/vitalsd/vitalsd.toml");
  ASSERT_TRUE(d.diagnostics.empty()) << first(d.diagnostics);
  EXPECT_EQ(d.settings->api.max_connections, 512u);
  EXPECT_EQ(d.settings->api.max_connections_per_address, 256u);
  EXPECT_EQ(d.settings->api.header_timeout, std::chrono::seconds{10});
}

TEST(Settings, TheFailureDelayIsReadWithItsDefaultsAndRange) {
  auto r = parse(kHead + "[api]\nfailure_delay_after = 0\nfailure_delay_max_ms = 250\n",
                 "/etc/vitalsd/vitalsd.toml");
  ASSERT_TRUE(r.diagnostics.empty()) << first(r.diagnostics);
  EXPECT_EQ(r.settings->api.failure_delay_after, 0u);
  EXPECT_EQ(r.settings->api.failure_delay_max, std::chrono::milliseconds{250});
  auto d = parse(kHead, "/etc/vitalsd/vitalsd.toml");
  ASSERT_TRUE(d.diagnostics.empty()) << first(d.diagnostics);
  EXPECT_EQ(d.settings->api.failure_delay_after, 10u);
  EXPECT_EQ(d.settings->api.failure_delay_max, std::chrono::milliseconds{1000});
  auto bad = parse(kHead + "[api]\nfailure_delay_max_ms = 60000\n", "/etc/vitalsd/vitalsd.toml");
  ASSERT_FALSE(bad.diagnostics.empty());
  EXPECT_NE(first(bad.diagnostics).find("out of range"), std::string::npos)
      << first(bad.diagnostics);
}

TEST(Settings, EveryProblemIsReportedNotJustTheFirst) {
  const auto diags = check(kHead + "a = 1\nb = 2\n[[monitors]]\nid = \"c\"\ndriver = \"nope\"\n");
  EXPECT_GE(diags.size(), 3u);
}

TEST(Settings, MissingDaemonTableOrStateDirIsAnError) {
  EXPECT_FALSE(check("").empty());
  EXPECT_FALSE(check("[daemon]\nsite = \"x\"\n").empty());
}

TEST(Settings, UnreadableFileIsAnErrorNamingIt) {
  auto r = load("/nonexistent/vitalsd.toml");
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(core::to_string(r.diagnostics[0]), "/nonexistent/vitalsd.toml: config file not found");
  // A directory is not a readable config file either.
  auto d = load(std::filesystem::temp_directory_path());
  EXPECT_FALSE(d.diagnostics.empty());
}

TEST(Settings, TheShippedConfigIsValid) {
  const std::string path = VITALSD_SOURCE_DIR "/config/vitalsd.toml";
  auto r = load(path);
  core::Diagnostics diags = r.diagnostics;
  if (r.settings)
    for (const auto& m : r.settings->monitors) drivers::check_monitor(m, diags);
  EXPECT_TRUE(diags.empty()) << first(diags);
  ASSERT_TRUE(r.settings);
  EXPECT_GE(r.settings->monitors.size(), 2u);
}

// Issue 13: each protocol carries the SHA-256 of the exact bytes it was parsed from (what the
// journal's protocol.applied records), the same digest sha256sum gives for the file.
TEST(Settings, EachProtocolCarriesTheSha256OfItsFile) {
  const std::string path = VITALSD_SOURCE_DIR "/config/vitalsd.toml";
  auto r = load(path);
  ASSERT_TRUE(r.settings) << first(r.diagnostics);
  const auto p = r.settings->protocols.at("ketamine-iv");
  std::ifstream in(p->file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  ASSERT_EQ(EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_sha256(), nullptr), 1);
  std::string hex;
  for (unsigned int i = 0; i < n; ++i) hex += fmt_hex(md[i]);
  EXPECT_EQ(p->sha256, hex);
  EXPECT_EQ(p->sha256.size(), 64u);
}

TEST(Settings, TheConfigDirectorysOwnProtocolsWinAndTheirErrorsNameTheirFile) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "protocols");
  std::ofstream(dir / "protocols/bad.toml") << "name = \"bad\"\n\n[[rules]]\nid = \"x\"\n"
                                               "parameter = \"nibp_syst\"\n";
  std::ofstream(dir / "v.toml") << "[daemon]\nstate_dir = \"s\"\ndefault_protocol = \"mine\"\n";
  auto r = load(dir / "v.toml");
  EXPECT_EQ(r.settings->daemon.protocols_dir, dir / "protocols");
  bool bad_file = false;
  bool no_default = false;
  for (const auto& d : r.diagnostics) {
    if (d.where.file == (dir / "protocols/bad.toml").string() && d.where.line == 5) bad_file = true;
    if (d.where.line == 3 &&
        d.message.find("default protocol 'mine' not found") != std::string::npos)
      no_default = true;
  }
  EXPECT_TRUE(bad_file) << first(r.diagnostics);
  EXPECT_TRUE(no_default) << first(r.diagnostics);
}

TEST(Endpoint, ParsesHostPortAndRejectsJunk) {
  EXPECT_EQ(parse_endpoint("10.0.0.21:502")->port, 502);
  EXPECT_EQ(parse_endpoint("[::1]:8573")->host, "::1");
  for (const char* bad : {"", "host", ":80", "h:0", "h:65536", "h:8x", "::1:80"})
    EXPECT_FALSE(parse_endpoint(bad).has_value()) << bad;
}

}  // namespace
}  // namespace vitalsd::settings

namespace vitalsd::settings {
namespace {

// TLS files (docs/tls.md) are loaded at --check-config: a missing file, a file that is not
// PEM, a key that does not match its certificate, and TLS keys without `tls = true` are each
// an error on the key's own line. Certificates made here with the openssl CLI.
TEST(SettingsTls, BadCertificateKeyOrCaPathsAreErrorsWithTheirLine) {
  test::TempDir dir;
  const auto run = [&](const std::string& cmd) {
    ASSERT_EQ(
        std::system(("cd '" + dir.path().string() + "' && " + cmd + " >/dev/null 2>&1").c_str()),
        0);
  };
  for (const auto* name : {"a", "b"})
    run(std::string("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                    "-keyout ") +
        name + ".key -out " + name + ".crt -days 1 -subj /CN=" + name);
  std::ofstream(dir / "junk.pem") << "not a certificate\n";
  const std::string head =
      "[daemon]\nstate_dir = \"s\"\nsite = \"x\"\n[[feeds]]\ntype = \"mqtt\"\n"
      "endpoint = \"127.0.0.1:8883\"\n";  // lines 1-6
  const auto cfg = (dir / "c.toml").string();
  auto check_text = [&](const std::string& tail) {
    auto r = parse(head + tail, cfg);
    return r.diagnostics;
  };
  EXPECT_TRUE(check_text("tls = true\ntls_ca = \"a.crt\"\ntls_cert = \"b.crt\"\n"
                         "tls_key = \"b.key\"\n")
                  .empty());
  auto d = check_text("tls = true\ntls_ca = \"missing.crt\"\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].where.line, 8);
  EXPECT_NE(d[0].message.find("No such file"), std::string::npos) << first(d);
  d = check_text("tls = true\ntls_ca = \"junk.pem\"\n");
  ASSERT_EQ(d.size(), 1u) << first(d);
  EXPECT_NE(d[0].message.find("not a PEM CA"), std::string::npos) << first(d);
  d = check_text("tls = true\ntls_cert = \"a.crt\"\ntls_key = \"b.key\"\n");
  ASSERT_EQ(d.size(), 1u) << first(d);
  EXPECT_EQ(d[0].where.line, 9);
  EXPECT_NE(d[0].message.find("does not match"), std::string::npos) << first(d);
  d = check_text("tls = true\ntls_cert = \"junk.pem\"\ntls_key = \"a.key\"\n");
  ASSERT_GE(d.size(), 1u);
  EXPECT_EQ(d[0].where.line, 8);
  EXPECT_NE(d[0].message.find("not a PEM certificate"), std::string::npos) << first(d);
  d = check_text("tls_ca = \"a.crt\"\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("tls is not true"), std::string::npos) << first(d);
  d = check_text("tls = true\ntls_cert = \"a.crt\"\n");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].message.find("go together"), std::string::npos) << first(d);
}

// ---- every refusal carries its position ---------------------------------------------------

TEST(SettingsPositions, AnEmptyFileIsRefusedAtLineOneColumnOne) {
  for (const char* text : {"", "\n\n", "# only a comment\n"}) {
    const auto d = check(text);
    ASSERT_FALSE(d.empty()) << "'" << text << "'";
    for (const auto& e : d)
      EXPECT_EQ(core::to_string(e).rfind("/etc/vitalsd/vitalsd.toml:1:1: ", 0), 0u)
          << core::to_string(e);
  }
}

TEST(SettingsPositions, AProtocolsDirThatDoesNotExistIsRefusedAtItsKey) {
  const auto d = check("[daemon]\nstate_dir = \"/tmp/x\"\nprotocols_dir = \"no-such-dir\"\n");
  ASSERT_FALSE(d.empty());
  EXPECT_EQ(first(d).rfind("/etc/vitalsd/vitalsd.toml:3:17: daemon.protocols_dir: ", 0), 0u)
      << first(d);
  EXPECT_NE(first(d).find("/etc/vitalsd/no-such-dir"), std::string::npos) << first(d);
  for (const auto& e : d) EXPECT_GT(e.where.line, 0) << core::to_string(e);
}

TEST(SettingsPositions, APathThatIsAFileIsNoProtocolsDir) {
  vitalsd::test::TempDir dir;
  std::ofstream(dir / "afile") << "x";
  std::ofstream(dir / "c.toml") << "[daemon]\nstate_dir = \"s\"\nprotocols_dir = \"afile\"\n";
  const auto r = load(dir / "c.toml");
  ASSERT_FALSE(r.diagnostics.empty());
  EXPECT_EQ(
      first(r.diagnostics).rfind((dir / "c.toml").string() + ":3:17: daemon.protocols_dir: ", 0),
      0u)
      << first(r.diagnostics);
}

// The same through the binary, as clinic IT runs it.
TEST(SettingsPositions, CheckConfigPrintsThePositionsAndExitsTwo) {
  vitalsd::test::TempDir dir;
  std::ofstream(dir / "empty.toml");
  std::ofstream(dir / "nodir.toml") << "[daemon]\nstate_dir = \"s\"\nprotocols_dir = \"nope\"\n";
  auto [rc, out] = vitalsd::test::run(
      {VITALSD_BIN_DIR "/vitalsd", "--config", (dir / "empty.toml").string(), "--check-config"},
      dir / "out1");
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find((dir / "empty.toml").string() + ":1:1: "), std::string::npos) << out;
  auto [rc2, out2] = vitalsd::test::run(
      {VITALSD_BIN_DIR "/vitalsd", "--config", (dir / "nodir.toml").string(), "--check-config"},
      dir / "out2");
  EXPECT_EQ(rc2, 2) << out2;
  EXPECT_NE(out2.find((dir / "nodir.toml").string() + ":3:17: daemon.protocols_dir"),
            std::string::npos)
      << out2;
}

// ---- [api] allowed_origins ----------------------------------------------------------------

TEST(Origins, CanonicalFormComparesSchemeHostAndPort) {
  EXPECT_EQ(canonical_origin("https://station.example:8573"), "https://station.example:8573");
  EXPECT_EQ(canonical_origin("HTTPS://Station.Example"), "https://station.example:443");
  EXPECT_EQ(canonical_origin("http://10.0.0.5"), "http://10.0.0.5:80");
  EXPECT_EQ(canonical_origin("http://[::1]:8573"), "http://[::1]:8573");
  EXPECT_EQ(canonical_origin("http://[FE80::1]"), "http://[fe80::1]:80");
  for (const char* bad :
       {"null", "", "station.example:8573", "ftp://station.example", "https://", "https://:443",
        "https://station.example/", "https://station.example:8573/path", "https://a@b",
        "https://station.example:0", "https://station.example:65536", "https://station.example:",
        "https://station.example:8a", "https://station.example?x", "https://station.example#x",
        "https://[::1", "https://[zz]:1", "https://st ation", "file://x"})
    EXPECT_FALSE(canonical_origin(bad)) << bad;
}

TEST(SettingsApi, AllowedOriginsAreReadCanonicalAndBadOnesNamedWithTheirPosition) {
  std::string text = kGood;
  text.replace(text.find("[api]\n"), 6,
               "[api]\nallowed_origins = [\"HTTPS://Vitals.Clinic.Example\", "
               "\"http://10.0.0.5:8573\"]\n");
  auto r = parse(text, "/etc/vitalsd/vitalsd.toml");
  ASSERT_TRUE(r.diagnostics.empty()) << first(r.diagnostics);
  EXPECT_EQ(
      r.settings->api.allowed_origins,
      (std::vector<std::string>{"https://vitals.clinic.example:443", "http://10.0.0.5:8573"}));

  text = kGood;
  text.replace(text.find("[api]\n"), 6,
               "[api]\nallowed_origins = [\"https://ok.example\", \"https://x.example/\", 7]\n");
  const auto d = check(text);
  ASSERT_EQ(d.size(), 2u) << first(d);
  const auto line = [&](const std::string& t) {
    return 1 + static_cast<int>(std::count(
                   t.begin(), t.begin() + static_cast<std::ptrdiff_t>(t.find("allowed_origins")),
                   '\n'));
  }(text);
  EXPECT_EQ(d[0].where.line, line);
  EXPECT_EQ(d[0].where.column, 42);
  EXPECT_NE(d[0].message.find("'https://x.example/' is not an origin"), std::string::npos)
      << d[0].message;
  EXPECT_EQ(d[1].where.column, 64);
  EXPECT_NE(d[1].message.find("not a string"), std::string::npos) << d[1].message;
  const auto wrong = check(std::string(kGood).replace(
      std::string(kGood).find("[api]\n"), 6, "[api]\nallowed_origins = \"https://x.example\"\n"));
  ASSERT_FALSE(wrong.empty());
  EXPECT_NE(first(wrong).find("api.allowed_origins: expected an array"), std::string::npos)
      << first(wrong);
}

}  // namespace
}  // namespace vitalsd::settings
