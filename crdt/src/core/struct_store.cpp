// StructStore (Yjs's StructStore.js).
#include "corates/crdt/struct_store.hpp"

#include <cassert>

namespace corates::crdt {

Clock StructStore::get_state(ClientID client) const noexcept {
  auto it = clients.find(client);
  if (it == clients.end() || it->second.empty()) return 0;
  const AbstractStruct* last = it->second.back();
  return last->id.clock + last->length;
}

StateVector StructStore::get_state_vector() const {
  StateVector sv;
  for (const auto& [client, structs] : clients) {
    if (structs.empty()) continue;
    const AbstractStruct* last = structs.back();
    sv[client] = last->id.clock + last->length;
  }
  return sv;
}

std::size_t StructStore::find_index_ss(const std::vector<AbstractStruct*>& structs,
                                       Clock clock) noexcept {
  if (structs.empty()) return 0;
  std::size_t left = 0;
  std::size_t right = structs.size() - 1;
  const AbstractStruct* mid = structs[right];
  const Clock mid_clock = mid->id.clock;
  // The last struct first: new structs usually refer to the latest one.
  if (clock >= mid_clock) return clock < mid_clock + mid->length ? right : structs.size();
  // Pivot guess by clock ratio, as Yjs does (clocks are dense).
  const Clock last = mid_clock + mid->length - 1;
  std::size_t midindex = last == 0 ? 0
                                   : static_cast<std::size_t>(static_cast<double>(clock) /
                                                              static_cast<double>(last) *
                                                              static_cast<double>(right));
  while (left <= right) {
    if (midindex > right) midindex = right;
    mid = structs[midindex];
    const Clock mc = mid->id.clock;
    if (mc <= clock) {
      if (clock < mc + mid->length) return midindex;
      left = midindex + 1;
    } else {
      if (midindex == 0) break;
      right = midindex - 1;
    }
    midindex = (left + right) / 2;
  }
  return structs.size();
}

std::size_t StructStore::find_index_near(const std::vector<AbstractStruct*>& structs, Clock clock,
                                         std::size_t hint) noexcept {
  const std::size_t n = structs.size();
  if (hint >= n) return find_index_ss(structs, clock);
  const auto contains = [&](std::size_t i) {
    return structs[i]->id.clock <= clock && clock < structs[i]->id.clock + structs[i]->length;
  };
  if (contains(hint)) return hint;
  // Gallop to bracket the answer in [lo, hi), then bisect.
  std::size_t lo, hi;
  if (structs[hint]->id.clock < clock) {
    lo = hint + 1;
    std::size_t step = 1;
    hi = lo;
    while (hi < n && structs[hi]->id.clock <= clock) {
      lo = hi;
      hi = lo + step;
      step *= 2;
    }
    hi = std::min(hi, n);
  } else {
    hi = hint;
    std::size_t step = 1;
    lo = hi;
    while (lo > 0 && structs[lo - 1]->id.clock > clock) {
      hi = lo - 1;
      lo = hi >= step ? hi - step : 0;
      step *= 2;
    }
    if (lo > 0) --lo;
  }
  // Invariant: the struct containing clock, if any, is in [lo, hi).
  while (hi - lo > 1) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (structs[mid]->id.clock <= clock) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo < hi && contains(lo) ? lo : n;
}

AbstractStruct* StructStore::find(ID id) const noexcept {
  auto it = clients.find(id.client);
  if (it == clients.end()) return nullptr;
  const std::size_t i = find_index_ss(it->second, id.clock);
  return i < it->second.size() ? it->second[i] : nullptr;
}

void StructStore::add_struct(AbstractStruct* s) {
  auto& structs = clients[s->id.client];
  assert(structs.empty() ||
         structs.back()->id.clock + structs.back()->length == s->id.clock);
  structs.push_back(s);
}

void StructStore::replace_struct(AbstractStruct* old_struct, AbstractStruct* new_struct) {
  auto& structs = clients[old_struct->id.client];
  const std::size_t i = find_index_ss(structs, old_struct->id.clock);
  assert(i < structs.size() && structs[i] == old_struct);
  structs[i] = new_struct;
}

}  // namespace corates::crdt
