// A real journal on a real SQLite file, written the way the daemon writes it: a session with
// readings, a phase change, a high SBP alert that a nurse acknowledges, and the session's end.
// Shared by the audit and integrity tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "store/journal.hpp"
#include "store/records.hpp"
#include "support/journal_writes.hpp"
#include "support/protocols.hpp"

namespace vitalsd::store::test_fixture {

// A file's bytes, to show that something left it untouched.
inline std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline const core::Timestamp T0{std::chrono::milliseconds{1'790'000'000'000LL}};

inline core::Observation reading(core::Parameter p, double v, core::Timestamp at,
                                 std::uint64_t cuff = 0) {
  return test::reading("chair-1", p, v, at, cuff);
}
using test::observe;
using test::persist;

struct Written {
  std::filesystem::path database;
  std::int64_t session = 0;
  std::int64_t alert = 0;
};

// Writes the clinic journal into `state_dir` (vitals.db) and closes it.
inline Written write_clinic_journal(const std::filesystem::path& state_dir) {
  using namespace std::chrono_literals;
  using core::Parameter;
  const sessions::Manager::Protocols protocols{
      {"ketamine-iv", test::shipped_protocol("ketamine-iv")}};
  Written w;
  Journal::Options options{state_dir};
  options.integrity_interval = {};
  Journal j(options);
  j.start(JournalHooks{});
  sessions::Manager m(protocols, {"chair-1"}, 1, 1);
  auto started = m.start("chair-1", "P-7", "ketamine-iv", "nurse-a", T0);
  w.session = started.session;
  persist(j, m, started.change);
  for (std::uint64_t i = 1; i <= 6; ++i) {
    const auto at = T0 + std::chrono::seconds{10 * i};
    std::vector<core::Observation> obs{
        reading(Parameter::nibp_sys, 120 + static_cast<double>(i % 2), at, i),
        reading(Parameter::nibp_dia, 78, at, i), reading(Parameter::hr, 70.5, at),
        reading(Parameter::spo2, 98, at)};
    observe(j, m, obs);
  }
  auto phase = m.set_phase(w.session, "infusing", "", "nurse-a", T0 + 90s);
  persist(j, m, phase.change);
  auto spike = observe(j, m, {reading(Parameter::nibp_sys, 197, T0 + 600s, 40)});
  for (const auto& t : spike.transitions)
    if (t.type == alarms::EventType::raised && t.rule == "sbp-severe-high") w.alert = t.alert_id;
  persist(j, m, m.acknowledge(w.alert, "nurse-b", T0 + 620s).change);
  observe(
      j, m,
      {reading(Parameter::nibp_sys, 125, T0 + 900s, 41), reading(Parameter::hr, 72, T0 + 900s)});
  persist(j, m, m.end(w.session, "nurse-a", T0 + 1200s, "fixture: handed over to the ward").change);
  j.stop();
  w.database = j.database();
  return w;
}

}  // namespace vitalsd::store::test_fixture
