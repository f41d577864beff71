// Y.Text (yjs/src/types/YText.js). The formatting algorithms follow Yjs step
// by step because their choices (which format items are inserted, negated or
// deleted, and in which order) are visible in the encoded bytes.
#include "corates/crdt/text.hpp"

#include "corates/crdt/doc.hpp"
#include "corates/crdt/lib0/decoding.hpp"
#include "corates/crdt/lib0/encoding.hpp"
#include "corates/crdt/snapshot.hpp"
#include "corates/crdt/transaction.hpp"
#include "types/text_attrs.hpp"

#include <algorithm>
#include <cassert>
#include <deque>
#include <utility>

namespace corates::crdt {

using detail::JsMap;
using detail::JsObj;
using detail::JsVal;
using detail::equal_attrs;
using detail::strict_equal;

namespace {

const lib0::Any kNullAny = lib0::Null{};
const JsVal kNull{&kNullAny};

ContentFormat* as_format(Item* it) noexcept { return content_get_if<ContentFormat>(&it->content); }

JsVal format_value(const Item* it) {
  const auto& f = content_get<ContentFormat>(it->content);
  return JsVal{&f.value, it, 0};
}

// `x ?? null`
JsVal or_null(const JsVal& v) noexcept { return v.is_undefined() ? kNull : v; }

// Yjs's updateCurrentAttributes: a null value removes the key.
void update_current_attributes(JsMap& attrs, const Item* format_item) {
  const auto& f = content_get<ContentFormat>(format_item->content);
  if (f.value.is<lib0::Null>()) {
    attrs.erase(f.key);
  } else {
    attrs.set(f.key, format_value(format_item));
  }
}

// Yjs's ItemTextListPosition.
struct TextPos {
  Item* left = nullptr;
  Item* right = nullptr;
  std::uint64_t index = 0;
  JsMap attrs;

