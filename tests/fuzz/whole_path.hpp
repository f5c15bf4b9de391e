// The whole path from a socket to the feeds under a fuzzer (whole_path.cpp says what it checks).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vitalsd::fuzz {

// The bytes as they are, on a new connection to the real HL7 listener (MLLP framing and all).
int whole_path_raw(const std::uint8_t* data, std::size_t size);

// Structure-aware: the bytes, split at NUL, fill the fields of a framed PCD-01 ORU^R01 (random
// bytes rarely get past MSH; an empty part keeps the field's usual value); the 19th part is the
// session's patient reference for ORU^R40.
int whole_path_fields(const std::uint8_t* data, std::size_t size);

// What the inputs so far went through, so a replay can show it reached the far end.
struct WholePathStats {
  std::size_t inputs = 0;
  std::size_t answers = 0;   // ACKs read back
  std::size_t events = 0;    // committed events checked
  std::size_t alerts = 0;    // alert events among them
  std::size_t oru = 0;       // ORU^R40 messages built and read back
  std::size_t unmapped = 0;  // monitor.parameter_unmapped events
};
WholePathStats whole_path_stats();

}  // namespace vitalsd::fuzz
