// Delete sets (Yjs's DeleteSet.js).
#include "corates/crdt/delete_set.hpp"

#include <algorithm>

namespace corates::crdt {

namespace {
void sort_and_merge_items(std::vector<DeleteItem>& dels) {
  std::sort(dels.begin(), dels.end(),
            [](const DeleteItem& a, const DeleteItem& b) { return a.clock < b.clock; });
  std::size_t j = 1;
  for (std::size_t i = 1; i < dels.size(); ++i) {
    DeleteItem& left = dels[j - 1];
    const DeleteItem right = dels[i];
    if (left.clock + left.len >= right.clock) {
      left.len = std::max(left.len, right.clock + right.len - left.clock);
    } else {
      if (j < i) dels[j] = right;
      ++j;
    }
  }
  if (!dels.empty()) dels.resize(j);
}
}  // namespace

void DeleteSet::sort_and_merge() {
  for (auto& [client, dels] : clients) sort_and_merge_items(dels);
}

bool DeleteSet::is_deleted(ID id) const {
  auto it = clients.find(id.client);
  if (it == clients.end()) return false;
  const auto& dels = it->second;
  // Last range starting at or before the clock.
  auto ub = std::upper_bound(dels.begin(), dels.end(), id.clock,
                             [](Clock c, const DeleteItem& d) { return c < d.clock; });
  if (ub == dels.begin()) return false;
  --ub;
  return id.clock < ub->clock + ub->len;
}

DeleteSet merge_delete_sets(const std::vector<const DeleteSet*>& sets) {
  DeleteSet merged;
  for (const DeleteSet* ds : sets) {
    for (const auto& [client, dels] : ds->clients) {
      auto& v = merged.clients[client];
      v.insert(v.end(), dels.begin(), dels.end());
    }
  }
  merged.sort_and_merge();
  return merged;
}

}  // namespace corates::crdt
