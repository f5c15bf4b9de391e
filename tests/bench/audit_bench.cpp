// Verify's rate on a large journal (issue 14): generates a journal of N events (default one
// million) the way the daemon writes it — 8 chairs, back-to-back 40-minute sessions under the
// shipped ketamine-iv protocol, HR and SpO2 every second, NIBP every 3 minutes, hypertensive
// spikes that raise alerts a nurse acknowledges — then runs the same verify() as
// `vitalsctl audit verify` on a read-only connection and prints events per second; then the
// time to read one session's readings through the API's query (issue 15).
//
//   build/tests/bin/audit_bench [--events N] [--db FILE] [--closed-hours H]
// (N counts readings and alert/session transitions: --events 10000000 for ten million readings)
// (FILE is kept; default a temp file). --closed-hours H: the clinic closes H hours of every 12
// (no session starts that would run into them), so `vitalsctl archive` has a cut between
// sessions; default 0, open round the clock.
// Not a ctest test: the figure is in docs/auditing.md.
#include <fmt/core.h>
#include <toml++/toml.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <string>

#include "alarms/protocol.hpp"
#include "sessions/manager.hpp"
#include "store/audit.hpp"
#include "store/journal.hpp"
#include "store/queries.hpp"
#include "store/records.hpp"
#include "support/journal_writes.hpp"

using namespace vitalsd;
using namespace std::chrono_literals;

namespace {

void wait_committed(store::Journal& j) {
  std::promise<void> done;
  j.when_committed([&] { done.set_value(); });
  done.get_future().wait();
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t target = 1'000'000;
  std::int64_t closed_s = 0;
  std::filesystem::path db_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--events")) target = std::stoll(argv[i + 1]);
    if (!std::strcmp(argv[i], "--db")) db_path = argv[i + 1];
    if (!std::strcmp(argv[i], "--closed-hours")) closed_s = std::stoll(argv[i + 1]) * 3600;
  }
  const auto dir = db_path.empty()
                       ? std::filesystem::temp_directory_path() /
                             ("vitalsd-audit-bench-" + std::to_string(::getpid()))
                       : db_path.parent_path() / (db_path.filename().string() + ".state");
  std::filesystem::remove_all(dir);

  const std::string file = VITALSD_SOURCE_DIR "/config/protocols/ketamine-iv.toml";
  core::Diagnostics diags;
  auto protocol = alarms::parse_protocol(toml::parse_file(file), file, diags);
  if (!protocol) {
    fmt::print(stderr, "cannot load {}\n", file);
    return 1;
  }
  const sessions::Manager::Protocols protocols{
      {"ketamine-iv", std::make_shared<const alarms::Protocol>(std::move(*protocol))}};
  std::vector<std::string> chairs;
  for (int c = 1; c <= 8; ++c) chairs.push_back(fmt::format("chair-{}", c));

