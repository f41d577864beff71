#pragma once
// Internal operations of the document model shared by the core's sources.
#include "corates/crdt/abstract_type.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/structs.hpp"
#include "corates/crdt/transaction.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace corates::crdt::detail {

// Yjs's Item.integrate for an item whose left/right/origins/parent are set
// (offset already applied). Never fails.
void integrate_item(Transaction& tr, Item* item);
// The options of the Doc a ContentDoc creates (Yjs's createDocFromOpts).
DocOptions doc_options_from_content(const ContentDoc& c);
// Yjs's Item.gc.
void item_gc(Doc& doc, Item* item, bool parent_gcd);
// Yjs's Item.mergeWith (right is not freed here).
bool item_merge_with(Item* left, Item* right);
// Yjs's struct mergeWith for GC/Item pairs of the same kind.
bool struct_merge_with(AbstractStruct* left, AbstractStruct* right);
// Yjs's cleanupTransactions for the queued transactions of `doc`.
void cleanup_transactions(Doc& doc);
// Yjs's tryGc for a delete set (used by snapshots / tests).
void try_gc_delete_set(const DeleteSet& ds, Doc& doc);
void try_merge_delete_set(const DeleteSet& ds, StructStore& store, Doc& doc);
// Yjs's createDeleteSetFromStructStore.
DeleteSet delete_set_from_store(const StructStore& store);

// Yjs's Item.write / GC.write for a struct in the store.
template <class Encoder>
void write_struct(Encoder& enc, const AbstractStruct* s, std::uint64_t offset) {
  if (s->is_gc()) {
    enc.write_info(0);
    enc.write_len(s->length - offset);
    return;
  }
  const Item* item = static_cast<const Item*>(s);
  const std::optional<ID> origin =
      offset > 0 ? std::optional<ID>(ID{item->id.client, item->id.clock + offset - 1}) : item->origin();
  const std::optional<ID> right_origin = item->right_origin();
  const std::uint8_t info = static_cast<std::uint8_t>(
      (static_cast<std::uint8_t>(content_ref(item->content)) & 0x1f) | (origin ? 0x80 : 0) |
      (right_origin ? 0x40 : 0) | (item->parent_sub ? 0x20 : 0));
  enc.write_info(info);
  if (origin) enc.write_left_id(*origin);
  if (right_origin) enc.write_right_id(*right_origin);
  if (!origin && !right_origin) {
    const AbstractType* parent = item->parent;
    if (parent->item() == nullptr) {
      enc.write_parent_info(true);
      enc.write_string(parent->root_name() ? std::string_view(*parent->root_name()) : std::string_view());
    } else {
      enc.write_parent_info(false);
      enc.write_left_id(parent->item()->id);
    }
    if (item->parent_sub) enc.write_string(*item->parent_sub);
  }
  write_item_content(enc, item->content, offset);
}

// Yjs's writeClientsStructs: the structs of `store` that `sv` lacks, clients
// in descending order.
template <class Encoder>
void write_clients_structs(Encoder& enc, const StructStore& store, const StateVector& sv) {
  std::vector<std::pair<ClientID, Clock>> sm;
  for (const auto& [client, clock] : sv) {
    if (store.get_state(client) > clock) sm.emplace_back(client, clock);
  }
  for (const auto& [client, structs] : store.clients) {
    if (!structs.empty() && sv.count(client) == 0) sm.emplace_back(client, 0);
  }
  std::sort(sm.begin(), sm.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  enc.rest_encoder().write_var_uint(sm.size());
  for (auto [client, clock] : sm) {
    const auto& structs = store.clients.at(client);
    clock = std::max(clock, structs[0]->id.clock);
    const std::size_t start = StructStore::find_index_ss(structs, clock);
    enc.rest_encoder().write_var_uint(structs.size() - start);
    enc.write_client(client);
    enc.rest_encoder().write_var_uint(clock);
    write_struct(enc, structs[start], clock - structs[start]->id.clock);
    for (std::size_t i = start + 1; i < structs.size(); ++i) write_struct(enc, structs[i], 0);
  }
}

}  // namespace corates::crdt::detail
