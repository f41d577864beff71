#pragma once
// Structs of the Yjs document model (yjs/src/structs/{AbstractStruct,GC,Item,Skip}.js).
//
// Two representations:
//  - AbstractStruct / GC / Item: what lives in a Doc's StructStore. Allocated
//    from the Doc's pools; linked by raw pointers; never copied. The kind is a
//    tag (no virtual dispatch): GC and Item share the header fields.
//  - StructRef: a struct as decoded from an update, before integration
//    (parent given by root name or by ID). The Doc-less `updates` module
//    (merge/diff) works on StructRefs only; read/write are templates over the
//    update codecs.
//
// Thread-safety: none; a Doc and its structs are used from one thread at a time.

#include "corates/common/result.hpp"
#include "corates/crdt/content.hpp"
#include "corates/crdt/id.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace corates::crdt {

class AbstractType;

// Yjs never produces clocks beyond 2^53 - 1 (JS safe integers).
inline constexpr std::uint64_t kMaxSafeInteger = (std::uint64_t{1} << 53) - 1;

enum class StructKind : std::uint8_t { kGC = 0, kItem = 1 };

// Item::info bits. The low four match Yjs's Item.info.
namespace item_flags {
inline constexpr std::uint8_t kKeep = 1;
inline constexpr std::uint8_t kCountable = 2;
inline constexpr std::uint8_t kDeleted = 4;
inline constexpr std::uint8_t kMarker = 8;
inline constexpr std::uint8_t kHasOrigin = 16;
inline constexpr std::uint8_t kHasRightOrigin = 32;
}  // namespace item_flags

struct AbstractStruct {
  ID id;
  std::uint64_t length = 0;
  StructKind kind = StructKind::kGC;
  std::uint8_t info = item_flags::kDeleted;

  bool is_item() const noexcept { return kind == StructKind::kItem; }
  bool is_gc() const noexcept { return kind == StructKind::kGC; }
  bool deleted() const noexcept { return (info & item_flags::kDeleted) != 0; }
  ID last_id() const noexcept { return ID{id.client, id.clock + length - 1}; }
};

struct GC : AbstractStruct {
  GC() = default;
  GC(ID i, std::uint64_t len) {
    id = i;
    length = len;
    kind = StructKind::kGC;
    info = item_flags::kDeleted;
  }
};

struct Item : AbstractStruct {
  Item* left = nullptr;
  Item* right = nullptr;
  ID origin_;        // valid iff has_origin()
  ID right_origin_;  // valid iff has_right_origin()
  // No `redone` field: Yjs sets item.redone only from its UndoManager, which
  // the core does not have; one would keep those rare links in a side table
  // rather than 16 bytes in every Item.
  AbstractType* parent = nullptr;
  const std::string* parent_sub = nullptr;  // interned by the Doc; null for list items
  ItemContent content;

  Item() { kind = StructKind::kItem; info = 0; }

  bool keep() const noexcept { return (info & item_flags::kKeep) != 0; }
  void set_keep(bool v) noexcept { set_flag(item_flags::kKeep, v); }
  bool countable() const noexcept { return (info & item_flags::kCountable) != 0; }
  bool marker() const noexcept { return (info & item_flags::kMarker) != 0; }
  void set_marker(bool v) noexcept { set_flag(item_flags::kMarker, v); }
  void mark_deleted() noexcept { info |= item_flags::kDeleted; }

  std::optional<ID> origin() const noexcept {
    return (info & item_flags::kHasOrigin) ? std::optional<ID>(origin_) : std::nullopt;
  }
  std::optional<ID> right_origin() const noexcept {
    return (info & item_flags::kHasRightOrigin) ? std::optional<ID>(right_origin_) : std::nullopt;
  }
  void set_origin(std::optional<ID> v) noexcept {
    set_flag(item_flags::kHasOrigin, v.has_value());
    if (v) origin_ = *v;
  }
  void set_right_origin(std::optional<ID> v) noexcept {
    set_flag(item_flags::kHasRightOrigin, v.has_value());
    if (v) right_origin_ = *v;
  }

  // Next / previous non-deleted sibling (Yjs's item.next / item.prev).
  Item* next() const noexcept {
    Item* n = right;
    while (n != nullptr && n->deleted()) n = n->right;
    return n;
  }
  Item* prev() const noexcept {
    Item* n = left;
    while (n != nullptr && n->deleted()) n = n->left;
    return n;
  }

 private:
  void set_flag(std::uint8_t f, bool v) noexcept {
    if (v) {
      info |= f;
    } else {
      info &= static_cast<std::uint8_t>(~f);
    }
  }
};

// ---------------------------------------------------------------------------
// Decoded structs (before integration) and their codec.

struct StructRef {
  enum class Kind : std::uint8_t { kGC, kSkip, kItem };
  enum class ParentKind : std::uint8_t { kNone, kYKey, kID };

