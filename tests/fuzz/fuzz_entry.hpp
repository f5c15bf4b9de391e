// Entry points shared by the libFuzzer targets and the always-built corpus replay test. Each
// checks properties and calls std::abort() when one fails, so a fuzzer reports it as a crash.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vitalsd::fuzz {

// Parses the bytes as one HL7 message; on success exercises every accessor, checks
// parse(build(m)) == m and parse(m.to_string()) == m, and builds ACKs; on failure builds the AR.
int hl7_parser_one(const std::uint8_t* data, std::size_t size);

// Feeds the bytes to an MLLP decoder whole and in chunks (chunk sizes taken from the data
// itself) and checks both give the same events and that memory stays bounded.
int mllp_framer_one(const std::uint8_t* data, std::size_t size);

// Decodes the bytes as one IntelliVue Data Export datagram (intellivue_entry.cpp); a poll
// result's numerics become observations, each valid one with a finite value in its unit.
int intellivue_one(const std::uint8_t* data, std::size_t size);

// Serial monitors (serial_entry.cpp). First byte: the line cap; the rest a serial stream, split
// into lines whole and in chunks (the same lines either way), each line parsed and decoded:
// only SpO2 and pulse rate, in their ranges or invalid without a value.
int masimo_line_one(const std::uint8_t* data, std::size_t size);
// A serial stream from a Datex S/5: framed whole and in chunks (the same records either way),
// each record re-framed to itself, each displayed-values record decoded (values finite and
// valid, or invalid without a value).
int datex_frame_one(const std::uint8_t* data, std::size_t size);

}  // namespace vitalsd::fuzz
