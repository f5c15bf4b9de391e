#include "store/readings.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <cmath>
#include <iterator>

#include "core/hex.hpp"

namespace vitalsd::store {
namespace {

void append_int(std::string& out, std::int64_t v) {
  fmt::format_to(std::back_inserter(out), "{}", v);
}

// A JSON string (the monitor ids, parameter names and UCUM units are plain ASCII in practice,
// but nothing here trusts that).
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          fmt::format_to(std::back_inserter(out), "\\u{:04x}", static_cast<unsigned>(c));
        else
          out += c;
    }
  }
  out += '"';
}

core::Timestamp from_ms(std::int64_t ms) {
  return core::Timestamp{std::chrono::milliseconds{ms}};
}

std::string_view validity_name(int code) {
  if (code < 0 || code > static_cast<int>(core::Validity::test)) return "invalid";
  return core::to_string(static_cast<core::Validity>(code));
}

}  // namespace

Reading reading_of(const core::Observation& o, std::int64_t id, std::int64_t seq) {
  Reading r;
  r.id = id;
  r.seq = seq;
  r.monitor = o.monitor;
  r.session = o.session;
  r.parameter = core::to_string(o.parameter);
  r.mdc_code = static_cast<std::int64_t>(core::info(o.parameter).mdc_code);
  if (std::isfinite(o.value)) r.value = o.value;
  r.unit = o.unit;
  r.received_ms = o.received_at.time_since_epoch().count();
  if (o.device_time) r.device_ms = o.device_time->time_since_epoch().count();
  r.validity = static_cast<int>(o.validity);
  if (o.measurement_id) r.measurement_id = static_cast<std::int64_t>(*o.measurement_id);
  return r;
}

void append_digest_line(std::string& out, const Reading& r) {
  auto opt_int = [&](const std::optional<std::int64_t>& v) {
    if (v) append_int(out, *v);
    out += '|';
  };
  append_int(out, r.id);
  out += '|';
  out += r.monitor;
  out += '|';
  opt_int(r.session);
  out += r.parameter;
  out += '|';
  append_int(out, r.mdc_code);
  out += '|';
  if (r.value) fmt::format_to(std::back_inserter(out), "{}", *r.value);
  out += '|';
  out += r.unit;
  out += '|';
  append_int(out, r.received_ms);
  out += '|';
  opt_int(r.device_ms);
  append_int(out, r.validity);
  out += '|';
  if (r.measurement_id) append_int(out, *r.measurement_id);
  out += '\n';
}

void append_reading_json(std::string& out, const Reading& r) {
  out += "{\"id\":";
  append_int(out, r.id);
  out += ",\"monitor\":";
  append_json_string(out, r.monitor);
  out += ",\"session\":";
  if (r.session)
    append_int(out, *r.session);
  else
    out += "null";
  out += ",\"parameter\":";
  append_json_string(out, r.parameter);
  out += ",\"mdc_code\":";
  append_int(out, r.mdc_code);
  out += ",\"value\":";
  if (r.value && std::isfinite(*r.value))
    fmt::format_to(std::back_inserter(out), "{}", *r.value);
  else
    out += "null";
  out += ",\"unit\":";
  append_json_string(out, r.unit);
  out += ",\"validity\":\"";
  out += validity_name(r.validity);
  out += "\",\"received_at\":\"";
  core::append_iso8601(out, from_ms(r.received_ms));
  out += "\",\"device_time\":";
  if (r.device_ms) {
    out += '"';
    core::append_iso8601(out, from_ms(*r.device_ms));
    out += '"';
  } else {
    out += "null";
  }
  out += ",\"measurement_id\":";
  if (r.measurement_id)
    append_int(out, *r.measurement_id);
  else
    out += "null";
  out += '}';
}

ReadingDigest::ReadingDigest() : ctx_(EVP_MD_CTX_new()) {}
ReadingDigest::~ReadingDigest() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void ReadingDigest::add(const Reading& r) {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  if (!started_) {
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    started_ = true;
  }
  line_.clear();
  append_digest_line(line_, r);
  EVP_DigestUpdate(ctx, line_.data(), line_.size());
}

std::string ReadingDigest::hex() {
  auto* ctx = static_cast<EVP_MD_CTX*>(ctx_);
  if (!started_) EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  started_ = false;
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md.data(), &len);
  return core::to_hex(md.data(), len);
}

