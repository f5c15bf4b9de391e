// Datex-Ohmeda S/5 computer interface framing, pure (no I/O): a frame is 0x7E, the record
// bytes with 0x7E and 0x7D sent as 0x7D followed by the byte XOR 0x20, a one-byte checksum (the
// sum of the record's bytes, modulo 256; escaped like them), 0x7E (docs/datex-s5.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace vitalsd::drivers::datex {

inline constexpr std::uint8_t kFlag = 0x7E;
inline constexpr std::uint8_t kEscape = 0x7D;
inline constexpr std::uint8_t kEscapeXor = 0x20;
// Largest record a frame may carry: the 40-byte header and 1450 bytes of data.
inline constexpr std::size_t kMaxRecordBytes = 1490;

std::uint8_t checksum(std::span<const std::uint8_t> record);
std::vector<std::uint8_t> encode_frame(std::span<const std::uint8_t> record);

// What the reader counted besides good frames.
struct FrameCounts {
  std::uint64_t frames = 0;        // with a good checksum, handed over
  std::uint64_t bad_checksum = 0;  // dropped
  std::uint64_t oversized = 0;     // longer than kMaxRecordBytes + 1: dropped
  std::uint64_t bad_escape = 0;    // 0x7D followed by a flag: dropped
  std::uint64_t stray_bytes = 0;   // bytes outside any frame (garbage between frames)
};

// Cuts a byte stream into checked records. Any flag ends the frame in progress (when it has
// bytes) and starts the next, so a lost flag costs one frame, never the stream.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_record = kMaxRecordBytes) : max_(max_record) {}

  template <class OnRecord>
  void feed(std::span<const std::uint8_t> bytes, OnRecord&& on_record) {
    for (const auto b : bytes) {
      if (b == kFlag) {
        if (in_frame_ && !dropping_ && escaped_) {
          ++counts_.bad_escape;
        } else if (in_frame_ && !dropping_ && !buffer_.empty()) {
          finish(on_record);
        }
        in_frame_ = true;
        dropping_ = escaped_ = false;
        buffer_.clear();
        continue;
      }
      if (!in_frame_) {
        ++counts_.stray_bytes;
        continue;
      }
      if (dropping_) continue;
      if (b == kEscape && !escaped_) {
        escaped_ = true;
        continue;
      }
      const auto v = escaped_ ? static_cast<std::uint8_t>(b ^ kEscapeXor) : b;
      escaped_ = false;
      if (buffer_.size() >= max_ + 1) {  // the record and its checksum
        ++counts_.oversized;
        dropping_ = true;
        buffer_.clear();
        continue;
      }
      buffer_.push_back(v);
    }
  }

  const FrameCounts& counts() const { return counts_; }
  std::size_t pending() const { return buffer_.size(); }

 private:
  template <class OnRecord>
  void finish(OnRecord& on_record) {
    const std::span<const std::uint8_t> all(buffer_);
    const auto record = all.first(all.size() - 1);
    if (checksum(record) != all.back()) {
      ++counts_.bad_checksum;
      return;
    }
    ++counts_.frames;
    on_record(record);
  }

  std::size_t max_;
  std::vector<std::uint8_t> buffer_;
  bool in_frame_ = false;
  bool escaped_ = false;
  bool dropping_ = false;
  FrameCounts counts_;
};

}  // namespace vitalsd::drivers::datex
