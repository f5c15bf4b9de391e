// The PCD-01 listener on 127.0.0.1 with real TCP clients (plain POSIX sockets with receive
// timeouts, so a missing ACK fails the test instead of hanging it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "drivers/errors.hpp"
#include "drivers/hl7/hl7.hpp"
#include "drivers/hl7/listener.hpp"
#include "hl7/ack.hpp"
#include "hl7/message.hpp"
#include "integration/hl7/hl7_messages.hpp"

namespace vitalsd::drivers::hl7 {
namespace {

using namespace std::chrono_literals;
namespace msg = test::hl7msg;
namespace h = vitalsd::hl7;

// A blocking MLLP client.
class Client {
 public:
  explicit Client(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }

  bool send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool send(std::string_view message) { return send_raw("\x0b" + std::string(message) + "\x1c\r"); }

  // The next ACK's payload; nullopt on close or after `timeout`.
  std::optional<std::string> ack(std::chrono::milliseconds timeout = 5s) {
    set_timeout(timeout);
    for (;;) {
      if (auto end = buf_.find("\x1c\r"); end != std::string::npos) {
        auto start = buf_.find('\x0b');
        std::string payload = buf_.substr(start + 1, end - start - 1);
        buf_.erase(0, end + 2);
        return payload;
      }
      char tmp[65536];
      auto n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return std::nullopt;
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }

  // True when the listener closed the connection within `timeout`.
  bool closed_by_peer(std::chrono::milliseconds timeout = 5s) {
    set_timeout(timeout);
    char tmp[4096];
    for (;;) {
      auto n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;  // timeout
    }
  }

 private:
  void set_timeout(std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000),
               static_cast<suseconds_t>(t.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

h::AckInfo info(const std::optional<std::string>& ack) {
  if (!ack) return {h::AckCode::AR, "<no ack>", "", -1};
  h::ParseLimits lenient;
  lenient.check_version = false;  // a reject echoes the sender's unsupported version
  auto r = h::parse(*ack, lenient);
  if (!r) return {h::AckCode::AR, "<unparseable ack>", *ack, -1};
  auto i = h::read_ack(*r);
  if (!i) return {h::AckCode::AR, "<no MSA>", *ack, -1};
  return *i;
}

core::MonitorConfig monitor(const std::string& id, const std::string& source,
                            std::chrono::milliseconds comm_timeout = 3s) {
  core::MonitorConfig m;
  m.id = id;
  m.driver = "hl7";
  m.hl7.source = source;
  m.comm_timeout = comm_timeout;
  return m;
}

// The fixture plays acquisition and the journal: each driver is polled as soon as it says data
// waits, and what it hands over is "committed" (its receipts settled true), refused (false) or
// held for the test to settle, as `verdict_` says. poll(d) returns what those polls collected
// plus a real poll's result.
class Hl7Listener : public ::testing::Test {
 protected:
  enum class Verdict { commit, refuse, hold };

  void start(ListenerOptions o = {}) {
    o.listen = "127.0.0.1:0";
    listener_ = std::make_shared<Listener>(io_, o);
    port_ = listener_->local_endpoint().port();
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    settle_held(false);
    drivers_.clear();
    listener_.reset();
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }
  Driver& driver(const std::string& id, const std::string& source,
                 std::chrono::milliseconds comm_timeout = 3s) {
    drivers_.push_back(make_on(monitor(id, source, comm_timeout), io_, listener_));
    Driver* d = drivers_.back().get();
    d->on_ready([this, d] { d->poll({}, [this, d](PollResult r) { take(d, std::move(r)); }); });
    return *d;
  }
  void take(Driver* d, PollResult r) {
    std::vector<std::function<void(bool)>> settle_now;
    {
      std::lock_guard lock(mutex_);
      auto& c = collected_[d];
      c.insert(c.end(), r.observations.begin(), r.observations.end());
      auto& a = alarms_[d];
      a.insert(a.end(), r.alarms.begin(), r.alarms.end());
      for (auto& receipt : r.receipts) {
        if (verdict_ == Verdict::hold)
          held_.push_back(std::move(receipt));
        else
          settle_now.push_back(std::move(receipt));
      }
    }
    for (auto& receipt : settle_now) receipt(verdict_ == Verdict::commit);
  }
  // Settles every held receipt; returns how many.
  std::size_t settle_held(bool committed) {
    std::vector<std::function<void(bool)>> held;
    {
      std::lock_guard lock(mutex_);
      held.swap(held_);
    }
    for (auto& receipt : held) receipt(committed);
    return held.size();
  }
  std::size_t held() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  PollResult poll(Driver& d) {
    std::promise<PollResult> p;
    asio::post(io_, [&] { d.poll({}, [&](PollResult r) { p.set_value(std::move(r)); }); });
    auto r = p.get_future().get();
    for (auto& receipt : r.receipts) receipt(verdict_ != Verdict::refuse);
    r.receipts.clear();
    std::lock_guard lock(mutex_);
    auto& c = collected_[&d];
    r.observations.insert(r.observations.begin(), c.begin(), c.end());
    c.clear();
    return r;
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_{
      io_.get_executor()};
  std::shared_ptr<Listener> listener_;
  std::vector<std::unique_ptr<Driver>> drivers_;
  std::thread thread_;
  std::uint16_t port_ = 0;
  std::atomic<Verdict> verdict_{Verdict::commit};
  std::mutex mutex_;
  std::map<Driver*, std::vector<core::Observation>> collected_;
  std::vector<std::function<void(bool)>> held_;
  std::map<Driver*, std::vector<MonitorAlarm>> alarms_;
};

// ORU^R40: the monitor's own alarms take the same path as its observations: handed to its
// driver, answered only once the taker settles the receipt as committed.
TEST_F(Hl7Listener, TheAckOfAnOruR40WaitsForTheCommitOfItsAlarms) {
  start();
  auto& d = driver("mindray", "MINDRAY-1");
  verdict_ = Verdict::hold;
  Client c(port_);
  msg::Alarm alarm;
  alarm.id = "ALM-9";
  alarm.flags = "PM~SP";
  ASSERT_TRUE(c.send(msg::r40(alarm)));
  EXPECT_FALSE(c.ack(400ms));
  ASSERT_EQ(held(), 1u);
  {
    std::lock_guard lock(mutex_);
    ASSERT_EQ(alarms_[&d].size(), 1u);
    EXPECT_EQ(alarms_[&d][0].key, "ALM-9");
    EXPECT_EQ(alarms_[&d][0].priority, "medium");
    EXPECT_TRUE(collected_[&d].empty());  // an alarm's value is no reading
  }
  settle_held(true);
  auto a = info(c.ack());
  EXPECT_EQ(a.code, h::AckCode::AA);
  EXPECT_EQ(a.control_id, "A1");
  EXPECT_EQ(listener_->stats().alarms, 1u);
  // Not stored: AE, so that the monitor sends it again.
  verdict_ = Verdict::refuse;
  alarm.control_id = "A2";
  ASSERT_TRUE(c.send(msg::r40(alarm)));
  EXPECT_EQ(info(c.ack()).code, h::AckCode::AE);
}

// A Mindray monitor keeps its connection open for hours: a sender that keeps sending is never
// closed as idle, whatever idle_timeout says, and ORU^R01 and ORU^R40 share the connection.
TEST_F(Hl7Listener, AConnectionThatKeepsSendingOutlivesTheIdleTimeout) {
  ListenerOptions o;
  o.idle_timeout = 300ms;
  start(o);
  driver("mindray", "MINDRAY-1");
  Client c(port_);
  msg::Vitals v;
  v.source = "MINDRAY-1";
  msg::Alarm alarm;
  for (int i = 0; i < 15; ++i) {  // 1.5 s: five idle timeouts
    const bool r40 = i % 2 == 1;
    v.control_id = alarm.control_id = "M" + std::to_string(i);
    ASSERT_TRUE(c.send(r40 ? msg::r40(alarm) : msg::oru(v)));
    auto a = info(c.ack(2s));
    EXPECT_EQ(a.code, h::AckCode::AA) << i;
    EXPECT_EQ(a.control_id, "M" + std::to_string(i));
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(listener_->stats().closed_idle, 0u);
  // Silent for longer than idle_timeout: closed.
  EXPECT_TRUE(c.closed_by_peer(3s));
}

TEST_F(Hl7Listener, TheAckWaitsForTheCommitOfItsObservations) {
  start();
  driver("bed-7", "BEDMON-7");
  verdict_ = Verdict::hold;
  Client c(port_);
  ASSERT_TRUE(c.send(msg::oru()));
  // Taken by the driver at once, but not committed: no answer yet.
  EXPECT_FALSE(c.ack(400ms));
  EXPECT_EQ(held(), 1u);
  EXPECT_EQ(settle_held(true), 1u);
  auto a = info(c.ack());
  EXPECT_EQ(a.code, h::AckCode::AA);
  EXPECT_EQ(a.control_id, "MSG00001");
}

TEST_F(Hl7Listener, ObservationsThatWereNotStoredAreAnsweredAeSoTheSenderResends) {
  start();
  driver("bed-7", "BEDMON-7");
  verdict_ = Verdict::refuse;
  Client c(port_);
  ASSERT_TRUE(c.send(msg::oru()));
  auto ack = c.ack();
  ASSERT_TRUE(ack);
  auto a = info(ack);
  EXPECT_EQ(a.code, h::AckCode::AE) << *ack;
  EXPECT_NE(ack->find("not stored"), std::string::npos) << *ack;
  EXPECT_EQ(listener_->stats().not_stored, 1u);
}

TEST_F(Hl7Listener, PipelinedAcksKeepTheOrderOfTheirMessagesWhateverOrderTheyCommitIn) {
  start();
  driver("bed-1", "MON-1");
  driver("bed-2", "MON-2");
  verdict_ = Verdict::hold;
  Client c(port_);
  msg::Vitals first;
  first.source = "MON-1";
  first.control_id = "FIRST";
  ASSERT_TRUE(c.send(msg::oru(first)));
  for (int i = 0; i < 100 && held() < 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(held(), 1u);
  verdict_ = Verdict::commit;  // the second message's commit comes first
  msg::Vitals second;
  second.source = "MON-2";
  second.control_id = "SECOND";
  ASSERT_TRUE(c.send(msg::oru(second)));
  EXPECT_FALSE(c.ack(400ms)) << "an ACK overtook the message before it";
  settle_held(true);
  EXPECT_EQ(info(c.ack()).control_id, "FIRST");
  EXPECT_EQ(info(c.ack()).control_id, "SECOND");
}

TEST_F(Hl7Listener, AcksAaWithTheControlIdAndTheDriverGetsTheObservations) {
  start();
  auto& d = driver("bed-7", "BEDMON-7");
  auto first = poll(d);
  EXPECT_EQ(first.error, errc::no_data);

  Client c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(msg::oru()));
  auto ack = c.ack();
  ASSERT_TRUE(ack);
  auto a = info(ack);
  EXPECT_EQ(a.code, h::AckCode::AA) << *ack;
  EXPECT_EQ(a.control_id, "MSG00001");
  auto parsed = h::parse(*ack);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->msh().field(9), "ACK^R01^ACK");
  EXPECT_EQ(parsed->msh().get(5), "BEDMON-7");  // sender and receiver swapped
  EXPECT_EQ(parsed->msh().get(3), "VITALSD");

  auto r = poll(d);
  EXPECT_FALSE(r.error) << r.detail;
  ASSERT_EQ(r.observations.size(), 7u);
  for (const auto& o : r.observations) EXPECT_EQ(o.monitor, "bed-7");
  // Nothing new, but within the comm window: success, nothing to store.
  auto again = poll(d);
  EXPECT_FALSE(again.error) << again.detail;
  EXPECT_TRUE(again.observations.empty());

  // The connection stays open for the next message.
  msg::Vitals v;
  v.control_id = "MSG00002";
  ASSERT_TRUE(c.send(msg::oru(v)));
  EXPECT_EQ(info(c.ack()).control_id, "MSG00002");
}

TEST_F(Hl7Listener, APollAfterCommTimeoutWithoutAMessageIsATimeout) {
  start();
  auto& d = driver("bed-7", "BEDMON-7", 300ms);
  Client c(port_);
  ASSERT_TRUE(c.send(msg::oru()));
  ASSERT_EQ(info(c.ack()).code, h::AckCode::AA);
  EXPECT_FALSE(poll(d).error);
  std::this_thread::sleep_for(450ms);
  auto r = poll(d);
  EXPECT_EQ(r.error, errc::timeout);
  EXPECT_NE(r.detail.find("BEDMON-7"), std::string::npos) << r.detail;
}

TEST_F(Hl7Listener, MessagesWithNothingUsableMakeABadAnswer) {
  start();
  auto& d = driver("bed-7", "BEDMON-7");
  Client c(port_);
  ASSERT_TRUE(c.send(msg::join({"MSH|^~\\&|BEDMON-7||||||ORU^R01|B1|P|2.6",
                                "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1|--|/min|||||R"})));
  auto a = info(c.ack());
  EXPECT_EQ(a.code, h::AckCode::AE);
  auto r = poll(d);
  EXPECT_EQ(r.error, errc::bad_answer);
  EXPECT_NE(r.detail.find("OBX 1 (hr)"), std::string::npos) << r.detail;
}

struct BadInput {
  const char* name;
  std::string bytes;                 // raw, framing included
  std::optional<h::AckCode> expect;  // nullopt: no ACK at all
  int err = 0;                       // table 0357 code expected, 0: not checked
};

std::string frame(const std::string& s) {
  return "\x0b" + s + "\x1c\r";
}

TEST_F(Hl7Listener, EachBadInputIsAnsweredAsDocumentedAndTheConnectionKeepsServing) {
  ListenerOptions o;
  o.max_message_bytes = 64 * 1024;
  start(o);
  auto& d = driver("bed-7", "BEDMON-7");
  std::string many_fields = "MSH|^~\\&|BEDMON-7||||||ORU^R01|F1|P|2.6\rOBX";
  for (int i = 0; i < 10'000; ++i) many_fields += "|1";
  std::string non_numeric = msg::oru();
  non_numeric.replace(non_numeric.find("|72|"), 4, "|abc|");
  std::string unknown_source = msg::oru();
  unknown_source.replace(unknown_source.find("BEDMON-7"), 8, "NOBODY-9");
  unknown_source.replace(unknown_source.find("INFUSION^CHAIR7"), 15, "WARD^BED9");
  const std::vector<BadInput> inputs{
      {"not HL7", frame("this is not hl7\r"), h::AckCode::AR, h::err::segment_sequence},
      {"empty frame", frame(""), h::AckCode::AR, h::err::segment_sequence},
      {"missing MSH", frame("PID|||P-1\rOBX|1|NM|147842|1|70\r"), h::AckCode::AR, 100},
      {"bad encoding characters", frame("MSH|^^\\&|BEDMON-7||||||ORU^R01|E1|P|2.6\r"),
       h::AckCode::AR, h::err::data_type},
      {"truncated MSH", frame("MSH|^~\\&|BEDMON-7\r"), h::AckCode::AR, 101},
      {"unsupported version", frame("MSH|^~\\&|BEDMON-7||||||ORU^R01|V1|P|2.9\r"), h::AckCode::AR,
       h::err::unsupported_version},
      {"not ORU^R01", frame("MSH|^~\\&|BEDMON-7||||||ADT^A01|T1|P|2.6\r"), h::AckCode::AR,
       h::err::unsupported_message_type},
      {"10,000 fields", frame(many_fields), h::AckCode::AR, h::err::internal},
      {"huge message", frame(msg::oru() + "NTE|1||" + std::string(100'000, 'x') + "\r"),
       h::AckCode::AR, 0},
      {"non-numeric value", frame(non_numeric), h::AckCode::AE, h::err::data_type},
      {"unknown source", frame(unknown_source), h::AckCode::AE, h::err::unknown_key},
      {"unknown codes", frame("MSH|^~\\&|BEDMON-7||||||ORU^R01|U1|P|2.6\rOBX|1|NM|999^X^L|1|5\r"),
       h::AckCode::AA, 0},
      {"truncated frame", "\x0bMSH|^~\\&|BEDMON-7||||||ORU^R01|TR|P|2.6\rOBX|1|NM|14",
       std::nullopt},
      {"end block without CR", "\x0bMSH|^~\\&|BEDMON-7||||||ORU^R01|TR|P|2.6\r\x1cZ", std::nullopt},
      {"bytes between frames", "\r\n   \r\n", std::nullopt},
  };
  Client c(port_);
  int n = 0;
  for (const auto& in : inputs) {
    SCOPED_TRACE(in.name);
    ASSERT_TRUE(c.send_raw(in.bytes));
    if (in.expect) {
      auto ack = c.ack();
      ASSERT_TRUE(ack) << "no ACK; closed_garbage " << listener_->stats().closed_garbage
                       << " frames " << listener_->stats().frames << " ar " << listener_->stats().ar
                       << " clients " << listener_->stats().clients;
      auto a = info(ack);
      EXPECT_EQ(a.code, *in.expect) << *ack;
      if (in.err) {
        EXPECT_EQ(a.error_code, in.err) << *ack;
      }
    }
    // The same connection serves the next good message at once.
    msg::Vitals v;
    v.control_id = "GOOD" + std::to_string(++n);
    ASSERT_TRUE(c.send(msg::oru(v)));
    auto a = info(c.ack());
    EXPECT_EQ(a.code, h::AckCode::AA);
    EXPECT_EQ(a.control_id, v.control_id);
  }
  // Every good message was delivered (7 observations each), plus the one non-numeric message's
  // 6 usable ones; nothing from the bad ones.
  auto r = poll(d);
  EXPECT_EQ(r.observations.size(), inputs.size() * 7 + 6);
  const auto s = listener_->stats();
  EXPECT_EQ(s.oversize, 1u);
  EXPECT_EQ(s.truncated, 2u);
  EXPECT_EQ(s.clients, 1u);
}

TEST_F(Hl7Listener, OddButValidDelimitersAreAnsweredInTheSameDelimiters) {
  start();
  auto& d = driver("bed-7", "BEDMON-7");
  Client c(port_);
  ASSERT_TRUE(c.send(
      "MSH#@!$%#BEDMON-7@X@EUI-64######ORU@R01@ORU_R01#D1#P#2.5.1\r"
      "OBX#1#NM#147842@MDC_ECG_HEART_RATE@MDC#1.1.1.1#64#264864@MDC_DIM_BEAT_PER_MIN@MDC#####R\r"));
  auto ack = c.ack();
  ASSERT_TRUE(ack);
  EXPECT_EQ(ack->rfind("MSH#@!$%#", 0), 0u) << *ack;
  EXPECT_EQ(info(ack).code, h::AckCode::AA) << *ack;
  auto r = poll(d);
  ASSERT_EQ(r.observations.size(), 1u);
  EXPECT_EQ(r.observations[0].value, 64);
}

TEST_F(Hl7Listener, SeveralClientsAtOnceEachGetTheirOwnAcks) {
  start();
  constexpr int kClients = 8, kMessages = 100;
  std::vector<Driver*> ds;
  for (int i = 0; i < kClients; ++i)
    ds.push_back(&driver("bed-" + std::to_string(i), "MON-" + std::to_string(i)));
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Client c(port_);
      for (int k = 0; k < kMessages; ++k) {
        msg::Vitals v;
        v.source = "MON-" + std::to_string(i);
        v.control_id = v.source + "-" + std::to_string(k);
        v.hr = 60 + k % 40;
        if (!c.send(msg::oru(v))) return;
        auto a = info(c.ack());
        if (a.code == h::AckCode::AA && a.control_id == v.control_id) ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good, kClients * kMessages);
  for (int i = 0; i < kClients; ++i) {
    auto r = poll(*ds[static_cast<std::size_t>(i)]);
    EXPECT_EQ(r.observations.size(), static_cast<std::size_t>(kMessages * 7)) << i;
    for (const auto& o : r.observations) EXPECT_EQ(o.monitor, "bed-" + std::to_string(i));
  }
}

// Measures, and only loosely asserts: messages per second over one connection, each message
// waiting for its ACK (how PCD-01 senders work in original mode), then pipelined.
TEST_F(Hl7Listener, ThroughputOverOneConnection) {
  start();
  auto& d = driver("bed-7", "BEDMON-7");
  Client c(port_);
  constexpr int kMessages = 4000;
  const auto text = msg::oru();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(c.send(text));
    ASSERT_TRUE(c.ack());
    if (i % 500 == 0) poll(d);  // drain, as acquisition would
  }
  const double lockstep =
      kMessages / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  poll(d);
  std::string batch;
  for (int i = 0; i < 200; ++i) batch += "\x0b" + text + "\x1c\r";
  t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < kMessages / 200; ++k) {
    ASSERT_TRUE(c.send_raw(batch));
    for (int i = 0; i < 200; ++i) ASSERT_TRUE(c.ack());
    poll(d);
  }
  const double pipelined =
      kMessages / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "hl7 listener, one connection, %zu-byte ORU^R01 with 12 OBX: %.0f msg/s waiting for each "
      "ACK, %.0f msg/s pipelined\n",
      text.size(), lockstep, pipelined);
  EXPECT_GT(lockstep, 500);
}

TEST_F(Hl7Listener, AClientSendingGarbageIsClosedAndOthersAreServed) {
  start();
  driver("bed-7", "BEDMON-7");
  Client good(port_), bad(port_);
  ASSERT_TRUE(bad.send_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(8192, 'G')));
  EXPECT_TRUE(bad.closed_by_peer());
  ASSERT_TRUE(good.send(msg::oru()));
  EXPECT_EQ(info(good.ack()).code, h::AckCode::AA);
  EXPECT_EQ(listener_->stats().closed_garbage, 1u);
}

TEST_F(Hl7Listener, AFrameThatNeverEndsIsRejectedOnceAndMemoryStaysBounded) {
  ListenerOptions o;
  o.max_message_bytes = 64 * 1024;
  start(o);
  driver("bed-7", "BEDMON-7");
  Client flood(port_), other(port_);
  ASSERT_TRUE(flood.send_raw("\x0bMSH|^~\\&|BEDMON-7||||||ORU^R01|BIG|P|2.6\rNTE|1||"));
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 128; ++i) ASSERT_TRUE(flood.send_raw(chunk));  // 8 MiB, never ended
  ASSERT_TRUE(other.send(msg::oru()));
  EXPECT_EQ(info(other.ack()).code, h::AckCode::AA);
  EXPECT_EQ(info(flood.ack()).code, h::AckCode::AR);
  // The flood resyncs at the next start block.
  ASSERT_TRUE(flood.send(msg::oru()));
  EXPECT_EQ(info(flood.ack()).code, h::AckCode::AA);
  EXPECT_EQ(listener_->stats().oversize, 1u);
}

TEST_F(Hl7Listener, ASenderThatNeverReadsItsAcksIsPausedAndOthersAreServed) {
  ListenerOptions o;
  o.max_unsent_ack_bytes = 4096;
  start(o);
  driver("bed-7", "BEDMON-7");
  Client greedy(port_, 4096), other(port_);
  ::fcntl(greedy.fd(), F_SETFL, ::fcntl(greedy.fd(), F_GETFL) | O_NONBLOCK);
  const std::string m = "\x0b" + msg::oru() + "\x1c\r";
  // Keep sending without reading: the listener must stop reading it, so the send blocks.
  bool blocked = false;
  std::size_t sent = 0;
  const auto until = std::chrono::steady_clock::now() + 60s;
  std::size_t off = 0;
  while (!blocked && std::chrono::steady_clock::now() < until) {
    auto n = ::send(greedy.fd(), m.data() + off, m.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
      if (off == m.size()) off = 0, ++sent;
      continue;
    }
    // Would block: wait a little and see whether it stays blocked.
    std::this_thread::sleep_for(200ms);
    n = ::send(greedy.fd(), m.data() + off, m.size() - off, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) blocked = true;
    if (n > 0) off = (off + static_cast<std::size_t>(n)) % m.size();
  }
  EXPECT_TRUE(blocked) << "sent " << sent << " messages without the listener pausing";
  ASSERT_TRUE(other.send(msg::oru()));
  EXPECT_EQ(info(other.ack(2s)).code, h::AckCode::AA);
}

// One ORU^R01 sent and answered AA.
bool acked(Client& c) {
  return c.send(msg::oru()) && info(c.ack(2s)).code == h::AckCode::AA;
}

TEST_F(Hl7Listener, AtMaxClientsTheLongestIdleIsClosedAndIdleOnesTimeOut) {
  ListenerOptions o;
  o.max_clients = 2;
  o.idle_timeout = 600ms;
  start(o);
  driver("bed-7", "BEDMON-7");
  Client a(port_), b(port_);
  EXPECT_TRUE(acked(a));
  EXPECT_TRUE(acked(b));
  // A third sender gets in: `a`, idle longest, makes room; `b` stays.
  Client c(port_);
  EXPECT_TRUE(acked(c));
  EXPECT_TRUE(a.closed_by_peer(300ms));
  EXPECT_EQ(listener_->stats().evicted, 1u);
  EXPECT_EQ(listener_->stats().refused, 0u);
  // Idle clients are closed by the idle timeout.
  EXPECT_TRUE(b.closed_by_peer(3s));
  EXPECT_TRUE(c.closed_by_peer(3s));
  EXPECT_GE(listener_->stats().closed_idle, 2u);
}

TEST_F(Hl7Listener, APerAddressCapEvictsOnlyThatAddressesLongestIdle) {
  ListenerOptions o;
  o.max_clients = 64;
  o.max_clients_per_address = 2;
  start(o);
  driver("bed-7", "BEDMON-7");
  Client a(port_), b(port_);
  EXPECT_TRUE(acked(a));
  EXPECT_TRUE(acked(b));
  EXPECT_TRUE(acked(a));  // `a` is now the most recent, `b` the longest idle
  Client c(port_);
  EXPECT_TRUE(acked(c));
  EXPECT_TRUE(b.closed_by_peer(300ms));
  EXPECT_TRUE(acked(a));
  EXPECT_EQ(listener_->stats().evicted, 1u);
}

TEST_F(Hl7Listener, StartUpFailuresAreOneLineReasons) {
  start();
  ListenerOptions o;
  o.listen = "127.0.0.1:" + std::to_string(port_);
  try {
    Listener second(io_, o);
    FAIL() << "a second listener on the same port bound";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:"), std::string::npos)
        << e.what();
  }
  driver("bed-7", "BEDMON-7");
  EXPECT_THROW(driver("bed-8", "BEDMON-7"), std::runtime_error);
  o.listen = "nonsense";
  EXPECT_THROW((Listener{io_, o}), std::runtime_error);
}

TEST(Hl7Check, SourceMustBeSetAndPlain) {
  core::Diagnostics out;
  check(monitor("bed-1", ""), out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].message.find("source"), std::string::npos);
  out.clear();
  check(monitor("bed-1", "A^B"), out);
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  check(monitor("bed-1", "BEDMON-7"), out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace vitalsd::drivers::hl7
