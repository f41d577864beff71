#include "corates/crdt/lib0/decoding.hpp"

#include <bit>
#include <cstring>

#include "corates/crdt/lib0/encoding.hpp"

namespace corates::crdt::lib0 {

void Decoder::set_error(ErrorCode code, std::string message) {
  if (!error_) error_.emplace(code, std::move(message));
  pos_ = data_.size();  // every later read fails fast and returns zero
}

void Decoder::fail(ErrorCode code, const char* message) {
  if (!error_) error_.emplace(code, message);
  pos_ = data_.size();
}

void Decoder::truncated() { fail(ErrorCode::kTruncated, "unexpected end of input"); }

std::uint16_t Decoder::read_uint16() {
  if (remaining() < 2) {
    truncated();
    return 0;
  }
  const auto v = static_cast<std::uint16_t>(data_[pos_] | (data_[pos_ + 1] << 8));
  pos_ += 2;
  return v;
}

std::uint32_t Decoder::read_uint32() {
  if (remaining() < 4) {
    truncated();
    return 0;
  }
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | data_[pos_ + static_cast<std::size_t>(i)];
  pos_ += 4;
  return v;
}

std::uint32_t Decoder::read_uint32_big_endian() {
  if (remaining() < 4) {
    truncated();
    return 0;
  }
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | data_[pos_ + static_cast<std::size_t>(i)];
  pos_ += 4;
  return v;
}

std::uint8_t Decoder::peek_uint8() {
  if (pos_ < data_.size()) return data_[pos_];
  truncated();
  return 0;
}

namespace {
// Adds the 7-bit groups after the first byte of a varint to `value` (whose
// first `shift` bits are filled). Returns false on overflow of 53 bits.
enum class VarStatus { kOk, kTruncated, kOverflow };

inline VarStatus continue_varint(std::span<const std::uint8_t> data, std::size_t& pos,
                                 std::uint64_t& value, unsigned shift) {
  while (true) {
    if (pos >= data.size()) return VarStatus::kTruncated;
    const std::uint8_t b = data[pos++];
    const std::uint64_t payload = b & 0x7f;
    if (payload != 0) {
      if (shift >= 53) return VarStatus::kOverflow;
      value |= payload << shift;
      if (value > kMaxSafeInteger) return VarStatus::kOverflow;
    }
    if (b < 0x80) return VarStatus::kOk;
    if (shift < 64) shift += 7;  // redundant zero groups are accepted, as by lib0
  }
}
}  // namespace

std::uint64_t Decoder::read_var_uint_slow() {
  std::uint64_t v = 0;
  switch (continue_varint(data_, pos_, v, 0)) {
    case VarStatus::kOk:
      return v;
    case VarStatus::kTruncated:
      truncated();
      return 0;
    case VarStatus::kOverflow:
      fail(ErrorCode::kVarintOverflow, "varint exceeds 2^53-1");
      return 0;
  }
  return 0;
}

std::int64_t Decoder::read_var_int(bool* negative_zero) {
  if (negative_zero) *negative_zero = false;
  if (pos_ >= data_.size()) {
    truncated();
    return 0;
  }
  const std::uint8_t first = data_[pos_++];
  std::uint64_t m = first & 0x3f;
  const bool negative = (first & 0x40) != 0;
  if (first & 0x80) {
    switch (continue_varint(data_, pos_, m, 6)) {
      case VarStatus::kOk:
        break;
      case VarStatus::kTruncated:
        truncated();
        return 0;
      case VarStatus::kOverflow:
        fail(ErrorCode::kVarintOverflow, "varint exceeds 2^53-1");
        return 0;
    }
  }
  if (negative_zero) *negative_zero = negative && m == 0;
  const auto s = static_cast<std::int64_t>(m);
  return negative ? -s : s;
}

std::string_view Decoder::read_var_string_view() {
  const std::uint64_t len = read_var_uint();
  if (len > remaining()) {
    truncated();
    return {};
  }
  std::string_view s(reinterpret_cast<const char*>(data_.data() + pos_), len);
  if (!is_valid_utf8(s)) {
    fail(ErrorCode::kInvalidValue, "invalid UTF-8 in string");
    return {};
  }
  pos_ += len;
  return s;
}

std::string Decoder::read_var_string() { return std::string(read_var_string_view()); }

std::span<const std::uint8_t> Decoder::read_uint8_array(std::size_t len) {
  if (len > remaining()) {
    truncated();
    return {};
  }
  auto s = data_.subspan(pos_, len);
  pos_ += len;
  return s;
}

std::span<const std::uint8_t> Decoder::read_var_uint8_array() {
  const std::uint64_t len = read_var_uint();
  if (len > remaining()) {
    truncated();
    return {};
  }
  return read_uint8_array(len);
}

float Decoder::read_float32() { return std::bit_cast<float>(read_uint32_big_endian()); }

double Decoder::read_float64() {
  if (remaining() < 8) {
    truncated();
    return 0;
  }
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | data_[pos_ + static_cast<std::size_t>(i)];
  pos_ += 8;
  return std::bit_cast<double>(v);
}

std::int64_t Decoder::read_big_int64() {
  const double d = read_float64();  // same 8 big-endian bytes
  return static_cast<std::int64_t>(std::bit_cast<std::uint64_t>(d));
}

Any Decoder::read_any() { return read_any_depth(0); }

Any Decoder::read_any_depth(int depth) {
  const std::uint8_t tag = read_uint8();
  if (!ok()) return {};
  switch (tag) {
    case 127:
      return Undefined{};
    case 126:
      return Null{};
    case 125: {
      bool nz = false;
      const std::int64_t v = read_var_int(&nz);
      return nz ? -0.0 : static_cast<double>(v);
    }
    case 124:
      return static_cast<double>(read_float32());
    case 123:
      return read_float64();
    case 122:
      return BigInt{read_big_int64()};
    case 121:
      return false;
    case 120:
      return true;
    case 119:
      return read_var_string();
    case 118: {
      if (depth >= kMaxAnyDepth) {
        fail(ErrorCode::kTooLarge, "Any nested too deeply");
        return {};
      }
      const std::uint64_t n = read_var_uint();
      // Each member takes at least two bytes (key length, value tag).
      if (n > remaining() / 2) {
        fail(ErrorCode::kTruncated, "object member count exceeds input");
        return {};
      }
      AnyObject obj;
      obj.reserve(std::min<std::uint64_t>(n, 16));
      bool needs_normalize = false;
      for (std::uint64_t i = 0; i < n; ++i) {
        std::string key = read_var_string();
        Any value = read_any_depth(depth + 1);
        if (!ok()) return {};
        // obj["__proto__"] = v sets the prototype in JS; no own property appears.
        if (key == "__proto__") continue;
        if (!needs_normalize && (is_array_index_key(key) || !obj.empty())) needs_normalize = true;
        obj.emplace_back(std::move(key), std::move(value));
      }
      if (needs_normalize) normalize_js_object(obj);
      return obj;
    }
    case 117: {
      if (depth >= kMaxAnyDepth) {
        fail(ErrorCode::kTooLarge, "Any nested too deeply");
        return {};
      }
      const std::uint64_t n = read_var_uint();
      if (n > remaining()) {
        fail(ErrorCode::kTruncated, "array length exceeds input");
        return {};
      }
      AnyArray arr;
      arr.reserve(std::min<std::uint64_t>(n, 16));
      for (std::uint64_t i = 0; i < n; ++i) {
        arr.push_back(read_any_depth(depth + 1));
        if (!ok()) return {};
      }
      return arr;
    }
    case 116: {
      auto b = read_var_uint8_array();
      return Bytes(b.begin(), b.end());
    }
    default:
      fail(ErrorCode::kUnknownTag, "unknown Any tag");
      return {};
  }
}

std::uint8_t RleDecoder::read_run() {
  s_ = dec_.read_uint8();
  if (dec_.has_content()) {
    count_ = static_cast<std::int64_t>(dec_.read_var_uint());  // count-1 was written
  } else {
    count_ = -1;  // last run: repeat forever
  }
  return s_;
}

std::uint64_t UintOptRleDecoder::read_run() {
  bool nz = false;
  const std::int64_t v = dec_.read_var_int(&nz);
  if (v < 0 || nz) {
    s_ = static_cast<std::uint64_t>(-v);
    const std::uint64_t c = dec_.read_var_uint();
    count_ = c + 1;  // c+2 values, this read is one of them
  } else {
    s_ = static_cast<std::uint64_t>(v);
    count_ = 0;
  }
  if (!dec_.ok()) {
    s_ = 0;
    count_ = 0;
  }
  return s_;
}

std::int64_t IntDiffOptRleDecoder::read() {
  if (count_ == 0) {
    const std::int64_t d = dec_.read_var_int();
    diff_ = d >> 1;  // floor(d / 2), also for negative d
    count_ = (d & 1) ? dec_.read_var_uint() + 2 : 1;
    if (!dec_.ok()) {
      count_ = 0;
      return 0;
    }
  }
  const std::int64_t next = s_ + diff_;  // both within +-2^53: no overflow
  if (next > static_cast<std::int64_t>(kMaxSafeInteger) ||
      next < -static_cast<std::int64_t>(kMaxSafeInteger)) {
    dec_.set_error(ErrorCode::kVarintOverflow, "running value exceeds 2^53-1");
    count_ = 0;
    return 0;
  }
  s_ = next;
  --count_;
  return s_;
}

StringDecoder::StringDecoder(std::span<const std::uint8_t> data) {
  Decoder d(data);
  str_ = d.read_var_string();
  if (!d.ok()) {
    error_ = d.error();
    return;
  }
  lens_ = UintOptRleDecoder(data.subspan(d.pos()));
  for (const char c : str_) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii_ = false;
      break;
    }
  }
}

