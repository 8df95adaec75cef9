#include "mempool/recent_ids.h"

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <random>
#include <set>

namespace ol::mempool {
namespace {

Hash32 id(std::uint64_t n) {
  Hash32 h{};
  std::memcpy(h.data(), &n, sizeof n);
  h[31] = 0x5a;
  return h;
}

TEST(RecentIds, RemembersTheLastCapacityIdsAndForgetsTheOldestFirst) {
  RecentIds ids(3);
  EXPECT_EQ(ids.capacity(), 3u);
  EXPECT_FALSE(ids.contains(id(1)));
  for (std::uint64_t n = 1; n <= 3; ++n) EXPECT_TRUE(ids.insert(id(n)));
  EXPECT_EQ(ids.size(), 3u);
  for (std::uint64_t n = 1; n <= 3; ++n) EXPECT_TRUE(ids.contains(id(n)));

  EXPECT_TRUE(ids.insert(id(4)));
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_FALSE(ids.contains(id(1)));
  for (std::uint64_t n = 2; n <= 4; ++n) EXPECT_TRUE(ids.contains(id(n)));
}

TEST(RecentIds, ADuplicateChangesNothingAndKeepsItsPlaceInTheOrder) {
  RecentIds ids(2);
  EXPECT_TRUE(ids.insert(id(1)));
  EXPECT_TRUE(ids.insert(id(2)));
  EXPECT_FALSE(ids.insert(id(1)));  // not moved to the back
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_TRUE(ids.insert(id(3)));
  EXPECT_FALSE(ids.contains(id(1)));
  EXPECT_TRUE(ids.contains(id(2)));
  EXPECT_TRUE(ids.contains(id(3)));
  // A forgotten id can be remembered again.
  EXPECT_TRUE(ids.insert(id(1)));
  EXPECT_FALSE(ids.contains(id(2)));
}

TEST(RecentIds, CapacityZeroRemembersNothing) {
  RecentIds ids(0);
  EXPECT_FALSE(ids.insert(id(1)));
  EXPECT_FALSE(ids.contains(id(1)));
  EXPECT_EQ(ids.size(), 0u);
}

// Against a plain set and queue: long runs of inserts of new and repeated ids at small
// capacities, where probe runs collide, wrap around the index and are shifted back on every
// eviction.
TEST(RecentIds, MatchesASetAndAQueueOverLongRandomRuns) {
  std::mt19937_64 rng(11);
  for (std::size_t capacity : {1u, 2u, 3u, 5u, 8u, 13u, 64u, 1000u}) {
    RecentIds ids(capacity);
    std::set<Hash32> model;
    std::deque<Hash32> order;
    const std::uint64_t universe = 3 * capacity + 2;
    for (int step = 0; step < 20'000; ++step) {
      const Hash32 h = id(rng() % universe);
      const bool fresh = !model.contains(h);
      ASSERT_EQ(ids.contains(h), !fresh) << "capacity " << capacity << " step " << step;
      ASSERT_EQ(ids.insert(h), fresh) << "capacity " << capacity << " step " << step;
      if (fresh) {
        model.insert(h);
        order.push_back(h);
        if (order.size() > capacity) {
          model.erase(order.front());
          order.pop_front();
        }
      }
      ASSERT_EQ(ids.size(), model.size());
      if (step % 997 == 0) {
        for (std::uint64_t n = 0; n < universe; ++n) {
          ASSERT_EQ(ids.contains(id(n)), model.contains(id(n)))
              << "capacity " << capacity << " step " << step << " id " << n;
        }
      }
    }
  }
}

}  // namespace
}  // namespace ol::mempool
