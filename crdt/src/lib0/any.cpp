// Any helpers with JS object semantics, and JSON.stringify.
#include "corates/crdt/lib0/any.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <unordered_map>

#include "lib0/js_object.hpp"

namespace corates::crdt::lib0 {

bool is_array_index_key(std::string_view key) noexcept {
  if (key.empty() || key.size() > 10) return false;
  if (key[0] == '0') return key.size() == 1;
  std::uint64_t v = 0;
  for (const char c : key) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v <= 4294967294ULL;  // 2^32-2: the largest array index
}

void normalize_js_object(AnyObject& obj) {
  const std::size_t n = obj.size();
  if (n == 0) return;
  // First occurrence of each key; a repeated key keeps its first position and
  // takes the last value, as repeated assignment does in JS.
  std::vector<std::size_t> first(n);
  bool duplicates = false;
  if (n <= 16) {
    for (std::size_t i = 0; i < n; ++i) {
      first[i] = i;
      for (std::size_t j = 0; j < i; ++j) {
        if (obj[j].first == obj[i].first) {
          first[i] = j;
          duplicates = true;
          break;
        }
      }
    }
  } else {
    std::unordered_map<std::string_view, std::size_t> seen;
    seen.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      auto [it, inserted] = seen.emplace(obj[i].first, i);
      first[i] = it->second;
      if (!inserted) duplicates = true;
    }
  }
  if (duplicates) {
    for (std::size_t i = 0; i < n; ++i)
      if (first[i] != i) obj[first[i]].second = std::move(obj[i].second);
    std::size_t out = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (first[i] != i) continue;
      if (out != i) obj[out] = std::move(obj[i]);
      ++out;
    }
    obj.erase(obj.begin() + static_cast<std::ptrdiff_t>(out), obj.end());
  }
  // Array-index keys first, ascending; other keys keep insertion order.
  const auto is_index = [](const auto& member) { return is_array_index_key(member.first); };
  if (std::none_of(obj.begin(), obj.end(), is_index)) return;
  const auto mid = std::stable_partition(obj.begin(), obj.end(), is_index);
  std::sort(obj.begin(), mid, [](const auto& a, const auto& b) {
    return detail::array_index_value(a.first) < detail::array_index_value(b.first);
  });
}

namespace {

// Number::toString(10) for a finite double: the shortest digits that round
// trip (std::to_chars gives the same digits as ECMAScript's algorithm), laid
// out with JS's rules for plain and exponential notation.
void append_js_number(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out += "null";  // JSON.stringify(NaN / Infinity)
    return;
  }
  if (d == 0) {
    out += '0';  // also -0
    return;
  }
  if (d < 0) {
    out += '-';
    d = -d;
  }
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(0, e_pos))
    if (c != '.') digits += c;
  int exp10 = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text[0] == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp10);
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
}

// JSON.stringify's QuoteJSONString for a UTF-8 string.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_base64(std::string& out, const Bytes& b) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= b.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8) | b[i + 2];
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (b.size() - i == 1) {
    const std::uint32_t v = std::uint32_t{b[i]} << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (b.size() - i == 2) {
    const std::uint32_t v = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
}

enum class BytesStyle { kBase64Object, kUint8Array };

// Recursion depth is bounded by the value's nesting (decoders cap it at kMaxAnyDepth).
void stringify(std::string& out, const Any& any, BytesStyle style) {
  struct Visitor {
    std::string& out;
    BytesStyle style;
    void operator()(Undefined) const { out += "null"; }  // only reached inside arrays
    void operator()(Null) const { out += "null"; }
    void operator()(bool b) const { out += b ? "true" : "false"; }
    void operator()(double d) const { append_js_number(out, d); }
    void operator()(BigInt b) const { out += std::to_string(b.value); }
    void operator()(const std::string& s) const { append_json_string(out, s); }
    void operator()(const Bytes& b) const {
      if (style == BytesStyle::kBase64Object) {
        out += "{\"$bytes\":\"";
        append_base64(out, b);
        out += "\"}";
        return;
      }
      out += '{';
      for (std::size_t i = 0; i < b.size(); ++i) {
        if (i) out += ',';
        out += '"';
        out += std::to_string(i);
        out += "\":";
        out += std::to_string(b[i]);
      }
      out += '}';
    }
    void operator()(const AnyArray& a) const {
      out += '[';
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        stringify(out, a[i], style);
      }
      out += ']';
    }
    void operator()(const AnyObject& o) const {
      out += '{';
      bool first = true;
      detail::for_each_in_js_order(o, [&](const std::string& k, const Any& v) {
        if (v.is<Undefined>()) return;  // JSON.stringify omits undefined members
        if (!first) out += ',';
        first = false;
        append_json_string(out, k);
        out += ':';
        stringify(out, v, style);
      });
      out += '}';
    }
  };
  std::visit(Visitor{out, style}, any.value());
}

}  // namespace

std::string to_json(const Any& v) {
  std::string out;
  stringify(out, v, BytesStyle::kBase64Object);
  return out;
}

std::string json_stringify(const Any& v) {
  if (v.is<Undefined>()) return "undefined";
  std::string out;
  stringify(out, v, BytesStyle::kUint8Array);
  return out;
}

}  // namespace corates::crdt::lib0
