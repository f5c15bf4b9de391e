#include "api/refusal_log.hpp"

namespace vitalsd::api {

using nlohmann::json;

std::vector<store::Event> RefusalLog::add(const RefusedAttempt& a, core::Timestamp now) {
  if (a.status == 403)
    ++counters_.forbidden;
  else
    ++counters_.unauthorized;
  std::vector<store::Event> out;
  Key key{a.address, a.status, a.reason, a.actor};
  auto it = open_.find(key);
  if (it == open_.end()) {
    Open o;
    o.first = a;
    o.since = now;
    std::size_t regular = 0;
    for (const auto& [k, v] : open_)
      if (!v.overflow) ++regular;
    if (regular >= kMaxKeys) {
      // Too many keys in this window: the overflow key of this status and reason.
      o.overflow = true;
      std::string star(1, '*');  // not `= "*"`: g++ 12 warns (-Wrestrict) on that falsely
      o.first.address.swap(star);
      o.first.actor.clear();
      o.first.role.clear();
      key = Key{"*", a.status, a.reason, ""};
      it = open_.find(key);
    }
    if (it == open_.end()) {
      it = open_.emplace(key, std::move(o)).first;
      out.push_back(event(it->second, 1, now, now, false));
      return out;
    }
  }
  auto& o = it->second;
  if (o.count == 0) o.first_at = now;
  ++o.count;
  o.last_at = now;
  const auto path = a.method + " " + a.path;
  if (o.paths.count(path) || o.paths.size() < kMaxPaths)
    ++o.paths[path];
  else
    ++o.paths["*"];
  return out;
}

std::vector<store::Event> RefusalLog::flush(core::Timestamp now, bool all) {
  std::vector<store::Event> out;
  for (auto it = open_.begin(); it != open_.end();) {
    if (!all && now - it->second.since < kWindow) {
      ++it;
      continue;
    }
    const auto& o = it->second;
    if (o.count > 0) out.push_back(event(o, o.count, o.first_at, o.last_at, true));
    it = open_.erase(it);
  }
  return out;
}

store::Event RefusalLog::event(const Open& o, std::uint64_t count, core::Timestamp first,
                               core::Timestamp last, bool summary) {
  ++counters_.events;
  const auto& a = o.first;
  json payload{{"address", a.address},
               {"status", a.status},
               {"reason", a.reason},
               {"count", count},
               {"first_at", core::format_iso8601(first)},
               {"last_at", core::format_iso8601(last)},
               {"summary", summary}};
  if (!a.actor.empty()) {
    payload["by"] = a.actor;
    payload["role"] = a.role;
  }
  if (o.overflow) payload["overflow"] = true;
  if (summary) {
    payload["window_s"] = kWindow.count();
    payload["paths"] = o.paths;
  } else {
    payload["method"] = a.method;
    payload["path"] = a.path;
  }
  return store::Event{kType, last, "", std::nullopt, std::move(payload)};
}

}  // namespace vitalsd::api
