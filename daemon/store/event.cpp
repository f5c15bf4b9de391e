#include "store/event.hpp"

#include <openssl/evp.h>

#include <array>

#include "core/hex.hpp"
#include "core/json_text.hpp"

namespace vitalsd::store {

std::string event_json(std::int64_t seq, const Event& e) {
  nlohmann::json j = e.payload.is_object() ? e.payload : nlohmann::json::object();
  j["seq"] = seq;
  j["type"] = e.type;
  j["at"] = core::format_iso8601(e.at);
  j["monitor"] = e.monitor.empty() ? nlohmann::json() : nlohmann::json(e.monitor);
  j["session"] = e.session ? nlohmann::json(*e.session) : nlohmann::json();
  return core::json_text(j);
}

std::string uncommitted_event_json(const Event& e) {
  nlohmann::json j = e.payload.is_object() ? e.payload : nlohmann::json::object();
  j["seq"] = nullptr;
  j["persisted"] = false;
  j["type"] = e.type;
  j["at"] = core::format_iso8601(e.at);
  j["monitor"] = e.monitor.empty() ? nlohmann::json() : nlohmann::json(e.monitor);
  j["session"] = e.session ? nlohmann::json(*e.session) : nlohmann::json();
  return core::json_text(j);
}

std::string chain_hash(const std::string& prev_hash, std::int64_t seq, const std::string& at,
                       const std::string& type, const std::string& monitor,
                       const std::optional<std::int64_t>& session, const std::string& payload) {
  // Fields separated by a newline; none of them can hold one unescaped (payload is JSON).
  std::string input = prev_hash;
  for (const std::string& part : {std::to_string(seq), at, type, monitor,
                                  session ? std::to_string(*session) : std::string(), payload}) {
    input += '\n';
    input += part;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), md.data(), &len, EVP_sha256(), nullptr);
  return core::to_hex(md.data(), len);
}

}  // namespace vitalsd::store
