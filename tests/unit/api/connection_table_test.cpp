// net::ConnectionTable: which connection makes room at a cap (the API and the HL7 listener
// both use it).
#include "net/connection_table.hpp"

#include <gtest/gtest.h>

namespace vitalsd::net {
namespace {

struct Conn {
  int id;
};

asio::ip::address addr(const char* a) {
  return asio::ip::make_address(a);
}

TEST(ConnectionTable, BelowTheCapsNothingIsEvicted) {
  ConnectionTable<Conn> t;
  Conn a{1}, b{2};
  t.add(&a, addr("10.0.0.1"));
  t.add(&b, addr("10.0.0.2"));
  auto room = t.make_room(addr("10.0.0.1"), {3, 2});
  ASSERT_TRUE(room);
  EXPECT_TRUE(room->empty());
  EXPECT_EQ(t.size(), 2u);
}

TEST(ConnectionTable, TheLongestIdleGoesFirstAndAMarkMakesAConnectionRecent) {
  ConnectionTable<Conn> t;
  Conn a{1}, b{2}, c{3};
  t.add(&a, addr("10.0.0.1"));
  t.add(&b, addr("10.0.0.2"));
  t.add(&c, addr("10.0.0.3"));
  t.mark(&a, Standing::idle);  // a sign of life: a is now the most recent
  auto room = t.make_room(addr("10.0.0.4"), {3, 10});
  ASSERT_TRUE(room);
  ASSERT_EQ(room->size(), 1u);
  EXPECT_EQ(room->front(), &b);
  EXPECT_FALSE(t.contains(&b));
  EXPECT_EQ(t.size(), 2u);
}

TEST(ConnectionTable, ThePerAddressCapEvictsOnlyThatAddress) {
  ConnectionTable<Conn> t;
  Conn a{1}, b{2}, c{3};
  t.add(&a, addr("10.0.0.9"));  // idle longest overall, another address
  t.add(&b, addr("10.0.0.1"));
  t.add(&c, addr("10.0.0.1"));
  auto room = t.make_room(addr("10.0.0.1"), {10, 2});
  ASSERT_TRUE(room);
  ASSERT_EQ(room->size(), 1u);
  EXPECT_EQ(room->front(), &b);
  EXPECT_EQ(t.count(addr("10.0.0.1")), 1u);
  EXPECT_TRUE(t.contains(&a));
}

TEST(ConnectionTable, StreamsGoOnlyWhenNoIdleIsLeftAndBusyNever) {
  ConnectionTable<Conn> t;
  Conn s{1}, i{2}, b{3};
  t.add(&s, addr("10.0.0.1"));
  t.mark(&s, Standing::serving);
  t.add(&i, addr("10.0.0.1"));
  t.add(&b, addr("10.0.0.1"));
  t.mark(&b, Standing::busy);
  auto first = t.make_room(addr("10.0.0.2"), {3, 10});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ(first->front(), &i) << "the idle one, although the stream is older";
  Conn n{4};
  t.add(&n, addr("10.0.0.2"));
  t.mark(&n, Standing::busy);
  auto second = t.make_room(addr("10.0.0.2"), {3, 10});
  ASSERT_TRUE(second);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ(second->front(), &s);
  Conn m{5};
  t.add(&m, addr("10.0.0.2"));
  t.mark(&m, Standing::busy);
  EXPECT_FALSE(t.make_room(addr("10.0.0.3"), {3, 10})) << "every connection busy: refuse";
  EXPECT_EQ(t.evict_one(), nullptr);
}

TEST(ConnectionTable, RemoveForgetsAndUnknownConnectionsAreIgnored) {
  ConnectionTable<Conn> t;
  Conn a{1}, x{9};
  t.add(&a, addr("10.0.0.1"));
  t.remove(&x);
  t.mark(&x, Standing::idle);
  EXPECT_EQ(t.size(), 1u);
  t.remove(&a);
  t.remove(&a);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.count(addr("10.0.0.1")), 0u);
  EXPECT_EQ(t.evict_one(), nullptr);
}

}  // namespace
}  // namespace vitalsd::net
