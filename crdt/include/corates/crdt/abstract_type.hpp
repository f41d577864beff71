#pragma once
// AbstractType (yjs/src/types/AbstractType.js): the base of every shared type,
// the list machinery (positional insert/delete/get with search markers) and
// the map machinery (last-writer-wins entries by key), events and observers,
// and the registry that creates types by their wire type ref.
//
// Extending: a shared type derives from AbstractType, overrides type_ref(),
// copy_empty(), to_json() and, if it has its own event kind, call_observer().
// Types with a wire type ref register a factory (register_type_factory) so
// ContentType can create them while decoding. Refs without a factory decode
// to GenericType, which keeps its content and re-encodes identically.
//
// Every mutating function takes the open Transaction; the type must be
// integrated in a Doc (a root type or a nested type already inserted).
// Thread-safety: none; one thread per Doc at a time.

#include "corates/common/result.hpp"
#include "corates/crdt/content.hpp"
#include "corates/crdt/doc_options.hpp"
#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/structs.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace corates::crdt {

class Doc;
class Transaction;
class AbstractType;

// A value read from a shared type: plain data, a nested type or a subdocument.
using Value = std::variant<lib0::Any, AbstractType*, Doc*>;

// A nested shared type to create on insert (empty; fill it after inserting).
struct NewType {
  std::uint8_t type_ref = 0;
  std::string name;  // XmlElement node name / XmlHook hook name
};

// A value to insert: Any (top-level Bytes become ContentBinary, as Yjs does
// with Uint8Array), a new nested type, or a new subdocument.
using InsertValue = std::variant<lib0::Any, NewType, DocOptions>;

// Position cache for list types (Yjs's ArraySearchMarker).
struct SearchMarker {
  Item* p = nullptr;
  std::uint64_t index = 0;
  std::uint64_t timestamp = 0;
};

// Yjs's YEvent: what changed in one type during one transaction.
class YEvent {
 public:
  struct KeyChange {
    enum class Action : std::uint8_t { kAdd, kUpdate, kDelete };
    Action action = Action::kAdd;
    lib0::Any old_value;  // Undefined for nested types / subdocs
  };
  struct DeltaOp {
    enum class Kind : std::uint8_t { kInsert, kRetain, kDelete };
    Kind kind = Kind::kRetain;
    std::vector<Value> insert;  // kInsert
    std::uint64_t count = 0;    // kRetain / kDelete
  };

  YEvent(AbstractType* target, Transaction& transaction,
         std::set<const std::string*> subs = {});
  virtual ~YEvent() = default;
  YEvent(const YEvent&) = delete;
  YEvent& operator=(const YEvent&) = delete;

  AbstractType* target() const noexcept { return target_; }
  AbstractType* current_target() const noexcept { return current_target_; }
  void set_current_target(AbstractType* t) noexcept { current_target_ = t; }
  Transaction& transaction() const noexcept { return *transaction_; }
  // Keys of map entries that changed (Yjs's keysChanged).
  std::set<std::string> keys_changed() const;
  // Whether the list part changed (a null parentSub was recorded).
  bool child_list_changed() const noexcept { return child_list_changed_; }
  // Yjs's event.changes.keys (computed on first use).
  const std::map<std::string, KeyChange>& keys() const;
  // Yjs's event.changes.delta for list types (computed on first use).
  const std::vector<DeltaOp>& delta() const;
  // Whether `s` was inserted / deleted by this event's transaction.
  bool adds(const AbstractStruct* s) const;
  bool deletes(const AbstractStruct* s) const;

 protected:
  AbstractType* target_;
  AbstractType* current_target_;
  Transaction* transaction_;
  std::set<const std::string*> subs_;
  bool child_list_changed_ = false;
  mutable std::optional<std::map<std::string, KeyChange>> keys_;
  mutable std::optional<std::vector<DeltaOp>> delta_;
};

using ObserverFn = std::function<void(const YEvent&, Transaction&)>;
using DeepObserverFn = std::function<void(const std::vector<YEvent*>&, Transaction&)>;
using SubscriptionId = std::uint64_t;

