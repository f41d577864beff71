// lib0 encoding/decoding against bytes produced by the real lib0 (see
// vectors/make_lib0_vectors.mjs), plus malformed-input behaviour.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <string>
#include <vector>

#include "corates/crdt/lib0/decoding.hpp"
#include "corates/crdt/lib0/encoding.hpp"
#include "test_hex.hpp"
#include "vectors/lib0_vectors.inc"

namespace corates::crdt::lib0 {
namespace {

using test::from_hex;
using test::to_hex;

std::string any_hex(const Any& v) {
  Encoder e;
  e.write_any(v);
  return to_hex(e.bytes());
}

TEST(Lib0VarUint, MatchesLib0) {
  for (const auto& v : lib0_vectors::kVarUint) {
    Encoder e;
    e.write_var_uint(v.value);
    EXPECT_EQ(to_hex(e.bytes()), v.hex) << v.value;
    const auto bytes = from_hex(v.hex);
    Decoder d(bytes);
    EXPECT_EQ(d.read_var_uint(), v.value);
    EXPECT_TRUE(d.ok());
    EXPECT_FALSE(d.has_content());
  }
}

TEST(Lib0VarInt, MatchesLib0IncludingNegativeZero) {
  for (const auto& v : lib0_vectors::kVarInt) {
    Encoder e;
    e.write_var_int(v.value, v.negative_zero);
    EXPECT_EQ(to_hex(e.bytes()), v.hex) << v.value;
    const auto bytes = from_hex(v.hex);
    Decoder d(bytes);
    bool nz = !v.negative_zero;
    EXPECT_EQ(d.read_var_int(&nz), v.value);
    EXPECT_EQ(nz, v.negative_zero);
    EXPECT_TRUE(d.ok());
    EXPECT_FALSE(d.has_content());
  }
}

TEST(Lib0VarUint, RejectsOverflowAcceptsOverlongZeros) {
  struct Case {
    const char* hex;
    bool ok;
    std::uint64_t value;
    ErrorCode code;
  };
  const Case cases[] = {
      {"8080808080808010", false, 0, ErrorCode::kVarintOverflow},  // 2^53
      {"ffffffffffffff1f", false, 0, ErrorCode::kVarintOverflow},  // 2^54-1
      {"ffffffffffffffffff01", false, 0, ErrorCode::kVarintOverflow},
      {"80808080808080808080808001", false, 0, ErrorCode::kVarintOverflow},
      {"8000", true, 0, ErrorCode::kInternal},  // overlong 0, lib0 accepts
      {"ff808080808080808000", true, 127, ErrorCode::kInternal},
      {"80", false, 0, ErrorCode::kTruncated},
      {"ffffffff", false, 0, ErrorCode::kTruncated},
      {"", false, 0, ErrorCode::kTruncated},
  };
  for (const auto& c : cases) {
    const auto bytes = from_hex(c.hex);
    Decoder d(bytes);
    const auto v = d.read_var_uint();
    EXPECT_EQ(d.ok(), c.ok) << c.hex;
    EXPECT_EQ(v, c.value) << c.hex;
    if (!c.ok) {
      EXPECT_EQ(d.error()->code, c.code) << c.hex;
    }
  }
}

TEST(Lib0VarInt, RejectsOverflow) {
  for (const char* hex : {"8080808080808020", "c080808080808020", "ffffffffffffffffffff7f"}) {
    const auto bytes = from_hex(hex);
    Decoder d(bytes);
    EXPECT_EQ(d.read_var_int(), 0);
    ASSERT_FALSE(d.ok()) << hex;
    EXPECT_EQ(d.error()->code, ErrorCode::kVarintOverflow);
  }
  Decoder empty;
  EXPECT_EQ(empty.read_var_int(), 0);
  EXPECT_EQ(empty.error()->code, ErrorCode::kTruncated);
}

TEST(Lib0Fixed, MatchesLib0) {
  for (const auto& v : lib0_vectors::kFixed) {
    const std::string what = v.what;
    Encoder e;
    if (what == "uint16") e.write_uint16(static_cast<std::uint16_t>(v.bits));
    if (what == "uint32") e.write_uint32(static_cast<std::uint32_t>(v.bits));
    if (what == "uint32be") e.write_uint32_big_endian(static_cast<std::uint32_t>(v.bits));
    if (what == "float32")
      e.write_float32(std::bit_cast<float>(static_cast<std::uint32_t>(v.bits)));
    if (what == "float64") e.write_float64(std::bit_cast<double>(v.bits));
    if (what == "bigint64") e.write_big_int64(static_cast<std::int64_t>(v.bits));
    EXPECT_EQ(to_hex(e.bytes()), v.hex) << what << " " << v.bits;
    const auto bytes = from_hex(v.hex);
    Decoder d(bytes);
    std::uint64_t back = 0;
    if (what == "uint16") back = d.read_uint16();
    if (what == "uint32") back = d.read_uint32();
    if (what == "uint32be") back = d.read_uint32_big_endian();
    if (what == "float32") back = std::bit_cast<std::uint32_t>(d.read_float32());
    if (what == "float64") back = std::bit_cast<std::uint64_t>(d.read_float64());
    if (what == "bigint64") back = static_cast<std::uint64_t>(d.read_big_int64());
    EXPECT_EQ(back, v.bits) << what;
    EXPECT_TRUE(d.ok());
    EXPECT_FALSE(d.has_content());
    // Every strict prefix is truncated.
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      Decoder t(std::span(bytes.data(), n));
      if (what == "uint16") t.read_uint16();
      if (what == "uint32") t.read_uint32();
      if (what == "uint32be") t.read_uint32_big_endian();
      if (what == "float32") t.read_float32();
      if (what == "float64") t.read_float64();
      if (what == "bigint64") t.read_big_int64();
      EXPECT_FALSE(t.ok());
    }
  }
}

TEST(Lib0String, MatchesLib0) {
  for (const auto& v : lib0_vectors::kStrings) {
    Encoder e;
    e.write_var_string(v.value);
    EXPECT_EQ(to_hex(e.bytes()), v.hex);
    EXPECT_EQ(utf16_length(v.value), v.utf16_length) << v.hex;
    const auto bytes = from_hex(v.hex);
    Decoder d(bytes);
    EXPECT_EQ(d.read_var_string(), v.value);
    EXPECT_TRUE(d.ok());
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      Decoder t(std::span(bytes.data(), n));
      EXPECT_EQ(t.read_var_string(), "");
      EXPECT_FALSE(t.ok());
    }
  }
}

