#pragma once
// A map for the few keys a single update or transaction usually touches
// (clients, types): a linear scan over a vector while small, so the common
// case of one or two keys costs no hashing and no node allocation; past
// kLinear entries it moves to a hash map, so many keys stay O(1).
#include <cstddef>
#include <unordered_map>
#include <utility>
#include <vector>

namespace corates::crdt::detail {

template <class K, class V>
class SmallMap {
 public:
  static constexpr std::size_t kLinear = 16;

  V* find(const K& k) {
    if (big_) {
      auto it = map_.find(k);
      return it == map_.end() ? nullptr : &it->second;
    }
    for (auto& e : vec_) {
      if (e.first == k) return &e.second;
    }
    return nullptr;
  }
  // Inserts (k, v) unless k is present; returns the value and whether it is new.
  std::pair<V*, bool> try_emplace(const K& k, V v) {
    if (V* p = find(k)) return {p, false};
    if (!big_ && vec_.size() < kLinear) {
      vec_.emplace_back(k, std::move(v));
      return {&vec_.back().second, true};
    }
    if (!big_) {
      big_ = true;
      map_.reserve(vec_.size() * 2);
      for (auto& e : vec_) map_.emplace(e.first, std::move(e.second));
      vec_.clear();
    }
    return {&map_.emplace(k, std::move(v)).first->second, true};
  }
  V& operator[](const K& k) { return *try_emplace(k, V{}).first; }
  void erase(const K& k) {
    if (big_) {
      map_.erase(k);
      return;
    }
    for (std::size_t i = 0; i < vec_.size(); ++i) {
      if (vec_[i].first == k) {
        vec_[i] = std::move(vec_.back());
        vec_.pop_back();
        return;
      }
    }
  }

 private:
  bool big_ = false;
  std::vector<std::pair<K, V>> vec_;
  std::unordered_map<K, V> map_;
};

}  // namespace corates::crdt::detail