std::string observations_event_json(std::int64_t seq, const Event& e,
                                    std::string_view readings_json) {
  // Written by hand (the payload's four fields are known): a commit's hot path.
  auto number = [&](const char* key) -> std::int64_t {
    const auto it = e.payload.find(key);
    return it != e.payload.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  };
  const auto sha = e.payload.find("sha256");
  std::string out;
  out.reserve(readings_json.size() + 256);
  out += "{\"seq\":";
  append_int(out, seq);
  out += ",\"type\":\"observations\",\"at\":\"";
  core::append_iso8601(out, e.at);
  out += "\",\"monitor\":null,\"session\":null,\"first_id\":";
  append_int(out, number("first_id"));
  out += ",\"last_id\":";
  append_int(out, number("last_id"));
  out += ",\"count\":";
  append_int(out, number("count"));
  out += ",\"sha256\":";
  append_json_string(out, sha != e.payload.end() && sha->is_string()
                              ? std::string_view(sha->get_ref<const std::string&>())
                              : std::string_view());
  out += ",\"readings\":[";
  out += readings_json;
  out += "]}";
  return out;
}

void read_reading(const Stmt& s, ReadingRow& row) {
  row.monitor = s.text(2);
  row.parameter = s.text(4);
  row.unit = s.text(7);
  auto& r = row.reading;
  r.id = s.int64(0);
  r.seq = s.is_null(1) ? 0 : s.int64(1);
  r.monitor = row.monitor;
  r.session = s.int64_or_null(3);
  r.parameter = row.parameter;
  r.mdc_code = s.int64(5);
  r.value = s.is_null(6) ? std::nullopt : std::optional(s.real(6));
  r.unit = row.unit;
  r.received_ms = s.int64(8);
  r.device_ms = s.int64_or_null(9);
  r.validity = static_cast<int>(s.int64(10));
  r.measurement_id = s.int64_or_null(11);
}

std::string select_readings(Db& db) {
  if (db.scalar_int("PRAGMA user_version") >= 7)
    return "SELECT r.id, r.seq, s.monitor, r.session, k.parameter, k.mdc_code, r.value, k.unit, "
           "r.received_ms, r.device_ms, r.validity, r.measurement_id FROM readings r "
           "LEFT JOIN observation_sources s ON s.id = r.source "
           "LEFT JOIN observation_kinds k ON k.id = r.kind";
  return "SELECT r.id, r.seq, r.monitor, r.session, r.parameter, r.mdc_code, r.value, r.unit, "
         "r.received_ms, r.device_ms, r.validity, r.measurement_id FROM (SELECT o.id AS id, "
         "e.seq AS seq, o.monitor AS monitor, o.session AS session, o.parameter AS parameter, "
         "o.mdc_code AS mdc_code, o.value AS value, o.unit AS unit, "
         "CAST(round((julianday(o.received_at) - 2440587.5) * 86400000.0) AS INTEGER) AS "
         "received_ms, "
         "CAST(round((julianday(o.device_time) - 2440587.5) * 86400000.0) AS INTEGER) AS "
         "device_ms, "
         "CASE o.validity WHEN 'valid' THEN 0 WHEN 'questionable' THEN 1 WHEN 'invalid' THEN 2 "
         "WHEN 'demo' THEN 3 WHEN 'test' THEN 4 ELSE -1 END AS validity, "
         "o.measurement_id AS measurement_id FROM observations o LEFT JOIN (SELECT seq, "
         "json_extract(payload, '$.id') AS oid FROM events WHERE type = 'observation') e "
         "ON e.oid = o.id) r";
}

bool for_each_reading(Db& db, std::int64_t first_id, std::int64_t last_id,
                      const std::function<void(const Reading&)>& fn) {
  Stmt s(db, select_readings(db) + " WHERE r.id BETWEEN ? AND ? ORDER BY r.id");
  s.bind(1, first_id).bind(2, last_id);
  ReadingRow row;
  while (s.step()) {
    read_reading(s, row);
    fn(row.reading);
  }
  return s.ok();
}

std::string expand_observations_event(Db& db, std::int64_t seq, const Event& e) {
  auto id = [&](const char* key) -> std::int64_t {
    const auto it = e.payload.find(key);
    return it != e.payload.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
  };
  std::string readings;
  for_each_reading(db, id("first_id"), id("last_id"), [&](const Reading& r) {
    if (r.seq != seq) return;  // not this event's (an altered row: audit verify says so)
    if (!readings.empty()) readings += ',';
    append_reading_json(readings, r);
  });
  return observations_event_json(seq, e, readings);
}

}  // namespace vitalsd::store
