// Connection caps with eviction, shared by the HTTP API and the HL7 listener: a cap on all
// connections and a cap per client address, and when one is reached the connection that has
// been idle longest is closed to make room, never the one just accepted (docs/api.md,
// docs/hl7-monitors.md).
//
// Every connection is in one of three standings:
//   idle     - waiting for its client (no request or message being read to its end, nothing
//              being answered); evicted first, the one idle longest first;
//   serving  - a long-lived stream being served (an API event stream); evicted only when no
//              idle connection is left, the oldest first;
//   busy     - a request being answered; never evicted.
// mark() moves a connection to the back of its standing's order (the most recent), so a
// connection that marks itself idle on each sign of life is evicted last among the idle.
//
// Not thread-safe: one strand owns it. Header-only so that drivers (hl7) and api share it.
#pragma once

#include <cstddef>
#include <list>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

#include "net/asio.hpp"

namespace vitalsd::net {

enum class Standing { idle, serving, busy };

struct ConnectionCaps {
  std::size_t total = 256;
  std::size_t per_address = 256;
};

template <class T>
class ConnectionTable {
 public:
  // A connection accepted from `address`, idle from now on.
  void add(T* c, const asio::ip::address& address) {
    if (entries_.count(c)) return;
    auto& bucket = buckets_[address];
    ++bucket.count;
    auto [it, _] = entries_.emplace(c, Entry{address, Standing::busy, {}, {}});
    place(it->second, c, Standing::idle);
  }

  // Gone (closed by itself or evicted). Unknown connections are ignored.
  void remove(T* c) {
    auto it = entries_.find(c);
    if (it == entries_.end()) return;
    unplace(it->second);
    auto b = buckets_.find(it->second.address);
    if (b != buckets_.end() && --b->second.count == 0) buckets_.erase(b);
    entries_.erase(it);
  }

  // A new standing, most recent in its order.
  void mark(T* c, Standing standing) {
    auto it = entries_.find(c);
    if (it == entries_.end()) return;
    unplace(it->second);
    place(it->second, c, standing);
  }

  [[nodiscard]] bool contains(T* c) const { return entries_.count(c) != 0; }
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] std::size_t count(const asio::ip::address& address) const {
    auto b = buckets_.find(address);
    return b == buckets_.end() ? 0 : b->second.count;
  }
  // Every connection (stop() closes them all).
  [[nodiscard]] std::vector<T*> all() const {
    std::vector<T*> out;
    out.reserve(entries_.size());
    for (const auto& [c, _] : entries_) out.push_back(c);
    return out;
  }

  // Makes room for one more connection from `address` under `caps`: takes the connections to
  // close out of the table (longest idle first, then the oldest serving, of the address when
  // its cap is the one reached) and returns them; the caller closes them. Returns nullopt when
  // the caps are reached and nothing can be evicted (every connection is busy): the new
  // connection must then be refused.
  std::optional<std::vector<T*>> make_room(const asio::ip::address& address,
                                           const ConnectionCaps& caps) {
    std::vector<T*> evicted;
    while (count(address) >= caps.per_address) {
      T* v = oldest(&buckets_.at(address));
      if (!v) return std::nullopt;
      remove(v);
      evicted.push_back(v);
    }
    while (size() >= caps.total) {
      T* v = oldest(nullptr);
      if (!v) return std::nullopt;
      remove(v);
      evicted.push_back(v);
    }
    return evicted;
  }

  // Takes the longest-idle connection (else the oldest serving) out of the table; nullptr when
  // every connection is busy. For when descriptors run out.
  T* evict_one() {
    T* v = oldest(nullptr);
    if (v) remove(v);
    return v;
  }

 private:
  static constexpr int kOrders = 2;  // idle, serving (busy connections are in no order)
  using Order = std::list<T*>;
  struct Bucket {
    std::size_t count = 0;
    Order order[kOrders];
  };
  struct Entry {
    asio::ip::address address;
    Standing standing;
    typename Order::iterator in_all;
    typename Order::iterator in_bucket;
  };

  static int index(Standing s) { return s == Standing::idle ? 0 : 1; }

  void place(Entry& e, T* c, Standing standing) {
    e.standing = standing;
    if (standing == Standing::busy) return;
    const int i = index(standing);
    e.in_all = all_[i].insert(all_[i].end(), c);
    auto& b = buckets_[e.address].order[i];
    e.in_bucket = b.insert(b.end(), c);
  }

  void unplace(Entry& e) {
    if (e.standing == Standing::busy) return;
    const int i = index(e.standing);
    all_[i].erase(e.in_all);
    buckets_[e.address].order[i].erase(e.in_bucket);
    e.standing = Standing::busy;
  }

  // The first of idle, then serving, in `bucket` or across all addresses.
  T* oldest(const Bucket* bucket) const {
    for (int i = 0; i < kOrders; ++i) {
      const Order& o = bucket ? bucket->order[i] : all_[i];
      if (!o.empty()) return o.front();
    }
    return nullptr;
  }

  std::unordered_map<T*, Entry> entries_;
  std::map<asio::ip::address, Bucket> buckets_;
  Order all_[kOrders];
};

}  // namespace vitalsd::net
