#pragma once
// Y.Array (yjs/src/types/YArray.js): a list of values (Any, binary, nested
// types, subdocuments). Positions count elements. Mutations take the open
// Transaction; the convenience overloads without one open their own.
//
// Cost: positional operations use search markers (amortized close to O(1)
// for local edits near recent positions); to_json is O(n).
// Thread-safety: none (see doc.hpp).

#include "corates/crdt/abstract_type.hpp"

#include <initializer_list>

namespace corates::crdt {

class Array : public AbstractType {
 public:
  static constexpr std::uint8_t kTypeRef = static_cast<std::uint8_t>(TypeRef::kArray);
  Array();

  std::uint8_t type_ref() const noexcept override { return kTypeRef; }
  std::unique_ptr<AbstractType> copy_empty() const override { return std::make_unique<Array>(); }
  lib0::Any to_json() const override;
  void call_observer(Transaction& tr, const std::set<const std::string*>& subs) override;

  // kInvalidArgument if index > length().
  Result<void> insert(Transaction& tr, std::uint64_t index, std::span<const InsertValue> values);
  Result<void> insert(std::uint64_t index, std::initializer_list<InsertValue> values);
  void push(Transaction& tr, std::span<const InsertValue> values);
  void push(std::initializer_list<InsertValue> values);
  void unshift(Transaction& tr, std::span<const InsertValue> values);
  // Inserts a new empty nested type and returns it (null on a bad index).
  AbstractType* insert_type(Transaction& tr, std::uint64_t index, NewType type);
  template <class T>
  T* insert_type(Transaction& tr, std::uint64_t index, std::string name = {}) {
    return dynamic_cast<T*>(insert_type(tr, index, NewType{T::kTypeRef, std::move(name)}));
  }
  // kInvalidArgument if index + length > length().
  Result<void> remove(Transaction& tr, std::uint64_t index, std::uint64_t length = 1);
  Result<void> remove(std::uint64_t index, std::uint64_t length = 1);

  std::optional<Value> get(std::uint64_t index);
  std::vector<Value> to_array() const { return type_list_to_array(*this); }
  std::vector<Value> slice(std::uint64_t start, std::uint64_t end) const {
    return type_list_slice(*this, start, end);
  }
};

}  // namespace corates::crdt
