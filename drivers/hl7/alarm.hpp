// PCD-04 ORU^R40 (IHE PCD ACM, "Report Alarm") → MonitorAlarms: the pure part of the HL7 driver
// that reads a monitor's own alarms (no sockets, no clock). convert() routes an ORU^R40 to its
// monitor as it does an ORU^R01 and hands the message's OBR/OBX here.
//
// One alarm per OBR group (OBR and the OBX that follow it):
//   OBR-3.1  the alarm's unique id, the same in every phase (start ... end): the alarm's key.
//            Without it the key is the event code and the source parameter's code, so that a
//            `continue` or `end` matches its `start`.
//   OBR-7    the alarm's time when its OBX-14 gives none.
//   OBX whose OBX-3 is an MDC event (partition 3, codes 196608..262143, or MDC_EVT_*):
//            the alarm itself. OBX-5 its text (ST; CWE/CE: the text component), OBX-8 its
//            priority (PH, PM, PL, PN) and type (SP physiological, ST technical, SA advisory),
//            OBX-14 its time.
//   OBX 68481 MDC_ATTR_EVENT_PHASE           start, start_only, continue, end, present, update,
//                                            escalate, inactivate, deescalate, reset, stop
//   OBX 68482 MDC_ATTR_ALARM_STATE           inactive, active, latched
//   OBX 68483 MDC_ATTR_ALARM_INACTIVATION_STATE  enabled, audio-paused, ... (kept as sent)
//   the first other OBX with a code: the source (the parameter the alarm is about), with its
//            value (OBX-5) and unit (OBX-6) when numeric.
// What cannot be used is listed as hl7::AckError naming the segment and field. Rules and tables:
// docs/hl7-monitors.md.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "drivers/driver.hpp"
#include "drivers/hl7/convert.hpp"
#include "hl7/ack.hpp"
#include "hl7/message.hpp"

namespace vitalsd::drivers::hl7 {

// OBX-8 priority (IHE PCD Table "Abnormal Flags, Alert Priority") in vitalsd's words: PH high,
// PM medium, PL low, PN none; nullopt for anything else.
std::optional<std::string_view> alarm_priority(std::string_view obx8_flag);
// OBX-8 alert type: SP physiological, ST technical, SA advisory; nullopt for anything else.
std::optional<std::string_view> alarm_kind(std::string_view obx8_flag);
// True for the ACM event phases (lower case, as the profile spells them).
bool known_phase(std::string_view phase);
// True for inactive, active, latched.
bool known_alarm_state(std::string_view state);

struct AlarmDecoding {
  std::vector<MonitorAlarm> alarms;
  std::vector<vitalsd::hl7::AckError> errors;
  // For each alarm, the OBX-18.1 of its event OBX (routing when MSH-3 and PV1-3 name no
  // monitor); empty when not sent.
  std::vector<std::string> equipment;
};

// Decodes every alarm of an ORU^R40. `test_message`: MSH-11 is T or D (the alarm is marked so).
AlarmDecoding decode_alarms(const vitalsd::hl7::Message& m, const CodeMap& codes,
                            core::Timestamp received_at, bool test_message = false);

}  // namespace vitalsd::drivers::hl7
