#include "fuzz/fuzz_entry.hpp"

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "hl7/ack.hpp"
#include "hl7/builder.hpp"
#include "hl7/dtm.hpp"
#include "hl7/message.hpp"
#include "hl7/mllp.hpp"
#include "hl7/msh.hpp"

namespace vitalsd::fuzz {

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}
}  // namespace

int hl7_parser_one(const std::uint8_t* data, std::size_t size) {
  using namespace hl7;
  const std::string_view in{reinterpret_cast<const char*>(data), size};
  ParseLimits lim;
  lim.max_bytes = 64 * 1024;
  const auto r = parse(in, lim);
  hl7::AckOptions opt;
  opt.control_id = "F1";
  if (!r.ok()) {
    const std::string nak = build_reject(in, r.error(), opt);
    ParseLimits lax;
    lax.check_version = false;
    const auto ack = parse(nak, lax);
    check(ack.ok());  // our reject is always well-formed
    check(read_ack(*ack).has_value());
    return 0;
  }
  const Message& m = *r;
  std::size_t total = 0;
  for (const Segment s : m) {
    total += s.name().size();
    for (std::size_t f = 0; f <= s.field_count() + 1; ++f) {
      const std::size_t reps = s.repetition_count(f);
      for (std::size_t rep = 1; rep <= reps && rep <= 4; ++rep) {
        const std::size_t comps = s.component_count(f, rep);
        for (std::size_t c = 1; c <= comps && c <= 8; ++c) {
          const std::size_t subs = s.subcomponent_count(f, rep, c);
          for (std::size_t sub = 1; sub <= subs && sub <= 4; ++sub)
            total += s.value(f, rep, c, sub).size() + s.get(f, rep, c, sub).size();
        }
      }
    }
  }
  (void)total;
  (void)parse_dtm(m.msh().get(7));
  (void)message_type(m);
  // Round trips.
  const std::string text = m.to_string();
  const auto again = parse(text, lim);
  check(again.ok() && *again == m);
  const std::string built = Builder::from(m).build();
  check(built == text);
  // Unescape → escape → unescape is stable for every field's value.
  for (const Segment s : m) {
    if (s.index() == 0) continue;
    for (std::size_t f = 1; f <= s.field_count(); ++f) {
      const std::string v = s.value(f);
      check(unescape(escape(v, m.encoding()), m.encoding()) == v);
    }
  }
  // ACKs are well-formed and echo MSH-10.
  for (const AckCode code : {AckCode::AA, AckCode::AE}) {
    const std::string ack = build_ack(
        m, code, opt, {AckError{"OBX", 1, 5, err::data_type, std::string{in.substr(0, 40)}}});
    ParseLimits lax;
    lax.check_version = false;
    const auto a = parse(ack, lax);
    check(a.ok());
    const auto info = read_ack(*a);
    check(info.has_value() && info->code == code && info->control_id == m.msh().value(10));
  }
  return 0;
}

int mllp_framer_one(const std::uint8_t* data, std::size_t size) {
  using namespace hl7;
  if (size == 0) return 0;
  // First byte: max frame size (small, to exercise oversize); the rest: the stream.
  const std::size_t max_frame = 1 + data[0] * 4u;
  const std::string_view in{reinterpret_cast<const char*>(data) + 1, size - 1};
  auto collect = [&](const std::vector<std::string_view>& chunks) {
    MllpDecoder dec{max_frame};
    std::vector<std::string> ev;
    for (const auto c : chunks) {
      dec.feed(c, [&](const MllpEvent& e) {
        check(e.kind != MllpEvent::frame || e.payload.size() <= max_frame);
        ev.push_back(std::string{to_string(e.kind)} + ":" + std::to_string(e.bytes) + ":" +
                     std::string{e.payload});
      });
      check(dec.buffered() <= max_frame);
    }
    return ev;
  };
  const auto whole = collect({in});
  // Chunk sizes from the stream's own bytes.
  std::vector<std::string_view> chunks;
  std::size_t pos = 0, k = 0;
  while (pos < in.size()) {
    const std::size_t n = std::min<std::size_t>(
        1 + static_cast<unsigned char>(in[k++ % in.size()]) % 17, in.size() - pos);
    chunks.push_back(in.substr(pos, n));
    pos += n;
  }
  check(collect(chunks) == whole);
  // Every frame re-encoded decodes to itself.
  for (const auto& e : whole) {
    if (e.rfind("frame:", 0) != 0) continue;
    const std::string payload = e.substr(e.find(':', 6) + 1);
    const auto back = collect({mllp_encode(payload)});
    check(back.size() == 1 && back[0] == e);
  }
  return 0;
}

}  // namespace vitalsd::fuzz
