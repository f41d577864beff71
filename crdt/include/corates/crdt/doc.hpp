#pragma once
// Doc (yjs/src/utils/Doc.js): a Yjs document. Owns its struct store, its
// root ("shared") types by name, nested types, subdocuments and the memory
// of all items (pools; no allocation per item beyond content payloads).
//
// Changes happen in transact(); updates from elsewhere come in through
// apply_update (encoding.hpp). Hooks run synchronously at the end of the
// outermost transaction, in Yjs's order: observers, deep observers,
// after-transaction, then (after gc and merging) update / update_v2.
//
// Thread-safety: none. A Doc and everything reachable from it must be used
// by one thread at a time (the server serializes each room on its strand).

#include "corates/common/result.hpp"
#include "corates/crdt/abstract_type.hpp"
#include "corates/crdt/doc_options.hpp"
#include "corates/crdt/struct_store.hpp"
#include "corates/crdt/transaction.hpp"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace corates::crdt {

class Array;
class Map;

using UpdateFn = std::function<void(std::span<const std::uint8_t> update, const Origin& origin,
                                    Transaction& tr)>;
using TransactionFn = std::function<void(Transaction& tr)>;
struct SubdocsEvent {
  std::vector<Doc*> added, removed, loaded;
};
using SubdocsFn = std::function<void(const SubdocsEvent&, Transaction& tr)>;

// Fixed-size-block pool: stable addresses, free list, no per-object heap block.
template <class T>
class Pool {
 public:
  Pool() = default;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool() {
    // Live objects are destroyed by the owner before the pool goes away.
  }
  template <class... A>
  T* make(A&&... a) {
    void* mem;
    if (!free_.empty()) {
      mem = free_.back();
      free_.pop_back();
    } else {
      if (chunks_.empty() || used_ == chunk_size_) {
        if (!chunks_.empty()) chunk_size_ = std::min(chunk_size_ * 2, kMaxChunk);
        chunks_.emplace_back(new Slot[chunk_size_]);
        used_ = 0;
      }
      mem = &chunks_.back()[used_++];
    }
    return new (mem) T(std::forward<A>(a)...);
  }
  void release(T* p) {
    p->~T();
    free_.push_back(p);
  }

 private:
  // Chunks grow from 16 to 256 slots: a small document does not pay for
  // many unused Items up front (at most 255 are spare, ~36 KB), and a large
  // one still allocates only once per 256.
  static constexpr std::size_t kMinChunk = 16;
  static constexpr std::size_t kMaxChunk = 256;
  struct alignas(T) Slot {
    unsigned char b[sizeof(T)];
  };
  std::vector<std::unique_ptr<Slot[]>> chunks_;
  std::size_t used_ = 0;
  std::size_t chunk_size_ = kMinChunk;
  std::vector<void*> free_;
};