TEST(Lib0Utf8, ValidityAndLossyDecodingMatchTextDecoder) {
  for (const auto& v : lib0_vectors::kUtf8) {
    const auto raw = from_hex(v.input_hex);
    const std::string s(raw.begin(), raw.end());
    EXPECT_EQ(is_valid_utf8(s), v.valid) << v.input_hex;
    EXPECT_EQ(to_hex(utf8_decode_lossy(s)), v.lossy_hex) << v.input_hex;
    // lib0's TextDecoder is fatal: invalid UTF-8 is an error, not a replacement.
    Encoder e;
    e.write_var_uint8_array(raw);
    Decoder d(e.bytes());
    const std::string back = d.read_var_string();
    EXPECT_EQ(d.ok(), v.valid) << v.input_hex;
    if (v.valid) {
      EXPECT_EQ(back, s);
    }
    if (!v.valid) {
      EXPECT_EQ(d.error()->code, ErrorCode::kInvalidValue);
    }
  }
}

bool same_value(const Any& a, const Any& b) {
  // NaN != NaN; compare such values through their encoding instead.
  return a == b || any_hex(a) == any_hex(b);
}

TEST(Lib0Any, WriteMatchesLib0AndReadsBack) {
  for (const auto& v : lib0_vectors::kAnyValues) {
    const Any value = v.make();
    EXPECT_EQ(any_hex(value), v.hex) << v.name;
    const auto bytes = from_hex(v.hex);
    Decoder d(bytes);
    const Any back = d.read_any();
    EXPECT_TRUE(d.ok()) << v.name;
    EXPECT_FALSE(d.has_content()) << v.name;
    EXPECT_TRUE(same_value(back, value)) << v.name;
    EXPECT_EQ(any_hex(back), v.hex) << v.name;
  }
}

TEST(Lib0Any, NegativeZeroKeepsItsSign) {
  const auto bytes = from_hex("7d40");
  Decoder d(bytes);
  const Any v = d.read_any();
  ASSERT_TRUE(v.is<double>());
  EXPECT_TRUE(std::signbit(v.as<double>()));
}

TEST(Lib0Any, JsonStringifyMatchesJs) {
  for (const auto& v : lib0_vectors::kAnyValues) {
    if (v.json == nullptr) continue;  // undefined / bigint: JSON.stringify gives no text
    EXPECT_EQ(json_stringify(v.make()), v.json) << v.name;
  }
  EXPECT_EQ(json_stringify(Any(Undefined{})), "undefined");
}

