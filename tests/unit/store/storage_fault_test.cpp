// The journal on a failing disk: real SQLite files, with writes failed by a VFS shim (the Nth
// write, once or persistently), as a full disk, an I/O error or a read-only remount would.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "store/journal.hpp"
#include "support/chain_check.hpp"
#include "support/fault_vfs.hpp"
#include "support/temp_dir.hpp"

namespace vitalsd::store {
namespace {

using namespace std::chrono_literals;
using test::FaultVfs;

core::Observation hr(const std::string& monitor, double value) {
  core::Observation o;
  o.monitor = monitor;
  o.parameter = core::Parameter::hr;
  o.value = value;
  o.unit = "/min";
  o.received_at = core::Timestamp{std::chrono::milliseconds{1'790'000'000'000LL}};
  return o;
}

Event alert(std::int64_t id) {
  return Event{"alert.raised",
               core::Timestamp{std::chrono::milliseconds{1'790'000'000'000LL}},
               "chair-1",
               1,
               {{"alert", {{"id", id}, {"rule", "sbp-severe-high"}, {"priority", "high"}}}}};
}

// What the hooks saw, and a way to wait for it.
struct Seen {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<std::string> committed;  // event types in seq order
  int readings = 0;                    // readings the committed `observations` events chain
  std::vector<std::int64_t> seqs;
  std::vector<std::string> uncommitted;  // event types published from memory
  std::vector<StorageStatus> storage;
  std::atomic<int> receipts_true{0}, receipts_false{0};

