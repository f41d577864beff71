#pragma once
// lib0 binary encoding (lib0/encoding.js) and the run-length encoders that the
// Yjs update format v2 is built from. Names follow lib0 in snake_case.
// Encoders never fail; they grow a byte buffer (amortized O(1) per byte).
// Values are the caller's to keep in range: integers beyond +-(2^53-1) give
// encodings that lib0 (and our decoders) reject, and strings must be valid
// UTF-8 (what our decoders hand out). Thread-safety: one encoder per thread.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "corates/crdt/lib0/any.hpp"

namespace corates::crdt::lib0 {

class Encoder {
 public:
  void write_uint8(std::uint8_t v) {
    ensure(1);
    buf_[len_++] = v;
  }
  void write_uint16(std::uint16_t v);  // little endian
  void write_uint32(std::uint32_t v);  // little endian
  void write_uint32_big_endian(std::uint32_t v);
  // Up to 2^53-1 as Yjs uses (7 bits per byte, high bit = continue).
  void write_var_uint(std::uint64_t v) {
    ensure(10);
    std::uint8_t* p = buf_.data() + len_;
    while (v > 0x7f) {
      *p++ = static_cast<std::uint8_t>(0x80 | (v & 0x7f));
      v >>= 7;
    }
    *p++ = static_cast<std::uint8_t>(v);
    len_ = static_cast<std::size_t>(p - buf_.data());
  }
  // lib0 signed varint: first byte holds continue bit, sign bit and 6 bits.
  // `negative_zero` writes -0 (lib0 keeps the sign of zero).
  void write_var_int(std::int64_t v, bool negative_zero = false);
  // UTF-8 bytes prefixed by their byte length.
  void write_var_string(std::string_view utf8);
  void write_uint8_array(std::span<const std::uint8_t> bytes);      // raw, no length
  void write_var_uint8_array(std::span<const std::uint8_t> bytes);  // length-prefixed
  void write_float32(float v);                                      // big endian
  void write_float64(double v);                                     // big endian
  void write_big_int64(std::int64_t v);                             // big endian
  // lib0 writeAny. Object members are written in JS property order
  // (normalize_js_object order; keys are expected to be unique).
  void write_any(const Any& v);
  // Pre-allocates room for n more bytes.
  void reserve(std::size_t n) { ensure(n); }

  std::size_t length() const noexcept { return len_; }
  bool has_content() const noexcept { return len_ > 0; }
  // The bytes written so far. Trims the spare room of the buffer (so the next
  // write may reallocate); the reference stays valid until the next write.
  const std::vector<std::uint8_t>& bytes() const noexcept {
    buf_.resize(len_);  // shrinking never allocates
    return buf_;
  }
  std::vector<std::uint8_t> to_bytes() && {
    buf_.resize(len_);
    len_ = 0;
    return std::move(buf_);
  }
  std::vector<std::uint8_t> to_bytes() const& {
    return std::vector<std::uint8_t>(buf_.begin(),
                                     buf_.begin() + static_cast<std::ptrdiff_t>(len_));
  }

 private:
  // Writes go through a raw pointer into spare room (buf_.size() is the room,
  // len_ the bytes written): much faster than push_back per byte.
  void ensure(std::size_t n) {
    if (buf_.size() - len_ < n) grow(n);
  }
  void grow(std::size_t n);
  mutable std::vector<std::uint8_t> buf_;
  std::size_t len_ = 0;
};

// Run-length encoding of uint8 values (lib0 RleEncoder with writeUint8).
// As in lib0, the count of the last run is not written (the decoder repeats
// the last value forever).
class RleEncoder {
 public:
  void write(std::uint8_t v) {
    if (has_s_ && s_ == v) {
      ++count_;
      return;
    }
    if (count_ > 0) enc_.write_var_uint(count_ - 1);
    count_ = 1;
    enc_.write_uint8(v);
    s_ = v;
    has_s_ = true;
  }
  std::vector<std::uint8_t> to_bytes();  // call once

 private:
  Encoder enc_;
  std::uint8_t s_ = 0;
  std::uint64_t count_ = 0;
  bool has_s_ = false;
};

// lib0 UintOptRleEncoder: runs of equal unsigned values.
class UintOptRleEncoder {
 public:
  void write(std::uint64_t v) {
    if (v == s_) {
      ++count_;
      return;
    }
    flush();
    s_ = v;
    count_ = 1;
  }
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
  void write(std::int64_t v) {
    const std::int64_t d = v - s_;
    s_ = v;
    if (d == diff_) {
      ++count_;
      return;
    }
    flush();
    count_ = 1;
    diff_ = d;
  }
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
// O(n), branch-free. On invalid UTF-8: every non-continuation byte counts 1
// (2 for bytes >= 0xF0).
std::size_t utf16_length(std::string_view utf8) noexcept;

}  // namespace corates::crdt::lib0
