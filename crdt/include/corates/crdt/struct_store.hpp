#pragma once
// StructStore (yjs/src/utils/StructStore.js): per client, the structs in
// clock order, contiguous from clock 0. Lookup by ID is a binary search
// (find_index_ss). Also holds the pending structs / delete set of updates
// whose dependencies have not arrived yet.
//
// Thread-safety: none (owned by one Doc).

#include "corates/crdt/delete_set.hpp"
#include "corates/crdt/id.hpp"
#include "corates/crdt/structs.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <unordered_map>
#include <vector>

namespace corates::crdt {

// client -> next expected clock. Ordered for deterministic iteration.
using StateVector = std::map<ClientID, Clock>;

// Structs that could not be integrated yet (Yjs's store.pendingStructs):
// an update in format v2, and per client the lowest clock that must arrive
// before a retry makes sense.
struct PendingStructs {
  std::map<ClientID, Clock> missing;
  std::vector<std::uint8_t> update;  // v2
};

class StructStore {
 public:
  std::unordered_map<ClientID, std::vector<AbstractStruct*>> clients;
  std::optional<PendingStructs> pending_structs;
  // Deletions whose structs have not arrived (Yjs's store.pendingDs): a v2
  // update with no structs.
  std::optional<std::vector<std::uint8_t>> pending_ds;

  Clock get_state(ClientID client) const noexcept;
  StateVector get_state_vector() const;
  bool has_pending() const noexcept { return pending_structs.has_value() || pending_ds.has_value(); }

  // Index of the struct containing `clock`. Precondition: clock < state of
  // that client (structs non-empty); otherwise returns structs.size().
  static std::size_t find_index_ss(const std::vector<AbstractStruct*>& structs, Clock clock) noexcept;
  // The same answer, searched outwards from `hint` (an index found for a
  // nearby clock): cheaper when consecutive lookups are close, as for the
  // sorted ranges of a delete set.
  static std::size_t find_index_near(const std::vector<AbstractStruct*>& structs, Clock clock,
                                     std::size_t hint) noexcept;
  // The struct containing `id` (Yjs's getItem / find), or null if absent.
  AbstractStruct* find(ID id) const noexcept;
  // Appends a struct; precondition: it starts at the client's state.
  void add_struct(AbstractStruct* s);
  // Replaces the struct at the same position (Yjs's replaceStruct).
  void replace_struct(AbstractStruct* old_struct, AbstractStruct* new_struct);
};

}  // namespace corates::crdt
