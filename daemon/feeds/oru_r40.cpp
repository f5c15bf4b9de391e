#include "feeds/oru_r40.hpp"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/json_text.hpp"
#include "core/parameter.hpp"
#include "core/value_text.hpp"
#include "hl7/builder.hpp"
#include "hl7/dtm.hpp"

namespace vitalsd::feeds {
namespace {

using nlohmann::json;

std::string str(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  return core::json_text(*it);
}

std::optional<double> num(const json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  return std::isfinite(v) ? std::optional(v) : std::nullopt;
}

std::string number(double v) {
  return core::format_value(v);
}

// IEEE 11073-10101 event and attribute codes used by IHE PCD ACM (PCD TF-2, PCD-04).
constexpr std::string_view kMdsCode = "69965";  // MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS
constexpr std::string_view kMdsRef = "MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS";
constexpr std::string_view kEvtAlarm = "196616";  // MDC_EVT_ALARM
constexpr std::string_view kEvtHi = "196648";     // MDC_EVT_HI: above the high limit
constexpr std::string_view kEvtLo = "196670";     // MDC_EVT_LO: below the low limit

}  // namespace

std::string_view event_phase(std::string_view type) {
  if (type.starts_with("alert.")) type.remove_prefix(6);
  if (type == "raised" || type == "feed.undelivered" || type == "storage.failed" ||
      type == "journal.integrity")
    return "start";
  if (type == "cleared" || type == "reset" || type == "feed.delivered" ||
      type == "storage.recovered")
    return "end";
  return "continue";  // escalated, acknowledged, paused, unpaused, latched, reactivated,
                      // superseded
}

bool announces_superseded(std::string_view type) {
  if (type.starts_with("alert.")) type.remove_prefix(6);
  return type == "raised" || type == "reactivated" || type == "unpaused" || type == "escalated";
}

std::string_view alarm_state(std::string_view s) {
  if (s == "latched") return "latched";
  if (s == "cleared") return "inactive";
  return "active";  // active, acknowledged, paused: the condition is still present
}

std::string_view inactivation_state(std::string_view s) {
  if (s == "acknowledged") return "alert-acknowledged";
  if (s == "paused") return "alarm-paused";
  return "enabled";
}

std::string_view priority_code(std::string_view p) {
  if (p == "high") return "PH";
  if (p == "low") return "PL";
  return "PM";
}

std::optional<std::string> build_oru_r40(const store::CommittedEvent& ce, const OruContext& ctx) {
  const auto& e = ce.event;
  const auto ait = e.payload.find("alert");
  if (ait == e.payload.end() || !ait->is_object()) return std::nullopt;
  const json& a = *ait;

  const std::string rule = str(a, "rule");
  const std::string kind = str(a, "kind");
  const std::string state = str(a, "state");
  const std::string priority = str(a, "priority");
  std::string alarm_id = str(a, "id");
  if (alarm_id.empty())
    alarm_id = rule + (e.payload.contains("feed") ? "-" + str(e.payload, "feed") : "");
  const std::string parameter = str(a, "parameter");
  const auto value = num(a, "value");
  const auto limit = num(a, "limit");
  const std::string unit = str(a, "unit");
  const std::string direction = str(a, "direction");
  const auto superseded_by = num(a, "superseded_by");
  const auto level = num(a, "level");
  // One announcement per event: what an alert of a higher-priority rule supersedes is not
  // announced (its acknowledgement, end and the supersession itself still go out).
  if (superseded_by && announces_superseded(e.type)) return std::nullopt;

  const core::ParameterInfo* info = nullptr;
  if (auto p = core::parameter_from_name(parameter)) info = &core::info(*p);
  const bool physiological = kind == "physiological" && info != nullptr;
  // The rule's direction decides MDC_EVT_HI / MDC_EVT_LO in every phase of the alert (an
  // above-limit alert that ends at 165 is still a high alarm); events without one (older
  // journals) compare value and limit. A technical alarm is MDC_EVT_ALARM.
  std::string_view evt_code = kEvtAlarm;
  std::string_view evt_ref = "MDC_EVT_ALARM";
  std::string_view abnormal;
  if (physiological && (!direction.empty() || (value && limit))) {
    if (direction == "above" || (direction.empty() && *value >= *limit)) {
      evt_code = kEvtHi;
      evt_ref = "MDC_EVT_HI";
      abnormal = "H";
    } else {
      evt_code = kEvtLo;
      evt_ref = "MDC_EVT_LO";
      abnormal = "L";
    }
  }
  const std::string_view source_type = kind == "physiological" ? "SP" : "ST";
  const std::string sub =
      physiological ? fmt::format("1.1.1.{}", info->mdc_code) : std::string("1.0.0.0");
  const std::string at = hl7::format_dtm(e.at);

  hl7::Builder b;
  b.add("MSH")
      .set(3, ctx.sending_application)
      .set(4, ctx.site)
      .set(5, ctx.receiving_application)
      .set(6, ctx.receiving_facility)
      .set(7, hl7::format_dtm(ctx.now))
      .set_components(9, {"ORU", "R40", "ORU_R40"})
      .set(10, ctx.control_id)
      .set(11, "P")
      .set(12, "2.6")
      .set(15, "AL")
      .set(16, "NE")
      .set(18, "UNICODE UTF-8")
      .set_raw(21, kAcmProfile);

  auto pid = b.add("PID");
  if (!ctx.patient.empty())
    pid.set_components(3, {ctx.patient, "", "", ctx.site, "PI"});
  else
    pid.set(3, "");

  b.add("PV1").set(2, "O").set_components(3, {ctx.location, "", e.monitor, ctx.site});

  b.add("OBR")
      .set(1, "1")
      .set_components(2, {alarm_id, ctx.sending_application})
      .set_components(3, {alarm_id, ctx.sending_application})
      .set_components(4, {kEvtAlarm, "MDC_EVT_ALARM", "MDC"})
      .set(7, at);

  int n = 0;
  auto obx = [&](std::string_view type, std::string_view code, std::string_view ref,
                 std::string_view sub_id) {
    auto s = b.add("OBX");
    s.set(1, std::to_string(++n)).set(2, type).set_components(3, {code, ref, "MDC"});
    s.set(4, sub_id);
    return s;
  };

  // The device (MDS) the alarm belongs to: the monitor at the chair.
  obx("", kMdsCode, kMdsRef, "1.0.0.0").set(11, "X").set(18, e.monitor);

  // Facet 1: alarm type, with OBX-8 abnormality ~ priority ~ source type.
  std::string text = rule;
  if (physiological) {
    // The rule's direction and limit; the current value is facet 2's, on its own.
    text =
        fmt::format("{} {} limit {} {} (rule {})", parameter, abnormal == "H" ? "above" : "below",
                    limit ? number(*limit) : "?", unit, rule);
  } else if (!kind.empty() && kind != rule) {
    text = fmt::format("{} (rule {})", kind, rule);
  }
  auto f1 = obx("ST", evt_code, evt_ref, sub + ".1");
  f1.set(5, text);
  std::size_t rep = 1;
  if (!abnormal.empty()) f1.set(8, rep++, 1, 1, abnormal);
  f1.set(8, rep++, 1, 1, priority_code(priority));
  f1.set(8, rep, 1, 1, source_type);
  f1.set(11, "F").set(14, at);

  // Facet 2: the source — the parameter's value with its MDC unit, or the alert source.
  if (physiological && value) {
    auto f2 = obx("NM", std::to_string(info->mdc_code), info->mdc_refid, sub + ".2");
    f2.set(5, number(*value))
        .set_components(6, {std::to_string(info->mdc_unit_code), info->mdc_unit_refid, "MDC"});
    if (limit) f2.set(7, (abnormal == "H" ? "<" : ">") + number(*limit));
    f2.set(11, "F").set(14, at);
  } else {
    auto f2 = obx("ST", "68480", "MDC_ATTR_ALERT_SOURCE", sub + ".2");
    f2.set(5, info ? info->mdc_refid
                   : std::string_view(e.monitor.empty() ? ctx.sending_application : e.monitor));
    f2.set(11, "F");
  }
  // An alert no longer superseded is announced now for the first time (its raise was not).
  const bool first_announced = e.type == "alert.superseded" && !superseded_by && state != "cleared";
  obx("ST", "68481", "MDC_ATTR_EVENT_PHASE", sub + ".3")
      .set(5, first_announced ? std::string_view("start") : event_phase(e.type))
      .set(11, "F");
  obx("ST", "68482", "MDC_ATTR_ALARM_STATE", sub + ".4").set(5, alarm_state(state)).set(11, "F");
  obx("ST", "68483", "MDC_ATTR_ALARM_INACTIVATION_STATE", sub + ".5")
      .set(5, inactivation_state(state))
      .set(11, "F");
  obx("ST", "68484", "MDC_ATTR_ALARM_PRIORITY", sub + ".6")
      .set(5, priority_code(priority))
      .set(11, "F");
  obx("ST", "68485", "MDC_ATTR_ALERT_TYPE", sub + ".7").set(5, source_type).set(11, "F");
  // Not in the MDC nomenclature: local codes (HL7 table 0396 "L") for paging middleware.
  if (level && *level > 0) {
    auto s = b.add("OBX");
    s.set(1, std::to_string(++n)).set(2, "NM");
    s.set_components(3, {"escalation-level", "alert escalation level", "L"});
    s.set(4, sub + ".8").set(5, number(*level)).set(11, "F");
  }
  if (superseded_by) {
    auto s = b.add("OBX");
    s.set(1, std::to_string(++n)).set(2, "ST");
    s.set_components(3, {"superseded-by", "announced by alert", "L"});
    s.set(4, sub + ".9").set(5, number(*superseded_by)).set(11, "F");
  }
  return b.build();
}

}  // namespace vitalsd::feeds
