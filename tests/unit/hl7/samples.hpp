// HL7 test messages in the shape of public vendor IHE PCD-01 examples.
#pragma once

#include <string>
#include <string_view>

namespace vitalsd::hl7::samples {

// PCD-01 ORU^R01, v2.6, MDS.VMD.CHAN.METRIC containment in OBX-4, EUI-64 device ids.
inline const std::string kPcd01 =
    "MSH|^~\\&|MONITOR_GW^0012EF0000000001^EUI-64|VENDOR|vitalsd|CLINIC|20261127143031+0000||"
    "ORU^R01^ORU_R01|MSG00042|P|2.6|||AL|NE||8859/1|||"
    "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO\r"
    "PID|||HO2009001^^^Clinic^PI||Doe^John^^^^^L||19700101|M\r"
    "PV1||O|INFUSION^chair-3^1\r"
    "OBR|1|MSG00042^MONITOR_GW^0012EF0000000001^EUI-64|MSG00042^MONITOR_GW^0012EF0000000001^"
    "EUI-64|182777000^monitoring of patient^SNOMED-CT|||20261127143031+0000\r"
    "OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|1.0.0.0|||||||X|||||||"
    "0012EF0000000001^^0012EF0000000001^EUI-64\r"
    "OBX|2||70677^MDC_DEV_ANALY_SAT_O2_VMD^MDC|1.1.0.0|||||||X\r"
    "OBX|3|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.150456|98|262688^MDC_DIM_PERCENT^MDC|90-100||||"
    "R|||20261127143030+0000\r"
    "OBX|4|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.149530|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||"
    "||R|||20261127143030+0000\r"
    "OBX|5||70657^MDC_DEV_ANALY_PRESS_BLD_VMD^MDC|1.2.0.0|||||||X\r"
    "OBX|6||150020^MDC_PRESS_BLD_NONINV^MDC|1.2.1.0|||||||X\r"
    "OBX|7|NM|150021^MDC_PRESS_BLD_NONINV_SYS^MDC|1.2.1.150021|121|266016^MDC_DIM_MMHG^MDC|90-140|"
    "|||R|||20261127143000.250+0000\r"
    "OBX|8|NM|150022^MDC_PRESS_BLD_NONINV_DIA^MDC|1.2.1.150022|79|266016^MDC_DIM_MMHG^MDC|||||R|||"
    "20261127143000.250+0000\r"
    "OBX|9|NM|150023^MDC_PRESS_BLD_NONINV_MEAN^MDC|1.2.1.150023|93|266016^MDC_DIM_MMHG^MDC|||||R|||"
    "20261127143000.250+0000\r"
    "OBX|10|NM|147842^MDC_ECG_HEART_RATE^MDC|1.3.1.147842|71|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||"
    "R\r"
    "NTE|1||Cuff \\T\\ probe \\F\\ ok\\.br\\second line\r";

// A v2.3.1 gateway message: no MSH-9.3, a PID with repeated identifiers, UCUM units.
inline const std::string kV231 =
    "MSH|^~\\&|GATEWAY|ICU|||20261127143031||ORU^R01|CTRL-7|P|2.3.1\r"
    "PID|||123^^^MRN~456^^^NHS||Roe^Jane\r"
    "OBR|1|||MONITOR\r"
    "OBX|1|NM|147842^MDC_ECG_HEART_RATE^MDC|1.1.1.147842|64|/min^^UCUM|||||F\r"
    "OBX|2|ST|0^Note^L||a\\S\\b\\E\\c|||||F\r";

// The same kPcd01 with other delimiters: '#' field, '$' component, '*' repetition, '!' escape,
// '@' sub-component. Rewritten character by character from kPcd01.
inline std::string with_delimiters(std::string_view text, char f, char c, char r, char e, char s) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    switch (ch) {
      case '|':
        out.push_back(f);
        break;
      case '^':
        out.push_back(c);
        break;
      case '~':
        out.push_back(r);
        break;
      case '\\':
        out.push_back(e);
        break;
      case '&':
        out.push_back(s);
        break;
      default:
        out.push_back(ch);
    }
  }
  return out;
}

}  // namespace vitalsd::hl7::samples
