#pragma once
// JS value semantics that Y.Text's formatting algorithms depend on:
//  - JsVal: an attribute value as JS sees it, including the identity of an
//    object value (Yjs compares object values with ===, so two equal-looking
//    objects from different format items differ, while a value copied from a
//    format item into a new one keeps its identity);
//  - JsMap: a JS Map (insertion order; delete + set moves a key to the end);
//  - JsObj: a JS object (integer-like keys first in ascending order, then
//    insertion order).
// Keys are views into storage that outlives one operation (the caller's
// attribute object or format items, which are not freed inside a transaction).
#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/structs.hpp"
#include "corates/crdt/text.hpp"

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace corates::crdt::detail {

// Identities of caller-supplied objects use a client id no Doc can have.
inline constexpr ClientID kUserIdentityClient = ~ClientID{0};

struct TextAccess {
  static std::unordered_map<ID, ID>& identities(Text& t) { return t.format_identity_; }
  static const std::unordered_map<ID, ID>& identities(const Text& t) { return t.format_identity_; }
  static std::uint64_t& next_identity(Text& t) { return t.next_user_identity_; }
};

inline std::uint64_t next_user_identity(Text& t, std::size_t n) {
  std::uint64_t& next = TextAccess::next_identity(t);
  const std::uint64_t first = next;
  next += n;
  return first;
}

// Records that the format item `item` holds the same JS object as identity `ident`.
inline void share_identity(Text& t, ID item, ID ident) {
  if (item != ident) TextAccess::identities(t)[item] = ident;
}

struct JsVal {
  const lib0::Any* v = nullptr;  // null = undefined
  const Item* item = nullptr;    // the format item holding the value, if any
  std::uint64_t user = 0;        // identity of a caller-supplied value

  bool is_undefined() const noexcept { return v == nullptr || v->is<lib0::Undefined>(); }
  bool is_null() const noexcept { return v != nullptr && v->is<lib0::Null>(); }
  // typeof v === 'object' && v !== null
  bool is_object() const noexcept {
    return v != nullptr && (v->is<lib0::AnyObject>() || v->is<lib0::AnyArray>() || v->is<lib0::Bytes>());
  }
  ID identity() const {
    if (item == nullptr) return ID{kUserIdentityClient, user};
    if (const auto* t = dynamic_cast<const Text*>(item->parent)) {
      const auto& ids = TextAccess::identities(*t);
      auto it = ids.find(item->id);
      if (it != ids.end()) return it->second;
    }
    return item->id;
  }
};

// JS ===, with object identity as described above.
inline bool strict_equal(const JsVal& a, const JsVal& b) {
  if (a.is_undefined() || b.is_undefined()) return a.is_undefined() && b.is_undefined();
  const auto& av = a.v->value();
  const auto& bv = b.v->value();
  if (av.index() != bv.index()) return false;
  if (a.is_object()) return a.identity() == b.identity();
  return av == bv;  // doubles: NaN != NaN and 0 == -0, as ===
}

// Members of two distinct objects: primitives by value, objects never ===.
inline bool member_strict_equal(const lib0::Any& a, const lib0::Any& b) {
  if (a.value().index() != b.value().index()) return false;
  if (a.is<lib0::AnyObject>() || a.is<lib0::AnyArray>() || a.is<lib0::Bytes>()) return false;
  return a == b;
}

// lib0's object.equalFlat on two distinct objects.
inline bool equal_flat(const lib0::Any& a, const lib0::Any& b) {
  if (const auto* ao = a.get_if<lib0::AnyObject>()) {
    const auto* bo = b.get_if<lib0::AnyObject>();
    if (bo == nullptr || ao->size() != bo->size()) return false;
    for (const auto& [k, val] : *ao) {
      const lib0::Any* bm = nullptr;
      for (const auto& [bk, bval] : *bo) {
        if (bk == k) {
          bm = &bval;
          break;
        }
      }
      if (bm == nullptr) return false;  // b[k] is undefined and b lacks k
      if (!member_strict_equal(*bm, val)) return false;
    }
    return true;
  }
  if (const auto* aa = a.get_if<lib0::AnyArray>()) {
    const auto* ba = b.get_if<lib0::AnyArray>();
    if (ba == nullptr || aa->size() != ba->size()) return false;
    for (std::size_t i = 0; i < aa->size(); ++i) {
      if (!member_strict_equal((*ba)[i], (*aa)[i])) return false;
    }
    return true;
  }
  if (const auto* ab = a.get_if<lib0::Bytes>()) {
    const auto* bb = b.get_if<lib0::Bytes>();
    return bb != nullptr && *ab == *bb;
  }
  return false;
}

// Yjs's equalAttrs: a === b || (both non-null objects && equalFlat(a, b)).
inline bool equal_attrs(const JsVal& a, const JsVal& b) {
  if (strict_equal(a, b)) return true;
  return a.is_object() && b.is_object() && equal_flat(*a.v, *b.v);
}

// A JS Map from attribute name to value.
class JsMap {
 public:
  using Entries = std::vector<std::pair<std::string_view, JsVal>>;

  JsVal get(std::string_view key) const {
    for (const auto& e : entries_) {
      if (e.first == key) return e.second;
    }
    return JsVal{};
  }
  bool has(std::string_view key) const {
    for (const auto& e : entries_) {
      if (e.first == key) return true;
    }
    return false;
  }
  void set(std::string_view key, const JsVal& v) {
    for (auto& e : entries_) {
      if (e.first == key) {
        e.second = v;
        return;
      }
    }
    entries_.emplace_back(key, v);
  }
  void erase(std::string_view key) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->first == key) {
        entries_.erase(it);
        return;
      }
    }
  }
  bool empty() const noexcept { return entries_.empty(); }
  std::size_t size() const noexcept { return entries_.size(); }
  const Entries& entries() const noexcept { return entries_; }

 private:
  Entries entries_;
};

