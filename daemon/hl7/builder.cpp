#include "hl7/builder.hpp"

namespace vitalsd::hl7 {

namespace {

// Replaces piece n (1-based) of `s`, split at `sep`, by `value`, padding with `sep` if needed.
std::string replace_piece(std::string_view s, char sep, std::size_t n, std::string_view value) {
  std::string out;
  std::size_t start = 0;
  std::size_t i = 1;
  for (; i < n; ++i) {
    const std::size_t p = s.find(sep, start);
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  if (i < n) {  // fewer pieces than n: append separators
    out.assign(s);
    out.append(n - i, sep);
    out.append(value);
    return out;
  }
  const std::size_t end = s.find(sep, start);
  out.assign(s.substr(0, start));
  out.append(value);
  if (end != std::string_view::npos) out.append(s.substr(end));
  return out;
}

bool is_msh(std::string_view name) {
  return name == "MSH";
}

}  // namespace

std::string& SegmentBuilder::slot(std::size_t field) {
  Builder::Seg& s = b_->segs_[i_];
  const std::size_t first = is_msh(s.name) ? 3 : 1;
  if (field < first) {  // the segment id, MSH-1 and MSH-2 are not settable
    b_->scratch_.clear();
    return b_->scratch_;
  }
  const std::size_t k = field - first;
  if (s.fields.size() <= k) s.fields.resize(k + 1);
  return s.fields[k];
}

SegmentBuilder& SegmentBuilder::set(std::size_t field, std::string_view text) {
  std::string& f = slot(field);
  f.clear();
  escape_into(f, text, b_->enc_);
  return *this;
}

SegmentBuilder& SegmentBuilder::set(std::size_t field, std::size_t rep, std::size_t comp,
                                    std::size_t sub, std::string_view text) {
  if (rep == 0 || comp == 0 || sub == 0) return *this;
  const Encoding& e = b_->enc_;
  std::string& f = slot(field);
  const std::string_view r = nth_piece(f, e.repetition, rep);
  const std::string_view c = nth_piece(r, e.component, comp);
  const std::string new_c = replace_piece(c, e.subcomponent, sub, escape(text, e));
  const std::string new_r = replace_piece(r, e.component, comp, new_c);
  f = replace_piece(f, e.repetition, rep, new_r);
  return *this;
}

SegmentBuilder& SegmentBuilder::set_components(std::size_t field,
                                               std::initializer_list<std::string_view> comps) {
  std::string& f = slot(field);
  f.clear();
  bool first = true;
  for (const std::string_view c : comps) {
    if (!first) f.push_back(b_->enc_.component);
    first = false;
    escape_into(f, c, b_->enc_);
  }
  return *this;
}

SegmentBuilder& SegmentBuilder::set_raw(std::size_t field, std::string_view raw) {
  slot(field).assign(raw);
  return *this;
}

std::string_view SegmentBuilder::raw(std::size_t field) const {
  const Builder::Seg& s = b_->segs_[i_];
  const std::size_t first = is_msh(s.name) ? 3 : 1;
  if (field < first || field - first >= s.fields.size()) return {};
  return s.fields[field - first];
}

Builder Builder::from(const Message& m) {
  Builder b{m.encoding()};
  b.segs_.reserve(m.segment_count());
  for (const Segment s : m) {
    Seg out;
    out.name.assign(s.name());
    const std::size_t first = s.index() == 0 ? 3 : 1;
    for (std::size_t f = first; f <= s.field_count(); ++f) out.fields.emplace_back(s.field(f));
    b.segs_.push_back(std::move(out));
  }
  return b;
}

SegmentBuilder Builder::add(std::string_view name) {
  segs_.push_back(Seg{std::string{name}, {}});
  return SegmentBuilder{this, segs_.size() - 1};
}

std::string Builder::build() const {
  std::size_t size = 0;
  for (const Seg& s : segs_) {
    size += s.name.size() + 8;
    for (const std::string& f : s.fields) size += f.size() + 1;
  }
  std::string out;
  out.reserve(size);
  for (const Seg& s : segs_) {
    out.append(s.name);
    if (is_msh(s.name)) {
      out.push_back(enc_.field);
      out.append(enc_.encoding_characters());
    }
    for (const std::string& f : s.fields) {
      out.push_back(enc_.field);
      out.append(f);
    }
    out.push_back('\r');
  }
  return out;
}

}  // namespace vitalsd::hl7
