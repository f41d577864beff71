// Transactions and their cleanup (Yjs's Transaction.js).
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/update_encoder.hpp"
#include "internal.hpp"

#include <algorithm>
#include <random>

namespace corates::crdt {

Transaction::Transaction(Doc& doc, Origin origin, bool local)
    : before_state(doc.store().get_state_vector()), doc_(&doc), origin_(std::move(origin)), local_(local) {}

Transaction::~Transaction() = default;

void Transaction::add_changed_type(AbstractType* type, const std::string* parent_sub) {
  const Item* item = type->item();
  if (item == nullptr || (item->id.clock < before_clock(item->id.client) && !item->deleted())) {
    changed[changed_position(type, true)].second.insert(parent_sub);
  }
}

// Most transactions change one or two types: scan `changed` while it is
// short, and index it by type only once it grows.
std::size_t Transaction::changed_position(AbstractType* type, bool add) {
  constexpr std::size_t kScan = 8;
  if (changed.size() <= kScan) {
    for (std::size_t i = 0; i < changed.size(); ++i) {
      if (changed[i].first == type) return i;
    }
    if (!add) return changed.size();
  } else {
    if (changed_index.empty()) {
      for (std::size_t i = 0; i < changed.size(); ++i) {
        if (changed[i].first != nullptr) changed_index.emplace(changed[i].first, i);
      }
    }
    auto it = changed_index.find(type);
    if (it != changed_index.end()) return it->second;
    if (!add) return changed.size();
    changed_index.emplace(type, changed.size());
  }
  changed.emplace_back(type, std::set<const std::string*>{});
  return changed.size() - 1;
}

void Transaction::remove_changed_type(AbstractType* type) {
  const std::size_t i = changed_position(type, false);
  if (i == changed.size()) return;
  // Keep indices stable: mark as removed by clearing the pointer.
  changed[i].first = nullptr;
  changed_index.erase(type);
}

ID Transaction::next_id() const {
  const Doc& d = *doc_;
  return ID{d.client_id(), d.store().get_state(d.client_id())};
}

namespace detail {

namespace {

// Yjs's tryToMergeWithLefts: returns how many structs were merged away.
std::size_t try_to_merge_with_lefts(Doc& doc, std::vector<AbstractStruct*>& structs, std::size_t pos) {
  AbstractStruct* right = structs[pos];
  AbstractStruct* left = structs[pos - 1];
  std::size_t i = pos;
  while (i > 0) {
    if (left->deleted() == right->deleted() && left->kind == right->kind &&
        struct_merge_with(left, right)) {
      if (right->is_item()) {
        Item* r = static_cast<Item*>(right);
        if (r->parent_sub != nullptr && r->parent->map_get(r->parent_sub) == r) {
          r->parent->map_set(r->parent_sub, static_cast<Item*>(left));
        }
      }
      --i;
      if (i == 0) break;
      right = left;
      left = structs[i - 1];
      continue;
    }
    break;
  }
  const std::size_t merged = pos - i;
  if (merged > 0) {
    const auto first = structs.begin() + static_cast<std::ptrdiff_t>(pos + 1 - merged);
    for (auto it = first; it != first + static_cast<std::ptrdiff_t>(merged); ++it) doc.bury(*it);
    structs.erase(first, first + static_cast<std::ptrdiff_t>(merged));
  }
  return merged;
}

template <class Encoder>
bool write_update_message_from_transaction(Encoder& enc, Transaction& tr) {
  bool changed = !tr.delete_set.empty();
  if (!changed) {
    for (const auto& [client, clock] : tr.after_state) {
      if (tr.before_clock(client) != clock || tr.before_state.count(client) == 0) {
        changed = true;
        break;
      }
    }
  }
  if (!changed) return false;
  tr.delete_set.sort_and_merge();
  write_clients_structs(enc, tr.doc().store(), tr.before_state);
  write_delete_set(enc, tr.delete_set);
  return true;
}

ClientID random_client_id() {
  static thread_local std::mt19937 rng{std::random_device{}()};
  return rng();
}

}  // namespace

void try_gc_delete_set(const DeleteSet& ds, Doc& doc) {
  StructStore& store = doc.store();
  for (const auto& [client, dels] : ds.clients) {
    auto cit = store.clients.find(client);
    if (cit == store.clients.end()) continue;
    auto& structs = cit->second;
    std::size_t hint = structs.size();
    for (std::size_t di = dels.size(); di-- > 0;) {
      const DeleteItem& d = dels[di];
      const Clock end = d.clock + d.len;
      hint = StructStore::find_index_near(structs, d.clock, hint);
      for (std::size_t si = hint; si < structs.size() && structs[si]->id.clock < end; ++si) {
        AbstractStruct* s = structs[si];
        if (s->is_item() && s->deleted() && !static_cast<Item*>(s)->keep()) {
          item_gc(doc, static_cast<Item*>(s), false);
        }
      }
    }
  }
}

void try_merge_delete_set(const DeleteSet& ds, StructStore& store, Doc& doc) {
  for (const auto& [client, dels] : ds.clients) {
    auto cit = store.clients.find(client);
    if (cit == store.clients.end()) continue;
    auto& structs = cit->second;
    std::size_t hint = structs.size();
    for (std::size_t di = dels.size(); di-- > 0;) {
      const DeleteItem& d = dels[di];
      if (structs.empty()) break;
      std::size_t idx = StructStore::find_index_near(structs, d.clock + d.len - 1, hint);
      hint = idx;
      if (idx >= structs.size()) idx = structs.size() - 1;
      std::size_t si = std::min(structs.size() - 1, 1 + idx);
      while (si > 0 && structs[si]->id.clock >= d.clock) {
        const std::size_t m = try_to_merge_with_lefts(doc, structs, si);
        if (si < 1 + m) break;
        si -= 1 + m;
      }
    }
  }
}

void cleanup_transactions(Doc& doc) {
  auto& cleanups = doc.transaction_cleanups();
  for (std::size_t i = 0; i < cleanups.size(); ++i) {
    Transaction& tr = *cleanups[i];
    StructStore& store = doc.store();
    DeleteSet& ds = tr.delete_set;
    ds.sort_and_merge();
    tr.after_state = store.get_state_vector();
    // Observers (they may queue new transactions; cleanups may grow).
    for (std::size_t ci = 0; ci < tr.changed.size(); ++ci) {
      AbstractType* type = tr.changed[ci].first;
      if (type == nullptr) continue;
      if (type->item() == nullptr || !type->item()->deleted()) {
        const auto subs = tr.changed[ci].second;
        type->call_observer(tr, subs);
      }
    }
    for (std::size_t pi = 0; pi < tr.changed_parent_types.size(); ++pi) {
      AbstractType* type = tr.changed_parent_types[pi].first;
      if (!type->has_deep_observers() || (type->item() != nullptr && type->item()->deleted())) continue;
      std::vector<YEvent*> events;
      for (YEvent* ev : tr.changed_parent_types[pi].second) {
        if (ev->target()->item() == nullptr || !ev->target()->item()->deleted()) events.push_back(ev);
      }
      for (YEvent* ev : events) ev->set_current_target(type);
      const auto depth = [type](const YEvent* ev) {
        std::size_t d = 0;
        for (const AbstractType* t = ev->target(); t != type && t != nullptr && t->item() != nullptr;
             t = t->item()->parent) {
          ++d;
        }
        return d;
      };
      std::stable_sort(events.begin(), events.end(),
                       [&](const YEvent* a, const YEvent* b) { return depth(a) < depth(b); });
      if (!events.empty()) type->emit_deep(events, tr);
    }
    doc.emit_after_transaction(tr);
    if (tr.need_formatting_cleanup) {
      if (auto hook = formatting_cleanup_hook()) hook(tr);
    }
    // Replace deleted content with ContentDeleted / GC and merge structs.
    if (doc.gc()) try_gc_delete_set(ds, doc);
    try_merge_delete_set(ds, store, doc);
    for (const auto& [client, clock] : tr.after_state) {
      const Clock before = tr.before_clock(client);
      if (before == clock) continue;
      auto& structs = store.clients[client];
      std::size_t first = std::max<std::size_t>(StructStore::find_index_ss(structs, before), 1);
      if (first > structs.size()) first = structs.size();
      for (std::size_t k = structs.size(); k-- > first;) {
        const std::size_t m = try_to_merge_with_lefts(doc, structs, k);
        if (k < m) break;
        k -= m;
      }
    }
    for (std::size_t k = tr.merge_structs.size(); k-- > 0;) {
      const ID id = tr.merge_structs[k]->id;
      auto& structs = store.clients[id.client];
      const std::size_t pos = StructStore::find_index_ss(structs, id.clock);
      if (pos >= structs.size()) continue;
      if (pos + 1 < structs.size()) {
        if (try_to_merge_with_lefts(doc, structs, pos + 1) > 1) continue;
      }
      if (pos > 0) try_to_merge_with_lefts(doc, structs, pos);
    }
    if (!tr.local()) {
      auto a = tr.after_state.find(doc.client_id());
      auto b = tr.before_state.find(doc.client_id());
      const bool differ = (a == tr.after_state.end()) != (b == tr.before_state.end()) ||
                          (a != tr.after_state.end() && a->second != b->second);
      if (differ) doc.set_client_id(random_client_id());
    }
    doc.emit_update(tr);
    if (!tr.subdocs_added.empty() || !tr.subdocs_removed.empty() || !tr.subdocs_loaded.empty()) {
      for (Doc* sub : tr.subdocs_added) {
        sub->set_client_id(doc.client_id());
        doc.add_subdoc(sub);
      }
      for (Doc* sub : tr.subdocs_removed) doc.remove_subdoc(sub);
      doc.emit_subdocs(SubdocsEvent{tr.subdocs_added, tr.subdocs_removed, tr.subdocs_loaded}, tr);
      // As Yjs: a removed subdocument is destroyed (its detaching transaction
      // is queued in `cleanups` and reports it as removed once more).
      const std::vector<Doc*> removed = tr.subdocs_removed;
      for (Doc* sub : removed) sub->destroy();
    }
  }
  cleanups.clear();
  doc.free_graveyard();
}

}  // namespace detail

void Doc::emit_update(Transaction& tr) {
  if (!update_fns_.empty()) {
    UpdateEncoderV1 enc;
    if (detail::write_update_message_from_transaction(enc, tr)) {
      const auto bytes = enc.to_bytes();
      auto fns = update_fns_;
      for (auto& [id, fn] : fns) fn(bytes, tr.origin(), tr);
    }
  }
  if (!update_v2_fns_.empty()) {
    UpdateEncoderV2 enc;
    if (detail::write_update_message_from_transaction(enc, tr)) {
      const auto bytes = enc.to_bytes();
      auto fns = update_v2_fns_;
      for (auto& [id, fn] : fns) fn(bytes, tr.origin(), tr);
    }
  }
}

}  // namespace corates::crdt
