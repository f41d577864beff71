#pragma once
// lib0's "Any": the JSON-like values Yjs stores in ContentAny, ContentEmbed,
// ContentFormat, map entries and Doc options. Mirrors lib0/encoding.js writeAny.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "corates/common/result.hpp"

namespace corates::crdt::lib0 {

// Nesting limit for arrays / objects when decoding (readAny, JSON), so hostile
// input cannot blow the stack.
inline constexpr int kMaxAnyDepth = 256;

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
  using Value =
      std::variant<Undefined, Null, bool, double, BigInt, std::string, Bytes, AnyArray, AnyObject>;

  Any() = default;
  Any(Undefined v) : value_(v) {}
  Any(Null v) : value_(v) {}
  Any(bool v) : value_(v) {}
  Any(double v) : value_(v) {}
  Any(int v) : value_(static_cast<double>(v)) {}
  Any(unsigned v) : value_(static_cast<double>(v)) {}
  Any(std::int64_t v) : value_(static_cast<double>(v)) {}
  Any(std::uint64_t v) : value_(static_cast<double>(v)) {}
  Any(BigInt v) : value_(v) {}
  Any(std::string v) : value_(std::move(v)) {}
  Any(const char* v) : value_(std::string(v)) {}
  Any(Bytes v) : value_(std::move(v)) {}
  Any(AnyArray v) : value_(std::move(v)) {}
  Any(AnyObject v) : value_(std::move(v)) {}

  const Value& value() const noexcept { return value_; }
  Value& value() noexcept { return value_; }

  template <class T>
  bool is() const noexcept {
    return std::holds_alternative<T>(value_);
  }
  template <class T>
  const T& as() const {
    return std::get<T>(value_);
  }
  template <class T>
  const T* get_if() const noexcept {
    return std::get_if<T>(&value_);
  }

  friend bool operator==(const Any& a, const Any& b) { return a.value_ == b.value_; }

 private:
  Value value_ = Undefined{};
};

// Brings entries into JS property order, as assigning them one by one to a
// fresh JS object would: a repeated key keeps its first position and takes the
// last value; integer-like keys ("0".."4294967294" in canonical form) come first
// in ascending order, then the other keys in insertion order. O(n log n).
void normalize_js_object(AnyObject& obj);

// True for keys JS treats as array indices (canonical "0".."4294967294").
bool is_array_index_key(std::string_view key) noexcept;

// JSON text as JSON.stringify would print it (numbers in JS's shortest form,
// undefined inside arrays as null, undefined object members omitted, members in
// JS property order). Bytes print as {"$bytes":"<base64>"} (our convention for
// Uint8Array), a BigInt as its decimal digits (JS would throw) and a top-level
// Undefined as `null`, so the output is always valid JSON. Never fails.
std::string to_json(const Any& v);

// Exactly JSON.stringify(v) as Yjs writes ContentJSON entries and (format v1)
// embeds and format values: like to_json except that Bytes print as a
// Uint8Array does ({"0":1,"1":2}) and a top-level Undefined as the text
// `undefined` (Yjs's ContentJSON convention). Never fails.
std::string json_stringify(const Any& v);

// JSON.parse(text) into Any, with JS object semantics (normalize_js_object).
// The whole text `undefined` yields Undefined (Yjs's ContentJSON convention).
// Lone surrogates written as escapes become U+FFFD (what TextEncoder would write).
// Errors: kInvalidValue for malformed JSON or text that is not UTF-8,
// kTooLarge for nesting deeper than kMaxAnyDepth. Bounded: memory linear in
// the text, recursion <= kMaxAnyDepth.
Result<Any> parse_json(std::string_view text);

}  // namespace corates::crdt::lib0
