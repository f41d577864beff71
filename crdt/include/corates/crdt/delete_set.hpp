#pragma once
// Delete sets (yjs/src/utils/DeleteSet.js): per client, ranges of deleted clocks.
// Reading/writing are templates over the DS codecs (DSEncoderV1/V2, and the
// update codecs which derive from them).
//
// Cost: add() appends (O(1)); sort_and_merge() is O(n log n); is_deleted()
// is a binary search and requires a sorted/merged set.
// Thread-safety: plain value.

#include "corates/common/result.hpp"
#include "corates/crdt/id.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

namespace corates::crdt {

struct DeleteItem {
  Clock clock = 0;
  std::uint64_t len = 0;
  friend bool operator==(const DeleteItem&, const DeleteItem&) = default;
};

class DeleteSet {
 public:
  // Ordered by client so that iteration is deterministic; Yjs writes clients
  // in descending order (write_delete_set does that).
  std::map<ClientID, std::vector<DeleteItem>> clients;

  void add(ClientID client, Clock clock, std::uint64_t len) {
    clients[client].push_back(DeleteItem{clock, len});
  }
  // Sorts each client's ranges and merges overlapping/adjacent ones.
  void sort_and_merge();
  // Requires sort_and_merge() first.
  bool is_deleted(ID id) const;
  bool empty() const noexcept { return clients.empty(); }

  friend bool operator==(const DeleteSet&, const DeleteSet&) = default;
};

// Yjs's mergeDeleteSets: union, sorted and merged.
DeleteSet merge_delete_sets(const std::vector<const DeleteSet*>& sets);

template <class Encoder>
void write_delete_set(Encoder& enc, const DeleteSet& ds) {
  auto& rest = enc.rest_encoder();
  rest.write_var_uint(ds.clients.size());
  for (auto it = ds.clients.rbegin(); it != ds.clients.rend(); ++it) {
    enc.reset_ds_cur_val();
    rest.write_var_uint(it->first);
    rest.write_var_uint(it->second.size());
    for (const DeleteItem& d : it->second) {
      enc.write_ds_clock(d.clock);
      enc.write_ds_len(d.len);
    }
  }
}

// One client section of an encoded delete set: the next `count` ranges of
// ds.clients[client]. Yjs applies a received delete set section by section
// in wire order (readAndApplyDeleteSet), and that order decides which items
// get split and which deleted children are queued for merging.
struct DeleteSetSection {
  ClientID client = 0;
  std::size_t count = 0;
};

// Reads a delete set as Yjs's readDeleteSet (empty ranges, and clients
// left without ranges, are dropped). Rejects counts larger than the remaining input and clock ranges
// beyond 2^53. If `sections` is given, it receives the non-empty sections in
// wire order.
template <class Decoder>
Result<DeleteSet> read_delete_set(Decoder& dec, std::vector<DeleteSetSection>* sections = nullptr) {
  DeleteSet ds;
  auto& rest = dec.rest_decoder();
  const std::uint64_t num_clients = rest.read_var_uint();
  if (!dec.ok()) return *dec.error();
  if (num_clients > rest.remaining()) {
    return Error{ErrorCode::kTooLarge, "delete set: more clients than input"};
  }
  constexpr std::uint64_t kMax = (std::uint64_t{1} << 53) - 1;
  for (std::uint64_t i = 0; i < num_clients; ++i) {
    dec.reset_ds_cur_val();
    const ClientID client = rest.read_var_uint();
    const std::uint64_t n = rest.read_var_uint();
    if (!dec.ok()) return *dec.error();
    // Each range takes at least one byte in V1; V2 packs runs, allow 2 per byte.
    if (n > 2 * (rest.remaining() + 1) + 16) {
      return Error{ErrorCode::kTooLarge, "delete set: more ranges than input"};
    }
    if (n == 0) continue;
    auto& v = ds.clients[client];  // may stay empty if every range is empty
    const std::size_t before = v.size();
    for (std::uint64_t j = 0; j < n; ++j) {
      const Clock clock = dec.read_ds_clock();
      const std::uint64_t len = dec.read_ds_len();
      if (!dec.ok()) return *dec.error();
      if (clock > kMax || len > kMax || clock + len > kMax) {
        return Error{ErrorCode::kInvalidValue, "delete set: clock beyond 2^53"};
      }
      // Empty ranges delete nothing (Yjs never writes them; v2 cannot encode them).
      if (len > 0) v.push_back(DeleteItem{clock, len});
    }
    if (sections != nullptr && v.size() > before) sections->push_back({client, v.size() - before});
  }
  std::erase_if(ds.clients, [](const auto& e) { return e.second.empty(); });
  return ds;
}

}  // namespace corates::crdt