  const auto g0 = std::chrono::steady_clock::now();
  {
    store::Journal::Options options{dir};
    options.integrity_interval = {};
    store::Journal journal(options);
    journal.start(vitalsd::store::JournalHooks{});
    sessions::Manager m(protocols, {chairs.begin(), chairs.end()}, 1, 1);
    core::Timestamp t{std::chrono::milliseconds{1'790'000'000'000LL}};
    std::uint64_t cuff = 0;
    std::int64_t written = 0;
    std::map<std::string, std::int64_t> session_of;
    for (std::int64_t second = 0; written < target; ++second, t += 1s) {
      std::vector<core::Observation> obs;
      for (std::size_t c = 0; c < chairs.size(); ++c) {
        const auto& chair = chairs[c];
        const auto minute = (second / 60 + static_cast<std::int64_t>(c) * 5) % 45;
        const bool open = closed_s == 0 || second % 43'200 + 41 * 60 < 43'200 - closed_s;
        if (minute == 0 && second % 60 == 0 && open) {
          auto started = m.start(chair, fmt::format("P-{}", second), "ketamine-iv", "nurse-a", t);
          if (started.ok()) {
            session_of[chair] = started.session;
            test::persist(journal, m, started.change);
          }
        }
        const auto sid = session_of.count(chair) ? session_of[chair] : 0;
        if (minute == 6 && second % 60 == 0 && sid)
          test::persist(journal, m, m.set_phase(sid, "infusing", "cuff", "nurse-a", t).change);
        if (minute == 40 && second % 60 == 0 && sid) {
          // Discharge criteria are not simulated: the nurse overrides them, as on a real end.
          test::persist(journal, m,
                        m.end(sid, "nurse-a", t, "bench: discharged by protocol").change);
          session_of.erase(chair);
        }
        const double wobble = static_cast<double>((second * 7 + static_cast<std::int64_t>(c)) % 5);
        obs.push_back(test::reading(chair, core::Parameter::hr, 68 + wobble, t));
        obs.push_back(test::reading(chair, core::Parameter::spo2, 97 + wobble / 4, t));
        if (second % 180 == static_cast<std::int64_t>(c)) {
          ++cuff;
          const bool spike = minute >= 20 && minute < 26;
          obs.push_back(
              test::reading(chair, core::Parameter::nibp_sys, spike ? 196 : 121 + wobble, t, cuff));
          obs.push_back(test::reading(chair, core::Parameter::nibp_dia, 79 + wobble, t, cuff));
          obs.push_back(test::reading(chair, core::Parameter::nibp_mean, 93 + wobble, t, cuff));
        }
      }
      written += static_cast<std::int64_t>(obs.size());
      auto change = m.observe(obs);
      journal.record(std::move(obs));
      test::persist(journal, m, change);
      written += static_cast<std::int64_t>(change.transitions.size());
      for (const auto& tr : change.transitions)
        if (tr.type == alarms::EventType::raised)
          test::persist(journal, m, m.acknowledge(tr.alert_id, "nurse-b", t).change);
      if (second % 600 == 0) wait_committed(journal);
    }
    journal.stop();
    const auto s = journal.stats();
    fmt::print("generated {} events ({} observations) in {:.1f} s\n", s.last_seq, s.observations,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count());
  }
  const auto path = dir / "vitals.db";
  fmt::print("database {} ({:.0f} MB)\n", path.string(),
             static_cast<double>(std::filesystem::file_size(path)) / 1e6);
  store::Db db(path, store::Db::Mode::read_only);
  const auto r = store::audit::verify(db);
  fmt::print("{}", store::audit::summary(r));
  fmt::print(
      "verify: {} events in {:.2f} s = {:.0f} events/s (chain + {} observations, {} "
      "sessions, {} alerts)\n",
      r.events, r.seconds, static_cast<double>(r.events) / r.seconds, r.observations, r.sessions,
      r.alerts);
  store::audit::Options chain;
  chain.check_tables = false;
  const auto c = store::audit::verify(db, chain);
  fmt::print("verify --chain-only: {:.0f} events/s\n", static_cast<double>(c.events) / c.seconds);
  // One session's readings, as the API and the dashboard's trend page through them (issue 15):
  // the session in the middle of the file, every page of GET /sessions/{id}/observations.
  const auto sessions = db.scalar_int("SELECT count(*) FROM sessions");
  const auto middle = db.scalar_int("SELECT id FROM sessions ORDER BY id LIMIT 1 OFFSET " +
                                    std::to_string(sessions / 2));
  const auto q0 = std::chrono::steady_clock::now();
  std::size_t read = 0;
  store::queries::ObservationFilter f;
  f.session = middle;
  f.limit = store::queries::kMaxPage;
  for (;;) {
    const auto page = store::queries::observations(db, f);
    read += page["observations"].size();
    if (page["next"].is_null()) break;
    f.after = page["next"].get<std::int64_t>();
  }
  const auto q_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - q0);
  fmt::print(
      "one session's readings (session {}, {} readings, pages of {}): {:.1f} ms, of {} "
      "readings in the file\n",
      middle, read, store::queries::kMaxPage, q_ms.count(), r.observations);
  if (db_path.empty()) std::filesystem::remove_all(dir);
  return r.ok() ? 0 : 1;
}
