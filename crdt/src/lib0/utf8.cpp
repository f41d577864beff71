// UTF-8 helpers with the exact semantics of the WHATWG Encoding Standard, which
// is what lib0's TextDecoder / TextEncoder use.
#include <cstring>

#include "corates/crdt/lib0/decoding.hpp"
#include "corates/crdt/lib0/encoding.hpp"

namespace corates::crdt::lib0 {

namespace {

constexpr char kReplacement[] = "\xEF\xBF\xBD";

// Length of the sequence a lead byte starts and the allowed range of its first
// continuation byte (Unicode Table 3-7); 0 for bytes that cannot start one.
struct Lead {
  std::uint8_t need = 0;  // continuation bytes
  std::uint8_t lo = 0x80;
  std::uint8_t hi = 0xBF;
};

inline Lead classify(std::uint8_t b) noexcept {
  if (b >= 0xC2 && b <= 0xDF) return {1, 0x80, 0xBF};
  if (b == 0xE0) return {2, 0xA0, 0xBF};
  if (b == 0xED) return {2, 0x80, 0x9F};  // no surrogates
  if (b >= 0xE1 && b <= 0xEF) return {2, 0x80, 0xBF};
  if (b == 0xF0) return {3, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {3, 0x80, 0xBF};
  if (b == 0xF4) return {3, 0x80, 0x8F};  // <= U+10FFFF
  return {};
}

inline bool ascii8(const unsigned char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & 0x8080808080808080ULL) == 0;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    if (i + 8 <= n && ascii8(p + i)) {
      i += 8;
      continue;
    }
    const std::uint8_t b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    const Lead l = classify(b);
    if (l.need == 0 || n - i - 1 < l.need) return false;
    if (p[i + 1] < l.lo || p[i + 1] > l.hi) return false;
    for (std::size_t k = 2; k <= l.need; ++k)
      if ((p[i + k] & 0xC0) != 0x80) return false;
    i += 1 + l.need;
  }
  return true;
}

std::string utf8_decode_lossy(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  std::string out;
  out.reserve(n);
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t b = p[i];
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    const Lead l = classify(b);
    if (l.need == 0) {
      out += kReplacement;
      ++i;
      continue;
    }
    // Maximal subpart: stop at the first byte that cannot continue the
    // sequence, replace what was read by one U+FFFD and reprocess that byte.
    std::size_t j = i + 1;
    bool complete = true;
    for (std::size_t k = 0; k < l.need; ++k, ++j) {
      const std::uint8_t lo = k == 0 ? l.lo : 0x80;
      const std::uint8_t hi = k == 0 ? l.hi : 0xBF;
      if (j >= n || p[j] < lo || p[j] > hi) {
        complete = false;
        break;
      }
    }
    if (complete) {
      out.append(bytes.data() + i, j - i);
    } else {
      out += kReplacement;
    }
    i = j;
  }
  return out;
}

std::size_t utf16_length(std::string_view utf8) noexcept {
  // Every byte that is not a continuation byte starts one code point; code
  // points of 4 bytes (lead >= 0xF0) take a surrogate pair.
  std::size_t units = 0;
  for (const char c : utf8) {
    const auto b = static_cast<std::uint8_t>(c);
    units += static_cast<std::size_t>((b & 0xC0) != 0x80) + static_cast<std::size_t>(b >= 0xF0);
  }
  return units;
}

}  // namespace corates::crdt::lib0
