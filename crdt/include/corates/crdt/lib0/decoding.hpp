#pragma once
// lib0 binary decoding (lib0/decoding.js) over untrusted bytes.
//
// Errors are sticky: the first failure (truncation, varint overflow, bad tag,
// absurd length) is recorded, every later read returns a zero value, and the
// caller checks ok()/error() at a convenient boundary. No read ever touches
// memory outside the input, allocates more than the input could describe, or throws.

#include "corates/common/result.hpp"
#include "corates/crdt/lib0/any.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace corates::crdt::lib0 {

// Nesting limit for readAny (arrays / objects), so hostile input cannot blow the stack.
inline constexpr int kMaxAnyDepth = 256;

class Decoder {
 public:
  Decoder() = default;
  explicit Decoder(std::span<const std::uint8_t> data) : data_(data) {}

  bool ok() const noexcept { return !error_.has_value(); }
  const std::optional<Error>& error() const noexcept { return error_; }
  // Records an error (the first one wins) and stops further reads.
  void set_error(ErrorCode code, std::string message);

  bool has_content() const noexcept { return ok() && pos_ < data_.size(); }
  std::size_t pos() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return data_.size() - pos_; }

  std::uint8_t read_uint8();
  std::uint16_t read_uint16();
  std::uint32_t read_uint32();
  std::uint32_t read_uint32_big_endian();
  std::uint8_t peek_uint8();
  // Values above 2^53-1 are an error (kVarintOverflow), as Yjs cannot produce them.
  std::uint64_t read_var_uint();
  // Sets *negative_zero when the encoding was -0.
  std::int64_t read_var_int(bool* negative_zero = nullptr);
  // UTF-8; invalid sequences are replaced by U+FFFD as TextDecoder does.
  std::string read_var_string();
  std::span<const std::uint8_t> read_uint8_array(std::size_t len);
  std::span<const std::uint8_t> read_var_uint8_array();
  float read_float32();
  double read_float64();
  std::int64_t read_big_int64();
  Any read_any();

 private:
  Any read_any_depth(int depth);
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  std::optional<Error> error_;
};

// lib0 RleDecoder over uint8 values.
class RleDecoder {
 public:
  RleDecoder() = default;
  explicit RleDecoder(std::span<const std::uint8_t> data) : dec_(data) {}
  std::uint8_t read();
  const Decoder& decoder() const noexcept { return dec_; }

 private:
  Decoder dec_;
  std::uint8_t s_ = 0;
  std::int64_t count_ = 0;
};

class UintOptRleDecoder {
 public:
  UintOptRleDecoder() = default;
  explicit UintOptRleDecoder(std::span<const std::uint8_t> data) : dec_(data) {}
  std::uint64_t read();
  const Decoder& decoder() const noexcept { return dec_; }

 private:
  Decoder dec_;
  std::uint64_t s_ = 0;
  std::uint64_t count_ = 0;
};

class IntDiffOptRleDecoder {
 public:
  IntDiffOptRleDecoder() = default;
  explicit IntDiffOptRleDecoder(std::span<const std::uint8_t> data) : dec_(data) {}
  std::int64_t read();
  const Decoder& decoder() const noexcept { return dec_; }

 private:
  Decoder dec_;
  std::int64_t s_ = 0;
  std::uint64_t count_ = 0;
  std::int64_t diff_ = 0;
};

// Strings are handed out by value; positions are in UTF-16 code units of the
// concatenated string, as lib0's StringDecoder slices a JS string.
class StringDecoder {
 public:
  StringDecoder() = default;
  explicit StringDecoder(std::span<const std::uint8_t> data);
  std::string read();
  bool ok() const noexcept;
  const std::optional<Error>& error() const noexcept;

 private:
  UintOptRleDecoder lens_;
  std::string str_;       // the concatenated strings, UTF-8
  std::size_t byte_pos_ = 0;
  std::optional<Error> error_;
};

}  // namespace corates::crdt::lib0