  Kind kind = Kind::kGC;
  ParentKind parent_kind = ParentKind::kNone;
  ID id;
  std::uint64_t length = 0;
  std::optional<ID> origin;
  std::optional<ID> right_origin;
  std::string parent_ykey;  // parent_kind == kYKey
  ID parent_id;             // parent_kind == kID
  std::optional<std::string> parent_sub;
  ItemContent content;  // kItem only

  // Yjs's sliceStruct (updates.js): the part from `diff` on. For items the
  // origin becomes (client, clock + diff - 1) and the content is spliced.
  // For unsplittable contents use only diff == 0.
  StructRef slice(std::uint64_t diff) const;
};

// Limits for decoding untrusted updates: an update may declare at most
// max_structs_per_byte * its size + max_structs_floor structs.
//
// Format v1 spends at least two bytes per struct, so the per-byte part never
// rejects valid v1 input. Format v2 has no such bound: its columns are
// run-length encoded, and a regular run (text typed backwards and deleted,
// nested types inserted at the front) costs the same few bytes for any count.
// Yjs writes 200,000 such structs in 42 bytes (crdt/test/vectors/
// make_edge_vectors.mjs measures it). The floor is what bounds that: about 2
// million structs, more than real documents hold, and (decoded before
// anything is applied) a few hundred MB at most. Raise it for trusted input.
struct DecodeLimits {
  std::uint64_t max_structs_per_byte = 4;
  std::uint64_t max_structs_floor = std::uint64_t{1} << 21;

  std::uint64_t struct_budget(std::size_t input_size) const noexcept {
    const std::uint64_t per_byte = static_cast<std::uint64_t>(input_size) * max_structs_per_byte;
    const std::uint64_t budget = per_byte + max_structs_floor;
    return budget < per_byte ? ~std::uint64_t{0} : budget;  // saturate
  }
};

// client -> structs in clock order, as Yjs's readClientsStructRefs (a later
// section for the same client replaces an earlier one, as Yjs's Map.set does).
struct ClientStructRefs {
  std::vector<std::pair<ClientID, std::vector<StructRef>>> clients;
  std::vector<StructRef>* find(ClientID c);
};

// Which of Yjs's two readers an info byte is dispatched like: the Doc's
// readClientsStructRefs (info & 0x1f: 0 is GC, 10 is Skip) or updates.js's
// lazyStructReaderGenerator (info == 10 is Skip, info & 0x1f == 0 is GC, so
// e.g. 0x2a is an item of unknown kind there).
enum class StructDispatch : std::uint8_t { kDoc, kLazy };

// Reads one struct starting at `id` (Yjs's struct readers, after the client
// section header) into `out`. Errors: the decoder's, zero-length structs and
// clocks beyond 2^53.
template <class Decoder>
Result<void> read_struct_ref(Decoder& dec, ID id, StructDispatch dispatch, StructRef& out);

// Reads the struct section of an update. Besides decoder errors it rejects:
// zero-length structs, clocks beyond 2^53, more structs than the input could
// hold, and references that can never arrive (an origin, right origin or
// parent in the item's own client at a clock >= the item's clock).
template <class Decoder>
Result<ClientStructRefs> read_client_struct_refs(Decoder& dec, std::size_t input_size,
                                                 const DecodeLimits& limits = {});

// Writes one struct as Yjs's Item/GC/Skip.write(encoder, offset).
template <class Encoder>
void write_struct_ref(Encoder& enc, const StructRef& s, std::uint64_t offset);

// ---------------------------------------------------------------------------
// Template definitions.

namespace detail {
inline Error struct_error(ErrorCode c, const char* msg) { return Error{c, msg}; }
}  // namespace detail

template <class Decoder>
Result<void> read_struct_ref(Decoder& dec, ID id, StructDispatch dispatch, StructRef& s) {
  auto& rest = dec.rest_decoder();
  s = StructRef{};
  s.id = id;
  const std::uint8_t info = dec.read_info();
  const bool skip = dispatch == StructDispatch::kDoc ? (info & 0x1f) == 10 : info == 10;
  if (skip) {
    s.kind = StructRef::Kind::kSkip;
    s.length = rest.read_var_uint();
  } else if ((info & 0x1f) == 0) {
    s.kind = StructRef::Kind::kGC;
    s.length = dec.read_len();
  } else {
    s.kind = StructRef::Kind::kItem;
    if (info & 0x80) s.origin = dec.read_left_id();
    if (info & 0x40) s.right_origin = dec.read_right_id();
    if ((info & 0xc0) == 0) {  // no origin: the parent is written (Yjs's cantCopyParentInfo)
      if (dec.read_parent_info()) {
        s.parent_kind = StructRef::ParentKind::kYKey;
        s.parent_ykey = dec.read_string();
      } else {
        s.parent_kind = StructRef::ParentKind::kID;
        s.parent_id = dec.read_left_id();
      }
      if (info & 0x20) s.parent_sub = dec.read_string();
    }
    if (!dec.ok()) return *dec.error();
    s.content = read_item_content(dec, info);
    s.length = content_length(s.content);
  }
  if (!dec.ok()) return *dec.error();
  if (s.length == 0) {
    return detail::struct_error(ErrorCode::kInvalidValue, "update: zero-length struct");
  }
  if (s.length > kMaxSafeInteger || id.clock > kMaxSafeInteger - s.length) {
    return detail::struct_error(ErrorCode::kInvalidValue, "update: clock beyond 2^53");
  }
  return {};
}

