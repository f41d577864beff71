#pragma once
// JS property order for AnyObject (see normalize_js_object in any.hpp).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "corates/crdt/lib0/any.hpp"

namespace corates::crdt::lib0::detail {

// Numeric value of an array-index key; call only when is_array_index_key(key).
inline std::uint32_t array_index_value(std::string_view key) noexcept {
  std::uint32_t v = 0;
  for (const char c : key) v = v * 10 + static_cast<std::uint32_t>(c - '0');
  return v;
}

// Calls f(key, value) for each member in the order Object.keys would give,
// without copying. Objects built by our decoders are already in that order;
// objects built by callers may not be.
template <class F>
void for_each_in_js_order(const AnyObject& o, F&& f) {
  bool any_index = false;
  for (const auto& [k, v] : o) {
    if (is_array_index_key(k)) {
      any_index = true;
      break;
    }
  }
  if (!any_index) {
    for (const auto& [k, v] : o) f(k, v);
    return;
  }
  std::vector<std::pair<std::uint32_t, std::size_t>> index_members;
  for (std::size_t i = 0; i < o.size(); ++i)
    if (is_array_index_key(o[i].first))
      index_members.emplace_back(array_index_value(o[i].first), i);
  std::stable_sort(index_members.begin(), index_members.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [value, i] : index_members) f(o[i].first, o[i].second);
  for (const auto& [k, v] : o)
    if (!is_array_index_key(k)) f(k, v);
}

}  // namespace corates::crdt::lib0::detail