TEST(Lib0Any, ToJsonConventions) {
  EXPECT_EQ(to_json(Any(Bytes{})), R"({"$bytes":""})");
  EXPECT_EQ(to_json(Any(Bytes{1})), R"({"$bytes":"AQ=="})");
  EXPECT_EQ(to_json(Any(Bytes{1, 2})), R"({"$bytes":"AQI="})");
  EXPECT_EQ(to_json(Any(Bytes{0, 1, 2, 253, 254, 255})), R"({"$bytes":"AAEC/f7/"})");
  EXPECT_EQ(to_json(Any(Undefined{})), "null");
  EXPECT_EQ(to_json(Any(BigInt{-5})), "-5");
  EXPECT_EQ(to_json(Any(AnyArray{Any(Undefined{}), Any(Null{})})), "[null,null]");
  EXPECT_EQ(
      to_json(Any(AnyObject{{"a", Any(Undefined{})}, {"b", Any(1)}, {"c", Any(Undefined{})}})),
      R"({"b":1})");
  EXPECT_EQ(to_json(Any(AnyObject{{"a", Any(Undefined{})}})), "{}");
  // Members in JS order even when the caller built them in another order.
  EXPECT_EQ(to_json(Any(AnyObject{{"b", Any(1)}, {"10", Any(2)}, {"2", Any(3)}})),
            R"({"2":3,"10":2,"b":1})");
}

TEST(Lib0Any, NumbersFormatLikeJs) {
  for (const auto& v : lib0_vectors::kNumberJson) {
    EXPECT_EQ(to_json(Any(std::bit_cast<double>(v.bits))), v.json) << v.json;
  }
}

TEST(Lib0Any, CraftedInputFollowsJsObjectSemantics) {
  for (const auto& v : lib0_vectors::kCraftedAny) {
    const auto bytes = from_hex(v.input_hex);
    Decoder d(bytes);
    const Any value = d.read_any();
    ASSERT_TRUE(d.ok()) << v.name;
    EXPECT_EQ(any_hex(value), v.reencoded_hex) << v.name;
    EXPECT_EQ(json_stringify(value), v.json) << v.name;
  }
}

TEST(Lib0Any, WriterUsesJsPropertyOrder) {
  // Built in insertion order; lib0 would write Object.keys order.
  const Any unordered(
      AnyObject{{"b", Any(1)}, {"2", Any("two")}, {"a", Any(3)}, {"1", Any("one")}});
  AnyObject normalized = unordered.as<AnyObject>();
  normalize_js_object(normalized);
  ASSERT_EQ(normalized.size(), 4u);
  EXPECT_EQ(normalized[0].first, "1");
  EXPECT_EQ(normalized[1].first, "2");
  EXPECT_EQ(normalized[2].first, "b");
  EXPECT_EQ(normalized[3].first, "a");
  EXPECT_EQ(any_hex(unordered), any_hex(Any(normalized)));

  AnyObject dup{{"x", Any(1)}, {"y", Any(2)}, {"x", Any(3)}};
  normalize_js_object(dup);
  ASSERT_EQ(dup.size(), 2u);
  EXPECT_EQ(dup[0].first, "x");
  EXPECT_EQ(dup[0].second, Any(3));

  // Large objects take the hashed path.
  AnyObject many;
  for (int i = 0; i < 40; ++i) many.emplace_back("k" + std::to_string(i % 20), Any(i));
  normalize_js_object(many);
  ASSERT_EQ(many.size(), 20u);
  EXPECT_EQ(many[0].first, "k0");
  EXPECT_EQ(many[0].second, Any(20));
  EXPECT_EQ(many[19].second, Any(39));

  EXPECT_TRUE(is_array_index_key("0"));
  EXPECT_TRUE(is_array_index_key("4294967294"));
  EXPECT_FALSE(is_array_index_key("4294967295"));
  EXPECT_FALSE(is_array_index_key("01"));
  EXPECT_FALSE(is_array_index_key("-1"));
  EXPECT_FALSE(is_array_index_key(""));
  EXPECT_FALSE(is_array_index_key("1a"));
  EXPECT_FALSE(is_array_index_key("99999999999"));
}