template <class Decoder>
Result<ClientStructRefs> read_client_struct_refs(Decoder& dec, std::size_t input_size,
                                                 const DecodeLimits& limits) {
  ClientStructRefs out;
  // Client -> position in out.clients; a scan while there are few clients
  // (most updates have one), hashed beyond.
  std::unordered_map<ClientID, std::size_t> index;
  constexpr std::size_t kScan = 16;
  auto& rest = dec.rest_decoder();
  const std::uint64_t num_clients = rest.read_var_uint();
  if (!dec.ok()) return *dec.error();
  if (num_clients > rest.remaining()) {
    return detail::struct_error(ErrorCode::kTooLarge, "update: more clients than input");
  }
  std::uint64_t budget = limits.struct_budget(input_size);
  for (std::uint64_t ci = 0; ci < num_clients; ++ci) {
    const std::uint64_t count = rest.read_var_uint();
    const ClientID client = dec.read_client();
    Clock clock = rest.read_var_uint();
    if (!dec.ok()) return *dec.error();
    if (count > budget) {
      return detail::struct_error(ErrorCode::kTooLarge, "update: struct count exceeds the decode limit");
    }
    budget -= count;
    std::vector<StructRef> refs;
    // Bounded by the input: v2 keeps most of a struct in other columns than
    // `rest`, so its remaining bytes alone would undercount.
    const std::uint64_t room = std::max<std::uint64_t>(rest.remaining(), input_size / 8) + 16;
    refs.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(count, room)));
    for (std::uint64_t i = 0; i < count; ++i) {
      StructRef& s = refs.emplace_back();
      if (auto r = read_struct_ref(dec, ID{client, clock}, StructDispatch::kDoc, s); !r) return r.error();
      if (s.kind == StructRef::Kind::kItem) {
        const auto never = [&](const std::optional<ID>& r) {
          return r && r->client == client && r->clock >= clock;
        };
        if (never(s.origin) || never(s.right_origin) ||
            (s.parent_kind == StructRef::ParentKind::kID && s.parent_id.client == client &&
             s.parent_id.clock >= clock)) {
          return detail::struct_error(ErrorCode::kMissingDependency,
                                      "update: reference that can never arrive");
        }
      }
      clock += s.length;
    }
    std::size_t pos = out.clients.size();
    if (out.clients.size() <= kScan) {
      for (std::size_t k = 0; k < out.clients.size(); ++k) {
        if (out.clients[k].first == client) {
          pos = k;
          break;
        }
      }
    } else {
      if (index.empty()) {
        for (std::size_t k = 0; k < out.clients.size(); ++k) index.emplace(out.clients[k].first, k);
      }
      pos = index.try_emplace(client, out.clients.size()).first->second;
    }
    if (pos < out.clients.size()) {
      out.clients[pos].second = std::move(refs);
    } else {
      out.clients.emplace_back(client, std::move(refs));
    }
  }
  return out;
}

template <class Encoder>
void write_struct_ref(Encoder& enc, const StructRef& s, std::uint64_t offset) {
  switch (s.kind) {
    case StructRef::Kind::kGC:
      enc.write_info(0);
      enc.write_len(s.length - offset);
      return;
    case StructRef::Kind::kSkip:
      enc.write_info(10);
      enc.rest_encoder().write_var_uint(s.length - offset);
      return;
    case StructRef::Kind::kItem:
      break;
  }
  const std::optional<ID> origin =
      offset > 0 ? std::optional<ID>(ID{s.id.client, s.id.clock + offset - 1}) : s.origin;
  const std::uint8_t info = static_cast<std::uint8_t>(
      (static_cast<std::uint8_t>(content_ref(s.content)) & 0x1f) | (origin ? 0x80 : 0) |
      (s.right_origin ? 0x40 : 0) | (s.parent_sub ? 0x20 : 0));
  enc.write_info(info);
  if (origin) enc.write_left_id(*origin);
  if (s.right_origin) enc.write_right_id(*s.right_origin);
  if (!origin && !s.right_origin) {
    if (s.parent_kind == StructRef::ParentKind::kYKey) {
      enc.write_parent_info(true);
      enc.write_string(s.parent_ykey);
    } else {
      enc.write_parent_info(false);
      enc.write_left_id(s.parent_id);
    }
    if (s.parent_sub) enc.write_string(*s.parent_sub);
  }
  write_item_content(enc, s.content, offset);
}

}  // namespace corates::crdt
