// HL7 DTM / TS date-times ↔ core::Timestamp (UTC, milliseconds).
//
// Accepted: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]. Missing parts default to the start
// of the period (month 01, day 01, 00:00:00). Fractions beyond milliseconds are truncated. A
// time without an offset is local time of the sender, which HL7 does not name: it is read with
// `assumed_offset` (default UTC) and callers that know the device's zone pass it.
//
//   parse_dtm("20261127143031.1234+0100") == 2026-11-27T13:30:31.123Z
//   format_dtm(t) == "20261127133031.123+0000"
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace vitalsd::hl7 {

std::optional<core::Timestamp> parse_dtm(std::string_view text,
                                         std::chrono::minutes assumed_offset = {});

enum class DtmPrecision { seconds, milliseconds };
// Always UTC with an explicit "+0000".
std::string format_dtm(core::Timestamp t, DtmPrecision precision = DtmPrecision::milliseconds);

}  // namespace vitalsd::hl7
