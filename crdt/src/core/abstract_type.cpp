// AbstractType, events, the type registry and the list/map machinery
// (Yjs's AbstractType.js, YEvent.js).
#include "corates/crdt/abstract_type.hpp"

#include "corates/crdt/array.hpp"
#include "corates/crdt/map.hpp"
#include "internal.hpp"

#if __has_include("corates/crdt/text.hpp")
#include "corates/crdt/text.hpp"
#define CORATES_CRDT_HAS_TEXT 1
#endif
#if __has_include("corates/crdt/xml.hpp")
#include "corates/crdt/xml.hpp"
#define CORATES_CRDT_HAS_XML 1
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <mutex>

namespace corates::crdt {

// --- Registry -------------------------------------------------------------------

namespace {

std::array<std::atomic<TypeFactory>, kMaxTypeRef + 1> g_factories{};
std::atomic<FormattingCleanupFn> g_formatting_cleanup{nullptr};

void ensure_default_types() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_factories[0].store([](std::string_view) -> std::unique_ptr<AbstractType> {
      return std::make_unique<Array>();
    });
    g_factories[1].store([](std::string_view) -> std::unique_ptr<AbstractType> {
      return std::make_unique<Map>();
    });
#ifdef CORATES_CRDT_HAS_TEXT
    register_text_types();
#endif
#ifdef CORATES_CRDT_HAS_XML
    register_xml_types();
#endif
  });
}

std::uint64_t g_marker_timestamp = 0;
constexpr std::size_t kMaxSearchMarker = 80;

}  // namespace

void register_type_factory(std::uint8_t type_ref, TypeFactory factory) {
  // No ensure_default_types() here: the Text/Xml registrations run inside it.
  if (type_ref <= kMaxTypeRef) g_factories[type_ref].store(factory);
}

std::unique_ptr<AbstractType> create_type(std::uint8_t type_ref, std::string_view name) {
  ensure_default_types();
  if (type_ref <= kMaxTypeRef) {
    if (TypeFactory f = g_factories[type_ref].load()) return f(name);
  }
  return std::make_unique<GenericType>(type_ref, std::string(name));
}

void set_formatting_cleanup_hook(FormattingCleanupFn fn) { g_formatting_cleanup.store(fn); }
FormattingCleanupFn formatting_cleanup_hook() { return g_formatting_cleanup.load(); }

// --- AbstractType -----------------------------------------------------------------

AbstractType::~AbstractType() = default;

void AbstractType::integrate(Doc* doc, Item* item) {
  doc_ = doc;
  item_ = item;
}

AbstractType* AbstractType::parent() const noexcept { return item_ ? item_->parent : nullptr; }

Item* AbstractType::first() const noexcept {
  Item* n = start_;
  while (n != nullptr && n->deleted()) n = n->right;
  return n;
}

SubscriptionId AbstractType::observe(ObserverFn fn) {
  observers_.emplace_back(next_sub_, std::move(fn));
  return next_sub_++;
}
void AbstractType::unobserve(SubscriptionId id) {
  std::erase_if(observers_, [id](const auto& e) { return e.first == id; });
}
SubscriptionId AbstractType::observe_deep(DeepObserverFn fn) {
  deep_observers_.emplace_back(next_sub_, std::move(fn));
  return next_sub_++;
}
void AbstractType::unobserve_deep(SubscriptionId id) {
  std::erase_if(deep_observers_, [id](const auto& e) { return e.first == id; });
}
void AbstractType::emit(const YEvent& ev, Transaction& tr) {
  auto fns = observers_;
  for (auto& [id, fn] : fns) fn(ev, tr);
}
void AbstractType::emit_deep(const std::vector<YEvent*>& evs, Transaction& tr) {
  auto fns = deep_observers_;
  for (auto& [id, fn] : fns) fn(evs, tr);
}

