// Reading the header fields every HL7 endpoint needs. Views into the message (raw text; these
// fields carry no escape sequences in practice).
#pragma once

#include <string_view>

#include "hl7/message.hpp"

namespace vitalsd::hl7 {

// MSH-9: "ORU^R01^ORU_R01" → {"ORU", "R01", "ORU_R01"}.
struct MessageType {
  std::string_view code;       // MSH-9.1
  std::string_view trigger;    // MSH-9.2
  std::string_view structure;  // MSH-9.3 (may be empty before v2.5)
};

MessageType message_type(const Message& m);
std::string_view control_id(const Message& m);     // MSH-10
std::string_view processing_id(const Message& m);  // MSH-11.1: "P", "D", "T"
std::string_view version(const Message& m);        // MSH-12.1: "2.6"
// True for MSH-12 in 2.5, 2.5.1, 2.6 and later (ERR-2..ERR-8 layout); false for 2.3/2.3.1/2.4.
bool version_at_least_2_5(std::string_view version);

}  // namespace vitalsd::hl7
