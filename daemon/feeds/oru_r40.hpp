// HL7 v2.6 ORU^R40^ORU_R40 (IHE PCD ACM, PCD-04 Report Alarm) from one committed alert event.
// The segment-by-segment mapping is in docs/feeds.md.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "store/event.hpp"

namespace vitalsd::feeds {

inline constexpr std::string_view kAcmProfile =
    "IHE_PCD_ACM_001^IHE PCD^1.3.6.1.4.1.19376.1.6.4.4^ISO";

struct OruContext {
  std::string site;                             // MSH-4, PID-3.4, PV1-3.4
  std::string sending_application = "VITALSD";  // MSH-3, OBR-2.2/3.2
  std::string receiving_application;            // MSH-5
  std::string receiving_facility;               // MSH-6
  std::string control_id;                       // MSH-10
  core::Timestamp now{};                        // MSH-7
  std::string patient;                          // PID-3.1 (the session's patient reference)
  std::string location;                         // PV1-3.1 (the monitor's location)
};

// ACM vocabulary for one alert transition.
std::string_view event_phase(std::string_view event_type);          // start | continue | end
std::string_view alarm_state(std::string_view alert_state);         // active | latched | inactive
std::string_view inactivation_state(std::string_view alert_state);  // enabled | alarm-paused |
                                                                    // alert-acknowledged
std::string_view priority_code(std::string_view priority);          // PH | PM | PL

// The wire text (segments end with '\r'), or nullopt when the event carries no "alert" object.
std::optional<std::string> build_oru_r40(const store::CommittedEvent& event, const OruContext& ctx);

}  // namespace vitalsd::feeds
