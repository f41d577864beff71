// What crdt/src/updates/merge.cpp relies on to switch between its heap and
// Yjs's array: V8's sort (v8_sort.hpp) with Yjs's merge comparator, which is
// inconsistent only between an Item and a GC at the same key, still orders
// every other pair by key, and without such a tie it is a stable sort. Checked
// over the sequence of sorts a merge makes (the front element advances or
// leaves between sorts), for many array sizes and tie densities. The byte
// identity of whole merges against Yjs is checked by tests/conformance
// (node/bigmerge.mjs, golden/regress_bigmerge_*.jsonl).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "updates/v8_sort.hpp"

namespace {

struct Head {
  std::uint32_t key;
  bool gc;
};

int yjs_compare(const Head& a, const Head& b) {
  if (a.key != b.key) return a.key < b.key ? -1 : 1;
  return a.gc == b.gc ? 0 : -1;  // Item vs GC: each "smaller" than the other
}

bool has_mixed_tie(const std::vector<Head>& heads, const std::vector<std::uint32_t>& order) {
  std::vector<std::pair<std::uint32_t, bool>> v;
  v.reserve(order.size());
  for (std::uint32_t i : order) v.emplace_back(heads[i].key, heads[i].gc);
  std::sort(v.begin(), v.end());
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i - 1].first == v[i].first && v[i - 1].second != v[i].second) return true;
  }
  return false;
}

TEST(MergeTies, SortKeepsKeyOrderAndIsStableWithoutTies) {
  std::mt19937 rng(20261126);
  std::uint64_t sorts_with_ties = 0;
  std::uint64_t sorts_without = 0;
  for (int round = 0; round < 60; ++round) {
    const std::uint32_t n = 2 + rng() % 400;
    const std::uint32_t key_range = 1 + rng() % (n * 2);
    const double gc_share = (round % 3 == 0) ? 0.0 : 0.05 + 0.3 * (rng() % 100) / 100.0;
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<Head> heads(n);
    for (auto& h : heads)
      h = Head{static_cast<std::uint32_t>(rng() % key_range), unit(rng) < gc_share};
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0U);
    auto cmp = [&](std::uint32_t x, std::uint32_t y) { return yjs_compare(heads[x], heads[y]); };
    for (int step = 0; step < 200 && !order.empty(); ++step) {
      const bool ties = has_mixed_tie(heads, order);
      std::vector<std::uint32_t> stable = order;
      std::stable_sort(stable.begin(), stable.end(), [&](std::uint32_t x, std::uint32_t y) {
        return heads[x].key < heads[y].key;
      });
      corates::crdt::updates_detail::v8_sort(order, cmp);
      for (std::size_t i = 1; i < order.size(); ++i) {
        ASSERT_LE(heads[order[i - 1]].key, heads[order[i]].key)
            << "round " << round << " step " << step;
      }
      if (ties) {
        ++sorts_with_ties;
      } else {
        ++sorts_without;
        ASSERT_EQ(order, stable) << "round " << round << " step " << step;
      }
      // Yjs's step: the front reader advances (a larger key, maybe another kind) or is done.
      if (rng() % 8 == 0) {
        order.erase(order.begin());
      } else {
        Head& h = heads[order.front()];
        h.key += 1 + rng() % 4;
        if (unit(rng) < 0.2) h.gc = !h.gc;
      }
    }
  }
  // The generator must exercise both cases.
  EXPECT_GT(sorts_with_ties, 100U);
  EXPECT_GT(sorts_without, 100U);
}

}  // namespace