Item* AbstractType::map_get(std::string_view key) const {
  if (doc_ == nullptr) return nullptr;
  const std::string* k = doc_->find_interned(key);
  return k == nullptr ? nullptr : map_get(k);
}
Item* AbstractType::map_get(const std::string* interned) const {
  auto it = map_.find(interned);
  return it == map_.end() ? nullptr : it->second;
}
void AbstractType::map_set(const std::string* interned, Item* item) {
  auto [it, fresh] = map_.try_emplace(interned, item);
  if (fresh) {
    map_order_.push_back(interned);
  } else {
    it->second = item;
  }
}

void AbstractType::call_observer(Transaction& tr, const std::set<const std::string*>& subs) {
  clear_markers_if_remote(tr);
  call_type_observers(*this, tr, std::make_unique<YEvent>(this, tr, subs));
}

void AbstractType::clear_markers_if_remote(const Transaction& tr) {
  if (!tr.local() && search_markers_) search_markers_->clear();
}

void AbstractType::take_content_from(AbstractType& other) {
  start_ = other.start_;
  length_ = other.length_;
  map_ = std::move(other.map_);
  map_order_ = std::move(other.map_order_);
  other.start_ = nullptr;
  other.length_ = 0;
  other.map_.clear();
  other.map_order_.clear();
  for (Item* n = start_; n != nullptr; n = n->right) n->parent = this;
  for (auto& [key, item] : map_) {
    for (Item* n = item; n != nullptr; n = n->left) n->parent = this;
  }
  if (search_markers_) search_markers_->clear();
}

// --- Events -----------------------------------------------------------------------

YEvent::YEvent(AbstractType* target, Transaction& transaction, std::set<const std::string*> subs)
    : target_(target), current_target_(target), transaction_(&transaction), subs_(std::move(subs)) {
  child_list_changed_ = subs_.count(nullptr) != 0;
}

std::set<std::string> YEvent::keys_changed() const {
  std::set<std::string> out;
  for (const std::string* s : subs_) {
    if (s != nullptr) out.insert(*s);
  }
  return out;
}

bool YEvent::adds(const AbstractStruct* s) const {
  return s->id.clock >= transaction_->before_clock(s->id.client);
}
bool YEvent::deletes(const AbstractStruct* s) const {
  return transaction_->delete_set.is_deleted(s->id);
}

namespace {
lib0::Any last_value_any(const Item& item) {
  std::vector<Value> vals;
  item_values(item, vals);
  if (vals.empty()) return lib0::Undefined{};
  if (const auto* a = std::get_if<lib0::Any>(&vals.back())) return *a;
  return lib0::Undefined{};
}
}  // namespace

const std::map<std::string, YEvent::KeyChange>& YEvent::keys() const {
  if (keys_) return *keys_;
  keys_.emplace();
  for (const std::string* key : subs_) {
    if (key == nullptr) continue;
    Item* item = target_->map_get(key);
    if (item == nullptr) continue;
    KeyChange change;
    if (adds(item)) {
      Item* prev = item->left;
      while (prev != nullptr && adds(prev)) prev = prev->left;
      if (deletes(item)) {
        if (prev != nullptr && deletes(prev)) {
          change.action = KeyChange::Action::kDelete;
          change.old_value = last_value_any(*prev);
        } else {
          continue;
        }
      } else {
        if (prev != nullptr && deletes(prev)) {
          change.action = KeyChange::Action::kUpdate;
          change.old_value = last_value_any(*prev);
        } else {
          change.action = KeyChange::Action::kAdd;
        }
      }
    } else {
      if (deletes(item)) {
        change.action = KeyChange::Action::kDelete;
        change.old_value = last_value_any(*item);
      } else {
        continue;
      }
    }
    (*keys_)[*key] = std::move(change);
  }
  return *keys_;
}