// Type ref of a root type whose kind is not known yet (created while
// decoding; becomes concrete when Doc::get<T> is called).
inline constexpr std::uint8_t kGenericTypeRef = 0xff;

class AbstractType {
 public:
  AbstractType() = default;
  virtual ~AbstractType();
  AbstractType(const AbstractType&) = delete;
  AbstractType& operator=(const AbstractType&) = delete;

  virtual std::uint8_t type_ref() const noexcept = 0;
  // XmlElement node name / XmlHook hook name (written after the type ref).
  virtual std::string_view type_name() const noexcept { return {}; }
  // A new, empty type of the same kind (Yjs's _copy).
  virtual std::unique_ptr<AbstractType> copy_empty() const = 0;
  // Yjs's toJSON (nested types recursively).
  virtual lib0::Any to_json() const { return lib0::Undefined{}; }
  // Creates this type's event and calls observers (Yjs's _callObserver).
  // The default makes a plain YEvent; overriders should call
  // clear_markers_if_remote() and call_type_observers().
  virtual void call_observer(Transaction& tr, const std::set<const std::string*>& subs);
  // Called when the type is integrated into a Doc (Yjs's _integrate).
  virtual void integrate(Doc* doc, Item* item);

  Doc* doc() const noexcept { return doc_; }
  Item* item() const noexcept { return item_; }  // null for root types
  AbstractType* parent() const noexcept;
  // Name of a root type (null for nested types).
  const std::string* root_name() const noexcept { return root_name_; }
  std::uint64_t length() const noexcept { return length_; }
  Item* first() const noexcept;  // first non-deleted list item

  SubscriptionId observe(ObserverFn fn);
  void unobserve(SubscriptionId id);
  SubscriptionId observe_deep(DeepObserverFn fn);
  void unobserve_deep(SubscriptionId id);
  bool has_deep_observers() const noexcept { return !deep_observers_.empty(); }
  void emit(const YEvent& ev, Transaction& tr);
  void emit_deep(const std::vector<YEvent*>& evs, Transaction& tr);

  // Map entry for `key` (the last item written for it, possibly deleted).
  Item* map_get(std::string_view key) const;
  Item* map_get(const std::string* interned) const;
  void map_set(const std::string* interned, Item* item);
  // Keys in first-insertion order (as Yjs's Map), with their current item.
  const std::vector<const std::string*>& map_keys() const noexcept { return map_order_; }

  // --- State for the type implementations (Yjs's fields). ---
  Doc* doc_ = nullptr;
  Item* item_ = nullptr;
  const std::string* root_name_ = nullptr;
  Item* start_ = nullptr;
  std::uint64_t length_ = 0;
  std::unordered_map<const std::string*, Item*> map_;
  std::vector<const std::string*> map_order_;
  // Null when the type does not use markers (maps, formatted text).
  std::unique_ptr<std::vector<SearchMarker>> search_markers_;
  bool has_formatting_ = false;  // set by ContentFormat (YText)

  void clear_markers_if_remote(const Transaction& tr);
  // Moves list/map state from `other` (used to concretize a generic root).
  void take_content_from(AbstractType& other);

 private:
  std::vector<std::pair<SubscriptionId, ObserverFn>> observers_;
  std::vector<std::pair<SubscriptionId, DeepObserverFn>> deep_observers_;
  SubscriptionId next_sub_ = 1;
};

// A type whose kind has no registered factory (or a root not yet asked for
// by kind). Keeps its content and type ref; re-encodes identically.
class GenericType final : public AbstractType {
 public:
  explicit GenericType(std::uint8_t ref = kGenericTypeRef, std::string name = {})
      : ref_(ref), name_(std::move(name)) {}
  std::uint8_t type_ref() const noexcept override { return ref_; }
  std::string_view type_name() const noexcept override { return name_; }
  std::unique_ptr<AbstractType> copy_empty() const override {
    return std::make_unique<GenericType>(ref_, name_);
  }

 private:
  std::uint8_t ref_;
  std::string name_;
};

