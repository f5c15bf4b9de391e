// The whole path under a fuzzer (issue 23): bytes on a real socket -> the real HL7 listener
// (MLLP, UTF-8 repair, parse, conversion, ACK) -> the HL7 driver -> acquisition -> the
// pipeline (sessions, the alarm engine) -> the journal (a real SQLite file) -> what the feeds
// build from each committed event (the event JSON that SSE, WebSocket and MQTT carry, the
// retained MQTT alert list, the ORU^R40 message) and the daemon's log lines.
//
// One harness for the process (libFuzzer calls the entry once per input): two hl7 monitors,
// BED1 with a session in infusing on the shipped ketamine-iv protocol and BED2 without one.
// Each input is sent on a new connection; the entry waits for the answers the listener owes
// (one per complete frame), then for the pipeline and the journal to settle, and checks:
//   - no exception reached the io thread, the writer never failed (no storage_failed) and
//     refused nothing (an exception that is not SQLite's is a bug),
//   - every committed event's JSON parses and is valid UTF-8,
//   - every alert event builds an ORU^R40 message with no control character but the segment
//     terminator, that our own parser reads back with the same patient reference,
//   - the retained alert list of each monitor is valid JSON,
//   - no log line holds a control character (a forged line, a terminal command).
// A property that fails calls std::abort(), which the fuzzer reports as a crash.
#include "fuzz/whole_path.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "acquisition/acquisition.hpp"
#include "app/log_format.hpp"
#include "app/pipeline.hpp"
#include "core/text.hpp"
#include "drivers/hl7/hl7.hpp"
#include "drivers/hl7/listener.hpp"
#include "feeds/mqtt_feed.hpp"
#include "feeds/oru_r40.hpp"
#include "hl7/dtm.hpp"
#include "hl7/message.hpp"
#include "hl7/mllp.hpp"
#include "sessions/manager.hpp"
#include "store/journal.hpp"
#include "store/sqlite.hpp"
#include "support/protocols.hpp"

namespace vitalsd::fuzz {
namespace {

// connect() that survives a signal: libFuzzer's -timeout runs a SIGALRM timer, and a connect
// it interrupts (EINTR) goes on in the background: wait for it and read its outcome.
bool connect_to(int fd, const sockaddr_in& addr) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINTR) return false;
  pollfd p{fd, POLLOUT, 0};
  int ready = 0;
  do {
    ready = ::poll(&p, 1, 5000);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return false;
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return false;
  errno = error;
  return error == 0;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "whole path: property failed: %s\n", what);
    std::abort();
  }
}

// Every log line, formatted as the daemon formats it, checked for control characters.
class CheckedSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t out;
    formatter_->format(msg, out);
    std::string_view line(out.data(), out.size());
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    check(!core::has_control(line), "a log line holds a control character");
    check(core::valid_utf8(line), "a log line is not UTF-8");
  }
  void flush_() override {}
};