TEST(Lib0Any, EveryTruncationFails) {
  for (const auto& v : lib0_vectors::kAnyValues) {
    const auto bytes = from_hex(v.hex);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      Decoder d(std::span(bytes.data(), n));
      d.read_any();
      EXPECT_FALSE(d.ok()) << v.name << " cut at " << n;
    }
  }
}

TEST(Lib0Any, RejectsHugeCountsWithoutAllocating) {
  for (const char* hex : {"75ffffffffffffff0f", "76ffffffffffffff0f", "74ffffffffffffff0f",
                          "77ffffffffffffff0f", "7503", "760201617d01", "7405aabb"}) {
    const auto bytes = from_hex(hex);
    Decoder d(bytes);
    d.read_any();
    EXPECT_FALSE(d.ok()) << hex;
  }
}

TEST(Lib0Any, UnknownTags) {
  for (int tag : {0, 1, 30, 115, 128, 200, 255}) {
    const std::vector<std::uint8_t> bytes{static_cast<std::uint8_t>(tag), 0, 0, 0, 0, 0, 0, 0, 0};
    Decoder d(bytes);
    d.read_any();
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error()->code, ErrorCode::kUnknownTag);
  }
}

TEST(Lib0Any, DepthLimit) {
  const auto nested = [](int levels) {
    std::vector<std::uint8_t> b;
    for (int i = 0; i < levels; ++i) {
      b.push_back(i % 2 ? 117 : 118);
      b.push_back(1);
      if (i % 2 == 0) b.push_back(0);  // object member with key ""
    }
    b.push_back(126);
    return b;
  };
  {
    const auto ok_bytes = nested(kMaxAnyDepth);
    Decoder d(ok_bytes);
    d.read_any();
    EXPECT_TRUE(d.ok());
  }
  {
    const auto deep = nested(kMaxAnyDepth + 1);
    Decoder d(deep);
    d.read_any();
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error()->code, ErrorCode::kTooLarge);
  }
  {
    const auto very_deep = nested(100000);
    Decoder d(very_deep);
    d.read_any();
    EXPECT_FALSE(d.ok());
  }
}

TEST(Lib0Decoder, ErrorsAreSticky) {
  const auto bytes = from_hex("ff7f0161");
  Decoder d(std::span(bytes.data(), 1));
  EXPECT_EQ(d.read_var_uint(), 0u);
  EXPECT_FALSE(d.ok());
  EXPECT_EQ(d.read_uint8(), 0);
  EXPECT_EQ(d.read_var_string(), "");
  EXPECT_FALSE(d.has_content());
  d.set_error(ErrorCode::kInternal, "later");
  EXPECT_EQ(d.error()->code, ErrorCode::kTruncated);
}

TEST(Lib0Json, ParseMatchesJsonParse) {
  for (const auto& v : lib0_vectors::kJsonParse) {
    const auto parsed = parse_json(v.text);
    ASSERT_TRUE(parsed.has_value()) << v.text << ": " << parsed.error().message;
    EXPECT_EQ(any_hex(*parsed), v.any_hex) << v.text;
  }
  const auto undef = parse_json("undefined");
  ASSERT_TRUE(undef.has_value());
  EXPECT_TRUE(undef->is<Undefined>());
}

TEST(Lib0Json, RejectsWhatJsonParseRejects) {
  for (const char* text : lib0_vectors::kJsonBad) {
    const auto parsed = parse_json(text);
    EXPECT_FALSE(parsed.has_value()) << text;
    if (!parsed) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidValue) << text;
    }
  }
}

TEST(Lib0Json, DepthLimit) {
  const std::string ok = std::string(kMaxAnyDepth, '[') + std::string(kMaxAnyDepth, ']');
  EXPECT_TRUE(parse_json(ok).has_value());
  const std::string deep(100000, '[');
  const auto r = parse_json(deep);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
}

TEST(Lib0Json, StringifyParseRoundTrip) {
  for (const auto& v : lib0_vectors::kAnyValues) {
    if (v.json == nullptr) continue;
    const auto parsed = parse_json(v.json);
    ASSERT_TRUE(parsed.has_value()) << v.name;
    EXPECT_EQ(json_stringify(*parsed), v.json) << v.name;
  }
}

TEST(Lib0Rle, RleEncoderMatchesLib0) {
  for (const auto& v : lib0_vectors::kRle) {
    RleEncoder e;
    for (auto x : v.values) e.write(static_cast<std::uint8_t>(x));
    const auto bytes = e.to_bytes();
    EXPECT_EQ(to_hex(bytes), v.hex);
    RleDecoder d(bytes);
    for (auto x : v.values) EXPECT_EQ(d.read(), x);
    EXPECT_TRUE(d.decoder().ok());
    if (!v.values.empty()) {  // the last value repeats forever
      EXPECT_EQ(d.read(), v.values.back());
      EXPECT_TRUE(d.decoder().ok());
    }
  }
}

