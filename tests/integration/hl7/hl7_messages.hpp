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

}  // namespace vitalsd::test::hl7msg