bool StringDecoder::ok() const noexcept { return !error_.has_value(); }

const std::optional<Error>& StringDecoder::error() const noexcept { return error_; }

std::string StringDecoder::read() {
  std::uint64_t units = 0;
  return read(&units);
}

std::string StringDecoder::read(std::uint64_t* utf16_units) {
  *utf16_units = 0;
  if (error_) return {};
  std::uint64_t n = lens_.read();
  if (!lens_.decoder().ok()) {
    error_ = lens_.decoder().error();
    return {};
  }
  const auto inconsistent = [this] {
    error_.emplace(ErrorCode::kInconsistentLength, "string slice beyond the string column");
    return std::string();
  };
  // A slice of n units decodes to n units: a surrogate half cut off by the
  // slice becomes U+FFFD, itself one unit.
  if (ascii_) {
    if (n > str_.size() - byte_pos_) return inconsistent();
    std::string out = str_.substr(byte_pos_, n);
    byte_pos_ += n;
    *utf16_units = n;
    return out;
  }
  const std::uint64_t units = n;
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  if (n == 0) return out;
  if (in_pair_) {  // the low half of a pair split by the previous slice
    out += kReplacement;
    byte_pos_ += 4;
    in_pair_ = false;
    --n;
  }
  std::size_t start = byte_pos_;
  while (n > 0) {
    // ASCII runs: one unit per byte, 8 bytes at a time.
    while (n >= 8 && str_.size() - byte_pos_ >= 8) {
      std::uint64_t w;
      std::memcpy(&w, str_.data() + byte_pos_, 8);
      if (w & 0x8080808080808080ULL) break;
      byte_pos_ += 8;
      n -= 8;
    }
    if (n == 0) break;
    if (byte_pos_ >= str_.size()) return inconsistent();
    // str_ is valid UTF-8, so the lead byte tells the sequence length.
    const auto b = static_cast<unsigned char>(str_[byte_pos_]);
    if (b < 0xF0) {
      byte_pos_ += b < 0x80 ? 1 : b < 0xE0 ? 2 : 3;
      --n;
    } else if (n >= 2) {
      byte_pos_ += 4;
      n -= 2;
    } else {  // the slice ends after the high half of a pair
      out.append(str_, start, byte_pos_ - start);
      out += kReplacement;
      in_pair_ = true;
      *utf16_units = units;
      return out;
    }
  }
  out.append(str_, start, byte_pos_ - start);
  *utf16_units = units;
  return out;
}

}  // namespace corates::crdt::lib0
