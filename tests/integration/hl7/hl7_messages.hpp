// PCD-01 ORU^R01 messages in the shape of the public IHE PCD Technical Framework and vendor
// examples: MDS/VMD/channel containment rows with no value, metrics with MDS.VMD.CHAN.METRIC in
// OBX-4, MDC codes and units, OBX-11 "R", OBX-14 and OBR-7 times. Shared by the driver's unit
// and integration tests.
#pragma once

#include <string>
#include <vector>

namespace vitalsd::test::hl7msg {

inline std::string join(const std::vector<std::string>& segments) {
  std::string s;
  for (const auto& seg : segments) s += seg + "\r";
  return s;
}

struct Vitals {
  std::string control_id = "MSG00001";
  std::string source = "BEDMON-7";  // MSH-3.1
  std::string time = "20261127143000+0000";
  std::string nibp_time = "20261127142800+0000";
  int sys = 128, dia = 79, mean = 95, hr = 72, pr = 71, spo2 = 97;
};

// A multi-parameter monitor's periodic message (IHE PCD-01 shape).
inline std::string oru(const Vitals& v = {}) {
  return join({
      "MSH|^~\\&|" + v.source + "^0012345678ABCDEF^EUI-64|CLINIC|VITALSD|CLINIC|" + v.time +
          "||ORU^R01^ORU_R01|" + v.control_id +
          "|P|2.6|||NE|AL||UNICODE UTF-8|||IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO",
      "PID|||P-300^^^CLINIC^MR||DOE^JANE^^^^^L",
      "PV1||O|INFUSION^CHAIR7^1",
      "OBR|1|" + v.control_id + "^BEDMON^0012345678ABCDEF^EUI-64|" + v.control_id +
          "^BEDMON^0012345678ABCDEF^EUI-64|182777000^monitoring of patient^SCT|||" + v.time,
      "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||"
      "0012345678ABCDEF^EUI-64",
      "OBX|2||69798^MDC_DEV_ECG_VMD^MDC|1.1.0.0|||||||X",
      "OBX|3||69799^MDC_DEV_ECG_CHAN^MDC|1.1.1.0|||||||X",
      "OBX|4|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|" + std::to_string(v.hr) +
          "|264864^MDC_DIM_BEAT_PER_MIN^MDC|50-120||||R|||" + v.time,
      "OBX|5||70675^MDC_DEV_PULS_OXIM_VMD^MDC|1.2.0.0|||||||X",
      "OBX|6|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.2.1.1|" + std::to_string(v.spo2) +
          "|262688^MDC_DIM_PERCENT^MDC|90-100||||R|||" + v.time,
      "OBX|7|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.2.1.2|" + std::to_string(v.pr) +
          "|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R|||" + v.time,
      "OBX|8||69850^MDC_DEV_PRESS_BLD_NONINV_VMD^MDC|1.3.0.0|||||||X",
      "OBX|9|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.3.1.1|" + std::to_string(v.sys) +
          "|266016^MDC_DIM_MMHG^MDC|90-160||||R|||" + v.nibp_time,
      "OBX|10|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.3.1.2|" + std::to_string(v.dia) +
          "|266016^MDC_DIM_MMHG^MDC|50-90||||R|||" + v.nibp_time,
      "OBX|11|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.3.1.3|" + std::to_string(v.mean) +
          "|266016^MDC_DIM_MMHG^MDC|||||R|||" + v.nibp_time,
      "OBX|12|NM|151562^MDC_RESP_RATE^MDC|1.1.1.2|14|264928^MDC_DIM_RESP_PER_MIN^MDC|||||R|||" +
          v.time,
  });
}

// A gateway's message: no device in MSH-3, one OBX per device named in OBX-18 (Equipment
// Instance Identifier), as monitor gateways that multiplex several beds send.
inline std::string gateway(const std::string& control_id, const std::string& dev_a, int hr_a,
                           const std::string& dev_b, int hr_b) {
  return join({
      "MSH|^~\\&|GATEWAY^0012345678000001^EUI-64|CLINIC|||20261127143000+0000||ORU^R01^ORU_R01|" +
          control_id + "|P|2.6",
      "OBR|1|||182777000^monitoring of patient^SCT|||20261127143000+0000",
      "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|" + std::to_string(hr_a) +
          "|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F|||20261127143000+0000||||" + dev_a + "^EUI-64",
      "OBX|2|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.1|" + std::to_string(hr_b) +
          "|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||F|||20261127143000+0000||||" + dev_b + "^EUI-64",
  });
}

// A monitor's own alarm, IHE PCD-04 ORU^R40 as Mindray monitors send it: HL7 2.6, UTF-8, one
// OBR group per alarm with the alarm OBX (event code, text, OBX-8 priority and type), its phase,
// state and inactivation state, and the parameter with its value.
struct Alarm {
  std::string control_id = "A1";
  std::string source = "MINDRAY-1";  // MSH-3.1
  std::string time = "20261207120000+0000";
  std::string id;  // OBR-3.1: the alarm's unique id ("" when not sent)
  std::string event = "196616^MDC_EVT_ALARM^MDC";
  std::string text = "SpO2 Low";
  std::string flags;  // OBX-8 of the alarm OBX: "PH~SP"
  std::string phase = "start";
  std::string state = "active";
  std::string inactivation = "enabled";
  std::string parameter = "150456^MDC_PULS_OXIM_SAT_O2^MDC";
  std::string value = "85";
  std::string unit = "%^%^UCUM";
  std::string alarm_time;  // OBX-14 of the alarm OBX
};

// One alarm's OBR group (OBR number `obr`, its OBX numbered from `first_obx`).
inline std::vector<std::string> alarm_group(const Alarm& a, int obr = 1, int first_obx = 1) {
  auto n = [&](int i) { return std::to_string(first_obx + i); };
  return {
      "OBR|" + std::to_string(obr) + "|" + a.control_id + "|" + a.id + "|" + a.event + "|||" +
          a.time,
      "OBX|" + n(0) + "|ST|" + a.event + "|1.0.0.1|" + a.text + "|||" + a.flags + "|||F|||" +
          a.alarm_time,
      "OBX|" + n(1) + "|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.2|" + a.phase + "|||||F",
      "OBX|" + n(2) + "|ST|68482^MDC_ATTR_ALARM_STATE^MDC|1.0.0.3|" + a.state + "|||||F",
      "OBX|" + n(3) + "|ST|68483^MDC_ATTR_ALARM_INACTIVATION_STATE^MDC|1.0.0.4|" + a.inactivation +
          "|||||F",
      "OBX|" + n(4) + "|NM|" + a.parameter + "|1.0.0.5|" + a.value + "|" + a.unit + "|90-100|L|||F",
  };
}

inline std::string r40_header(const Alarm& a) {
  return "MSH|^~\\&|" + a.source + "|MR|||" + a.time + "||ORU^R40^ORU_R40|" + a.control_id +
         "|P|2.6|||AL|NE||UNICODE UTF-8";
}

// One ORU^R40 with one alarm.
inline std::string r40(const Alarm& a = {}) {
  std::vector<std::string> segs{r40_header(a), "PID|||P-1"};
  for (auto& s : alarm_group(a)) segs.push_back(std::move(s));
  return join(segs);
}

}  // namespace vitalsd::test::hl7msg