// Heterogeneous lookup for interned keys.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class Doc {
 public:
  explicit Doc(DocOptions options = {});
  ~Doc();
  Doc(const Doc&) = delete;
  Doc& operator=(const Doc&) = delete;

  ClientID client_id() const noexcept { return client_id_; }
  // As Yjs's `doc.clientID = n`; only before the first local change.
  void set_client_id(ClientID id) noexcept { client_id_ = id; }
  const std::string& guid() const noexcept { return guid_; }
  bool gc() const noexcept { return gc_; }
  void set_gc(bool v) noexcept { gc_ = v; }
  const lib0::Any& meta() const noexcept { return meta_; }
  bool should_load() const noexcept { return should_load_; }
  bool auto_load() const noexcept { return auto_load_; }
  const std::string& collection_id() const noexcept { return collection_id_; }
  // Marks a subdocument as wanted (Yjs's doc.load()).
  void load();
  // Yjs's doc.destroy(): destroys the subdocuments first; a subdocument is
  // detached from its parent, whose item now holds a fresh unloaded Doc with
  // the same guid and options (the parent reports it as added, unless the
  // item is deleted, and this one as removed, in a transaction of its own).
  // Then the on_destroy listeners run and every listener of this Doc is
  // dropped. The object stays valid (a subdocument stays owned by its parent
  // Doc); destroying twice only notifies again.
  void destroy();
  bool is_destroyed() const noexcept { return destroyed_; }

  // Root types. get_array/get_map/get<T> create the type if absent; a root
  // first created while decoding (kind unknown) is turned into T. Asking for
  // a root with a different concrete kind than it has is a contract
  // violation (asserts); try_get<T> returns null instead.
  Array& get_array(std::string_view name);
  Map& get_map(std::string_view name);
  template <class T>
  T& get(std::string_view name) {
    T* t = try_get<T>(name);
    assert(t != nullptr && "root type defined with a different kind");
    return *t;
  }
  template <class T>
  T* try_get(std::string_view name) {
    static_assert(std::is_base_of_v<AbstractType, T>);
    AbstractType* existing = find_share(name);
    if (existing == nullptr) return static_cast<T*>(add_share(name, std::make_unique<T>()));
    if (auto* t = dynamic_cast<T*>(existing)) return t;
    if (existing->type_ref() == kGenericTypeRef) {
      return static_cast<T*>(replace_share(name, std::make_unique<T>()));
    }
    return nullptr;
  }
  // The root with that name, created as GenericType if absent (used when
  // decoding an item whose parent is a root by name).
  AbstractType& get_type(std::string_view name);
  AbstractType* find_share(std::string_view name) const;
  // Root types in creation order.
  const std::vector<std::pair<const std::string*, AbstractType*>>& shares() const noexcept {
    return share_order_;
  }

  // Runs `fn` in a transaction (joins the open one if called inside it).
  void transact(const TransactionFn& fn, const Origin& origin = {}, bool local = true);
  Transaction* current_transaction() noexcept { return transaction_; }

  // Hooks, called after each transaction that changed something.
  SubscriptionId on_update(UpdateFn fn);
  SubscriptionId on_update_v2(UpdateFn fn);
  SubscriptionId on_after_transaction(TransactionFn fn);
  SubscriptionId on_subdocs(SubdocsFn fn);
  SubscriptionId on_destroy(std::function<void(Doc&)> fn);
  void off(SubscriptionId id);

  // Subdocuments currently in this document.
  const std::vector<Doc*>& subdocs() const noexcept { return subdocs_; }
  // For a subdocument: the item holding it in its parent Doc.
  Item* item() const noexcept { return item_; }
  Doc* parent_doc() const noexcept { return parent_doc_; }

  StructStore& store() noexcept { return store_; }
  const StructStore& store() const noexcept { return store_; }

  // --- Internal, for the core and the type implementations. ---
  const std::string* intern(std::string_view key);
  const std::string* find_interned(std::string_view key) const;
  Item* new_item() { return items_.make(); }
  GC* new_gc(ID id, std::uint64_t len) { return gcs_.make(id, len); }
  void free_struct(AbstractStruct* s);
  // Structs / types that became unreachable during a transaction are freed
  // at the end of its cleanup (pointers to them may still be queued).
  void bury(AbstractStruct* s) { graveyard_.push_back(s); }
  void bury_type(AbstractType* t) { dead_types_.push_back(t); }
  void free_graveyard();
  AbstractType* adopt_type(std::unique_ptr<AbstractType> t);
  void release_type(AbstractType* t);
  Doc* adopt_subdoc(std::unique_ptr<Doc> d);
  void set_item(Item* item, Doc* parent) noexcept { item_ = item; parent_doc_ = parent; }
  // Subdoc bookkeeping at the end of a transaction.
  void add_subdoc(Doc* d);
  void remove_subdoc(Doc* d);
  // Transactions queued for cleanup (Yjs's _transactionCleanups).
  std::vector<std::unique_ptr<Transaction>>& transaction_cleanups() noexcept { return cleanups_; }
  void emit_update(Transaction& tr);
  void emit_after_transaction(Transaction& tr);
  void emit_subdocs(const SubdocsEvent& ev, Transaction& tr);
  bool has_update_v1_observers() const noexcept { return !update_fns_.empty(); }
  bool has_update_v2_observers() const noexcept { return !update_v2_fns_.empty(); }

 private:
  AbstractType* add_share(std::string_view name, std::unique_ptr<AbstractType> t);
  AbstractType* replace_share(std::string_view name, std::unique_ptr<AbstractType> t);

  ClientID client_id_;
  std::string guid_;
  bool gc_ = true;
  lib0::Any meta_;
  bool auto_load_ = false;
  bool should_load_ = true;
  std::string collection_id_;

  StructStore store_;
  // Interned keys (map keys and root names): stable addresses.
  std::unordered_set<std::string, StringHash, std::equal_to<>> keys_;
  std::unordered_map<std::string_view, std::unique_ptr<AbstractType>> shares_;
  std::vector<std::pair<const std::string*, AbstractType*>> share_order_;
  std::unordered_map<AbstractType*, std::unique_ptr<AbstractType>> types_;
  std::vector<std::unique_ptr<Doc>> owned_subdocs_;
  std::vector<Doc*> subdocs_;
  Item* item_ = nullptr;
  Doc* parent_doc_ = nullptr;

  Transaction* transaction_ = nullptr;
  std::vector<std::unique_ptr<Transaction>> cleanups_;

  SubscriptionId next_sub_ = 1;
  std::vector<std::pair<SubscriptionId, UpdateFn>> update_fns_;
  std::vector<std::pair<SubscriptionId, UpdateFn>> update_v2_fns_;
  std::vector<std::pair<SubscriptionId, TransactionFn>> after_fns_;
  std::vector<std::pair<SubscriptionId, SubdocsFn>> subdocs_fns_;
  std::vector<std::pair<SubscriptionId, std::function<void(Doc&)>>> destroy_fns_;
  bool destroyed_ = false;

  std::vector<AbstractStruct*> graveyard_;
  std::vector<AbstractType*> dead_types_;
  Pool<Item> items_;
  Pool<GC> gcs_;
};

}  // namespace corates::crdt
