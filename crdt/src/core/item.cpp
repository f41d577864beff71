// Item behaviour that needs a Doc (Yjs's Item.js and the Doc-side parts of
// the Content*.js kinds): integrate (YATA), delete, gc, merge, split.
#include "internal.hpp"

#include <cassert>
#include <algorithm>
#include <unordered_set>
#include <vector>

namespace corates::crdt {

namespace {

// Pointer set for the YATA conflict scan: linear while small (the common
// case, no allocation beyond the vector), hashed when a scan gets long.
class SmallPtrSet {
 public:
  void insert(const AbstractStruct* p) {
    if (!big_.empty() || small_.size() >= 32) {
      if (big_.empty()) big_.insert(small_.begin(), small_.end());
      big_.insert(p);
    } else {
      small_.push_back(p);
    }
  }
  bool contains(const AbstractStruct* p) const {
    if (!big_.empty()) return big_.count(p) != 0;
    return std::find(small_.begin(), small_.end(), p) != small_.end();
  }
  void clear() {
    small_.clear();
    big_.clear();
  }

 private:
  std::vector<const AbstractStruct*> small_;
  std::unordered_set<const AbstractStruct*> big_;
};

void content_integrate(Transaction& tr, Item* item) {
  switch (content_ref(item->content)) {
    case ContentRef::kDeleted:
      tr.add_to_delete_set(item->id.client, item->id.clock, std::get<ContentDeleted>(item->content).len);
      item->mark_deleted();
      break;
    case ContentRef::kType: {
      auto& c = std::get<ContentType>(item->content);
      Doc& doc = tr.doc();
      if (c.type == nullptr) c.type = doc.adopt_type(create_type(c.type_ref, c.name));
      c.type->integrate(&doc, item);
      break;
    }
    case ContentRef::kDoc: {
      auto& c = content_get<ContentDoc>(item->content);
      Doc& doc = tr.doc();
      if (c.doc == nullptr) c.doc = doc.adopt_subdoc(std::make_unique<Doc>(detail::doc_options_from_content(c)));
      c.doc->set_item(item, &doc);
      tr.subdocs_added.push_back(c.doc);
      if (c.doc->should_load()) tr.subdocs_loaded.push_back(c.doc);
      break;
    }
    case ContentRef::kFormat: {
      AbstractType* p = item->parent;
      p->search_markers_.reset();
      p->has_formatting_ = true;
      break;
    }
    default:
      break;
  }
}

void content_delete(Transaction& tr, Item* item) {
  switch (content_ref(item->content)) {
    case ContentRef::kType: {
      AbstractType* type = std::get<ContentType>(item->content).type;
      if (type == nullptr) break;
      for (Item* it = type->start_; it != nullptr; it = it->right) {
        if (!it->deleted()) {
          delete_item(tr, it);
        } else if (it->id.clock < tr.before_clock(it->id.client)) {
          tr.merge_structs.push_back(it);
        }
      }
      for (const std::string* key : type->map_keys()) {
        Item* it = type->map_get(key);
        if (it == nullptr) continue;
        if (!it->deleted()) {
          delete_item(tr, it);
        } else if (it->id.clock < tr.before_clock(it->id.client)) {
          tr.merge_structs.push_back(it);
        }
      }
      tr.remove_changed_type(type);
      break;
    }
    case ContentRef::kDoc: {
      Doc* d = content_get<ContentDoc>(item->content).doc;
      auto& added = tr.subdocs_added;
      auto it = std::find(added.begin(), added.end(), d);
      if (it != added.end()) {
        added.erase(it);
      } else {
        tr.subdocs_removed.push_back(d);
      }
      break;
    }
    default:
      break;
  }
}

void content_gc(Doc& doc, Item* item) {
  if (content_ref(item->content) != ContentRef::kType) return;
  AbstractType* type = std::get<ContentType>(item->content).type;
  if (type == nullptr) return;
  for (Item* it = type->start_; it != nullptr;) {
    Item* next = it->right;
    detail::item_gc(doc, it, true);
    it = next;
  }
  type->start_ = nullptr;
  for (const std::string* key : type->map_keys()) {
    for (Item* it = type->map_get(key); it != nullptr;) {
      Item* left = it->left;
      detail::item_gc(doc, it, true);
      it = left;
    }
  }
  type->map_.clear();
  type->map_order_.clear();
}

}  // namespace

namespace detail {

DocOptions doc_options_from_content(const ContentDoc& c) {
  DocOptions o;
  o.guid = c.guid;
  o.should_load = c.should_load;
  if (const auto* obj = c.opts.get_if<lib0::AnyObject>()) {
    for (const auto& [k, v] : *obj) {
      if (k == "gc") o.gc = any_truthy(v);
      else if (k == "autoLoad") o.auto_load = any_truthy(v);
      else if (k == "meta") o.meta = v;
    }
  }
  return o;
}

void integrate_item(Transaction& tr, Item* self) {
  AbstractType* parent = self->parent;
  StructStore& store = tr.doc().store();
  if ((self->left == nullptr && (self->right == nullptr || self->right->left != nullptr)) ||
      (self->left != nullptr && self->left->right != self->right)) {
    Item* left = self->left;
    Item* o;
    if (left != nullptr) {
      o = left->right;
    } else if (self->parent_sub != nullptr) {
      o = parent->map_get(self->parent_sub);
      while (o != nullptr && o->left != nullptr) o = o->left;
    } else {
      o = parent->start_;
    }
    SmallPtrSet conflicting;
    SmallPtrSet before_origin;
    const std::optional<ID> self_origin = self->origin();
    const std::optional<ID> self_right_origin = self->right_origin();
    while (o != nullptr && o != self->right) {
      before_origin.insert(o);
      conflicting.insert(o);
      const std::optional<ID> o_origin = o->origin();
      if (self_origin == o_origin) {
        if (o->id.client < self->id.client) {
          left = o;
          conflicting.clear();
        } else if (self_right_origin == o->right_origin()) {
          break;
        }
      } else if (o_origin) {
        const AbstractStruct* oo = store.find(*o_origin);
        if (oo != nullptr && before_origin.contains(oo)) {
          if (!conflicting.contains(oo)) {
            left = o;
            conflicting.clear();
          }
        } else {
          break;
        }
      } else {
        break;
      }
      o = o->right;
    }
    self->left = left;
  }
  if (self->left != nullptr) {
    Item* right = self->left->right;
    self->right = right;
    self->left->right = self;
  } else {
    Item* r;
    if (self->parent_sub != nullptr) {
      r = parent->map_get(self->parent_sub);
      while (r != nullptr && r->left != nullptr) r = r->left;
    } else {
      r = parent->start_;
      parent->start_ = self;
    }
    self->right = r;
  }
  if (self->right != nullptr) {
    self->right->left = self;
  } else if (self->parent_sub != nullptr) {
    parent->map_set(self->parent_sub, self);
    if (self->left != nullptr) delete_item(tr, self->left);
  }
  if (self->parent_sub == nullptr && self->countable() && !self->deleted()) {
    parent->length_ += self->length;
  }
  store.add_struct(self);
  content_integrate(tr, self);
  tr.add_changed_type(parent, self->parent_sub);
  if ((parent->item() != nullptr && parent->item()->deleted()) ||
      (self->parent_sub != nullptr && self->right != nullptr)) {
    delete_item(tr, self);
  }
}

void item_gc(Doc& doc, Item* item, bool parent_gcd) {
  assert(item->deleted());
  content_gc(doc, item);
  if (content_ref(item->content) == ContentRef::kType) {
    AbstractType* t = std::get<ContentType>(item->content).type;
    if (t != nullptr) doc.bury_type(t);
  }
  if (parent_gcd) {
    GC* gc = doc.new_gc(item->id, item->length);
    doc.store().replace_struct(item, gc);
    doc.bury(item);
  } else {
    item->content = ContentDeleted{item->length};
  }
}

bool item_merge_with(Item* self, Item* right) {
  if (right->origin() == std::optional<ID>(self->last_id()) && self->right == right &&
      self->right_origin() == right->right_origin() && self->id.client == right->id.client &&
      self->id.clock + self->length == right->id.clock && self->deleted() == right->deleted() &&
      self->content.index() == right->content.index() &&
      content_merge(self->content, right->content)) {
    if (auto* markers = self->parent ? self->parent->search_markers_.get() : nullptr) {
      for (SearchMarker& m : *markers) {
        if (m.p == right) {
          m.p = self;
          if (!self->deleted() && self->countable()) m.index -= self->length;
        }
      }
    }
    if (right->keep()) self->set_keep(true);
    self->right = right->right;
    if (self->right != nullptr) self->right->left = self;
    self->length += right->length;
    return true;
  }
  return false;
}

bool struct_merge_with(AbstractStruct* left, AbstractStruct* right) {
  if (left->kind != right->kind) return false;
  if (left->is_gc()) {
    left->length += right->length;
    return true;
  }
  return item_merge_with(static_cast<Item*>(left), static_cast<Item*>(right));
}

DeleteSet delete_set_from_store(const StructStore& store) {
  DeleteSet ds;
  for (const auto& [client, structs] : store.clients) {
    std::vector<DeleteItem> items;
    for (std::size_t i = 0; i < structs.size(); ++i) {
      const AbstractStruct* s = structs[i];
      if (!s->deleted()) continue;
      const Clock clock = s->id.clock;
      std::uint64_t len = s->length;
      while (i + 1 < structs.size() && structs[i + 1]->deleted()) {
        len += structs[++i]->length;
      }
      items.push_back(DeleteItem{clock, len});
    }
    if (!items.empty()) ds.clients.emplace(client, std::move(items));
  }
  return ds;
}

}  // namespace detail

void delete_item(Transaction& tr, Item* item) {
  if (item->deleted()) return;
  AbstractType* parent = item->parent;
  if (item->countable() && item->parent_sub == nullptr) parent->length_ -= item->length;
  item->mark_deleted();
  tr.add_to_delete_set(item->id.client, item->id.clock, item->length);
  tr.add_changed_type(parent, item->parent_sub);
  content_delete(tr, item);
}

Item* split_item(Transaction& tr, Item* left, std::uint64_t diff) {
  Doc& doc = tr.doc();
  Item* right = doc.new_item();
  right->id = ID{left->id.client, left->id.clock + diff};
  right->left = left;
  right->set_origin(ID{left->id.client, left->id.clock + diff - 1});
  right->right = left->right;
  right->set_right_origin(left->right_origin());
  right->parent = left->parent;
  right->parent_sub = left->parent_sub;
  right->content = content_splice(left->content, diff);
  right->length = content_length(right->content);
  if (content_countable(right->content)) right->info |= item_flags::kCountable;
  if (left->deleted()) right->mark_deleted();
  if (left->keep()) right->set_keep(true);
  left->right = right;
  if (right->right != nullptr) right->right->left = right;
  tr.merge_structs.push_back(right);
  if (right->parent_sub != nullptr && right->right == nullptr) {
    right->parent->map_set(right->parent_sub, right);
  }
  left->length = diff;
  return right;
}

AbstractStruct* get_item_clean_start(Transaction& tr, ID id) {
  auto& structs = tr.doc().store().clients[id.client];
  const std::size_t index = StructStore::find_index_ss(structs, id.clock);
  assert(index < structs.size());
  AbstractStruct* s = structs[index];
  if (s->id.clock < id.clock && s->is_item()) {
    Item* r = split_item(tr, static_cast<Item*>(s), id.clock - s->id.clock);
    structs.insert(structs.begin() + static_cast<std::ptrdiff_t>(index) + 1, r);
    return r;
  }
  return s;
}

AbstractStruct* get_item_clean_end(Transaction& tr, ID id) {
  auto& structs = tr.doc().store().clients[id.client];
  const std::size_t index = StructStore::find_index_ss(structs, id.clock);
  assert(index < structs.size());
  AbstractStruct* s = structs[index];
  if (id.clock != s->id.clock + s->length - 1 && s->is_item()) {
    Item* r = split_item(tr, static_cast<Item*>(s), id.clock - s->id.clock + 1);
    structs.insert(structs.begin() + static_cast<std::ptrdiff_t>(index) + 1, r);
  }
  return s;
}

Item* create_item(Transaction& tr, Item* left, Item* right, AbstractType* parent,
                  const std::string* parent_sub, ItemContent content) {
  Doc& doc = tr.doc();
  Item* item = doc.new_item();
  item->id = tr.next_id();
  item->left = left;
  if (left != nullptr) item->set_origin(left->last_id());
  item->right = right;
  if (right != nullptr) item->set_right_origin(right->id);
  item->parent = parent;
  item->parent_sub = parent_sub;
  item->content = std::move(content);
  item->length = content_length(item->content);
  if (content_countable(item->content)) item->info |= item_flags::kCountable;
  detail::integrate_item(tr, item);
  return item;
}

bool is_parent_of(const AbstractType* parent, const Item* child) {
  while (child != nullptr) {
    if (child->parent == parent) return true;
    child = child->parent->item();
  }
  return false;
}

}  // namespace corates::crdt