  // Only call when right != null.
  void forward() {
    if (!right->deleted()) {
      if (as_format(right) != nullptr) {
        update_current_attributes(attrs, right);
      } else {
        index += right->length;
      }
    }
    left = right;
    right = right->right;
  }
};

void find_next_position(Transaction& tr, TextPos& pos, std::uint64_t count) {
  while (pos.right != nullptr && count > 0) {
    Item* r = pos.right;
    if (!r->deleted()) {
      if (as_format(r) != nullptr) {
        update_current_attributes(pos.attrs, r);
      } else {
        if (count < r->length) get_item_clean_start(tr, ID{r->id.client, r->id.clock + count});
        pos.index += r->length;
        count -= r->length;
      }
    }
    pos.left = r;
    pos.right = r->right;
  }
}

TextPos find_position(Transaction& tr, AbstractType& parent, std::uint64_t index,
                      bool use_search_marker) {
  TextPos pos;
  SearchMarker* marker = use_search_marker ? find_marker(parent, index) : nullptr;
  if (marker != nullptr) {
    pos.left = marker->p->left;
    pos.right = marker->p;
    pos.index = marker->index;
    find_next_position(tr, pos, index > marker->index ? index - marker->index : 0);
  } else {
    pos.right = parent.start_;
    find_next_position(tr, pos, index);
  }
  return pos;
}

Text* as_text(AbstractType* t) noexcept { return dynamic_cast<Text*>(t); }

// A new format item: records that its value is the same JS object as `val`.
Item* insert_format(Transaction& tr, AbstractType& parent, TextPos& pos, std::string_view key,
                    const JsVal& val) {
  Item* left = pos.left;
  Item* right = pos.right;
  lib0::Any value = val.v != nullptr ? *val.v : lib0::Any{};
  Item* it = create_item(tr, left, right, &parent, nullptr,
                         ContentFormat{std::string(key), std::move(value)});
  if (val.is_object()) {
    if (Text* t = as_text(&parent)) detail::share_identity(*t, it->id, val.identity());
  }
  return it;
}

// Yjs's insertNegatedAttributes.
void insert_negated_attributes(Transaction& tr, AbstractType& parent, TextPos& pos,
                               JsMap& negated) {
  while (pos.right != nullptr) {
    Item* r = pos.right;
    if (!r->deleted()) {
      ContentFormat* f = as_format(r);
      if (f == nullptr || !equal_attrs(negated.get(f->key), format_value(r))) break;
      negated.erase(f->key);
    }
    pos.forward();
  }
  for (const auto& [key, val] : negated.entries()) {
    pos.right = insert_format(tr, parent, pos, key, val);
    pos.forward();
  }
}

// Yjs's minimizeAttributeChanges.
void minimize_attribute_changes(TextPos& pos, const JsObj& attributes) {
  while (pos.right != nullptr) {
    Item* r = pos.right;
    if (!r->deleted()) {
      ContentFormat* f = as_format(r);
      if (f == nullptr || !equal_attrs(or_null(attributes.get(f->key)), format_value(r))) break;
    }
    pos.forward();
  }
}

// Yjs's insertAttributes: returns the attributes to negate after the insert.
JsMap insert_attributes(Transaction& tr, AbstractType& parent, TextPos& pos,
                        const JsObj& attributes) {
  JsMap negated;
  for (const auto& [key, val] : attributes.entries()) {
    const JsVal current = or_null(pos.attrs.get(key));
    if (!equal_attrs(current, val)) {
      negated.set(key, current);
      pos.right = insert_format(tr, parent, pos, key, val);
      pos.forward();
    }
  }
  return negated;
}

using TextInsert = std::variant<std::string_view, const lib0::Any*, NewType>;

// Yjs's insertText. Returns the content item.
Item* insert_text(Transaction& tr, AbstractType& parent, TextPos& pos, const TextInsert& what,
                  JsObj& attributes) {
  for (const auto& [key, val] : pos.attrs.entries()) {
    (void)val;
    if (attributes.get(key).is_undefined()) attributes.set(key, kNull);
  }
  minimize_attribute_changes(pos, attributes);
  JsMap negated = insert_attributes(tr, parent, pos, attributes);
  ItemContent content;
  if (const auto* s = std::get_if<std::string_view>(&what)) {
    content = ContentString(std::string(*s));
  } else if (const auto* e = std::get_if<const lib0::Any*>(&what)) {
    content = ContentEmbed{**e};
  } else {
    const NewType& nt = std::get<NewType>(what);
    AbstractType* t = parent.doc()->adopt_type(create_type(nt.type_ref, nt.name));
    content = ContentType{nt.type_ref, nt.name, t};
  }
  // A format item inserted above disables the markers, hence checked here.
  if (parent.search_markers_) {
    update_marker_changes(*parent.search_markers_, pos.index,
                          static_cast<std::int64_t>(content_length(content)));
  }
  const std::uint64_t index = pos.index;
  Item* item = create_item(tr, pos.left, pos.right, &parent, nullptr, std::move(content));
  pos.right = item;
  pos.index = index;
  pos.forward();
  insert_negated_attributes(tr, parent, pos, negated);
  return item;
}

// Yjs's formatText.
void format_text(Transaction& tr, AbstractType& parent, TextPos& pos, std::uint64_t length,
                 const JsObj& attributes) {
  minimize_attribute_changes(pos, attributes);
  JsMap negated = insert_attributes(tr, parent, pos, attributes);
  while (pos.right != nullptr &&
         (length > 0 || (!negated.empty() && (pos.right->deleted() || as_format(pos.right))))) {
    Item* r = pos.right;
    if (!r->deleted()) {
      if (ContentFormat* f = as_format(r)) {
        const JsVal attr = attributes.get(f->key);
        if (!attr.is_undefined()) {
          const JsVal value = format_value(r);
          if (equal_attrs(attr, value)) {
            negated.erase(f->key);
          } else {
            // No need to extend negated any further.
            if (length == 0) break;
            negated.set(f->key, value);
          }
          delete_item(tr, r);
        } else {
          pos.attrs.set(f->key, format_value(r));
        }
      } else {
        if (length < r->length) get_item_clean_start(tr, ID{r->id.client, r->id.clock + length});
        length -= std::min(length, r->length);
      }
    }
    pos.forward();
  }
  // Quill's invisible final newline: formatting past the end inserts newlines.
  if (length > 0) {
    pos.right = create_item(tr, pos.left, pos.right, &parent, nullptr,
                            ContentString(std::string(static_cast<std::size_t>(length), '\n')));
    pos.forward();
  }
  insert_negated_attributes(tr, parent, pos, negated);
}

// Yjs's cleanupFormattingGap: call after string content was deleted.
std::uint64_t cleanup_formatting_gap(Transaction& tr, Item* start, Item* curr,
                                     const JsMap& start_attrs, JsMap& curr_attrs) {
  Item* end = start;
  // key -> the last live format item for it in the gap
  std::vector<std::pair<std::string_view, Item*>> end_formats;
  while (end != nullptr && (!end->countable() || end->deleted())) {
    if (!end->deleted()) {
      if (ContentFormat* f = as_format(end)) {
        auto it = std::find_if(end_formats.begin(), end_formats.end(),
                               [&](const auto& e) { return e.first == f->key; });
        if (it == end_formats.end()) {
          end_formats.emplace_back(f->key, end);
        } else {
          it->second = end;
        }
      }
    }
    end = end->right;
  }
  std::uint64_t cleanups = 0;
  // The walk above saw every live format in [start, end): without one there
  // is nothing to clean (the common case of plain text).
  if (end_formats.empty()) return 0;
  bool reached_curr = false;
  while (start != end) {
    if (curr == start) reached_curr = true;
    if (!start->deleted()) {
      if (ContentFormat* f = as_format(start)) {
        const JsVal value = format_value(start);
        const JsVal start_val = or_null(start_attrs.get(f->key));
        auto ef = std::find_if(end_formats.begin(), end_formats.end(),
                               [&](const auto& e) { return e.first == f->key; });
        const Item* end_format = ef == end_formats.end() ? nullptr : ef->second;
        if (end_format != start || strict_equal(start_val, value)) {
          // Overwritten by a later format in the gap, or redundant.
          delete_item(tr, start);
          ++cleanups;
          if (!reached_curr && strict_equal(or_null(curr_attrs.get(f->key)), value) &&
              !strict_equal(start_val, value)) {
            if (start_val.is_null()) {
              curr_attrs.erase(f->key);
            } else {
              curr_attrs.set(f->key, start_val);
            }
          }
        }
        if (!reached_curr && !start->deleted()) update_current_attributes(curr_attrs, start);
      }
    }
    start = start->right;
  }
  return cleanups;
}

// Yjs's cleanupContextlessFormattingGap.
void cleanup_contextless_formatting_gap(Transaction& tr, Item* item) {
  while (item != nullptr && item->right != nullptr &&
         (item->right->deleted() || !item->right->countable())) {
    item = item->right;
  }
  std::vector<std::string_view> seen;
  while (item != nullptr && (item->deleted() || !item->countable())) {
    if (!item->deleted()) {
      if (ContentFormat* f = as_format(item)) {
        if (std::find(seen.begin(), seen.end(), std::string_view(f->key)) != seen.end()) {
          delete_item(tr, item);
        } else {
          seen.emplace_back(f->key);
        }
      }
    }
    item = item->left;
  }
}

std::uint64_t cleanup_type_formatting(AbstractType& type) {
  std::uint64_t res = 0;
  type.doc()->transact([&](Transaction& tr) {
    Item* start = type.start_;
    Item* end = type.start_;
    JsMap start_attrs;
    JsMap current = start_attrs;
    while (end != nullptr) {
      if (!end->deleted()) {
        if (as_format(end) != nullptr) {
          update_current_attributes(current, end);
        } else {
          res += cleanup_formatting_gap(tr, start, end, start_attrs, current);
          start_attrs = current;
          start = end;
        }
      }
      end = end->right;
    }
  });
  return res;
}

// Yjs's iterateStructs over one client's structs, splitting items at the
// range bounds (splits are recorded in `tr`, as Yjs's findIndexCleanStart).
template <class F>
void iterate_structs(Transaction& tr, ClientID client, Clock clock_start, std::uint64_t len, F&& f) {
  if (len == 0) return;
  StructStore& store = tr.doc().store();
  auto sit = store.clients.find(client);
  if (sit == store.clients.end()) return;
  const auto clean_start = [&](Clock clock) -> std::size_t {
    auto& structs = sit->second;
    const std::size_t index = StructStore::find_index_ss(structs, clock);
    if (index >= structs.size()) return index;
    AbstractStruct* s = structs[index];
    if (s->id.clock < clock && s->is_item()) {
      get_item_clean_start(tr, ID{client, clock});
      return index + 1;
    }
    return index;
  };
  const Clock clock_end = clock_start + len;
  std::size_t index = clean_start(clock_start);
  while (index < sit->second.size()) {
    AbstractStruct* s = sit->second[index++];
    if (clock_end < s->id.clock + s->length) clean_start(clock_end);
    f(s);
    if (index >= sit->second.size() || sit->second[index]->id.clock >= clock_end) break;
  }
}

template <class F>
void iterate_deleted_client(Transaction& tr, ClientID client, const std::vector<DeleteItem>& deletes,
                            F&& f) {
  StructStore& store = tr.doc().store();
  auto sit = store.clients.find(client);
  if (sit == store.clients.end() || sit->second.empty()) return;
  const AbstractStruct* last = sit->second.back();
  const Clock clock_state = last->id.clock + last->length;
  for (const DeleteItem& del : deletes) {
    if (del.clock >= clock_state) break;
    iterate_structs(tr, client, del.clock, del.len, f);
  }
}

// Yjs's iterateDeletedStructs (client order does not matter to the callers).
template <class F>
void iterate_deleted_structs(Transaction& tr, const DeleteSet& ds, F&& f) {
  for (const auto& [client, deletes] : ds.clients) iterate_deleted_client(tr, client, deletes, f);
}

// Yjs's cleanupYTextAfterTransaction (hook run by the core after a remote
// transaction changed formatted text).
void cleanup_text_after_transaction(Transaction& tr) {
  std::vector<AbstractType*> need_full;
  const auto needs_full = [&](AbstractType* t) {
    return std::find(need_full.begin(), need_full.end(), t) != need_full.end();
  };
  const auto add_full = [&](AbstractType* t) {
    if (t != nullptr && !needs_full(t)) need_full.push_back(t);
  };
  Doc& doc = tr.doc();
  for (const auto& [client, after_clock] : tr.after_state) {
    const Clock clock = tr.before_clock(client);
    if (after_clock == clock) continue;
    iterate_structs(tr, client, clock, after_clock - clock, [&](AbstractStruct* s) {
      if (s->is_item() && !s->deleted()) {
        auto* it = static_cast<Item*>(s);
        if (as_format(it) != nullptr) add_full(it->parent);
      }
    });
  }
  doc.transact([&](Transaction& t) {
    const auto visit = [&](AbstractStruct* s) {
      if (!s->is_item()) return;
      auto* item = static_cast<Item*>(s);
      AbstractType* parent = item->parent;
      if (parent == nullptr || !parent->has_formatting_ || needs_full(parent)) return;
      if (as_format(item) != nullptr) {
        add_full(parent);
      } else {
        // No format was inserted or deleted here: the contextless cleanup suffices.
        cleanup_contextless_formatting_gap(t, item);
      }
    };
    // In the order Yjs's transaction.deleteSet (a JS Map) got its clients.
    for (const ClientID client : tr.delete_set_clients()) {
      iterate_deleted_client(tr, client, tr.delete_set.clients.at(client), visit);
    }
    // A format was inserted or deleted: clean the whole type.
    for (AbstractType* type : need_full) cleanup_type_formatting(*type);
  });
}

// Yjs's deleteText.
void delete_text(Transaction& tr, TextPos& pos, std::uint64_t length) {
  const std::uint64_t start_length = length;
  const JsMap start_attrs = pos.attrs;
  Item* start = pos.right;
  while (length > 0 && pos.right != nullptr) {
    Item* r = pos.right;
    if (!r->deleted()) {
      switch (content_ref(r->content)) {
        case ContentRef::kType:
        case ContentRef::kEmbed:
        case ContentRef::kString:
          if (length < r->length) get_item_clean_start(tr, ID{r->id.client, r->id.clock + length});
          length -= std::min(length, r->length);
          delete_item(tr, r);
          break;
        default:
          break;
      }
    }
    pos.forward();
  }
  if (start != nullptr) cleanup_formatting_gap(tr, start, pos.right, start_attrs, pos.attrs);
  Item* any = pos.left != nullptr ? pos.left : pos.right;
  if (any == nullptr) return;
  AbstractType* parent = any->parent;
  if (parent != nullptr && parent->search_markers_) {
    update_marker_changes(*parent->search_markers_, pos.index,
                          -static_cast<std::int64_t>(start_length - length));
  }
}

std::string sanitize_utf8(std::string_view s) {
  if (lib0::is_valid_utf8(s)) return std::string(s);
  return lib0::utf8_decode_lossy(s);
}

// JS object of attribute values copied out (for delta output).
TextAttributes to_attributes(const JsMap& m, bool skip_null) {
  JsObj o;
  for (const auto& [k, v] : m.entries()) {
    if (skip_null && v.is_null()) continue;
    o.set(k, v);
  }
  return o.to_any_object();
}

}  // namespace

// ---------------------------------------------------------------------------

TextDeltaOp TextDeltaOp::text(std::string s, std::optional<TextAttributes> attrs) {
  TextDeltaOp op;
  op.kind = Kind::kInsert;
  op.insert = std::move(s);
  op.attributes = std::move(attrs);
  return op;
}
TextDeltaOp TextDeltaOp::embed(lib0::Any e, std::optional<TextAttributes> attrs) {
  TextDeltaOp op;
  op.kind = Kind::kInsert;
  op.insert = std::move(e);
  op.attributes = std::move(attrs);
  return op;
}
TextDeltaOp TextDeltaOp::retain(std::uint64_t n, std::optional<TextAttributes> attrs) {
  TextDeltaOp op;
  op.kind = Kind::kRetain;
  op.count = n;
  op.attributes = std::move(attrs);
  return op;
}
TextDeltaOp TextDeltaOp::remove(std::uint64_t n) {
  TextDeltaOp op;
  op.kind = Kind::kDelete;
  op.count = n;
  return op;
}

lib0::Any delta_to_json(const TextDelta& delta) {
  lib0::AnyArray out;
  out.reserve(delta.size());
  for (const TextDeltaOp& op : delta) {
    lib0::AnyObject o;
    switch (op.kind) {
      case TextDeltaOp::Kind::kInsert:
        if (const auto* s = std::get_if<std::string>(&op.insert)) {
          o.emplace_back("insert", *s);
        } else if (const auto* e = std::get_if<lib0::Any>(&op.insert)) {
          o.emplace_back("insert", *e);
        } else if (auto* const* t = std::get_if<AbstractType*>(&op.insert)) {
          o.emplace_back("insert", *t != nullptr ? (*t)->to_json() : lib0::Any(lib0::Null{}));
        } else {
          o.emplace_back("insert", lib0::AnyObject{});
        }
        break;
      case TextDeltaOp::Kind::kRetain:
        o.emplace_back("retain", static_cast<double>(op.count));
        break;
      case TextDeltaOp::Kind::kDelete:
        o.emplace_back("delete", static_cast<double>(op.count));
        break;
    }
    if (op.attributes) o.emplace_back("attributes", *op.attributes);
    out.emplace_back(std::move(o));
  }
  return out;
}

Result<TextDelta> delta_from_json(const lib0::Any& json) {
  const auto* arr = json.get_if<lib0::AnyArray>();
  if (arr == nullptr) return Error{ErrorCode::kInvalidValue, "delta: not an array"};
  TextDelta delta;
  for (const lib0::Any& e : *arr) {
    const auto* o = e.get_if<lib0::AnyObject>();
    if (o == nullptr) return Error{ErrorCode::kInvalidValue, "delta: op is not an object"};
    const lib0::Any* insert = nullptr;
    const lib0::Any* retain = nullptr;
    const lib0::Any* del = nullptr;
    std::optional<TextAttributes> attrs;
    for (const auto& [k, v] : *o) {
      if (k == "insert") insert = &v;
      if (k == "retain") retain = &v;
      if (k == "delete") del = &v;
      if (k == "attributes" && v.is<lib0::AnyObject>()) attrs = v.as<lib0::AnyObject>();
    }
    const auto count = [](const lib0::Any* v) -> std::optional<std::uint64_t> {
      const auto* d = v->get_if<double>();
      if (d == nullptr || !(*d >= 0) || *d > 9007199254740991.0) return std::nullopt;
      return static_cast<std::uint64_t>(*d);
    };
    if (insert != nullptr && !insert->is<lib0::Undefined>()) {
      if (const auto* s = insert->get_if<std::string>()) {
        delta.push_back(TextDeltaOp::text(*s, std::move(attrs)));
      } else {
        delta.push_back(TextDeltaOp::embed(*insert, std::move(attrs)));
      }
    } else if (retain != nullptr && !retain->is<lib0::Undefined>()) {
      auto n = count(retain);
      if (!n) return Error{ErrorCode::kInvalidValue, "delta: bad retain"};
      delta.push_back(TextDeltaOp::retain(*n, std::move(attrs)));
    } else if (del != nullptr && !del->is<lib0::Undefined>()) {
      auto n = count(del);
      if (!n) return Error{ErrorCode::kInvalidValue, "delta: bad delete"};
      delta.push_back(TextDeltaOp::remove(*n));
    } else {
      return Error{ErrorCode::kInvalidValue, "delta: op without insert, retain or delete"};
    }
  }
  return delta;
}

// ---------------------------------------------------------------------------

Text::Text() {
  search_markers_ = std::make_unique<std::vector<SearchMarker>>();
  // The hook must be in place before the first remote transaction, whether or
  // not the type registry was initialized yet.
  set_formatting_cleanup_hook(&cleanup_text_after_transaction);
}

lib0::Any Text::to_json() const { return to_string(); }

void Text::call_observer(Transaction& tr, const std::set<const std::string*>& subs) {
  clear_markers_if_remote(tr);
  call_type_observers(*this, tr, std::make_unique<TextEvent>(this, tr, subs));
  // Remote changes may leave duplicate formats: clean up after the transaction.
  if (!tr.local() && has_formatting_) tr.need_formatting_cleanup = true;
}

void Text::insert(Transaction& tr, std::uint64_t index, std::string_view text) {
  if (text.empty()) return;
  const std::string s = sanitize_utf8(text);
  TextPos pos = find_position(tr, *this, index, true);
  JsObj attributes;
  for (const auto& [k, v] : pos.attrs.entries()) attributes.set(k, v);
  insert_text(tr, *this, pos, std::string_view(s), attributes);
}

void Text::insert(Transaction& tr, std::uint64_t index, std::string_view text,
                  const TextAttributes& attributes) {
  if (text.empty()) return;
  const std::string s = sanitize_utf8(text);
  TextPos pos = find_position(tr, *this, index, false);
  JsObj attrs = JsObj::from_user(attributes, detail::next_user_identity(*this, attributes.size()));
  insert_text(tr, *this, pos, std::string_view(s), attrs);
}

void Text::insert(std::uint64_t index, std::string_view text) {
  if (text.empty()) return;
  doc_->transact([&](Transaction& tr) { insert(tr, index, text); });
}

void Text::insert(std::uint64_t index, std::string_view text, const TextAttributes& attributes) {
  if (text.empty()) return;
  doc_->transact([&](Transaction& tr) { insert(tr, index, text, attributes); });
}

void Text::insert_embed(Transaction& tr, std::uint64_t index, const lib0::Any& embed,
                        const std::optional<TextAttributes>& attributes) {
  TextPos pos = find_position(tr, *this, index, !attributes.has_value());
  JsObj attrs;
  if (attributes) {
    attrs = JsObj::from_user(*attributes, detail::next_user_identity(*this, attributes->size()));
  }
  insert_text(tr, *this, pos, &embed, attrs);
}

void Text::insert_embed(std::uint64_t index, const lib0::Any& embed,
                        const std::optional<TextAttributes>& attributes) {
  doc_->transact([&](Transaction& tr) { insert_embed(tr, index, embed, attributes); });
}

AbstractType* Text::insert_embed_type(Transaction& tr, std::uint64_t index, NewType type,
                                      const std::optional<TextAttributes>& attributes) {
  TextPos pos = find_position(tr, *this, index, !attributes.has_value());
  JsObj attrs;
  if (attributes) {
    attrs = JsObj::from_user(*attributes, detail::next_user_identity(*this, attributes->size()));
  }
  Item* item = insert_text(tr, *this, pos, std::move(type), attrs);
  return std::get<ContentType>(item->content).type;
}

void Text::remove(Transaction& tr, std::uint64_t index, std::uint64_t length) {
  if (length == 0) return;
  TextPos pos = find_position(tr, *this, index, true);
  delete_text(tr, pos, length);
}

void Text::remove(std::uint64_t index, std::uint64_t length) {
  if (length == 0) return;
  doc_->transact([&](Transaction& tr) { remove(tr, index, length); });
}

void Text::format(Transaction& tr, std::uint64_t index, std::uint64_t length,
                  const TextAttributes& attributes) {
  if (length == 0) return;
  TextPos pos = find_position(tr, *this, index, false);
  if (pos.right == nullptr) return;
  const JsObj attrs =
      JsObj::from_user(attributes, detail::next_user_identity(*this, attributes.size()));
  format_text(tr, *this, pos, length, attrs);
}

void Text::format(std::uint64_t index, std::uint64_t length, const TextAttributes& attributes) {
  if (length == 0) return;
  doc_->transact([&](Transaction& tr) { format(tr, index, length, attributes); });
}

void Text::apply_delta(Transaction& tr, const TextDelta& delta, bool sanitize) {
  TextPos pos;
  pos.right = start_;
  for (std::size_t i = 0; i < delta.size(); ++i) {
    const TextDeltaOp& op = delta[i];
    JsObj attrs;
    if (op.attributes) {
      attrs = JsObj::from_user(*op.attributes,
                               detail::next_user_identity(*this, op.attributes->size()));
    }
    switch (op.kind) {
      case TextDeltaOp::Kind::kInsert:
        if (const auto* s = std::get_if<std::string>(&op.insert)) {
          std::string str = sanitize_utf8(*s);
          // Quill's final newline (Yjs drops it only when sanitize is false).
          if (!sanitize && i + 1 == delta.size() && pos.right == nullptr && !str.empty() &&
              str.back() == '\n') {
            str.pop_back();
          }
          if (!str.empty()) insert_text(tr, *this, pos, std::string_view(str), attrs);
        } else if (const auto* e = std::get_if<lib0::Any>(&op.insert)) {
          insert_text(tr, *this, pos, e, attrs);
        } else if (const auto* nt = std::get_if<NewType>(&op.insert)) {
          insert_text(tr, *this, pos, *nt, attrs);
        }
        // An already integrated type cannot be inserted again: ignored.
        break;
      case TextDeltaOp::Kind::kRetain:
        format_text(tr, *this, pos, op.count, attrs);
        break;
      case TextDeltaOp::Kind::kDelete:
        delete_text(tr, pos, op.count);
        break;
    }
  }
}

void Text::apply_delta(const TextDelta& delta, bool sanitize) {
  doc_->transact([&](Transaction& tr) { apply_delta(tr, delta, sanitize); });
}

std::string Text::to_string() const {
  std::string out;
  for (const Item* n = start_; n != nullptr; n = n->right) {
    if (!n->deleted() && n->countable()) {
      if (const auto* s = std::get_if<ContentString>(&n->content)) out += s->str;
    }
  }
  return out;
}

namespace {

// Flushes the pending run of text as one insert op with the current attributes.
void pack_delta_text(TextDelta& ops, std::string& str, const JsMap& current) {
  if (str.empty()) return;
  ops.push_back(TextDeltaOp::text(
      std::move(str), current.empty() ? std::nullopt : std::optional(to_attributes(current, false))));
  str.clear();
}

// The insert op of an embed or an embedded type.
TextDeltaOp embed_delta_op(const Item& n, const JsMap& current) {
  TextDeltaOp op;
  if (const auto* e = std::get_if<ContentEmbed>(&n.content)) {
    op.insert = e->embed;
  } else {
    op.insert = std::get<ContentType>(n.content).type;
  }
  if (!current.empty()) op.attributes = to_attributes(current, false);
  return op;
}

}  // namespace

TextDelta Text::to_delta() const {
  TextDelta ops;
  JsMap current;
  std::string str;
  const auto pack_str = [&] { pack_delta_text(ops, str, current); };
  for (const Item* n = start_; n != nullptr; n = n->right) {
    if (n->deleted()) continue;
    switch (content_ref(n->content)) {
      case ContentRef::kString:
        str += std::get<ContentString>(n->content).str;
        break;
      case ContentRef::kType:
      case ContentRef::kEmbed:
        pack_str();
        ops.push_back(embed_delta_op(*n, current));
        break;
      case ContentRef::kFormat:
        pack_str();
        update_current_attributes(current, n);
        break;
      default:
        break;
    }
  }
  pack_str();
  return ops;
}

TextDelta Text::to_delta(const Snapshot* snapshot, const Snapshot* prev_snapshot,
                         const YChangeFn& compute_ychange) {
  if (snapshot == nullptr && prev_snapshot == nullptr) return to_delta();
  TextDelta ops;
  doc_->transact(
      [&](Transaction& tr) {
        // Snapshot boundaries must be item boundaries (Yjs's splitSnapshotAffectedStructs).
        for (const Snapshot* s : {snapshot, prev_snapshot}) {
          if (s == nullptr) continue;
          for (const auto& [client, clock] : s->sv) {
            if (clock < doc_->store().get_state(client)) get_item_clean_start(tr, ID{client, clock});
          }
          iterate_deleted_structs(tr, s->ds, [](AbstractStruct*) {});
        }
        JsMap current;
        std::deque<lib0::Any> ychanges;  // stable storage for ychange values
        std::string str;
        const auto pack_str = [&] { pack_delta_text(ops, str, current); };
        const auto ychange_is = [&](const JsVal& cur, ClientID client, std::string_view type) {
          if (cur.is_undefined() || cur.v == nullptr) return false;
          const auto* o = cur.v->get_if<lib0::AnyObject>();
          if (o == nullptr) return false;
          bool user_ok = false;
          bool type_ok = false;
          for (const auto& [k, v] : *o) {
            if (k == "user") {
              const auto* d = v.get_if<double>();
              user_ok = d != nullptr && *d == static_cast<double>(client);
            }
            if (k == "type") {
              const auto* s = v.get_if<std::string>();
              type_ok = s != nullptr && *s == type;
            }
          }
          return user_ok && type_ok;
        };
        const auto set_ychange = [&](bool removed, ID id) {
          lib0::Any v = compute_ychange
                            ? compute_ychange(removed, id)
                            : lib0::Any(lib0::AnyObject{{"type", removed ? "removed" : "added"}});
          ychanges.push_back(std::move(v));
          current.set("ychange", JsVal{&ychanges.back(), nullptr, 0});
        };
        for (Item* n = start_; n != nullptr; n = n->right) {
          const bool vis = snapshot == nullptr ? !n->deleted() : is_visible(*n, snapshot);
          const bool vis_prev = prev_snapshot != nullptr && is_visible(*n, prev_snapshot);
          if (!vis && !vis_prev) continue;
          switch (content_ref(n->content)) {
            case ContentRef::kString: {
              const JsVal cur = current.get("ychange");
              if (snapshot != nullptr && !vis) {
                if (!ychange_is(cur, n->id.client, "removed")) {
                  pack_str();
                  set_ychange(true, n->id);
                }
              } else if (prev_snapshot != nullptr && !vis_prev) {
                if (!ychange_is(cur, n->id.client, "added")) {
                  pack_str();
                  set_ychange(false, n->id);
                }
              } else if (current.has("ychange")) {
                pack_str();
                current.erase("ychange");
              }
              str += std::get<ContentString>(n->content).str;
              break;
            }
            case ContentRef::kType:
            case ContentRef::kEmbed:
              pack_str();
              ops.push_back(embed_delta_op(*n, current));
              break;
            case ContentRef::kFormat:
              if (vis) {
                pack_str();
                update_current_attributes(current, n);
              }
              break;
            default:
              break;
          }
        }
        pack_str();
      },
      Origin{std::string("cleanup")});
  return ops;
}

void Text::set_attribute(Transaction& tr, std::string_view name, const lib0::Any& value) {
  type_map_set(tr, *this, name, InsertValue{value});
}
void Text::set_attribute(std::string_view name, const lib0::Any& value) {
  doc_->transact([&](Transaction& tr) { set_attribute(tr, name, value); });
}
void Text::remove_attribute(Transaction& tr, std::string_view name) {
  type_map_delete(tr, *this, name);
}
void Text::remove_attribute(std::string_view name) {
  doc_->transact([&](Transaction& tr) { remove_attribute(tr, name); });
}
std::optional<Value> Text::get_attribute(std::string_view name) const {
  return type_map_get(*this, name);
}
std::vector<std::pair<std::string, Value>> Text::get_attributes() const {
  return type_map_get_all(*this);
}

// ---------------------------------------------------------------------------

TextEvent::TextEvent(Text* target, Transaction& tr, std::set<const std::string*> subs)
    : YEvent(target, tr, std::move(subs)) {}

const TextDelta& TextEvent::text_delta() const {
  if (text_delta_) return *text_delta_;
  TextDelta delta;
  Doc* doc = target_->doc();
  doc->transact([&](Transaction& tr) {
    enum class Action : std::uint8_t { kNone, kInsert, kRetain, kDelete };
    JsMap current;      // attributes in effect, for inserts
    JsMap old_attrs;    // attributes before this transaction
    JsObj attributes;   // attribute changes, for retains
    Action action = Action::kNone;
    std::string insert_str;
    bool insert_is_value = false;
    TextDeltaOp insert_value;
    std::uint64_t retain = 0;
    std::uint64_t delete_len = 0;
    const auto add_op = [&] {
      if (action == Action::kNone) return;
      switch (action) {
        case Action::kDelete:
          if (delete_len > 0) delta.push_back(TextDeltaOp::remove(delete_len));
          delete_len = 0;
          break;
        case Action::kInsert:
          if (insert_is_value || !insert_str.empty()) {
            TextDeltaOp op = insert_is_value ? std::move(insert_value)
                                             : TextDeltaOp::text(std::move(insert_str));
            if (!current.empty()) op.attributes = to_attributes(current, true);
            delta.push_back(std::move(op));
          }
          insert_str.clear();
          insert_is_value = false;
          break;
        case Action::kRetain:
          if (retain > 0) {
            TextDeltaOp op = TextDeltaOp::retain(retain);
            if (!attributes.empty()) op.attributes = attributes.to_any_object();
            delta.push_back(std::move(op));
          }
          retain = 0;
          break;
        case Action::kNone:
          break;
      }
      action = Action::kNone;
    };
    for (Item* item = target_->start_; item != nullptr; item = item->right) {
      switch (content_ref(item->content)) {
        case ContentRef::kType:
        case ContentRef::kEmbed:
          if (adds(item)) {
            if (!deletes(item)) {
              add_op();
              action = Action::kInsert;
              insert_value = TextDeltaOp{};
              if (const auto* e = std::get_if<ContentEmbed>(&item->content)) {
                // Yjs reports an embed only if it is an object or a non-empty string.
                const lib0::Any& v = e->embed;
                const bool reported =
                    v.is<lib0::AnyObject>() || v.is<lib0::AnyArray>() || v.is<lib0::Bytes>() ||
                    v.is<lib0::Null>() || (v.is<std::string>() && !v.as<std::string>().empty());
                if (reported) {
                  insert_value.insert = v;
                  insert_is_value = true;
                }
              } else {
                insert_value.insert = std::get<ContentType>(item->content).type;
                insert_is_value = true;
              }
              add_op();
            }
          } else if (deletes(item)) {
            if (action != Action::kDelete) {
              add_op();
              action = Action::kDelete;
            }
            delete_len += 1;
          } else if (!item->deleted()) {
            if (action != Action::kRetain) {
              add_op();
              action = Action::kRetain;
            }
            retain += 1;
          }
          break;
        case ContentRef::kString:
          if (adds(item)) {
            if (!deletes(item)) {
              if (action != Action::kInsert) {
                add_op();
                action = Action::kInsert;
              }
              insert_str += std::get<ContentString>(item->content).str;
            }
          } else if (deletes(item)) {
            if (action != Action::kDelete) {
              add_op();
              action = Action::kDelete;
            }
            delete_len += item->length;
          } else if (!item->deleted()) {
            if (action != Action::kRetain) {
              add_op();
              action = Action::kRetain;
            }
            retain += item->length;
          }
          break;
        case ContentRef::kFormat: {
          const auto& f = content_get<ContentFormat>(item->content);
          const JsVal value = format_value(item);
          if (adds(item)) {
            if (!deletes(item)) {
              const JsVal cur = or_null(current.get(f.key));
              if (!equal_attrs(cur, value)) {
                if (action == Action::kRetain) add_op();
                if (equal_attrs(value, or_null(old_attrs.get(f.key)))) {
                  attributes.erase(f.key);
                } else {
                  attributes.set(f.key, value);
                }
              } else if (!value.is_null()) {
                delete_item(tr, item);
              }
            }
          } else if (deletes(item)) {
            old_attrs.set(f.key, value);
            const JsVal cur = or_null(current.get(f.key));
            if (!equal_attrs(cur, value)) {
              if (action == Action::kRetain) add_op();
              attributes.set(f.key, cur);
            }
          } else if (!item->deleted()) {
            old_attrs.set(f.key, value);
            const JsVal attr = attributes.get(f.key);
            if (!attr.is_undefined()) {
              if (!equal_attrs(attr, value)) {
                if (action == Action::kRetain) add_op();
                if (value.is_null()) {
                  attributes.erase(f.key);
                } else {
                  attributes.set(f.key, value);
                }
              } else if (!attr.is_null()) {
                // The contextless cleanup removes it later as well.
                delete_item(tr, item);
              }
            }
          }
          if (!item->deleted()) {
            if (action == Action::kInsert) add_op();
            update_current_attributes(current, item);
          }
          break;
        }
        default:
          break;
      }
    }
    add_op();
    while (!delta.empty()) {
      const TextDeltaOp& last = delta.back();
      if (last.kind == TextDeltaOp::Kind::kRetain && !last.attributes) {
        delta.pop_back();
      } else {
        break;
      }
    }
  });
  text_delta_ = std::move(delta);
  return *text_delta_;
}

std::uint64_t cleanup_text_formatting(Text& text) { return cleanup_type_formatting(text); }

void register_text_types() {
  register_type_factory(Text::kTypeRef,
                        [](std::string_view) -> std::unique_ptr<AbstractType> { return std::make_unique<Text>(); });
  set_formatting_cleanup_hook(&cleanup_text_after_transaction);
}

}  // namespace corates::crdt
