#pragma once
// lib0 binary encoding (lib0/encoding.js) and the run-length encoders that the
// Yjs update format v2 is built from. Names follow lib0 in snake_case.
// Encoders never fail; they grow a byte buffer.

#include "corates/crdt/lib0/any.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corates::crdt::lib0 {

class Encoder {
 public:
  void write_uint8(std::uint8_t v) { buf_.push_back(v); }
  void write_uint16(std::uint16_t v);  // little endian
  void write_uint32(std::uint32_t v);  // little endian
  void write_uint32_big_endian(std::uint32_t v);
  // Up to 2^53-1 as Yjs uses (7 bits per byte, high bit = continue).
  void write_var_uint(std::uint64_t v);
  // lib0 signed varint: first byte holds continue bit, sign bit and 6 bits.
  // `negative_zero` writes -0 (lib0 keeps the sign of zero).
  void write_var_int(std::int64_t v, bool negative_zero = false);
  // UTF-8 bytes prefixed by their byte length.
  void write_var_string(std::string_view utf8);
  void write_uint8_array(std::span<const std::uint8_t> bytes);      // raw, no length
  void write_var_uint8_array(std::span<const std::uint8_t> bytes);  // length-prefixed
  void write_float32(float v);   // big endian
  void write_float64(double v);  // big endian
  void write_big_int64(std::int64_t v);  // big endian
  void write_any(const Any& v);

  std::size_t length() const noexcept { return buf_.size(); }
  bool has_content() const noexcept { return !buf_.empty(); }
  const std::vector<std::uint8_t>& bytes() const noexcept { return buf_; }
  std::vector<std::uint8_t> to_bytes() && { return std::move(buf_); }
  std::vector<std::uint8_t> to_bytes() const& { return buf_; }

 private:
  std::vector<std::uint8_t> buf_;
};

// Run-length encoding of uint8 values (lib0 RleEncoder with writeUint8).
class RleEncoder {
 public:
  void write(std::uint8_t v);
  std::vector<std::uint8_t> to_bytes();  // flushes; call once

 private:
  Encoder enc_;
  std::uint8_t s_ = 0;
  std::uint64_t count_ = 0;
  bool has_s_ = false;
};

// lib0 UintOptRleEncoder: runs of equal unsigned values.
class UintOptRleEncoder {
 public:
  void write(std::uint64_t v);
  std::vector<std::uint8_t> to_bytes();  // flushes; call once

 private:
  void flush();
  Encoder enc_;
  std::uint64_t s_ = 0;
  std::uint64_t count_ = 0;
};

// lib0 IntDiffOptRleEncoder: runs of equal differences between consecutive values.
class IntDiffOptRleEncoder {
 public:
  void write(std::int64_t v);
  std::vector<std::uint8_t> to_bytes();  // flushes; call once

 private:
  void flush();
  Encoder enc_;
  std::int64_t s_ = 0;
  std::uint64_t count_ = 0;
  std::int64_t diff_ = 0;
};

// lib0 StringEncoder: all strings concatenated, lengths (in UTF-16 code units)
// in a UintOptRleEncoder.
class StringEncoder {
 public:
  void write(std::string_view utf8);
  std::vector<std::uint8_t> to_bytes();  // flushes; call once

 private:
  std::string s_;
  UintOptRleEncoder lens_;
};

// Number of UTF-16 code units of a UTF-8 string (4-byte sequences count 2).
std::size_t utf16_length(std::string_view utf8) noexcept;

}  // namespace corates::crdt::lib0
