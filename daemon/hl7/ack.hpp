// HL7 original-mode acknowledgements: building them (receiver side) and reading them (sender).
//
// Rules (docs/hl7.md "ACK rules"):
//   AA  the message was parsed and used.                    MSA|AA|<original MSH-10>
//   AE  it was parsed but (part of) its content could not be used (unknown code, non-numeric
//       value, unknown source): MSA|AE|<MSH-10> plus one ERR per problem.
//   AR  it was rejected as a whole: not parseable, unsupported version or message type.
//       MSA|AR|<MSH-10 if it could be read> plus an ERR.
// The ACK's MSH swaps sender and receiver of the original (MSH-3/4 ↔ MSH-5/6), copies MSH-11
// and MSH-12, and is typed ACK^<original trigger>^ACK. ERR uses ERR-2/3/4/8 for v2.5 and later
// and ERR-1 for v2.3/v2.4; error codes are HL7 table 0357.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "hl7/message.hpp"

namespace vitalsd::hl7 {

enum class AckCode : std::uint8_t { AA, AE, AR };
std::string_view to_string(AckCode c);

// HL7 table 0357 (message error condition codes) — the ones we use.
namespace err {
inline constexpr int segment_sequence = 100;
inline constexpr int required_field_missing = 101;
inline constexpr int data_type = 102;
inline constexpr int table_value_not_found = 103;
inline constexpr int unsupported_message_type = 200;
inline constexpr int unsupported_event = 201;
inline constexpr int unsupported_processing_id = 202;
inline constexpr int unsupported_version = 203;
inline constexpr int unknown_key = 204;
inline constexpr int internal = 207;
}  // namespace err

struct AckError {
  std::string segment;       // "OBX"; empty when the error is not about one segment
  std::size_t sequence = 0;  // 1-based occurrence of that segment (ERR-2.2)
  std::size_t field = 0;     // 0 = the whole segment
  int code = err::internal;  // HL7 table 0357
  std::string text;          // for a person: "OBX-5 \"abc\" is not a number"
};

struct AckOptions {
  std::string control_id;  // MSH-10 of the ACK itself
  core::Timestamp now{};   // MSH-7
  // MSH-3/4 of the ACK when the original's MSH-5/6 is empty.
  std::string sending_application = "vitalsd";
  std::string sending_facility;
};

// ACK for a message that parsed. AE/AR with no errors get one ERR with code 207.
std::string build_ack(const Message& original, AckCode code, const AckOptions& opt,
                      const std::vector<AckError>& errors = {});

// AR for bytes that did not parse: reads what it can of the MSH (MSH-3..6, MSH-9.2, MSH-10,
// MSH-11, MSH-12) from the raw text, and describes `why` in an ERR.
std::string build_reject(std::string_view raw, const ParseError& why, const AckOptions& opt);

// The table 0357 code that describes a parse error.
int error_code(const ParseError& e);

// Sender side: the outcome an ACK reports (MSA-1 AA/AE/AR, or CA/CE/CR mapped to them).
struct AckInfo {
  AckCode code = AckCode::AR;
  std::string control_id;  // MSA-2: the MSH-10 of the message acknowledged
  std::string text;        // MSA-3, else ERR-8, else ERR-1.4.2 / ERR-3.2
  int error_code = 0;      // ERR-3.1 (v2.5+) or ERR-1.4.1, 0 when absent
};
// nullopt when the message has no MSA or MSA-1 is not an acknowledgement code.
std::optional<AckInfo> read_ack(const Message& ack);

}  // namespace vitalsd::hl7
