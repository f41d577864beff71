#pragma once
// lib0's "Any": the JSON-like values Yjs stores in ContentAny, ContentEmbed,
// ContentFormat, map entries and Doc options. Mirrors lib0/encoding.js writeAny.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace corates::crdt::lib0 {

struct Undefined {
  friend bool operator==(Undefined, Undefined) { return true; }
};
struct Null {
  friend bool operator==(Null, Null) { return true; }
};
// A JS BigInt as lib0 encodes it (writeBigInt64: 64-bit signed).
struct BigInt {
  std::int64_t value = 0;
  friend bool operator==(BigInt, BigInt) = default;
};

class Any;
using AnyArray = std::vector<Any>;
// Object entries in JS property order: integer-like keys ascending first, then
// the other keys in insertion order (what Object.keys would give). Keys are unique.
using AnyObject = std::vector<std::pair<std::string, Any>>;
using Bytes = std::vector<std::uint8_t>;

// Numbers are JS numbers (double); lib0 encodes an integral value with
// |v| <= 2^31-1 as a varint, one exactly representable as float32 as float32,
// anything else as float64 (see lib0 writeAny).
class Any {
 public:
  using Value = std::variant<Undefined, Null, bool, double, BigInt, std::string, Bytes,
                             AnyArray, AnyObject>;

  Any() = default;
  Any(Undefined v) : value_(v) {}
  Any(Null v) : value_(v) {}
  Any(bool v) : value_(v) {}
  Any(double v) : value_(v) {}
  Any(int v) : value_(static_cast<double>(v)) {}
  Any(std::int64_t v) : value_(static_cast<double>(v)) {}
  Any(BigInt v) : value_(v) {}
  Any(std::string v) : value_(std::move(v)) {}
  Any(const char* v) : value_(std::string(v)) {}
  Any(Bytes v) : value_(std::move(v)) {}
  Any(AnyArray v) : value_(std::move(v)) {}
  Any(AnyObject v) : value_(std::move(v)) {}

  const Value& value() const noexcept { return value_; }
  Value& value() noexcept { return value_; }

  template <class T> bool is() const noexcept { return std::holds_alternative<T>(value_); }
  template <class T> const T& as() const { return std::get<T>(value_); }
  template <class T> const T* get_if() const noexcept { return std::get_if<T>(&value_); }

  friend bool operator==(const Any& a, const Any& b) { return a.value_ == b.value_; }

 private:
  Value value_ = Undefined{};
};

// JSON text as JSON.stringify would print it (numbers in JS's shortest form,
// undefined inside arrays as null, undefined object members omitted).
// Bytes print as {"$bytes":"<base64>"} (our convention for Uint8Array).
std::string to_json(const Any& v);

}  // namespace corates::crdt::lib0
