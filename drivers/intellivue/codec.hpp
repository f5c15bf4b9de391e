// The Philips IntelliVue Data Export protocol over UDP (the "Data Export Interface Programming
// Guide"): what vitalsd sends (association request, MDS Create result, extended polls, release)
// and what it reads back (association answers, the MDS Create event, poll results, linked
// results, remote errors). Pure functions over bytes: no I/O, no clocks; every read is bounds
// checked, and a message that does not parse is an error naming where, never a crash.
// All integers on the wire are big-endian.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace vitalsd::drivers::intellivue {

using Bytes = std::vector<std::uint8_t>;

// Nomenclature used here (the programming guide's names).
namespace nom {
inline constexpr std::uint16_t kMocVmsMds = 0x0021;           // NOM_MOC_VMS_MDS
inline constexpr std::uint16_t kMocVmoMetricNu = 0x0006;      // NOM_MOC_VMO_METRIC_NU
inline constexpr std::uint16_t kMocVmoAlMon = 0x0036;         // NOM_MOC_VMO_AL_MON
inline constexpr std::uint16_t kPartObj = 1;                  // NOM_PART_OBJ
inline constexpr std::uint16_t kNotiMdsCreate = 0x0D06;       // NOM_NOTI_MDS_CREAT
inline constexpr std::uint16_t kActPollMdibData = 0x0C16;     // NOM_ACT_POLL_MDIB_DATA
inline constexpr std::uint16_t kActPollMdibDataExt = 0xF13B;  // NOM_ACT_POLL_MDIB_DATA_EXT
inline constexpr std::uint16_t kAttrIdHandle = 0x0921;        // NOM_ATTR_ID_HANDLE
inline constexpr std::uint16_t kAttrIdLabelString = 0x0927;   // NOM_ATTR_ID_LABEL_STRING
inline constexpr std::uint16_t kAttrNuCmpdValObs = 0x094B;    // NOM_ATTR_NU_CMPD_VAL_OBS
inline constexpr std::uint16_t kAttrNuValObs = 0x0950;        // NOM_ATTR_NU_VAL_OBS
inline constexpr std::uint16_t kAttrTimeAbs = 0x0987;         // NOM_ATTR_TIME_ABS
inline constexpr std::uint16_t kAttrTimeRel = 0x098F;         // NOM_ATTR_TIME_REL
inline constexpr std::uint16_t kAttrTimeStampAbs = 0x0990;    // NOM_ATTR_TIME_STAMP_ABS
inline constexpr std::uint16_t kAttrTimeStampRel = 0x0991;    // NOM_ATTR_TIME_STAMP_REL
inline constexpr std::uint16_t kAttrPollProfileExt = 0xF001;  // NOM_ATTR_POLL_PROFILE_EXT
inline constexpr std::uint16_t kPollProfileSupport = 0x0001;  // NOM_POLL_PROFILE_SUPPORT
}  // namespace nom

// Session (association) PDUs: the first byte of the datagram.
enum class SessionPdu : std::uint8_t {
  connect = 0x0D,     // CN_SPDU_SI: association request
  accept = 0x0E,      // AC_SPDU_SI: association accepted
  refuse = 0x0C,      // RF_SPDU_SI
  finish = 0x09,      // FN_SPDU_SI: release request
  disconnect = 0x0A,  // DN_SPDU_SI: release response
  abort = 0x19,       // AB_SPDU_SI
  data = 0xE1,        // DA_SPDU_SI: data export (the high byte of session_id 0xE100)
};

// Remote operation APDU types (ROapdus.ro_type).
enum class RoType : std::uint16_t { invoke = 1, result = 2, error = 3, linked_result = 5 };
// Linked result states (RorlsId.state).
enum class LinkedState : std::uint8_t { first = 1, middle = 2, last = 3 };

// FLOAT-Type: a signed 8-bit exponent over a signed 24-bit mantissa (value = m * 10^e). The
// special values are told by the mantissa alone, whatever the exponent.
enum class FloatKind : std::uint8_t { value, nan, nres, pos_inf, neg_inf };
struct Float {
  FloatKind kind = FloatKind::value;
  double value = 0;  // when kind == value
};
Float decode_float(std::uint32_t raw);
std::string_view to_string(FloatKind k);

// MeasurementState bits (NuObsValue.state).
namespace state {
inline constexpr std::uint16_t kInvalid = 0x8000;
inline constexpr std::uint16_t kQuestionable = 0x4000;
inline constexpr std::uint16_t kUnavailable = 0x2000;
inline constexpr std::uint16_t kCalibrationOngoing = 0x1000;
inline constexpr std::uint16_t kTestData = 0x0800;
inline constexpr std::uint16_t kDemoData = 0x0400;
inline constexpr std::uint16_t kValidatedData = 0x0080;
inline constexpr std::uint16_t kEarlyIndication = 0x0040;
inline constexpr std::uint16_t kMsmtOngoing = 0x0020;
}  // namespace state