class Harness {
 public:
  Harness() : journal_(options()) {
    auto logger = std::make_shared<spdlog::logger>("vitalsd", std::make_shared<CheckedSink>());
    spdlog::set_default_logger(logger);
    spdlog::set_formatter(app::log_formatter());
    spdlog::set_level(spdlog::level::info);

    std::vector<core::MonitorConfig> monitors(2);
    for (std::size_t i = 0; i < monitors.size(); ++i) {
      auto& m = monitors[i];
      m.id = "bed-" + std::to_string(i + 1);
      m.driver = "hl7";
      m.location = "Room 2, chair " + std::to_string(i + 1);
      m.poll = std::chrono::milliseconds{1000};
      m.comm_timeout = std::chrono::seconds{60};
      m.hl7.source = "BED" + std::to_string(i + 1);
      m.hl7.listen = "127.0.0.1:0";
      m.hl7.max_message_bytes = 64 * 1024;
      m.hl7.codes = {{"999001", "hr"}};  // a vendor-local code, as a config maps one
    }
    sessions_ = std::make_unique<sessions::Manager>(
        sessions::Manager::Protocols{{"ketamine-iv", test::shipped_protocol("ketamine-iv")}},
        std::set<std::string>{"bed-1", "bed-2"}, 1, 1);
    pipeline_ = std::make_unique<app::Pipeline>(io_, journal_, *sessions_, monitors);
    acquisition_ = std::make_unique<acquisition::Acquisition>(io_, *pipeline_);
    pipeline_->set_acquisition(acquisition_.get());
    journal_.register_monitors(monitors, app::Pipeline::now());
    for (const auto& m : monitors) acquisition_->add(m, drivers::hl7::make(m, context_));
    listener_ =
        context_.shared<drivers::hl7::Listener>(drivers::hl7::kListenerKey, [] { return nullptr; });
    port_ = listener_->local_endpoint().port();

    store::JournalHooks hooks;
    hooks.on_commit = [this](const std::vector<store::CommittedEventPtr>& events) {
      std::lock_guard lock(mutex_);
      for (const auto& e : events) committed_.push_back(e);
    };
    hooks.on_storage = [](const store::StorageStatus& s) {
      check(!s.failing, "storage_failed raised by input (the disk is fine)");
    };
    journal_.start(std::move(hooks));
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] {
      for (;;) {
        try {
          io_.run();
          return;
        } catch (const std::exception& e) {
          std::fprintf(stderr, "whole path: an exception escaped a handler: %s\n", e.what());
          std::abort();
        }
      }
    });
    on_io([this] {
      acquisition_->start();
      pipeline_->start();
    });
    // A session in infusing on bed-1, so readings go through the alarm engine and alerts are
    // raised, acknowledged by nobody, and sent as ORU^R40.
    std::promise<api::Reply> started;
    on_io([&] {
      pipeline_->start_session("bed-1", "P-1", "ketamine-iv", "fuzz",
                               [&](api::Reply r) { started.set_value(std::move(r)); });
    });
    const auto reply = started.get_future().get();
    check(reply.status / 100 == 2, "the session did not start");
    std::promise<api::Reply> phase;
    on_io([&] {
      pipeline_->set_phase(reply.body.value("id", std::int64_t{1}), "infusing",
                           "fuzzing the whole path", "fuzz",
                           [&](api::Reply r) { phase.set_value(std::move(r)); });
    });
    check(phase.get_future().get().status / 100 == 2, "the session did not move to infusing");
    settle();
  }

  // One input: sent on a new connection; returns once the listener has answered every frame
  // (or closed, or stayed silent for a while) and the pipeline and journal have settled.
  void send(std::string_view bytes, const std::string& patient) {
    std::size_t owed = 0;
    hl7::MllpDecoder decoder(64 * 1024);
    decoder.feed(bytes, [&](const hl7::MllpEvent& ev) {
      if (ev.kind == hl7::MllpEvent::frame || ev.kind == hl7::MllpEvent::oversize) ++owed;
    });
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    check(fd >= 0, "socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Closed with a reset, not a FIN: a run makes hundreds of connections a second, and each
    // closed normally would hold a loopback port in TIME_WAIT for a minute; two fuzzers in a row
    // ran out of ephemeral ports (connect: EADDRNOTAVAIL), which is the harness, not the daemon.
    const linger reset{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    if (!connect_to(fd, addr)) {
      std::fprintf(stderr, "whole path: connect: %s\n", std::strerror(errno));
      check(false, "the listener no longer accepts connections");
    }
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      const auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;  // libFuzzer's -timeout timer (SIGALRM)
      if (n <= 0) break;                      // closed by the listener (garbage): fine
      sent += static_cast<std::size_t>(n);
    }
    hl7::MllpDecoder answers;
    std::size_t got = 0;
    char buf[4096];
    while (got < owed) {
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, 2000);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) break;  // no answer in 2 s: go on (checked below)
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      answers.feed({buf, static_cast<std::size_t>(n)}, [&](const hl7::MllpEvent& ev) {
        if (ev.kind != hl7::MllpEvent::frame) return;
        ++got;
        if (std::getenv("VITALSD_FUZZ_VERBOSE"))
          std::fprintf(stderr, "whole path: answered %s\n", core::printable(ev.payload).c_str());
        check(core::valid_utf8(ev.payload), "an ACK is not UTF-8");
        hl7::ParseLimits lax;
        lax.check_version = false;
        check(hl7::parse(ev.payload, lax).ok(), "an ACK does not parse");
      });
    }
    ::close(fd);
    settle();
    verify(patient);
    ++stats_.inputs;
    stats_.answers += got;
  }

  WholePathStats stats() const { return stats_; }

 private:
  static store::Journal::Options options() {
    // On tmpfs where there is one: the journal commits on every message with an ACK waiting.
    const std::filesystem::path base =
        std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
    const auto dir = base / ("vitalsd-fuzz-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    store::Journal::Options o{dir};
    o.batch_window = std::chrono::milliseconds{1};
    o.integrity_interval = std::chrono::milliseconds{0};
    return o;
  }

  void on_io(const std::function<void()>& fn) {
    std::promise<void> done;
    asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  // What the io thread had queued has run, and what it recorded is committed (twice: a commit
  // hands events back to the io thread, which may record more).
  void settle() {
    for (int i = 0; i < 2; ++i) {
      on_io([] {});
      std::promise<void> committed;
      journal_.when_committed([&] { committed.set_value(); });
      committed.get_future().wait();
    }
  }

  void verify(const std::string& patient) {
    std::vector<store::CommittedEventPtr> events;
    {
      std::lock_guard lock(mutex_);
      events.swap(committed_);
    }
    check(journal_.stats().refused_items == 0, "the writer refused an item (a bug)");
    store::Db db(journal_.database(), store::Db::Mode::read_only);
    feeds::OruContext ctx;
    ctx.site = "fuzz-site";
    ctx.control_id = "1";
    ctx.now = app::Pipeline::now();
    ctx.location = "Room 2, chair 1";
    ctx.patient = patient;
    static const bool verbose = std::getenv("VITALSD_FUZZ_VERBOSE") != nullptr;
    for (const auto& e : events) {
      ++stats_.events;
      if (verbose) std::fprintf(stderr, "whole path: %s\n", e->json.substr(0, 600).c_str());
      check(core::valid_utf8(e->json), "an event's JSON is not UTF-8");
      check(!nlohmann::json::parse(e->json, nullptr, false).is_discarded(),
            "an event's JSON does not parse");
      if (e->event.type == "monitor.parameter_unmapped") ++stats_.unmapped;
      if (e->event.type.rfind("alert.", 0) != 0) continue;
      ++stats_.alerts;
      const auto oru = feeds::build_oru_r40(*e, ctx);
      if (!oru) continue;
      ++stats_.oru;
      for (const char c : *oru) {
        const auto u = static_cast<unsigned char>(c);
        check(c == '\r' || (u >= 0x20 && u != 0x7F), "a control character in an ORU^R40 message");
      }
      check(core::valid_utf8(*oru), "an ORU^R40 message is not UTF-8");
      const auto parsed = hl7::parse(*oru);
      check(parsed.ok(), "our ORU^R40 does not parse");
      check(parsed->value("PID", 0, 3) == patient, "PID-3.1 does not read back as the patient");
      const auto alerts = feeds::open_alerts_json(db, e->event.monitor);
      check(!nlohmann::json::parse(alerts, nullptr, false).is_discarded(),
            "the retained alert list does not parse");
    }
  }

  asio::io_context io_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
  store::Journal journal_;
  drivers::Context context_{io_};
  std::unique_ptr<sessions::Manager> sessions_;
  std::unique_ptr<app::Pipeline> pipeline_;
  std::unique_ptr<acquisition::Acquisition> acquisition_;
  std::shared_ptr<drivers::hl7::Listener> listener_;
  unsigned short port_ = 0;
  std::mutex mutex_;
  std::vector<store::CommittedEventPtr> committed_;
  WholePathStats stats_;
};

Harness& harness() {
  // Never destroyed: libFuzzer ends the process with exit(), and the io and writer threads
  // run until then.
  static Harness* h = new Harness();
  return *h;
}

// Splits the input at NUL bytes (the field mode's separator).
std::vector<std::string_view> parts_of(std::string_view in) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= in.size(); ++i) {
    if (i == in.size() || in[i] == '\0') {
      out.push_back(in.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

}  // namespace

WholePathStats whole_path_stats() {
  return harness().stats();
}

int whole_path_raw(const std::uint8_t* data, std::size_t size) {
  harness().send({reinterpret_cast<const char*>(data), size}, "P-1");
  return 0;
}

int whole_path_fields(const std::uint8_t* data, std::size_t size) {
  const std::string_view in{reinterpret_cast<const char*>(data), size};
  const auto p = parts_of(in);
  // A part that is absent or empty takes the slot's usual value.
  auto part = [&](std::size_t i, std::string_view fallback) {
    return std::string(i < p.size() && !p[i].empty() ? p[i] : fallback);
  };
  // The slots a monitor fills in a PCD-01 ORU^R01, each from one part of the input: the
  // message stays framed and past MSH, so the mutations reach conversion, the alarms, the
  // journal and the feeds. Part 0's first byte picks the source (BED1 with its session, BED2,
  // or the input's own MSH-3) and how many times the varied OBX repeats.
  const std::string head = part(0, "\x01");
  const unsigned sel = head.empty() ? 1u : static_cast<unsigned char>(head[0]);
  const std::string source = (sel & 3u) == 3u ? part(1, "BED1") : (sel & 1u) ? "BED1" : "BED2";
  const unsigned repeats = 1u + ((sel >> 2) & 3u);
  // A control id of its own unless the input gives one (a repeated one is a resend); times a
  // part does not give are now (a reading measured hours ago raises no alert).
  static std::uint64_t sent = 0;
  const auto now = hl7::format_dtm(app::Pipeline::now());
  std::string msg = "MSH|^~\\&|" + source + "|" + part(2, "CLINIC") +
                    "|VITALSD|CLINIC|20261207120000||ORU^R01^ORU_R01|" +
                    part(3, "F" + std::to_string(++sent)) + "|P|2.6|||AL|NE||" +
                    part(4, "UNICODE UTF-8") + "\r";
  msg += "PID|||" + part(5, "P-300^^^CLINIC^MR") + "\r";
  msg += "PV1||O|" + part(6, "INFUSION^CHAIR7^1") + "\r";
  msg += "OBR|1|||182777000^monitoring of patient^SCT|||" + part(7, now) + "\r";
  for (unsigned i = 0; i < repeats; ++i)
    msg += "OBX|" + std::to_string(i + 1) + "|" + part(8, "NM") + "|" +
           part(9, "150021^MDC_PRESS_BLD_NONINV_SYS^MDC") + "|1.3.1." + std::to_string(i + 1) +
           "|" + part(10, "128") + "|" + part(11, "mm[Hg]^mm[Hg]^UCUM") + "|" + part(12, "") + "|" +
           part(13, "") + "|||" + part(14, "R") + "|||" + part(15, now) + "||||" + part(16, "") +
           "\r";
  msg += "OBX|9|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|" + part(17, "72") +
         "|/min^/min^UCUM|||||R\r";
  // The session's patient reference as the ORU^R40 builder gets it: text that reached the
  // daemon through the API, which takes only valid UTF-8 (control characters are refused
  // there; here they are kept, to show the builder escapes them).
  const auto patient = core::valid_utf8_copy(part(18, "P-1"));
  harness().send(hl7::mllp_encode(msg), patient.empty() ? "P-1" : patient);
  return 0;
}

}  // namespace vitalsd::fuzz