  JournalHooks hooks() {
    JournalHooks h;
    h.on_commit = [this](const std::vector<CommittedEventPtr>& events) {
      std::lock_guard lock(mutex);
      for (const auto& e : events) {
        committed.push_back(e->event.type);
        seqs.push_back(e->seq);
        if (e->event.type == "observations") readings += e->event.payload["count"].get<int>();
      }
      cv.notify_all();
    };
    h.on_uncommitted = [this](const std::vector<Event>& events) {
      std::lock_guard lock(mutex);
      for (const auto& e : events) uncommitted.push_back(e.type);
      cv.notify_all();
    };
    h.on_storage = [this](const StorageStatus& s) {
      std::lock_guard lock(mutex);
      storage.push_back(s);
      cv.notify_all();
    };
    return h;
  }
  Receipt receipt() {
    return [this](bool ok) {
      ++(ok ? receipts_true : receipts_false);
      std::lock_guard lock(mutex);
      cv.notify_all();
    };
  }
  template <class Pred>
  bool wait(Pred pred, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, timeout, pred);
  }
};

Journal::Options fast(const test::TempDir& dir) {
  Journal::Options o{dir.path()};
  o.batch_window = 20ms;
  o.retry_initial = 20ms;
  o.retry_max = 100ms;
  o.stop_timeout = 500ms;
  return o;
}

void expect_chain_intact(const std::filesystem::path& db_path) {
  const auto problem = test::chain_problem(db_path);
  EXPECT_FALSE(problem) << *problem;
}

class StorageFault : public ::testing::Test {
 protected:
  void SetUp() override { FaultVfs::install(); }
  void TearDown() override { FaultVfs::heal(); }
};

TEST_F(StorageFault, AWriteThatFailsOnceIsRetriedAndNothingIsLost) {
  test::TempDir dir;
  Seen seen;
  Journal j(fast(dir));
  j.start(seen.hooks());
  FaultVfs::fail_after(0, SQLITE_IOERR_WRITE, false);
  j.record({hr("chair-1", 70), hr("chair-1", 71)}, seen.receipt());
  j.record(alert(1), Durability::urgent);
  ASSERT_TRUE(seen.wait([&] { return seen.storage.size() >= 2; }))
      << "no storage_failed / recovered";
  EXPECT_TRUE(seen.storage[0].failing);
  EXPECT_FALSE(seen.storage[1].failing);
  EXPECT_EQ(seen.storage[1].dropped_observations, 0u);
  ASSERT_TRUE(seen.wait([&] { return seen.receipts_true == 1; }));
  j.stop();
  EXPECT_EQ(seen.receipts_false, 0);
  // What failed is written after all, then the fault's pair; nothing twice.
  std::vector<std::string> want{"observations", "alert.raised", "storage.failed",
                                "storage.recovered"};
  EXPECT_EQ(seen.committed, want);
  EXPECT_EQ(seen.readings, 2);
  EXPECT_EQ(j.unwritten(), "");
  expect_chain_intact(j.database());
}

TEST_F(StorageFault, WhileStorageFailsEventsArePublishedFromMemoryAndObservationsAreBounded) {
  test::TempDir dir;
  Seen seen;
  auto options = fast(dir);
  options.max_backlog_observations = 100;
  Journal j(options);
  j.start(seen.hooks());
  FaultVfs::fail_after(0, SQLITE_FULL, true);
  for (int i = 0; i < 50; ++i) {
    std::vector<core::Observation> obs;
    for (int k = 0; k < 10; ++k) obs.push_back(hr(k % 2 ? "chair-1" : "chair-2", 60 + k));
    j.record(std::move(obs), seen.receipt());
  }
  ASSERT_TRUE(seen.wait([&] { return !seen.storage.empty(); })) << "no storage_failed";
  EXPECT_TRUE(j.storage_failing());
  for (int i = 1; i <= 5; ++i) j.record(alert(i), Durability::urgent);
  // storage.failed itself and each alert reach subscribers from memory, at once.
  ASSERT_TRUE(seen.wait([&] {
    return std::count(seen.uncommitted.begin(), seen.uncommitted.end(), "alert.raised") == 5;
  }));
  EXPECT_EQ(seen.uncommitted.front(), "storage.failed");
  ASSERT_TRUE(seen.wait([&] { return seen.receipts_false == 40; }, 3s))
      << "oldest 400 observations (40 messages) should be dropped and their senders told; got "
      << seen.receipts_false;
  const auto during = j.storage();
  EXPECT_EQ(during.dropped_observations, 400u);
  EXPECT_EQ(during.backlog_observations, 100u);
  EXPECT_EQ(during.backlog_events, 5u);
  EXPECT_EQ(during.dropped_by_monitor.at("chair-1") + during.dropped_by_monitor.at("chair-2"),
            400u);
  EXPECT_TRUE(seen.committed.empty());

  FaultVfs::heal();
  ASSERT_TRUE(seen.wait([&] { return seen.storage.size() >= 2; })) << "no recovery";
  EXPECT_EQ(seen.storage.back().dropped_observations, 400u);
  ASSERT_TRUE(seen.wait([&] { return seen.receipts_true == 10; }));
  j.stop();
  EXPECT_EQ(std::count(seen.committed.begin(), seen.committed.end(), "alert.raised"), 5);
  EXPECT_EQ(seen.readings, 100);
  // The fault's pair follows the commit that recovered. An alert recorded while that commit was
  // already under way (the disk healed during it) follows the pair, in the next commit.
  const auto failed = std::find(seen.committed.begin(), seen.committed.end(), "storage.failed");
  ASSERT_NE(failed, seen.committed.end()) << ::testing::PrintToString(seen.committed);
  ASSERT_NE(failed + 1, seen.committed.end());
  EXPECT_EQ(*(failed + 1), "storage.recovered") << ::testing::PrintToString(seen.committed);
  EXPECT_TRUE(std::all_of(failed + 2, seen.committed.end(), [](const std::string& t) {
    return t == "alert.raised";
  })) << ::testing::PrintToString(seen.committed);
  Db db(j.database(), Db::Mode::read_only);
  Stmt r(db, "SELECT payload FROM events WHERE type = 'storage.recovered'");
  ASSERT_TRUE(r.step());
  const auto payload = nlohmann::json::parse(r.text(0));
  EXPECT_EQ(payload["dropped_observations"], 400);
  EXPECT_EQ(payload["dropped_by_monitor"]["chair-1"].get<int>() +
                payload["dropped_by_monitor"]["chair-2"].get<int>(),
            400);
  expect_chain_intact(j.database());
}

// A file system the kernel turned read-only under the daemon (errors=remount-ro): writes fail
// with EROFS, which SQLite reports as SQLITE_READONLY / SQLITE_IOERR. The same fault path.
TEST_F(StorageFault, AReadOnlyFileSystemIsAFaultThatClearsWhenWritesWorkAgain) {
  test::TempDir dir;
  Seen seen;
  Journal j(fast(dir));
  j.start(seen.hooks());
  FaultVfs::fail_after(0, SQLITE_READONLY, true);
  j.record(alert(1), Durability::urgent);
  j.record({hr("chair-1", 70)}, seen.receipt());
  ASSERT_TRUE(seen.wait([&] { return !seen.storage.empty(); }));
  EXPECT_TRUE(j.storage_failing());
  FaultVfs::heal();
  ASSERT_TRUE(seen.wait([&] { return seen.storage.size() >= 2 && seen.receipts_true == 1; }));
  j.stop();
  EXPECT_EQ(std::count(seen.committed.begin(), seen.committed.end(), "alert.raised"), 1);
  expect_chain_intact(j.database());
}

TEST_F(StorageFault, StopWhileStorageFailsGivesUpAfterItsTimeoutAndNamesWhatWasNotWritten) {
  test::TempDir dir;
  Seen seen;
  Journal j(fast(dir));
  j.start(seen.hooks());
  FaultVfs::fail_after(0, SQLITE_IOERR_WRITE, true);
  j.record({hr("chair-1", 70)}, seen.receipt());
  j.record(alert(1), Durability::urgent);
  ASSERT_TRUE(seen.wait([&] { return !seen.storage.empty(); }));
  const auto t0 = std::chrono::steady_clock::now();
  j.stop();
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 3s);
  EXPECT_EQ(seen.receipts_false, 1) << "the sender of what was not written is not acknowledged";
  EXPECT_EQ(j.unwritten(), "1 events (alert.raised) and 1 observations");
}