// A JS object from attribute name to value (property order as JS).
class JsObj {
 public:
  using Entries = std::vector<std::pair<std::string_view, JsVal>>;

  // The caller's attributes as a fresh JS object literal would hold them;
  // each value gets its own identity (first_identity, first_identity + 1, ...).
  static JsObj from_user(const lib0::AnyObject& o, std::uint64_t first_identity) {
    JsObj r;
    std::uint64_t id = first_identity;
    for (const auto& [k, v] : o) r.set(k, JsVal{&v, nullptr, id++});
    return r;
  }

  JsVal get(std::string_view key) const {
    for (const auto& e : entries_) {
      if (e.first == key) return e.second;
    }
    return JsVal{};
  }
  // JS assignment: an existing key keeps its place.
  void set(std::string_view key, const JsVal& v) {
    for (auto& e : entries_) {
      if (e.first == key) {
        e.second = v;
        return;
      }
    }
    if (!lib0::is_array_index_key(key)) {
      entries_.emplace_back(key, v);
      return;
    }
    const auto index_value = [](std::string_view k) {
      std::uint64_t n = 0;
      for (const char c : k) n = n * 10 + static_cast<std::uint64_t>(c - '0');
      return n;
    };
    const std::uint64_t n = index_value(key);
    auto it = entries_.begin();
    while (it != entries_.end() && lib0::is_array_index_key(it->first) && index_value(it->first) < n) {
      ++it;
    }
    entries_.emplace(it, key, v);
  }
  void erase(std::string_view key) {
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->first == key) {
        entries_.erase(it);
        return;
      }
    }
  }
  bool empty() const noexcept { return entries_.empty(); }
  const Entries& entries() const noexcept { return entries_; }

  lib0::AnyObject to_any_object() const {
    lib0::AnyObject o;
    o.reserve(entries_.size());
    for (const auto& [k, v] : entries_) {
      o.emplace_back(std::string(k), v.v != nullptr ? *v.v : lib0::Any{});
    }
    return o;
  }

 private:
  Entries entries_;
};

}  // namespace corates::crdt::detail