const std::vector<YEvent::DeltaOp>& YEvent::delta() const {
  if (delta_) return *delta_;
  delta_.emplace();
  if (!child_list_changed_) return *delta_;
  auto& out = *delta_;
  std::optional<DeltaOp> last;
  const auto pack = [&] {
    if (last) out.push_back(std::move(*last));
    last.reset();
  };
  for (Item* item = target_->start_; item != nullptr; item = item->right) {
    if (item->deleted()) {
      if (deletes(item) && !adds(item)) {
        if (!last || last->kind != DeltaOp::Kind::kDelete) {
          pack();
          last = DeltaOp{DeltaOp::Kind::kDelete, {}, 0};
        }
        last->count += item->length;
      }
    } else if (adds(item)) {
      if (!last || last->kind != DeltaOp::Kind::kInsert) {
        pack();
        last = DeltaOp{DeltaOp::Kind::kInsert, {}, 0};
      }
      item_values(*item, last->insert);
    } else {
      if (!last || last->kind != DeltaOp::Kind::kRetain) {
        pack();
        last = DeltaOp{DeltaOp::Kind::kRetain, {}, 0};
      }
      last->count += item->length;
    }
  }
  if (last && last->kind != DeltaOp::Kind::kRetain) pack();
  return out;
}

void call_type_observers(AbstractType& type, Transaction& tr, std::unique_ptr<YEvent> event) {
  YEvent* ev = event.get();
  tr.events.push_back(std::move(event));
  auto& parents = tr.changed_parent_types;
  for (AbstractType* t = &type;;) {
    // A scan while short (usually one root), indexed once it grows.
    constexpr std::size_t kScan = 8;
    std::size_t pos = parents.size();
    if (parents.size() <= kScan) {
      for (std::size_t i = 0; i < parents.size(); ++i) {
        if (parents[i].first == t) {
          pos = i;
          break;
        }
      }
    } else {
      if (tr.changed_parent_index.empty()) {
        for (std::size_t i = 0; i < parents.size(); ++i) tr.changed_parent_index.emplace(parents[i].first, i);
      }
      pos = tr.changed_parent_index.try_emplace(t, parents.size()).first->second;
    }
    if (pos == parents.size()) parents.emplace_back(t, std::vector<YEvent*>{});
    parents[pos].second.push_back(ev);
    if (t->item() == nullptr) break;
    t = t->item()->parent;
  }
  type.emit(*ev, tr);
}

// --- Values -----------------------------------------------------------------------

void item_values(const Item& item, std::vector<Value>& out) {
  switch (content_ref(item.content)) {
    case ContentRef::kJSON:
      for (const auto& v : std::get<ContentJSON>(item.content).arr) out.emplace_back(v);
      break;
    case ContentRef::kAny:
      for (const auto& v : std::get<ContentAny>(item.content).arr) out.emplace_back(v);
      break;
    case ContentRef::kBinary:
      out.emplace_back(lib0::Any(std::get<ContentBinary>(item.content).content));
      break;
    case ContentRef::kString: {
      // One value per UTF-16 unit, as Yjs's str.split(''), so lengths and
      // indices agree with Yjs. The two halves of a surrogate pair are lone
      // surrogates in JS, which a UTF-8 string cannot hold: each becomes
      // U+FFFD, the bytes Yjs itself writes for a lone surrogate.
      const std::string& s = std::get<ContentString>(item.content).str;
      for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        const std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (n == 4) {
          out.emplace_back(lib0::Any(std::string("\xEF\xBF\xBD")));
          out.emplace_back(lib0::Any(std::string("\xEF\xBF\xBD")));
        } else {
          out.emplace_back(lib0::Any(s.substr(i, n)));
        }
        i += n;
      }
      break;
    }
    case ContentRef::kEmbed:
      out.emplace_back(std::get<ContentEmbed>(item.content).embed);
      break;
    case ContentRef::kType:
      out.emplace_back(std::get<ContentType>(item.content).type);
      break;
    case ContentRef::kDoc:
      out.emplace_back(content_get<ContentDoc>(item.content).doc);
      break;
    default:
      break;
  }
}

lib0::Any value_to_json(const Value& v) {
  if (const auto* a = std::get_if<lib0::Any>(&v)) return *a;
  if (const auto* t = std::get_if<AbstractType*>(&v)) return *t ? (*t)->to_json() : lib0::Any(lib0::Null{});
  // Yjs's Doc.toJSON: each root type's JSON.
  const Doc* d = std::get<Doc*>(v);
  lib0::AnyObject o;
  if (d != nullptr) {
    for (const auto& [name, type] : d->shares()) {
      lib0::Any j = type->to_json();
      if (!j.is<lib0::Undefined>()) o.emplace_back(*name, std::move(j));
    }
  }
  lib0::normalize_js_object(o);
  return lib0::Any(std::move(o));
}

