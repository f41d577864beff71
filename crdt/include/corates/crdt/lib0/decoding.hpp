#pragma once
// lib0 binary decoding (lib0/decoding.js) over untrusted bytes.
//
// Errors are sticky: the first failure (truncation, varint overflow, bad tag,
// absurd length, invalid UTF-8) is recorded, every later read returns a zero
// value, and the caller checks ok()/error() at a convenient boundary. No read
// ever touches memory outside the input, allocates more than linear in the
// input, recurses deeper than kMaxAnyDepth, or throws.
//
// Thread-safety: a decoder is a cursor; use one per thread. The input bytes
// must outlive the decoder (spans returned by read_*uint8_array point into them).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "corates/common/result.hpp"
#include "corates/crdt/lib0/any.hpp"

namespace corates::crdt::lib0 {

// Largest value lib0 varints carry (Number.MAX_SAFE_INTEGER).
inline constexpr std::uint64_t kMaxSafeInteger = (std::uint64_t{1} << 53) - 1;

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

  std::uint8_t read_uint8() {
    if (pos_ < data_.size()) return data_[pos_++];
    truncated();
    return 0;
  }
  std::uint16_t read_uint16();
  std::uint32_t read_uint32();
  std::uint32_t read_uint32_big_endian();
  std::uint8_t peek_uint8();
  // Values above 2^53-1 are an error (kVarintOverflow), as Yjs cannot produce
  // them. Redundant zero continuation groups (overlong forms) are accepted, as
  // lib0 accepts them.
  std::uint64_t read_var_uint() {
    if (pos_ < data_.size() && data_[pos_] < 0x80) return data_[pos_++];
    return read_var_uint_slow();
  }
  // |value| <= 2^53-1 (else kVarintOverflow). Sets *negative_zero when the
  // encoding was -0 (sign bit set, magnitude 0).
  std::int64_t read_var_int(bool* negative_zero = nullptr);
  // UTF-8. Invalid UTF-8 is an error (kInvalidValue): lib0 decodes with a
  // fatal TextDecoder, so Yjs rejects such input too.
  std::string read_var_string();
  // Like read_var_string but without copying; the view points into the input.
  std::string_view read_var_string_view();
  std::span<const std::uint8_t> read_uint8_array(std::size_t len);
  std::span<const std::uint8_t> read_var_uint8_array();
  float read_float32();
  double read_float64();
  std::int64_t read_big_int64();
  // lib0 readAny. Objects come out in JS property order (normalize_js_object);
  // a "__proto__" key is dropped, as the JS assignment obj["__proto__"] = v
  // creates no own property. Nesting deeper than kMaxAnyDepth is kTooLarge.
  Any read_any();

 private:
  std::uint64_t read_var_uint_slow();
  void truncated();
  void fail(ErrorCode code, const char* message);
  Any read_any_depth(int depth);
  std::span<const std::uint8_t> data_;
  std::size_t pos_ = 0;
  std::optional<Error> error_;
};

// lib0 RleDecoder over uint8 values. After the last run (whose count the
// encoder does not write) the last value repeats forever, as in lib0.
class RleDecoder {
 public:
  RleDecoder() = default;
  explicit RleDecoder(std::span<const std::uint8_t> data) : dec_(data) {}
  std::uint8_t read() {
    if (count_ != 0) {
      if (count_ > 0) --count_;
      return s_;
    }
    return read_run();
  }
  const Decoder& decoder() const noexcept { return dec_; }

 private:
  std::uint8_t read_run();
  Decoder dec_;
  std::uint8_t s_ = 0;
  std::int64_t count_ = 0;  // -1: the last run, endless
};

// lib0 UintOptRleDecoder.
class UintOptRleDecoder {
 public:
  UintOptRleDecoder() = default;
  explicit UintOptRleDecoder(std::span<const std::uint8_t> data) : dec_(data) {}
  std::uint64_t read() {
    if (count_ != 0) {
      --count_;
      return s_;
    }
    return read_run();
  }
  const Decoder& decoder() const noexcept { return dec_; }

 private:
  std::uint64_t read_run();
  Decoder dec_;
  std::uint64_t s_ = 0;
  std::uint64_t count_ = 0;
};

// lib0 IntDiffOptRleDecoder. A running value outside +-(2^53-1) is an error
// (kVarintOverflow) instead of JS's silent loss of precision.
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

// lib0 StringDecoder: one string, sliced by lengths in UTF-16 code units.
// Strings are handed out by value. A slice boundary inside a surrogate pair
// (only hostile input does that) turns each broken half into U+FFFD, which is
// what Yjs writes when it re-encodes such a string; a slice beyond the end of
// the string is an error (kInconsistentLength; JS would silently shorten it).
class StringDecoder {
 public:
  StringDecoder() = default;
  explicit StringDecoder(std::span<const std::uint8_t> data);
  std::string read();
  // As read(), and sets *utf16_units to the string's length in UTF-16 code
  // units (the column's own count, so nobody needs to recount it).
  std::string read(std::uint64_t* utf16_units);
  bool ok() const noexcept;
  const std::optional<Error>& error() const noexcept;

 private:
  UintOptRleDecoder lens_;
  std::string str_;  // the concatenated strings, UTF-8
  std::size_t byte_pos_ = 0;
  bool ascii_ = true;     // str_ is ASCII: UTF-16 units == bytes
  bool in_pair_ = false;  // the previous slice ended inside the pair at byte_pos_
  std::optional<Error> error_;
};

// UTF-8 validity as a fatal WHATWG TextDecoder judges it (no overlong forms,
// no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view bytes) noexcept;

// WHATWG TextDecoder (non-fatal) decoding: each maximal subpart of an invalid
// sequence becomes U+FFFD.
std::string utf8_decode_lossy(std::string_view bytes);

}  // namespace corates::crdt::lib0