// --- Type registry ----------------------------------------------------------
using TypeFactory = std::unique_ptr<AbstractType> (*)(std::string_view name);
// Registers the factory for a wire type ref (0..6). Call before Docs are
// used from several threads (e.g. at start-up); later calls replace.
void register_type_factory(std::uint8_t type_ref, TypeFactory factory);
// Creates a type for a ref (GenericType if none is registered).
std::unique_ptr<AbstractType> create_type(std::uint8_t type_ref, std::string_view name);
// Hook run at the end of a transaction's observer phase when
// Transaction::need_formatting_cleanup is set (YText's cleanup).
using FormattingCleanupFn = void (*)(Transaction&);
void set_formatting_cleanup_hook(FormattingCleanupFn fn);
FormattingCleanupFn formatting_cleanup_hook();

// --- Events -------------------------------------------------------------------
// Yjs's callTypeObservers: records `event` on the type and its ancestors for
// deep observers, then calls the type's observers. The Transaction owns the event.
void call_type_observers(AbstractType& type, Transaction& tr, std::unique_ptr<YEvent> event);

// --- Values -------------------------------------------------------------------
// Yjs's getContent of an item as Values (ContentString: one per code point).
void item_values(const Item& item, std::vector<Value>& out);
// JSON of a value (nested types via to_json; subdocs as {"guid": ...}).
lib0::Any value_to_json(const Value& v);

// --- List machinery (positions count countable, non-deleted units) -----------
// Yjs's findMarker. Null if the type has no markers or index is small.
SearchMarker* find_marker(AbstractType& type, std::uint64_t index);
// Yjs's updateMarkerChanges.
void update_marker_changes(std::vector<SearchMarker>& markers, std::uint64_t index, std::int64_t len);

// Yjs's typeListInsertGenerics. kInvalidArgument if index > length.
Result<void> type_list_insert_generics(Transaction& tr, AbstractType& parent, std::uint64_t index,
                                       std::span<const InsertValue> values);
// Yjs's typeListInsertGenericsAfter (reference null = at the start).
void type_list_insert_generics_after(Transaction& tr, AbstractType& parent, Item* reference,
                                     std::span<const InsertValue> values);
void type_list_push_generics(Transaction& tr, AbstractType& parent, std::span<const InsertValue> values);
// Yjs's typeListDelete. kInvalidArgument if index + length > length.
Result<void> type_list_delete(Transaction& tr, AbstractType& parent, std::uint64_t index,
                              std::uint64_t length);
std::optional<Value> type_list_get(AbstractType& type, std::uint64_t index);
std::vector<Value> type_list_to_array(const AbstractType& type);
std::vector<Value> type_list_slice(const AbstractType& type, std::uint64_t start, std::uint64_t end);

// --- Map machinery ------------------------------------------------------------
void type_map_set(Transaction& tr, AbstractType& parent, std::string_view key, const InsertValue& value);
void type_map_delete(Transaction& tr, AbstractType& parent, std::string_view key);
std::optional<Value> type_map_get(const AbstractType& parent, std::string_view key);
bool type_map_has(const AbstractType& parent, std::string_view key);
// Live entries in Yjs's Map order.
std::vector<std::pair<std::string, Value>> type_map_get_all(const AbstractType& parent);

// --- Creating and deleting items (for Text/Xml) ------------------------------
// Creates an item with the next local ID between `left` and `right` (their
// IDs become origin / right origin), integrates it and returns it.
Item* create_item(Transaction& tr, Item* left, Item* right, AbstractType* parent,
                  const std::string* parent_sub, ItemContent content);
// Yjs's item.delete(transaction).
void delete_item(Transaction& tr, Item* item);
// Yjs's getItemCleanStart / getItemCleanEnd: split so an item starts / ends
// at `id`. Precondition: `id` exists in the store.
AbstractStruct* get_item_clean_start(Transaction& tr, ID id);
AbstractStruct* get_item_clean_end(Transaction& tr, ID id);
// Yjs's splitItem: `item` keeps the first `diff` units; returns the right part.
Item* split_item(Transaction& tr, Item* item, std::uint64_t diff);
// Yjs's isParentOf.
bool is_parent_of(const AbstractType* parent, const Item* child);

}  // namespace corates::crdt
