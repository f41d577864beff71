#include "corates/crdt/lib0/encoding.hpp"

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "lib0/js_object.hpp"

namespace corates::crdt::lib0 {

void Encoder::grow(std::size_t n) {
  const std::size_t want = len_ + n;
  std::size_t room = buf_.size() < 64 ? 64 : buf_.size() * 2;
  if (room < want) room = want;
  buf_.resize(room);
}

void Encoder::write_uint16(std::uint16_t v) {
  ensure(2);
  buf_[len_++] = static_cast<std::uint8_t>(v);
  buf_[len_++] = static_cast<std::uint8_t>(v >> 8);
}

void Encoder::write_uint32(std::uint32_t v) {
  ensure(4);
  for (int i = 0; i < 4; ++i) buf_[len_++] = static_cast<std::uint8_t>(v >> (8 * i));
}

void Encoder::write_uint32_big_endian(std::uint32_t v) {
  ensure(4);
  for (int i = 3; i >= 0; --i) buf_[len_++] = static_cast<std::uint8_t>(v >> (8 * i));
}

void Encoder::write_var_int(std::int64_t v, bool negative_zero) {
  ensure(10);
  const bool negative = v < 0 || (v == 0 && negative_zero);
  // Negate in unsigned arithmetic so INT64_MIN is defined.
  std::uint64_t m =
      v < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
  std::uint8_t* p = buf_.data() + len_;
  *p++ = static_cast<std::uint8_t>((m > 0x3f ? 0x80 : 0) | (negative ? 0x40 : 0) | (m & 0x3f));
  m >>= 6;
  while (m > 0) {
    *p++ = static_cast<std::uint8_t>((m > 0x7f ? 0x80 : 0) | (m & 0x7f));
    m >>= 7;
  }
  len_ = static_cast<std::size_t>(p - buf_.data());
}

void Encoder::write_var_string(std::string_view utf8) {
  write_var_uint(utf8.size());
  write_uint8_array(std::span(reinterpret_cast<const std::uint8_t*>(utf8.data()), utf8.size()));
}

void Encoder::write_uint8_array(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  ensure(bytes.size());
  std::memcpy(buf_.data() + len_, bytes.data(), bytes.size());
  len_ += bytes.size();
}

void Encoder::write_var_uint8_array(std::span<const std::uint8_t> bytes) {
  write_var_uint(bytes.size());
  write_uint8_array(bytes);
}

namespace {
template <class U>
void put_big_endian(Encoder& e, U bits) {
  std::uint8_t b[sizeof(U)];
  for (std::size_t i = 0; i < sizeof(U); ++i)
    b[i] = static_cast<std::uint8_t>(bits >> (8 * (sizeof(U) - 1 - i)));
  e.write_uint8_array(b);
}

// lib0 isFloat32: the value survives a round trip through float32. NaN never
// compares equal, so it goes to float64 as in JS.
bool is_float32(double d) noexcept {
  if (std::isnan(d)) return false;
  if (std::isinf(d)) return true;
  if (std::fabs(d) > static_cast<double>(FLT_MAX)) return false;  // cast would be UB
  return static_cast<double>(static_cast<float>(d)) == d;
}
}  // namespace

void Encoder::write_float32(float v) { put_big_endian(*this, std::bit_cast<std::uint32_t>(v)); }

void Encoder::write_float64(double v) { put_big_endian(*this, std::bit_cast<std::uint64_t>(v)); }

void Encoder::write_big_int64(std::int64_t v) {
  put_big_endian(*this, static_cast<std::uint64_t>(v));
}

void Encoder::write_any(const Any& any) {
  struct Visitor {
    Encoder& e;
    void operator()(Undefined) const { e.write_uint8(127); }
    void operator()(Null) const { e.write_uint8(126); }
    void operator()(bool b) const { e.write_uint8(b ? 120 : 121); }
    void operator()(double d) const {
      if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 2147483647.0) {
        e.write_uint8(125);
        e.write_var_int(static_cast<std::int64_t>(d), std::signbit(d));
      } else if (is_float32(d)) {
        e.write_uint8(124);
        e.write_float32(static_cast<float>(d));
      } else {
        e.write_uint8(123);
        e.write_float64(d);
      }
    }
    void operator()(BigInt b) const {
      e.write_uint8(122);
      e.write_big_int64(b.value);
    }
    void operator()(const std::string& s) const {
      e.write_uint8(119);
      e.write_var_string(s);
    }
    void operator()(const Bytes& b) const {
      e.write_uint8(116);
      e.write_var_uint8_array(b);
    }
    void operator()(const AnyArray& a) const {
      e.write_uint8(117);
      e.write_var_uint(a.size());
      for (const Any& v : a) e.write_any(v);
    }
    void operator()(const AnyObject& o) const {
      e.write_uint8(118);
      e.write_var_uint(o.size());
      detail::for_each_in_js_order(o, [this](const std::string& k, const Any& v) {
        e.write_var_string(k);
        e.write_any(v);
      });
    }
  };
  std::visit(Visitor{*this}, any.value());
}

std::vector<std::uint8_t> RleEncoder::to_bytes() { return std::move(enc_).to_bytes(); }

void UintOptRleEncoder::flush() {
  if (count_ == 0) return;
  // A run is announced by a negative value (for 0 that is -0), followed by count-2.
  const auto s = static_cast<std::int64_t>(s_);
  if (count_ == 1) {
    enc_.write_var_int(s);
  } else {
    enc_.write_var_int(-s, true);
    enc_.write_var_uint(count_ - 2);
  }
}

std::vector<std::uint8_t> UintOptRleEncoder::to_bytes() {
  flush();
  count_ = 0;
  return std::move(enc_).to_bytes();
}

void IntDiffOptRleEncoder::flush() {
  if (count_ == 0) return;
  // The lowest bit says whether a run count follows.
  enc_.write_var_int(diff_ * 2 + (count_ == 1 ? 0 : 1));
  if (count_ > 1) enc_.write_var_uint(count_ - 2);
}

std::vector<std::uint8_t> IntDiffOptRleEncoder::to_bytes() {
  flush();
  count_ = 0;
  return std::move(enc_).to_bytes();
}

void StringEncoder::write(std::string_view utf8) {
  s_.append(utf8);
  lens_.write(utf16_length(utf8));
}

std::vector<std::uint8_t> StringEncoder::to_bytes() {
  Encoder e;
  std::vector<std::uint8_t> lens = lens_.to_bytes();
  e.reserve(s_.size() + lens.size() + 10);
  e.write_var_string(s_);
  e.write_uint8_array(lens);
  s_.clear();
  return std::move(e).to_bytes();
}

}  // namespace corates::crdt::lib0
