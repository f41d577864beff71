// JSON.parse for Any: a small recursive-descent parser, bounded in depth
// (kMaxAnyDepth) and in memory (linear in the text).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <system_error>

#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/lib0/decoding.hpp"

namespace corates::crdt::lib0 {

namespace {

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  Result<Any> parse() {
    skip_ws();
    Any v = value(0);
    skip_ws();
    if (!error_ && pos_ != s_.size()) fail(ErrorCode::kInvalidValue, "trailing characters");
    if (error_) return *error_;
    return v;
  }

 private:
  void fail(ErrorCode code, const char* what) {
    if (!error_) error_.emplace(code, std::string("invalid JSON: ") + what);
    pos_ = s_.size();
  }

  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Any value(int depth) {
    if (pos_ >= s_.size()) {
      fail(ErrorCode::kInvalidValue, "unexpected end");
      return {};
    }
    switch (s_[pos_]) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        if (consume("true")) return true;
        break;
      case 'f':
        if (consume("false")) return false;
        break;
      case 'n':
        if (consume("null")) return Null{};
        break;
      default:
        if (s_[pos_] == '-' || (s_[pos_] >= '0' && s_[pos_] <= '9')) return number();
    }
    fail(ErrorCode::kInvalidValue, "unexpected character");
    return {};
  }

  Any object(int depth) {
    if (depth >= kMaxAnyDepth) {
      fail(ErrorCode::kTooLarge, "nested too deeply");
      return {};
    }
    ++pos_;  // '{'
    AnyObject obj;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return obj;
    }
    while (!error_) {
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != '"') {
        fail(ErrorCode::kInvalidValue, "expected a member name");
        break;
      }
      std::string key = string();
      skip_ws();
      if (pos_ >= s_.size() || s_[pos_] != ':') {
        fail(ErrorCode::kInvalidValue, "expected ':'");
        break;
      }
      ++pos_;
      skip_ws();
      Any v = value(depth + 1);
      if (error_) break;
      obj.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        // JSON.parse defines properties: "__proto__" stays an own property.
        normalize_js_object(obj);
        return obj;
      }
      fail(ErrorCode::kInvalidValue, "expected ',' or '}'");
    }
    return {};
  }

  Any array(int depth) {
    if (depth >= kMaxAnyDepth) {
      fail(ErrorCode::kTooLarge, "nested too deeply");
      return {};
    }
    ++pos_;  // '['
    AnyArray arr;
    skip_ws();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return arr;
    }
    while (!error_) {
      skip_ws();
      arr.push_back(value(depth + 1));
      if (error_) break;
      skip_ws();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return arr;
      }
      fail(ErrorCode::kInvalidValue, "expected ',' or ']'");
    }
    return {};
  }

  static void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // Four hex digits after "\u"; -1 when malformed.
  long hex4() {
    if (s_.size() - pos_ < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[pos_ + static_cast<std::size_t>(i)];
      int d;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else
        return -1;
      v = v * 16 + d;
    }
    pos_ += 4;
    return v;
  }

  std::string string() {
    ++pos_;  // '"'
    std::string out;
    while (true) {
      const std::size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\' &&
             static_cast<unsigned char>(s_[pos_]) >= 0x20)
        ++pos_;
      out.append(s_.substr(start, pos_ - start));
      if (pos_ >= s_.size()) {
        fail(ErrorCode::kInvalidValue, "unterminated string");
        return {};
      }
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        fail(ErrorCode::kInvalidValue, "control character in string");
        return {};
      }
      if (pos_ >= s_.size()) {
        fail(ErrorCode::kInvalidValue, "unterminated escape");
        return {};
      }
      switch (s_[pos_++]) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const long u = hex4();
          if (u < 0) {
            fail(ErrorCode::kInvalidValue, "bad unicode escape");
            return {};
          }
          auto cp = static_cast<std::uint32_t>(u);
          if (cp >= 0xD800 && cp <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
            const std::size_t save = pos_;
            pos_ += 2;
            const long lo = hex4();
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<std::uint32_t>(lo) - 0xDC00);
            } else {
              pos_ = save;  // not a low half: handled as its own escape next
            }
          }
          // A lone surrogate cannot be UTF-8; TextEncoder would write U+FFFD.
          if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
          append_utf8(out, cp);
          break;
        }
        default:
          fail(ErrorCode::kInvalidValue, "bad escape");
          return {};
      }
    }
  }

  Any number() {
    const std::size_t start = pos_;
    if (s_[pos_] == '-') ++pos_;
    const auto digits = [this] {
      const std::size_t b = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - b;
    };
    const std::size_t int_start = pos_;
    const std::size_t int_digits = digits();
    if (int_digits == 0 || (int_digits > 1 && s_[int_start] == '0')) {
      fail(ErrorCode::kInvalidValue, "bad number");
      return {};
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (digits() == 0) {
        fail(ErrorCode::kInvalidValue, "bad number");
        return {};
      }
    }
    std::size_t exp_start = std::string_view::npos;
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      exp_start = pos_;
      if (digits() == 0) {
        fail(ErrorCode::kInvalidValue, "bad number");
        return {};
      }
    }
    const std::string_view text = s_.substr(start, pos_ - start);
    double d = 0;
    const auto res = std::from_chars(text.data(), text.data() + text.size(), d);
    if (res.ec == std::errc::result_out_of_range) {
      // Too large becomes Infinity, too small 0, as in JS. The decimal
      // magnitude of the first significant digit decides which.
      long mag = 0;
      bool seen_point = false;
      bool found = false;
      for (std::size_t i = int_start; i < text.size() + start && s_[i] != 'e' && s_[i] != 'E';
           ++i) {
        if (s_[i] == '.') {
          seen_point = true;
          continue;
        }
        if (!found && s_[i] != '0') {
          found = true;
          if (seen_point) break;
        }
        if (found && !seen_point) ++mag;
        if (!found && seen_point) --mag;
      }
      long exp = 0;
      if (exp_start != std::string_view::npos) {
        for (std::size_t i = exp_start; i < pos_; ++i)
          exp = std::min<long>(exp * 10 + (s_[i] - '0'), 1'000'000'000L);
        if (s_[exp_start - 1] == '-') exp = -exp;
      }
      const bool huge = found && mag + exp > 0;
      d = huge ? std::numeric_limits<double>::infinity() : 0.0;
      if (s_[start] == '-') d = -d;
    } else if (res.ec != std::errc()) {
      fail(ErrorCode::kInvalidValue, "bad number");
      return {};
    }
    return d;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
  std::optional<Error> error_;
};

}  // namespace

Result<Any> parse_json(std::string_view text) {
  if (text == "undefined") return Any(Undefined{});
  // JSON.parse reads a JS string; keep every Any string valid UTF-8.
  if (!is_valid_utf8(text)) return Error(ErrorCode::kInvalidValue, "invalid JSON: not UTF-8");
  return JsonParser(text).parse();
}

}  // namespace corates::crdt::lib0
