#include "hl7/mllp.hpp"

#include <algorithm>

namespace vitalsd::hl7 {

std::string_view to_string(MllpEvent::Kind k) {
  switch (k) {
    case MllpEvent::frame:
      return "frame";
    case MllpEvent::garbage:
      return "garbage";
    case MllpEvent::oversize:
      return "oversize";
    case MllpEvent::truncated:
      return "truncated";
  }
  return "unknown";
}

void MllpDecoder::reset() {
  state_ = State::idle;
  buf_.clear();
  garbage_ = 0;
}

bool MllpDecoder::flush_garbage(MllpEvent& ev) {
  if (garbage_ == 0) return false;
  ev = MllpEvent{MllpEvent::garbage, {}, garbage_};
  garbage_ = 0;
  return true;
}

std::size_t MllpDecoder::step(std::string_view in, MllpEvent& ev) {
  has_event_ = false;
  std::size_t i = 0;
  switch (state_) {
    case State::idle: {
      const std::size_t p = in.find(kMllpStart);
      if (p == std::string_view::npos) {
        garbage_ += in.size();
        return in.size();
      }
      garbage_ += p;
      state_ = State::in_frame;
      buf_.clear();
      has_event_ = flush_garbage(ev);
      return p + 1;
    }
    case State::discarding: {
      const std::size_t p = in.find(kMllpStart);
      if (p == std::string_view::npos) return in.size();  // counted in the oversize event
      state_ = State::in_frame;
      buf_.clear();
      return p + 1;
    }
    case State::in_frame: {
      // Copy payload up to the next FS or VT in one go.
      const auto it = std::find_if(in.begin(), in.end(),
                                   [](char c) { return c == kMllpEnd || c == kMllpStart; });
      const auto n = static_cast<std::size_t>(it - in.begin());
      if (buf_.size() + n > max_frame_) {
        ev = MllpEvent{MllpEvent::oversize, {}, max_frame_};
        has_event_ = true;
        buf_.clear();
        buf_.shrink_to_fit();
        state_ = State::discarding;
        return n;
      }
      buf_.append(in.data(), n);
      if (n == in.size()) return n;
      if (in[n] == kMllpStart) {  // a new frame starts before this one ended
        ev = MllpEvent{MllpEvent::truncated, {}, buf_.size()};
        has_event_ = true;
        buf_.clear();  // stay in_frame: the new frame begins after the VT
        return n + 1;
      }
      state_ = State::saw_end;
      return n + 1;
    }
    case State::saw_end: {
      const char c = in[i];
      if (c == kMllpEndCr) {
        ev = MllpEvent{MllpEvent::frame, buf_, buf_.size()};
        has_event_ = true;
        state_ = State::idle;  // buf_ is cleared at the next start block
        return 1;
      }
      ev = MllpEvent{MllpEvent::truncated, {}, buf_.size() + 1};  // payload + FS
      has_event_ = true;
      buf_.clear();
      if (c == kMllpStart) {
        state_ = State::in_frame;
        return 1;
      }
      state_ = State::idle;
      return 0;  // the byte is garbage: let idle count it (never 0 twice: idle consumes)
    }
  }
  return in.size();
}

void mllp_encode_into(std::string& out, std::string_view message) {
  out.reserve(out.size() + message.size() + 3);
  out.push_back(kMllpStart);
  out.append(message);
  out.push_back(kMllpEnd);
  out.push_back(kMllpEndCr);
}

std::string mllp_encode(std::string_view message) {
  std::string out;
  mllp_encode_into(out, message);
  return out;
}

}  // namespace vitalsd::hl7