namespace {
Value last_value(const Item& item) {
  switch (content_ref(item.content)) {
    case ContentRef::kJSON: return std::get<ContentJSON>(item.content).arr.back();
    case ContentRef::kAny: return std::get<ContentAny>(item.content).arr.back();
    default: {
      std::vector<Value> vals;
      item_values(item, vals);
      if (vals.empty()) return lib0::Any(lib0::Undefined{});
      return vals.back();
    }
  }
}
}  // namespace

// --- Search markers -------------------------------------------------------------------

namespace {
void overwrite_marker(SearchMarker& m, Item* p, std::uint64_t index) {
  m.p->set_marker(false);
  m.p = p;
  p->set_marker(true);
  m.index = index;
  m.timestamp = g_marker_timestamp++;
}

SearchMarker* mark_position(std::vector<SearchMarker>& markers, Item* p, std::uint64_t index) {
  if (markers.size() >= kMaxSearchMarker) {
    auto it = std::min_element(markers.begin(), markers.end(), [](const auto& a, const auto& b) {
      return a.timestamp < b.timestamp;
    });
    overwrite_marker(*it, p, index);
    return &*it;
  }
  p->set_marker(true);
  markers.push_back(SearchMarker{p, index, g_marker_timestamp++});
  return &markers.back();
}

inline std::uint64_t absdiff(std::uint64_t a, std::uint64_t b) { return a > b ? a - b : b - a; }
}  // namespace

SearchMarker* find_marker(AbstractType& type, std::uint64_t index) {
  if (type.start_ == nullptr || index == 0 || !type.search_markers_) return nullptr;
  auto& markers = *type.search_markers_;
  SearchMarker* marker = nullptr;
  for (auto& m : markers) {
    if (marker == nullptr || absdiff(index, m.index) < absdiff(index, marker->index)) marker = &m;
  }
  Item* p = type.start_;
  std::uint64_t pindex = 0;
  if (marker != nullptr) {
    p = marker->p;
    pindex = marker->index;
    marker->timestamp = g_marker_timestamp++;
  }
  while (p->right != nullptr && pindex < index) {
    if (!p->deleted() && p->countable()) {
      if (index < pindex + p->length) break;
      pindex += p->length;
    }
    p = p->right;
  }
  while (p->left != nullptr && pindex > index) {
    p = p->left;
    if (!p->deleted() && p->countable()) pindex -= p->length;
  }
  while (p->left != nullptr && p->left->id.client == p->id.client &&
         p->left->id.clock + p->left->length == p->id.clock) {
    p = p->left;
    if (!p->deleted() && p->countable()) pindex -= p->length;
  }
  if (marker != nullptr &&
      static_cast<double>(absdiff(marker->index, pindex)) <
          static_cast<double>(p->parent->length_) / static_cast<double>(kMaxSearchMarker)) {
    overwrite_marker(*marker, p, pindex);
    return marker;
  }
  return mark_position(markers, p, pindex);
}

