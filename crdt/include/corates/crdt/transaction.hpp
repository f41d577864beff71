#pragma once
// Transaction (yjs/src/utils/Transaction.js): every change to a Doc happens
// inside one. Opened by Doc::transact (nesting joins the outer transaction);
// at the end of the outermost one the Doc calls observers, garbage-collects
// deleted content (gc on), merges adjacent structs exactly as Yjs does (so
// encodings stay byte-identical) and emits the update hooks.
//
// Thread-safety: none; valid only inside the transact callback and the hooks.

#include "corates/crdt/delete_set.hpp"
#include "corates/crdt/doc_options.hpp"
#include "corates/crdt/struct_store.hpp"

#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace corates::crdt {

class AbstractType;
class Doc;
class YEvent;

class Transaction {
 public:
  Transaction(Doc& doc, Origin origin, bool local);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Doc& doc() const noexcept { return *doc_; }
  const Origin& origin() const noexcept { return origin_; }
  // False for transactions that apply remote updates.
  bool local() const noexcept { return local_; }

  // Deleted ranges in this transaction (sorted and merged at cleanup). Add
  // through add_to_delete_set, which also records the client order.
  DeleteSet delete_set;
  StateVector before_state;
  StateVector after_state;  // set at cleanup

  // Types changed by this transaction with the map keys changed
  // (null = the list part), in first-change order.
  std::vector<std::pair<AbstractType*, std::set<const std::string*>>> changed;
  std::unordered_map<AbstractType*, std::size_t> changed_index;  // filled once `changed` grows
  // Types whose descendants (or themselves) changed, with their events.
  std::vector<std::pair<AbstractType*, std::vector<YEvent*>>> changed_parent_types;
  std::unordered_map<AbstractType*, std::size_t> changed_parent_index;

  std::vector<AbstractStruct*> merge_structs;  // Yjs's _mergeStructs
  std::vector<Doc*> subdocs_added;
  std::vector<Doc*> subdocs_removed;
  std::vector<Doc*> subdocs_loaded;
  bool need_formatting_cleanup = false;

  // Events created during the observer phase (owned here).
  std::vector<std::unique_ptr<YEvent>> events;

  Clock before_clock(ClientID client) const noexcept {
    auto it = before_state.find(client);
    return it == before_state.end() ? 0 : it->second;
  }
  // Yjs's addToDeleteSet on transaction.deleteSet.
  void add_to_delete_set(ClientID client, Clock clock, std::uint64_t len) {
    auto& v = delete_set.clients[client];
    if (v.empty()) delete_set_clients_.push_back(client);
    v.push_back(DeleteItem{clock, len});
  }
  // The clients of delete_set in the order they were first added (the
  // iteration order of Yjs's transaction.deleteSet, a JS Map; it decides
  // what the formatting cleanup after a remote transaction deletes).
  const std::vector<ClientID>& delete_set_clients() const noexcept { return delete_set_clients_; }
  // Yjs's addChangedTypeToTransaction.
  void add_changed_type(AbstractType* type, const std::string* parent_sub);
  // Removes a type from `changed` (deleted nested type).
  void remove_changed_type(AbstractType* type);
  // The next local ID (Yjs's nextID).
  ID next_id() const;

 private:
  // Index of `type` in `changed`, appended if `add`; changed.size() if absent.
  std::size_t changed_position(AbstractType* type, bool add);

  Doc* doc_;
  Origin origin_;
  bool local_;
  std::vector<ClientID> delete_set_clients_;
};

}  // namespace corates::crdt