TEST(Lib0Rle, UintOptRleMatchesLib0) {
  for (const auto& v : lib0_vectors::kUintOptRle) {
    UintOptRleEncoder e;
    for (auto x : v.values) e.write(x);
    const auto bytes = e.to_bytes();
    EXPECT_EQ(to_hex(bytes), v.hex);
    UintOptRleDecoder d(bytes);
    for (auto x : v.values) EXPECT_EQ(d.read(), x);
    EXPECT_TRUE(d.decoder().ok());
    EXPECT_FALSE(d.decoder().has_content());
    d.read();  // past the end
    EXPECT_FALSE(d.decoder().ok());
  }
}

TEST(Lib0Rle, IntDiffOptRleMatchesLib0) {
  for (const auto& v : lib0_vectors::kIntDiffOptRle) {
    IntDiffOptRleEncoder e;
    for (auto x : v.values) e.write(x);
    const auto bytes = e.to_bytes();
    EXPECT_EQ(to_hex(bytes), v.hex);
    IntDiffOptRleDecoder d(bytes);
    for (auto x : v.values) EXPECT_EQ(d.read(), x);
    EXPECT_TRUE(d.decoder().ok());
    EXPECT_FALSE(d.decoder().has_content());
  }
}

TEST(Lib0Rle, IntDiffOptRleRunningValueOverflow) {
  // diff 2^51 repeated runs past 2^53-1 on the fourth value.
  Encoder e;
  e.write_var_int((std::int64_t{1} << 52) | 1);  // diff 2^51, a count follows
  e.write_var_uint(100);
  IntDiffOptRleDecoder d(e.bytes());
  for (int i = 0; i < 5; ++i) d.read();
  ASSERT_FALSE(d.decoder().ok());
  EXPECT_EQ(d.decoder().error()->code, ErrorCode::kVarintOverflow);
}

TEST(Lib0String, StringEncoderMatchesLib0) {
  for (const auto& v : lib0_vectors::kStringEncoder) {
    StringEncoder e;
    for (const auto& s : v.values) e.write(s);
    const auto bytes = e.to_bytes();
    EXPECT_EQ(to_hex(bytes), v.hex);
    StringDecoder d(bytes);
    for (const auto& s : v.values) EXPECT_EQ(d.read(), s);
    EXPECT_TRUE(d.ok());
  }
}

TEST(Lib0String, StringDecoderSplitsPairsLikeYjsReencodes) {
  for (const auto& v : lib0_vectors::kStringSlices) {
    const auto bytes = from_hex(v.column_hex);
    StringDecoder d(bytes);
    for (const auto& expected : v.expected)
      EXPECT_EQ(to_hex(d.read()), to_hex(expected)) << v.column_hex;
    EXPECT_TRUE(d.ok());
  }
}

TEST(Lib0String, StringDecoderRejectsSlicesBeyondTheString) {
  StringEncoder e;
  e.write("ab");
  auto bytes = e.to_bytes();  // "02 61 62" + lens [2]
  bytes.back() = 3;           // claim 3 units
  StringDecoder d(bytes);
  EXPECT_EQ(d.read(), "");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error()->code, ErrorCode::kInconsistentLength);

  // Non-ASCII path.
  StringEncoder e2;
  e2.write("\xc3\xbc");
  auto bytes2 = e2.to_bytes();
  bytes2.back() = 2;
  StringDecoder d2(bytes2);
  d2.read();
  EXPECT_FALSE(d2.ok());

  // Invalid UTF-8 in the column.
  const auto bad = from_hex("02c32801");
  StringDecoder d3(bad);
  EXPECT_FALSE(d3.ok());
  EXPECT_EQ(d3.read(), "");
}

TEST(Lib0Encoder, Utf16LengthCountsSurrogatePairs) {
  EXPECT_EQ(utf16_length(""), 0u);
  EXPECT_EQ(utf16_length("abc"), 3u);
  EXPECT_EQ(utf16_length("\xF0\x9F\x98\x80"), 2u);
  EXPECT_EQ(utf16_length("\xE2\x82\xAC"), 1u);
}

}  // namespace
}  // namespace corates::crdt::lib0
