// MLLP framing (HL7 v2 over TCP): <VT 0x0B> message <FS 0x1C><CR 0x0D>.
//
// MllpDecoder is fed whatever bytes a read returned, in any chunking, and reports events:
//   frame     a complete message (payload between the start and end blocks)
//   garbage   bytes outside any frame were skipped; reported when the next start block arrives
//             (bytes = the run's length); garbage_pending() tells what is skipped so far, so a
//             listener can drop a client that sends anything but MLLP
//   oversize  a frame grew past max_frame (bytes = max_frame): its bytes are dropped and the
//             decoder resyncs at the next start block
//   truncated a start block arrived inside a frame, or FS was not followed by CR: the partial
//             frame is dropped (bytes = what was dropped); a new frame starts if the byte was a
//             start block, otherwise that byte counts as garbage
// Events do not depend on how the bytes were split into chunks.
// Memory is bounded: the decoder holds at most max_frame payload bytes, whatever it is fed.
//
//   hl7::MllpDecoder dec;
//   dec.feed(chunk, [&](const hl7::MllpEvent& ev) {
//     if (ev.kind == hl7::MllpEvent::frame) handle(ev.payload);   // view valid during the call
//   });
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vitalsd::hl7 {

inline constexpr char kMllpStart = '\x0b';
inline constexpr char kMllpEnd = '\x1c';
inline constexpr char kMllpEndCr = '\x0d';

struct MllpEvent {
  enum Kind { frame, garbage, oversize, truncated };
  Kind kind = frame;
  std::string_view payload;  // frame only; valid until the sink returns
  std::size_t bytes = 0;     // frame: payload size; garbage/oversize/truncated: bytes dropped
};

std::string_view to_string(MllpEvent::Kind k);

class MllpDecoder {
 public:
  static constexpr std::size_t kDefaultMaxFrame = 1 << 20;
  explicit MllpDecoder(std::size_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}

  // Feeds one chunk; calls sink(const MllpEvent&) for every event it completes, in order.
  template <class Sink>
  void feed(std::string_view chunk, Sink&& sink) {
    while (!chunk.empty()) {
      MllpEvent ev;
      const std::size_t used = step(chunk, ev);
      chunk.remove_prefix(used);
      if (has_event_) sink(static_cast<const MllpEvent&>(ev));
    }
  }

  // True between a start block and its end: a connection closed now loses a partial frame.
  bool in_frame() const { return state_ == State::in_frame || state_ == State::saw_end; }
  std::size_t buffered() const { return buf_.size(); }
  // Garbage bytes skipped since the last start block (not yet reported).
  std::size_t garbage_pending() const { return garbage_; }
  std::size_t max_frame() const { return max_frame_; }
  void reset();

 private:
  enum class State { idle, in_frame, saw_end, discarding };
  // Consumes bytes from `in` until one event is produced or `in` is exhausted; returns the
  // number of bytes consumed (at least 1 when `in` is not empty) and sets has_event_.
  std::size_t step(std::string_view in, MllpEvent& ev);
  bool flush_garbage(MllpEvent& ev);

  std::size_t max_frame_;
  State state_ = State::idle;
  std::string buf_;
  std::size_t garbage_ = 0;
  bool has_event_ = false;
};

// <VT> message <FS><CR>
std::string mllp_encode(std::string_view message);
void mllp_encode_into(std::string& out, std::string_view message);

}  // namespace vitalsd::hl7