TEST_F(StorageFault, AFaultThatClearsBeforeTheStopTimeoutLosesNothingAtStop) {
  test::TempDir dir;
  Seen seen;
  auto options = fast(dir);
  options.stop_timeout = 5s;
  Journal j(options);
  j.start(seen.hooks());
  FaultVfs::fail_after(0, SQLITE_FULL, true);
  j.record(alert(1), Durability::urgent);
  ASSERT_TRUE(seen.wait([&] { return !seen.storage.empty(); }));
  std::thread healer([] {
    std::this_thread::sleep_for(300ms);
    FaultVfs::heal();
  });
  j.stop();
  healer.join();
  EXPECT_EQ(j.unwritten(), "");
  EXPECT_EQ(std::count(seen.committed.begin(), seen.committed.end(), "alert.raised"), 1);
  expect_chain_intact(j.database());
}

}  // namespace
}  // namespace vitalsd::store

namespace vitalsd::store {
namespace {

// Another process holds the database locked (a backup tool, a careless sqlite3 shell): after
// SQLite's busy timeout the commit fails like any storage fault, and when the lock goes the
// journal commits what it held.
TEST(StorageLocked, ALockHeldByAnotherConnectionIsAFaultThatClearsWhenItIsReleased) {
  test::TempDir dir;
  Seen seen;
  Journal j(fast(dir));
  j.start(seen.hooks());
  auto holder = std::make_unique<Db>(j.database(), Db::Mode::read_write);
  ASSERT_FALSE(holder->exec("BEGIN EXCLUSIVE"));
  j.record(alert(1), Durability::urgent);
  ASSERT_TRUE(seen.wait([&] { return !seen.storage.empty(); }, 10s)) << "no storage_failed";
  EXPECT_TRUE(seen.storage[0].failing);
  EXPECT_NE(seen.storage[0].error.find("locked"), std::string::npos) << seen.storage[0].error;
  ASSERT_FALSE(holder->exec("ROLLBACK"));
  holder.reset();
  ASSERT_TRUE(seen.wait([&] { return seen.storage.size() >= 2; }, 10s)) << "no recovery";
  j.stop();
  EXPECT_EQ(std::count(seen.committed.begin(), seen.committed.end(), "alert.raised"), 1);
  EXPECT_EQ(seen.committed.back(), "storage.recovered");
}

// Issue 23: an exception that is not SQLite's is a bug, never a storage fault. Before, one
// monitor.parameter_unmapped event whose code held a byte that was not UTF-8 threw
// json::type_error 316 in the writer: storage_failed (a false high alarm), then terminate.
TEST(WriterBug, TextThatIsNotUtf8IsJournaledWithReplacementsNotAStorageFault) {
  test::TempDir dir;
  Seen seen;
  Journal j(fast(dir));
  j.start(seen.hooks());
  j.record(Event{"monitor.parameter_unmapped",
                 core::Timestamp{std::chrono::milliseconds{1'790'000'000'000LL}},
                 "chair-1",
                 std::nullopt,
                 {{"code",
                   "1500\xA4"
                   "22"},
                  {"name", "MDC_PRESS_BLD_NONINV_DIA"}}},
           Durability::urgent);
  j.record(alert(1), Durability::urgent);
  ASSERT_TRUE(seen.wait([&] { return seen.committed.size() >= 2; }));
  j.stop();
  EXPECT_TRUE(seen.storage.empty()) << seen.storage.front().error;
  EXPECT_EQ(j.stats().failed_commits, 0u);
  Db db(dir.path() / "vitals.db", Db::Mode::read_only);
  Stmt s(db, "SELECT payload FROM events WHERE type = 'monitor.parameter_unmapped'");
  ASSERT_TRUE(s.step());
  EXPECT_NE(s.text(0).find("1500\xEF\xBF\xBD"
                           "22"),
            std::string::npos)
      << s.text(0);
  expect_chain_intact(j.database());
}

TEST(WriterBug, AnItemThatThrowsIsRefusedInItsPlaceAndTheRestIsWritten) {
  test::TempDir dir;
  Seen seen;
  auto options = fast(dir);
  options.batch_window = 200ms;  // the three items below share one batch
  Journal j(options);
  j.start(seen.hooks());
  j.record({hr("chair-1", 71)}, seen.receipt());
  j.record(alert(1), Durability::batched, [](Db&) -> std::optional<std::string> {
    // What a bug looks like: a library throws on data it did not expect.
    return nlohmann::json{{"x", std::string("\xA4")}}.dump();
  });
  j.record({hr("chair-1", 72)}, seen.receipt());
  j.record(alert(2), Durability::urgent);
  ASSERT_TRUE(seen.wait([&] {
    return std::count(seen.committed.begin(), seen.committed.end(), "alert.raised") == 1 &&
           seen.receipts_true + seen.receipts_false == 2;
  }));
  j.stop();
  EXPECT_TRUE(seen.storage.empty()) << "an exception that is not SQLite's raised storage_failed";
  EXPECT_EQ(j.stats().failed_commits, 0u);
  EXPECT_EQ(j.stats().refused_items, 1u);
  EXPECT_EQ(seen.receipts_true, 2);  // both readings stored
  EXPECT_EQ(seen.readings, 2);
  ASSERT_EQ(std::count(seen.committed.begin(), seen.committed.end(), "journal.refused"), 1);
  Db db(dir.path() / "vitals.db", Db::Mode::read_only);
  Stmt s(db, "SELECT payload, monitor, session FROM events WHERE type = 'journal.refused'");
  ASSERT_TRUE(s.step());
  const auto payload = nlohmann::json::parse(s.text(0));
  EXPECT_EQ(payload["type"], "alert.raised");
  EXPECT_NE(payload["error"].get<std::string>().find("316"), std::string::npos) << s.text(0);
  EXPECT_EQ(s.text(1), "chair-1");
  EXPECT_EQ(s.int64(2), 1);
  // The journal goes on as before: the next commit is ordinary.
  expect_chain_intact(j.database());
}

}  // namespace
}  // namespace vitalsd::store
