// Applying and encoding updates with a Doc (Yjs's encoding.js): one
// algorithm, templated over the update codecs.
#include "corates/crdt/encoding.hpp"

#include "corates/crdt/update_decoder.hpp"
#include "corates/crdt/update_encoder.hpp"
#include "corates/crdt/updates.hpp"
#include "internal.hpp"
#include "small_map.hpp"

#include <algorithm>
#include <span>
#include <unordered_map>

namespace corates::crdt {

namespace {

struct RestStructs {
  std::map<ClientID, Clock> missing;
  std::vector<std::uint8_t> update;  // v2
};

// Dependencies not yet in the store (Yjs's Item.getMissing, check part).
std::optional<ClientID> get_missing(const StructRef& s, const StructStore& store) {
  if (s.kind != StructRef::Kind::kItem) return std::nullopt;
  if (s.origin && s.origin->client != s.id.client && s.origin->clock >= store.get_state(s.origin->client)) {
    return s.origin->client;
  }
  if (s.right_origin && s.right_origin->client != s.id.client &&
      s.right_origin->clock >= store.get_state(s.right_origin->client)) {
    return s.right_origin->client;
  }
  if (s.parent_kind == StructRef::ParentKind::kID && s.parent_id.client != s.id.client &&
      s.parent_id.clock >= store.get_state(s.parent_id.client)) {
    return s.parent_id.client;
  }
  return std::nullopt;
}

void integrate_gc(Transaction& tr, ID id, std::uint64_t length) {
  tr.doc().store().add_struct(tr.doc().new_gc(id, length));
}

// Yjs's getMissing (resolution part) followed, if `apply`, by integrate(offset).
void resolve_and_integrate(Transaction& tr, StructRef& s, std::uint64_t offset, bool apply) {
  Doc& doc = tr.doc();
  StructStore& store = doc.store();
  if (s.kind == StructRef::Kind::kGC) {
    if (apply) integrate_gc(tr, ID{s.id.client, s.id.clock + offset}, s.length - offset);
    return;
  }
  Item* left = nullptr;
  Item* right = nullptr;
  bool gc_neighbour = false;
  std::optional<ID> origin = s.origin;
  std::optional<ID> right_origin = s.right_origin;
  if (origin) {
    AbstractStruct* l = get_item_clean_end(tr, *origin);
    origin = l->last_id();
    if (l->is_gc()) gc_neighbour = true; else left = static_cast<Item*>(l);
  }
  if (right_origin) {
    // In a document written in order, the right origin usually still follows
    // the left one: take it without a search (it starts at right_origin, so
    // get_item_clean_start would neither split it nor find another).
    AbstractStruct* r = left != nullptr && left->right != nullptr && left->right->id == *right_origin
                            ? left->right
                            : get_item_clean_start(tr, *right_origin);
    right_origin = r->id;
    if (r->is_gc()) gc_neighbour = true; else right = static_cast<Item*>(r);
  }
  AbstractType* parent = nullptr;
  const std::string* parent_sub = nullptr;
  if (gc_neighbour) {
    parent = nullptr;
  } else if (s.parent_kind == StructRef::ParentKind::kNone) {
    if (left != nullptr) {
      parent = left->parent;
      parent_sub = left->parent_sub;
    } else if (right != nullptr) {
      parent = right->parent;
      parent_sub = right->parent_sub;
    }
  } else {
    if (s.parent_kind == StructRef::ParentKind::kYKey) {
      parent = &doc.get_type(s.parent_ykey);
    } else {
      AbstractStruct* p = store.find(s.parent_id);
      if (p != nullptr && p->is_item()) {
        auto* item = static_cast<Item*>(p);
        if (auto* ct = std::get_if<ContentType>(&item->content)) parent = ct->type;
      }
    }
    if (s.parent_sub) parent_sub = doc.intern(*s.parent_sub);
  }
  if (!apply) return;
  ID id = s.id;
  std::uint64_t length = s.length;
  ItemContent content = std::move(s.content);
  if (offset > 0) {
    id.clock += offset;
    AbstractStruct* l = get_item_clean_end(tr, ID{id.client, id.clock - 1});
    origin = l->last_id();
    if (l->is_gc()) {
      // Yjs would fail here; the only sensible outcome is a GC.
      parent = nullptr;
      left = nullptr;
    } else {
      left = static_cast<Item*>(l);
    }
    content = content_splice(content, offset);
    length -= offset;
  }
  if (parent == nullptr) {
    integrate_gc(tr, id, length);
    return;
  }
  Item* item = doc.new_item();
  item->id = id;
  item->length = length;
  item->left = left;
  item->right = right;
  item->set_origin(origin);
  item->set_right_origin(right_origin);
  item->parent = parent;
  item->parent_sub = parent_sub;
  item->content = std::move(content);
  if (content_countable(item->content)) item->info |= item_flags::kCountable;
  detail::integrate_item(tr, item);
}

template <class Encoder>
std::vector<std::uint8_t> encode_rest(const std::map<ClientID, std::vector<const StructRef*>>& rest) {
  Encoder enc;
  enc.rest_encoder().write_var_uint(rest.size());
  for (auto it = rest.rbegin(); it != rest.rend(); ++it) {
    const auto& structs = it->second;
    enc.rest_encoder().write_var_uint(structs.size());
    enc.write_client(it->first);
    enc.rest_encoder().write_var_uint(structs.front()->id.clock);
    for (const StructRef* s : structs) write_struct_ref(enc, *s, 0);
  }
  enc.rest_encoder().write_var_uint(0);  // no deletes
  return enc.to_bytes();
}

// Yjs's integrateStructs.
std::optional<RestStructs> integrate_structs(Transaction& tr, ClientStructRefs& in) {
  struct RefList {
    ClientID client;
    std::vector<StructRef>* refs;
    std::size_t i = 0;
    std::size_t n = 0;
  };
  StructStore& store = tr.doc().store();
  std::vector<RefList> lists;
  lists.reserve(in.clients.size());
  detail::SmallMap<ClientID, std::size_t> by_client;
  for (auto& [client, refs] : in.clients) {
    by_client[client] = lists.size();
    lists.push_back(RefList{client, &refs, 0, refs.size()});
  }
  std::vector<ClientID> ids;
  for (auto& l : lists) ids.push_back(l.client);
  std::sort(ids.begin(), ids.end());
  if (ids.empty()) return std::nullopt;
  const auto lookup = [&](ClientID c) -> RefList* {
    const std::size_t* i = by_client.find(c);
    return i == nullptr ? nullptr : &lists[*i];
  };
  const auto next_target = [&]() -> RefList* {
    while (!ids.empty()) {
      RefList* t = lookup(ids.back());
      if (t != nullptr && t->i < t->n) return t;
      ids.pop_back();
    }
    return nullptr;
  };
  RefList* cur = next_target();
  if (cur == nullptr) return std::nullopt;
  std::map<ClientID, std::vector<const StructRef*>> rest;
  std::map<ClientID, Clock> missing_sv;
  const auto update_missing = [&](ClientID c, Clock clock) {
    auto it = missing_sv.find(c);
    if (it == missing_sv.end() || it->second > clock) missing_sv[c] = clock;
  };
  std::vector<StructRef*> stack;
  detail::SmallMap<ClientID, Clock> state;
  const auto add_stack_to_rest = [&] {
    for (StructRef* s : stack) {
      const ClientID client = s->id.client;
      if (RefList* l = lookup(client)) {
        l->i--;
        auto& v = rest[client];
        v.clear();
        for (std::size_t k = l->i; k < l->n; ++k) v.push_back(&(*l->refs)[k]);
        by_client.erase(client);
        l->i = 0;
        l->n = 0;
      } else {
        rest[client] = {s};
      }
      ids.erase(std::remove(ids.begin(), ids.end(), client), ids.end());
    }
    stack.clear();
  };
  StructRef* head = &(*cur->refs)[cur->i++];
  while (true) {
    if (head->kind != StructRef::Kind::kSkip) {
      const ClientID client = head->id.client;
      Clock* known = state.find(client);
      if (known == nullptr) known = state.try_emplace(client, store.get_state(client)).first;
      const Clock local = *known;
      if (local < head->id.clock) {
        stack.push_back(head);
        update_missing(client, head->id.clock - 1);
        add_stack_to_rest();
      } else if (auto missing = get_missing(*head, store)) {
        stack.push_back(head);
        RefList* sr = lookup(*missing);
        if (sr == nullptr || sr->i == sr->n) {
          update_missing(*missing, store.get_state(*missing));
          add_stack_to_rest();
        } else {
          head = &(*sr->refs)[sr->i++];
          continue;
        }
      } else {
        const std::uint64_t offset = local - head->id.clock;
        const bool apply = offset == 0 || offset < head->length;
        resolve_and_integrate(tr, *head, offset, apply);
        if (apply) *state.try_emplace(client, 0).first = head->id.clock + head->length;
      }
    }
    if (!stack.empty()) {
      head = stack.back();
      stack.pop_back();
    } else if (cur != nullptr && cur->i < cur->n) {
      head = &(*cur->refs)[cur->i++];
    } else {
      cur = next_target();
      if (cur == nullptr) break;
      head = &(*cur->refs)[cur->i++];
    }
  }
  if (rest.empty()) return std::nullopt;
  return RestStructs{std::move(missing_sv), encode_rest<UpdateEncoderV2>(rest)};
}

// Yjs's readAndApplyDeleteSet over a decoded delete set. Returns the
// unapplied part as a v2 update (or nothing).
// `sections` is the wire order of the ranges (see DeleteSetSection).
std::optional<std::vector<std::uint8_t>> apply_delete_set(Transaction& tr, const DeleteSet& ds,
                                                          const std::vector<DeleteSetSection>& sections) {
  StructStore& store = tr.doc().store();
  DeleteSet unapplied;
  std::unordered_map<ClientID, std::size_t> next_range;
  for (const DeleteSetSection& section : sections) {
    const ClientID client = section.client;
    const auto& all = ds.clients.at(client);
    std::size_t& first = next_range[client];
    const std::span<const DeleteItem> dels(all.data() + first, section.count);
    first += section.count;
    const Clock state = store.get_state(client);
    std::size_t hint = 0;
    for (const DeleteItem& d : dels) {
      const Clock clock = d.clock;
      const Clock clock_end = d.clock + d.len;
      if (clock < state) {
        if (state < clock_end) unapplied.add(client, state, clock_end - state);
        auto& structs = store.clients[client];
        std::size_t index = StructStore::find_index_near(structs, clock, hint);
        AbstractStruct* s = structs[index];
        if (!s->deleted() && s->id.clock < clock) {
          Item* r = split_item(tr, static_cast<Item*>(s), clock - s->id.clock);
          structs.insert(structs.begin() + static_cast<std::ptrdiff_t>(index) + 1, r);
          ++index;
        }
        while (index < structs.size()) {
          s = structs[index++];
          if (s->id.clock < clock_end) {
            if (!s->deleted()) {
              if (clock_end < s->id.clock + s->length) {
                Item* r = split_item(tr, static_cast<Item*>(s), clock_end - s->id.clock);
                structs.insert(structs.begin() + static_cast<std::ptrdiff_t>(index), r);
              }
              delete_item(tr, static_cast<Item*>(s));
            }
          } else {
            break;
          }
        }
        hint = index;
      } else {
        unapplied.add(client, clock, clock_end - clock);
      }
    }
  }
  if (unapplied.empty()) return std::nullopt;
  // Yjs writes the ranges in input order; v2 needs them ascending (only
  // malformed input differs), so sort first.
  unapplied.sort_and_merge();
  UpdateEncoderV2 enc;
  enc.rest_encoder().write_var_uint(0);
  write_delete_set(enc, unapplied);
  return enc.to_bytes();
}

struct DecodedUpdate {
  ClientStructRefs structs;
  DeleteSet ds;
  std::vector<DeleteSetSection> ds_sections;
};

template <class Decoder>
Result<DecodedUpdate> decode_update(std::span<const std::uint8_t> bytes) {
  Decoder dec(bytes);
  if (!dec.ok()) return *dec.error();
  auto structs = read_client_struct_refs(dec, bytes.size());
  if (!structs) return structs.error();
  std::vector<DeleteSetSection> sections;
  auto ds = read_delete_set(dec, &sections);
  if (!ds) return ds.error();
  return DecodedUpdate{std::move(*structs), std::move(*ds), std::move(sections)};
}

std::optional<std::vector<std::uint8_t>> merge_two_v2(const std::vector<std::uint8_t>& a,
                                                      const std::vector<std::uint8_t>& b) {
  auto r = merge_updates_v2(std::vector<UpdateBytes>{a, b});
  if (!r) return std::nullopt;
  return std::move(*r);
}

// Yjs's readUpdateV2 body, inside the transaction.
void read_update(Transaction& tr, DecodedUpdate& u) {
  Doc& doc = tr.doc();
  StructStore& store = doc.store();
  // Yjs creates root types while reading, even for structs that stay pending.
  for (auto& [client, refs] : u.structs.clients) {
    for (const StructRef& s : refs) {
      if (s.kind == StructRef::Kind::kItem && s.parent_kind == StructRef::ParentKind::kYKey) {
        doc.get_type(s.parent_ykey);
      }
    }
  }
  bool retry = false;
  auto rest = integrate_structs(tr, u.structs);
  if (store.pending_structs) {
    auto& pending = *store.pending_structs;
    for (const auto& [client, clock] : pending.missing) {
      if (clock < store.get_state(client)) {
        retry = true;
        break;
      }
    }
    if (rest) {
      for (const auto& [client, clock] : rest->missing) {
        auto it = pending.missing.find(client);
        if (it == pending.missing.end() || it->second > clock) pending.missing[client] = clock;
      }
      if (auto merged = merge_two_v2(pending.update, rest->update)) pending.update = std::move(*merged);
    }
  } else if (rest) {
    store.pending_structs = PendingStructs{std::move(rest->missing), std::move(rest->update)};
  }
  auto ds_rest = apply_delete_set(tr, u.ds, u.ds_sections);
  if (store.pending_ds) {
    std::optional<std::vector<std::uint8_t>> ds_rest2;
    auto decoded = decode_update<UpdateDecoderV2>(*store.pending_ds);
    if (decoded) ds_rest2 = apply_delete_set(tr, decoded->ds, decoded->ds_sections);
    if (ds_rest && ds_rest2) {
      if (auto merged = merge_two_v2(*ds_rest, *ds_rest2)) {
        store.pending_ds = std::move(*merged);
      } else {
        store.pending_ds = std::move(ds_rest);
      }
    } else {
      store.pending_ds = ds_rest ? std::move(ds_rest) : std::move(ds_rest2);
    }
  } else {
    store.pending_ds = std::move(ds_rest);
  }
  if (retry) {
    std::vector<std::uint8_t> update = std::move(store.pending_structs->update);
    store.pending_structs.reset();
    auto decoded = decode_update<UpdateDecoderV2>(update);
    if (decoded) read_update(tr, *decoded);
  }
}

template <class Decoder>
Result<void> apply_update_impl(Doc& doc, std::span<const std::uint8_t> bytes, const Origin& origin) {
  auto decoded = decode_update<Decoder>(bytes);
  if (!decoded) return decoded.error();
  doc.transact([&](Transaction& tr) { read_update(tr, *decoded); }, origin, false);
  return {};
}

template <class Encoder>
std::vector<std::uint8_t> encode_state_as_update_impl(const Doc& doc, const StateVector& sv) {
  const StructStore& store = doc.store();
  Encoder enc;
  detail::write_clients_structs(enc, store, sv);
  write_delete_set(enc, detail::delete_set_from_store(store));
  std::vector<std::uint8_t> out = enc.to_bytes();
  if (!store.has_pending()) return out;
  std::vector<UpdateBytes> updates;
  updates.push_back(out);
  if (store.pending_ds) updates.push_back(*store.pending_ds);
  if (store.pending_structs) {
    auto d = diff_update_v2(store.pending_structs->update, encode_state_vector(sv));
    if (d) updates.push_back(std::move(*d));
  }
  if (updates.size() == 1) return out;
  if constexpr (Encoder::kVersion == 1) {
    for (std::size_t i = 1; i < updates.size(); ++i) {
      auto c = convert_update_format_v2_to_v1(updates[i]);
      if (!c) return out;
      updates[i] = std::move(*c);
    }
    auto m = merge_updates(updates);
    return m ? std::move(*m) : out;
  } else {
    auto m = merge_updates_v2(updates);
    return m ? std::move(*m) : out;
  }
}

}  // namespace

Result<void> apply_update(Doc& doc, std::span<const std::uint8_t> update, const Origin& origin) {
  return apply_update_impl<UpdateDecoderV1>(doc, update, origin);
}

Result<void> apply_update_v2(Doc& doc, std::span<const std::uint8_t> update, const Origin& origin) {
  return apply_update_impl<UpdateDecoderV2>(doc, update, origin);
}

std::vector<std::uint8_t> encode_state_as_update(const Doc& doc, const StateVector& sv) {
  return encode_state_as_update_impl<UpdateEncoderV1>(doc, sv);
}

std::vector<std::uint8_t> encode_state_as_update_v2(const Doc& doc, const StateVector& sv) {
  return encode_state_as_update_impl<UpdateEncoderV2>(doc, sv);
}

Result<std::vector<std::uint8_t>> encode_state_as_update(const Doc& doc, std::span<const std::uint8_t> sv) {
  if (sv.empty()) return encode_state_as_update(doc, StateVector{});
  auto decoded = decode_state_vector(sv);
  if (!decoded) return decoded.error();
  return encode_state_as_update(doc, *decoded);
}

Result<std::vector<std::uint8_t>> encode_state_as_update_v2(const Doc& doc,
                                                            std::span<const std::uint8_t> sv) {
  if (sv.empty()) return encode_state_as_update_v2(doc, StateVector{});
  auto decoded = decode_state_vector(sv);
  if (!decoded) return decoded.error();
  return encode_state_as_update_v2(doc, *decoded);
}

std::vector<std::uint8_t> encode_state_vector(const StateVector& sv) {
  lib0::Encoder enc;
  enc.write_var_uint(sv.size());
  for (auto it = sv.rbegin(); it != sv.rend(); ++it) {
    enc.write_var_uint(it->first);
    enc.write_var_uint(it->second);
  }
  return std::move(enc).to_bytes();
}

std::vector<std::uint8_t> encode_state_vector(const Doc& doc) {
  return encode_state_vector(doc.store().get_state_vector());
}

std::vector<std::uint8_t> encode_state_vector_v2(const Doc& doc) { return encode_state_vector(doc); }

Result<StateVector> decode_state_vector(std::span<const std::uint8_t> bytes) {
  lib0::Decoder dec(bytes);
  StateVector sv;
  const std::uint64_t n = dec.read_var_uint();
  if (!dec.ok()) return *dec.error();
  if (n > dec.remaining()) return Error{ErrorCode::kTooLarge, "state vector: more entries than input"};
  for (std::uint64_t i = 0; i < n; ++i) {
    const ClientID client = dec.read_var_uint();
    const Clock clock = dec.read_var_uint();
    if (!dec.ok()) return *dec.error();
    sv[client] = clock;
  }
  return sv;
}

}  // namespace corates::crdt