// AbsoluteTime: eight BCD bytes (century, year, month, day, hour, minute, second, 1/100 s).
// Fields the monitor does not support are 0xFF.
struct AbsoluteTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, centis = 0;
};
std::optional<AbsoluteTime> decode_absolute_time(std::span<const std::uint8_t, 8> bcd);

// A managed object id: class and global handle (context, handle).
struct ManagedObject {
  std::uint16_t object_class = 0;
  std::uint16_t context = 0;
  std::uint16_t handle = 0;
};

// One numeric value as a poll result carries it (NuObsValue), with the time stamps its object
// gave (the NIBP's measurement time).
struct Numeric {
  std::uint16_t handle = 0;     // the object's handle
  std::uint16_t physio_id = 0;  // SCADA partition code, e.g. 0x4182 NOM_ECG_CARD_BEAT_RATE
  std::uint16_t state = 0;      // MeasurementState bits
  std::uint16_t unit = 0;       // DIM partition code, e.g. 0x0F20 NOM_DIM_MMHG
  std::uint32_t raw = 0;        // FLOAT-Type
  bool compound = false;        // an element of a compound value (NIBP sys/dia/mean)
  std::optional<std::uint32_t> stamp_rel;  // NOM_ATTR_TIME_STAMP_REL of its object
  std::optional<AbsoluteTime> stamp_abs;   // NOM_ATTR_TIME_STAMP_ABS of its object
  std::string label;                       // NOM_ATTR_ID_LABEL_STRING, when sent
};

// The monitor's answer to the association request.
struct AssociationAnswer {
  SessionPdu pdu = SessionPdu::accept;  // accept, refuse, disconnect (release done) or abort
};
// The MDS Create event report the monitor sends after accepting: answered with
// mds_create_result(invoke_id, object, ...).
struct MdsCreateEvent {
  std::uint16_t invoke_id = 0;
  ManagedObject object;                   // the EventReportArgument's managed object, echoed back
  std::uint32_t event_time = 0;           // RelativeTime of the event
  std::optional<AbsoluteTime> time_abs;   // NOM_ATTR_TIME_ABS, when the monitor gives it
  std::optional<std::uint32_t> time_rel;  // NOM_ATTR_TIME_REL
};
// A poll result, whole or one part of a linked result.
struct PollReply {
  std::uint16_t invoke_id = 0;
  std::optional<LinkedState> linked;  // set for ROLRS parts
  std::uint8_t linked_count = 0;
  bool extended = false;  // NOM_ACT_POLL_MDIB_DATA_EXT
  std::uint16_t poll_number = 0;
  std::uint16_t sequence_no = 0;
  std::uint32_t rel_time = 0;
  std::optional<AbsoluteTime> abs_time;
  std::uint16_t object_type = 0;  // polled object class (code)
  std::vector<Numeric> numerics;
};
// Any other confirmed operation's result or an event the client need not answer.
struct OtherResult {
  RoType type = RoType::result;
  std::uint16_t invoke_id = 0;
  std::uint16_t command = 0;
};
struct RemoteError {
  std::uint16_t invoke_id = 0;
  std::uint16_t error_value = 0;
};
using Message =
    std::variant<AssociationAnswer, MdsCreateEvent, PollReply, OtherResult, RemoteError>;

// What parse() could not read: where and why ("poll result: attribute list at byte 62 runs past
// the end (length 40, 12 left)").
struct ParseError {
  std::string what;
};

// Decodes one datagram. Never throws.
std::variant<Message, ParseError> parse(std::span<const std::uint8_t> datagram);

// --- What the client sends.
// The association request with the poll profile: numerics polling (extended, 1 s period) and
// the RTSA and enumeration extensions announced: the programming guide's example request.
Bytes association_request();
// The answer to the MDS Create event: echoes its invoke id and managed object.
Bytes mds_create_result(std::uint16_t invoke_id, const ManagedObject& object,
                        std::uint32_t current_time);
// An extended poll (NOM_ACT_POLL_MDIB_DATA_EXT) of every attribute of objects of
// `object_type` (nom::kMocVmoMetricNu for numerics, nom::kMocVmoAlMon for alerts).
Bytes extended_poll(std::uint16_t invoke_id, std::uint16_t poll_number, std::uint16_t object_type);
// Release request (the association ends in order; the monitor answers with `disconnect`).
Bytes release_request();

}  // namespace vitalsd::drivers::intellivue