void update_marker_changes(std::vector<SearchMarker>& markers, std::uint64_t index, std::int64_t len) {
  for (std::size_t i = markers.size(); i-- > 0;) {
    SearchMarker& m = markers[i];
    if (len > 0) {
      Item* p = m.p;
      p->set_marker(false);
      while (p != nullptr && (p->deleted() || !p->countable())) {
        p = p->left;
        if (p != nullptr && !p->deleted() && p->countable()) m.index -= p->length;
      }
      if (p == nullptr || p->marker()) {
        markers.erase(markers.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      m.p = p;
      p->set_marker(true);
    }
    if (index < m.index || (len > 0 && index == m.index)) {
      const std::int64_t moved = static_cast<std::int64_t>(m.index) + len;
      m.index = std::max<std::int64_t>(static_cast<std::int64_t>(index), moved);
    }
  }
}

// --- List machinery -----------------------------------------------------------------

namespace {

ItemContent content_for(Doc& doc, const InsertValue& v) {
  if (const auto* a = std::get_if<lib0::Any>(&v)) {
    if (const auto* b = a->get_if<lib0::Bytes>()) return ContentBinary{*b};
    return ContentAny{{*a}};
  }
  if (const auto* t = std::get_if<NewType>(&v)) {
    ContentType c;
    c.type_ref = t->type_ref;
    c.name = t->name;
    return c;
  }
  const DocOptions& o = std::get<DocOptions>(v);
  Doc* sub = doc.adopt_subdoc(std::make_unique<Doc>(o));
  lib0::AnyObject opts;
  if (!sub->gc()) opts.emplace_back("gc", false);
  if (sub->auto_load()) opts.emplace_back("autoLoad", true);
  if (!sub->meta().is<lib0::Null>() && !sub->meta().is<lib0::Undefined>()) opts.emplace_back("meta", sub->meta());
  ContentDoc c;
  c.guid = sub->guid();
  c.opts = lib0::Any(std::move(opts));
  c.should_load = sub->should_load();
  c.doc = sub;
  return c;
}

bool is_packable(const InsertValue& v) {
  const auto* a = std::get_if<lib0::Any>(&v);
  return a != nullptr && !a->is<lib0::Bytes>();
}

}  // namespace

void type_list_insert_generics_after(Transaction& tr, AbstractType& parent, Item* reference,
                                     std::span<const InsertValue> values) {
  Doc& doc = tr.doc();
  Item* left = reference;
  Item* right = reference == nullptr ? parent.start_ : reference->right;
  std::vector<lib0::Any> json;
  const auto pack = [&] {
    if (json.empty()) return;
    left = create_item(tr, left, right, &parent, nullptr, ContentAny{std::move(json)});
    json.clear();
  };
  for (const InsertValue& v : values) {
    if (is_packable(v)) {
      json.push_back(std::get<lib0::Any>(v));
    } else {
      pack();
      left = create_item(tr, left, right, &parent, nullptr, content_for(doc, v));
    }
  }
  pack();
}

Result<void> type_list_insert_generics(Transaction& tr, AbstractType& parent, std::uint64_t index,
                                       std::span<const InsertValue> values) {
  if (index > parent.length_) return Error{ErrorCode::kInvalidArgument, "insert: index exceeds length"};
  if (index == 0) {
    if (parent.search_markers_) update_marker_changes(*parent.search_markers_, index, static_cast<std::int64_t>(values.size()));
    type_list_insert_generics_after(tr, parent, nullptr, values);
    return {};
  }
  const std::uint64_t start_index = index;
  SearchMarker* marker = find_marker(parent, index);
  Item* n = parent.start_;
  if (marker != nullptr) {
    n = marker->p;
    index -= marker->index;
    if (index == 0) {
      n = n->prev();
      index += (n != nullptr && n->countable() && !n->deleted()) ? n->length : 0;
    }
  }
  for (; n != nullptr; n = n->right) {
    if (!n->deleted() && n->countable()) {
      if (index <= n->length) {
        if (index < n->length) get_item_clean_start(tr, ID{n->id.client, n->id.clock + index});
        break;
      }
      index -= n->length;
    }
  }
  if (parent.search_markers_) {
    update_marker_changes(*parent.search_markers_, start_index, static_cast<std::int64_t>(values.size()));
  }
  type_list_insert_generics_after(tr, parent, n, values);
  return {};
}

void type_list_push_generics(Transaction& tr, AbstractType& parent, std::span<const InsertValue> values) {
  Item* n = parent.start_;
  std::uint64_t best = 0;
  if (parent.search_markers_) {
    for (const auto& m : *parent.search_markers_) {
      if (m.index > best) {
        best = m.index;
        n = m.p;
      }
    }
  }
  if (n != nullptr) {
    while (n->right != nullptr) n = n->right;
  }
  type_list_insert_generics_after(tr, parent, n, values);
}

Result<void> type_list_delete(Transaction& tr, AbstractType& parent, std::uint64_t index,
                              std::uint64_t length) {
  if (length == 0) return {};
  if (index + length > parent.length_ || index + length < index) {
    return Error{ErrorCode::kInvalidArgument, "delete: range exceeds length"};
  }
  const std::uint64_t start_index = index;
  const std::uint64_t start_length = length;
  SearchMarker* marker = find_marker(parent, index);
  Item* n = parent.start_;
  if (marker != nullptr) {
    n = marker->p;
    index -= marker->index;
  }
  for (; n != nullptr && index > 0; n = n->right) {
    if (!n->deleted() && n->countable()) {
      if (index < n->length) get_item_clean_start(tr, ID{n->id.client, n->id.clock + index});
      index -= std::min(index, n->length);
    }
  }
  while (length > 0 && n != nullptr) {
    if (!n->deleted()) {
      if (length < n->length) get_item_clean_start(tr, ID{n->id.client, n->id.clock + length});
      delete_item(tr, n);
      length -= std::min(length, n->length);
    }
    n = n->right;
  }
  if (parent.search_markers_) {
    update_marker_changes(*parent.search_markers_, start_index,
                          -static_cast<std::int64_t>(start_length) + static_cast<std::int64_t>(length));
  }
  return {};
}

std::optional<Value> type_list_get(AbstractType& type, std::uint64_t index) {
  SearchMarker* marker = find_marker(type, index);
  Item* n = type.start_;
  if (marker != nullptr) {
    n = marker->p;
    index -= marker->index;
  }
  for (; n != nullptr; n = n->right) {
    if (!n->deleted() && n->countable()) {
      if (index < n->length) {
        switch (content_ref(n->content)) {
          case ContentRef::kAny: return Value(std::get<ContentAny>(n->content).arr[index]);
          case ContentRef::kJSON: return Value(std::get<ContentJSON>(n->content).arr[index]);
          default: {
            std::vector<Value> vals;
            item_values(*n, vals);
            if (index < vals.size()) return vals[index];
            return std::nullopt;
          }
        }
      }
      index -= n->length;
    }
  }
  return std::nullopt;
}

std::vector<Value> type_list_to_array(const AbstractType& type) {
  std::vector<Value> out;
  for (Item* n = type.start_; n != nullptr; n = n->right) {
    if (!n->deleted() && n->countable()) item_values(*n, out);
  }
  return out;
}

std::vector<Value> type_list_slice(const AbstractType& type, std::uint64_t start, std::uint64_t end) {
  std::vector<Value> all = type_list_to_array(type);
  if (end > all.size()) end = all.size();
  if (start >= end) return {};
  return std::vector<Value>(all.begin() + static_cast<std::ptrdiff_t>(start),
                            all.begin() + static_cast<std::ptrdiff_t>(end));
}

// --- Map machinery --------------------------------------------------------------------

void type_map_set(Transaction& tr, AbstractType& parent, std::string_view key, const InsertValue& value) {
  Doc& doc = tr.doc();
  const std::string* k = doc.intern(key);
  Item* left = parent.map_get(k);
  create_item(tr, left, nullptr, &parent, k, content_for(doc, value));
}

void type_map_delete(Transaction& tr, AbstractType& parent, std::string_view key) {
  if (Item* c = parent.map_get(key)) delete_item(tr, c);
}

std::optional<Value> type_map_get(const AbstractType& parent, std::string_view key) {
  Item* item = parent.map_get(key);
  if (item == nullptr || item->deleted()) return std::nullopt;
  return last_value(*item);
}

bool type_map_has(const AbstractType& parent, std::string_view key) {
  Item* item = parent.map_get(key);
  return item != nullptr && !item->deleted();
}

std::vector<std::pair<std::string, Value>> type_map_get_all(const AbstractType& parent) {
  std::vector<std::pair<std::string, Value>> out;
  for (const std::string* key : parent.map_keys()) {
    Item* item = parent.map_get(key);
    if (item != nullptr && !item->deleted()) out.emplace_back(*key, last_value(*item));
  }
  return out;
}

// --- Array / Map ------------------------------------------------------------------------

Array::Array() { search_markers_ = std::make_unique<std::vector<SearchMarker>>(); }

lib0::Any Array::to_json() const {
  lib0::AnyArray out;
  for (const Value& v : type_list_to_array(*this)) out.push_back(value_to_json(v));
  return lib0::Any(std::move(out));
}

void Array::call_observer(Transaction& tr, const std::set<const std::string*>& subs) {
  clear_markers_if_remote(tr);
  call_type_observers(*this, tr, std::make_unique<YEvent>(this, tr, subs));
}

Result<void> Array::insert(Transaction& tr, std::uint64_t index, std::span<const InsertValue> values) {
  return type_list_insert_generics(tr, *this, index, values);
}

Result<void> Array::insert(std::uint64_t index, std::initializer_list<InsertValue> values) {
  Result<void> r;
  doc_->transact([&](Transaction& tr) { r = insert(tr, index, std::span<const InsertValue>(values.begin(), values.size())); });
  return r;
}

void Array::push(Transaction& tr, std::span<const InsertValue> values) {
  type_list_push_generics(tr, *this, values);
}

void Array::push(std::initializer_list<InsertValue> values) {
  doc_->transact([&](Transaction& tr) { push(tr, std::span<const InsertValue>(values.begin(), values.size())); });
}

void Array::unshift(Transaction& tr, std::span<const InsertValue> values) {
  (void)type_list_insert_generics(tr, *this, 0, values);
}

AbstractType* Array::insert_type(Transaction& tr, std::uint64_t index, NewType type) {
  const InsertValue v{std::move(type)};
  if (!type_list_insert_generics(tr, *this, index, std::span<const InsertValue>(&v, 1))) return nullptr;
  auto got = type_list_get(*this, index);
  if (!got) return nullptr;
  auto* t = std::get_if<AbstractType*>(&*got);
  return t ? *t : nullptr;
}

Result<void> Array::remove(Transaction& tr, std::uint64_t index, std::uint64_t length) {
  return type_list_delete(tr, *this, index, length);
}

Result<void> Array::remove(std::uint64_t index, std::uint64_t length) {
  Result<void> r;
  doc_->transact([&](Transaction& tr) { r = remove(tr, index, length); });
  return r;
}

std::optional<Value> Array::get(std::uint64_t index) { return type_list_get(*this, index); }

lib0::Any Map::to_json() const {
  lib0::AnyObject out;
  for (auto& [key, v] : type_map_get_all(*this)) out.emplace_back(key, value_to_json(v));
  lib0::normalize_js_object(out);
  return lib0::Any(std::move(out));
}

void Map::call_observer(Transaction& tr, const std::set<const std::string*>& subs) {
  call_type_observers(*this, tr, std::make_unique<YEvent>(this, tr, subs));
}

void Map::set(Transaction& tr, std::string_view key, const InsertValue& value) {
  type_map_set(tr, *this, key, value);
}
void Map::set(std::string_view key, const InsertValue& value) {
  doc_->transact([&](Transaction& tr) { set(tr, key, value); });
}
AbstractType* Map::set_type(Transaction& tr, std::string_view key, NewType type) {
  type_map_set(tr, *this, key, InsertValue{std::move(type)});
  auto got = type_map_get(*this, key);
  if (!got) return nullptr;
  auto* t = std::get_if<AbstractType*>(&*got);
  return t ? *t : nullptr;
}
void Map::remove(Transaction& tr, std::string_view key) { type_map_delete(tr, *this, key); }
void Map::remove(std::string_view key) {
  doc_->transact([&](Transaction& tr) { remove(tr, key); });
}
std::vector<std::string> Map::keys() const {
  std::vector<std::string> out;
  for (auto& [k, v] : type_map_get_all(*this)) out.push_back(k);
  return out;
}
std::size_t Map::size() const {
  std::size_t n = 0;
  for (const std::string* key : map_keys()) {
    Item* item = map_get(key);
    if (item != nullptr && !item->deleted()) ++n;
  }
  return n;
}

}  // namespace corates::crdt
