#pragma once
// Y.Map (yjs/src/types/YMap.js): last-writer-wins entries by string key.
// Mutations take the open Transaction; overloads without one open their own.
//
// Cost: get/set/has/delete are O(1) expected; to_json/entries O(entries).
// Thread-safety: none (see doc.hpp).

#include "corates/crdt/abstract_type.hpp"

namespace corates::crdt {

class Map : public AbstractType {
 public:
  static constexpr std::uint8_t kTypeRef = static_cast<std::uint8_t>(TypeRef::kMap);

  std::uint8_t type_ref() const noexcept override { return kTypeRef; }
  std::unique_ptr<AbstractType> copy_empty() const override { return std::make_unique<Map>(); }
  lib0::Any to_json() const override;
  void call_observer(Transaction& tr, const std::set<const std::string*>& subs) override;

  void set(Transaction& tr, std::string_view key, const InsertValue& value);
  void set(std::string_view key, const InsertValue& value);
  AbstractType* set_type(Transaction& tr, std::string_view key, NewType type);
  template <class T>
  T* set_type(Transaction& tr, std::string_view key, std::string name = {}) {
    return dynamic_cast<T*>(set_type(tr, key, NewType{T::kTypeRef, std::move(name)}));
  }
  void remove(Transaction& tr, std::string_view key);
  void remove(std::string_view key);
  std::optional<Value> get(std::string_view key) const { return type_map_get(*this, key); }
  bool has(std::string_view key) const { return type_map_has(*this, key); }
  std::vector<std::string> keys() const;
  std::vector<std::pair<std::string, Value>> entries() const { return type_map_get_all(*this); }
  std::size_t size() const;
};

}  // namespace corates::crdt
