// Doc (Yjs's Doc.js).
#include "corates/crdt/doc.hpp"

#include "corates/crdt/array.hpp"
#include "corates/crdt/map.hpp"
#include "internal.hpp"

#include <algorithm>
#include <random>

namespace corates::crdt {

namespace {

std::mt19937_64& rng() {
  static thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

std::string uuid_v4() {
  std::uint8_t b[16];
  for (int i = 0; i < 16; i += 8) {
    const std::uint64_t v = rng()();
    for (int j = 0; j < 8; ++j) b[i + j] = static_cast<std::uint8_t>(v >> (8 * j));
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(hex[b[i] >> 4]);
    s.push_back(hex[b[i] & 15]);
  }
  return s;
}

}  // namespace

Doc::Doc(DocOptions o)
    : client_id_(o.client_id ? *o.client_id : static_cast<ClientID>(static_cast<std::uint32_t>(rng()()))),
      guid_(o.guid.empty() ? uuid_v4() : std::move(o.guid)),
      gc_(o.gc),
      meta_(std::move(o.meta)),
      auto_load_(o.auto_load),
      should_load_(o.should_load),
      collection_id_(std::move(o.collection_id)) {}

Doc::~Doc() {
  for (auto& [client, structs] : store_.clients) {
    for (AbstractStruct* s : structs) free_struct(s);
  }
  store_.clients.clear();
  for (AbstractStruct* s : graveyard_) free_struct(s);
  graveyard_.clear();
}

void Doc::free_struct(AbstractStruct* s) {
  if (s->is_item()) {
    items_.release(static_cast<Item*>(s));
  } else {
    gcs_.release(static_cast<GC*>(s));
  }
}

void Doc::free_graveyard() {
  for (AbstractStruct* s : graveyard_) free_struct(s);
  graveyard_.clear();
  for (AbstractType* t : dead_types_) release_type(t);
  dead_types_.clear();
}

void Doc::load() {
  should_load_ = true;
  if (item_ != nullptr && parent_doc_ != nullptr) {
    Doc* p = parent_doc_;
    p->transact([this](Transaction& tr) { tr.subdocs_loaded.push_back(this); });
  }
}

void Doc::destroy() {
  destroyed_ = true;
  const std::vector<Doc*> subs = subdocs_;  // destroying edits subdocs_
  for (Doc* sub : subs) sub->destroy();
  if (item_ != nullptr) {
    Item* item = item_;
    Doc* parent = parent_doc_;
    item_ = nullptr;
    // Yjs: new Doc({ guid, ...content.opts, shouldLoad: false }). A deleted
    // item may hold ContentDeleted by now (gc); Yjs's new Doc is then
    // unreachable and never reported, so none is made.
    Doc* fresh = nullptr;
    if (auto* content = content_get_if<ContentDoc>(&item->content)) {
      DocOptions o = detail::doc_options_from_content(*content);
      o.should_load = false;
      fresh = parent->adopt_subdoc(std::make_unique<Doc>(std::move(o)));
      fresh->set_item(item, parent);
      content->doc = fresh;
    }
    parent->transact(
        [&](Transaction& tr) {
          if (!item->deleted() && fresh != nullptr) tr.subdocs_added.push_back(fresh);
          auto& removed = tr.subdocs_removed;
          if (std::find(removed.begin(), removed.end(), this) == removed.end()) removed.push_back(this);
        },
        {}, true);
  }
  auto fns = destroy_fns_;
  for (auto& [id, fn] : fns) fn(*this);
  // Yjs's Observable.destroy: every listener goes.
  update_fns_.clear();
  update_v2_fns_.clear();
  after_fns_.clear();
  subdocs_fns_.clear();
  destroy_fns_.clear();
}

const std::string* Doc::intern(std::string_view key) {
  auto it = keys_.find(key);
  if (it != keys_.end()) return &*it;
  return &*keys_.emplace(key).first;
}

const std::string* Doc::find_interned(std::string_view key) const {
  auto it = keys_.find(key);
  return it == keys_.end() ? nullptr : &*it;
}

AbstractType* Doc::adopt_type(std::unique_ptr<AbstractType> t) {
  AbstractType* p = t.get();
  types_.emplace(p, std::move(t));
  return p;
}

void Doc::release_type(AbstractType* t) { types_.erase(t); }

Doc* Doc::adopt_subdoc(std::unique_ptr<Doc> d) {
  Doc* p = d.get();
  owned_subdocs_.push_back(std::move(d));
  return p;
}

void Doc::add_subdoc(Doc* d) {
  if (std::find(subdocs_.begin(), subdocs_.end(), d) == subdocs_.end()) subdocs_.push_back(d);
  if (d->collection_id_.empty()) d->collection_id_ = collection_id_;
}

void Doc::remove_subdoc(Doc* d) {
  subdocs_.erase(std::remove(subdocs_.begin(), subdocs_.end(), d), subdocs_.end());
}

AbstractType* Doc::find_share(std::string_view name) const {
  auto it = shares_.find(name);
  return it == shares_.end() ? nullptr : it->second.get();
}

AbstractType& Doc::get_type(std::string_view name) {
  if (AbstractType* t = find_share(name)) return *t;
  return *add_share(name, std::make_unique<GenericType>());
}

AbstractType* Doc::add_share(std::string_view name, std::unique_ptr<AbstractType> t) {
  const std::string* key = intern(name);
  AbstractType* p = t.get();
  p->root_name_ = key;
  p->integrate(this, nullptr);
  shares_.emplace(std::string_view(*key), std::move(t));
  share_order_.emplace_back(key, p);
  return p;
}

AbstractType* Doc::replace_share(std::string_view name, std::unique_ptr<AbstractType> t) {
  auto it = shares_.find(name);
  AbstractType* old = it->second.get();
  AbstractType* p = t.get();
  p->root_name_ = old->root_name_;
  p->integrate(this, nullptr);
  p->take_content_from(*old);
  for (auto& entry : share_order_) {
    if (entry.second == old) entry.second = p;
  }
  it->second = std::move(t);
  return p;
}

Array& Doc::get_array(std::string_view name) { return get<Array>(name); }
Map& Doc::get_map(std::string_view name) { return get<Map>(name); }

void Doc::transact(const TransactionFn& fn, const Origin& origin, bool local) {
  bool initial = false;
  if (transaction_ == nullptr) {
    initial = true;
    cleanups_.push_back(std::make_unique<Transaction>(*this, origin, local));
    transaction_ = cleanups_.back().get();
  }
  fn(*transaction_);
  if (initial) {
    const bool finish = transaction_ == cleanups_.front().get();
    transaction_ = nullptr;
    if (finish) detail::cleanup_transactions(*this);
  }
}

SubscriptionId Doc::on_update(UpdateFn fn) {
  update_fns_.emplace_back(next_sub_, std::move(fn));
  return next_sub_++;
}
SubscriptionId Doc::on_update_v2(UpdateFn fn) {
  update_v2_fns_.emplace_back(next_sub_, std::move(fn));
  return next_sub_++;
}
SubscriptionId Doc::on_after_transaction(TransactionFn fn) {
  after_fns_.emplace_back(next_sub_, std::move(fn));
  return next_sub_++;
}
SubscriptionId Doc::on_subdocs(SubdocsFn fn) {
  subdocs_fns_.emplace_back(next_sub_, std::move(fn));
  return next_sub_++;
}
SubscriptionId Doc::on_destroy(std::function<void(Doc&)> fn) {
  destroy_fns_.emplace_back(next_sub_, std::move(fn));
  return next_sub_++;
}

void Doc::off(SubscriptionId id) {
  const auto drop = [id](auto& v) {
    v.erase(std::remove_if(v.begin(), v.end(), [id](const auto& e) { return e.first == id; }), v.end());
  };
  drop(update_fns_);
  drop(update_v2_fns_);
  drop(after_fns_);
  drop(subdocs_fns_);
  drop(destroy_fns_);
}

void Doc::emit_after_transaction(Transaction& tr) {
  auto fns = after_fns_;
  for (auto& [id, fn] : fns) fn(tr);
}

void Doc::emit_subdocs(const SubdocsEvent& ev, Transaction& tr) {
  auto fns = subdocs_fns_;
  for (auto& [id, fn] : fns) fn(ev, tr);
}

}  // namespace corates::crdt
