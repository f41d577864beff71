// Update encoders/decoders v1 and v2 against bytes produced by Yjs's own
// UpdateEncoderV1/V2 and encodeStateAsUpdate(V2) (see vectors/make_lib0_vectors.mjs).
#include <gtest/gtest.h>

#include <bit>
#include <string>
#include <vector>

#include "corates/crdt/update_decoder.hpp"
#include "corates/crdt/update_encoder.hpp"
#include "test_hex.hpp"
#include "transcode.hpp"
#include "vectors/lib0_vectors.inc"

namespace corates::crdt {
namespace {

using lib0_vectors::Op;
using test::from_hex;
using test::to_hex;
using test::transcode;

std::string any_hex(const lib0::Any& v) {
  lib0::Encoder e;
  e.write_any(v);
  return to_hex(e.bytes());
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

template <class E>
void apply_ops(E& e, const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    switch (op.kind) {
      case Op::kClient:
        e.write_client(op.a);
        break;
      case Op::kLeft:
        e.write_left_id(ID{op.a, op.b});
        break;
      case Op::kRight:
        e.write_right_id(ID{op.a, op.b});
        break;
      case Op::kInfo:
        e.write_info(static_cast<std::uint8_t>(op.a));
        break;
      case Op::kString:
        e.write_string(op.s);
        break;
      case Op::kParent:
        e.write_parent_info(op.a == 1);
        break;
      case Op::kTyperef:
        e.write_type_ref(static_cast<std::uint8_t>(op.a));
        break;
      case Op::kLen:
        e.write_len(op.a);
        break;
      case Op::kAny:
        e.write_any(op.make());
        break;
      case Op::kBuf:
        e.write_buf(bytes_of(op.s));
        break;
      case Op::kJson:
        e.write_json(op.make());
        break;
      case Op::kKey:
        e.write_key(op.s);
        break;
      case Op::kResetds:
        e.reset_ds_cur_val();
        break;
      case Op::kDsclock:
        e.write_ds_clock(op.a);
        break;
      case Op::kDslen:
        e.write_ds_len(op.a);
        break;
    }
  }
}

// Reads the fields back in the order they were written and checks them.
template <class D>
void check_ops(D& d, const std::vector<Op>& ops, const char* name) {
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const Op& op = ops[i];
    SCOPED_TRACE(std::string(name) + " op " + std::to_string(i));
    switch (op.kind) {
      case Op::kClient:
        EXPECT_EQ(d.read_client(), op.a);
        break;
      case Op::kLeft:
        EXPECT_EQ(d.read_left_id(), (ID{op.a, op.b}));
        break;
      case Op::kRight:
        EXPECT_EQ(d.read_right_id(), (ID{op.a, op.b}));
        break;
      case Op::kInfo:
        EXPECT_EQ(d.read_info(), op.a);
        break;
      case Op::kString:
        EXPECT_EQ(d.read_string(), op.s);
        break;
      case Op::kParent:
        EXPECT_EQ(d.read_parent_info(), op.a == 1);
        break;
      case Op::kTyperef:
        EXPECT_EQ(d.read_type_ref(), op.a);
        break;
      case Op::kLen:
        EXPECT_EQ(d.read_len(), op.a);
        break;
      case Op::kAny:
        EXPECT_EQ(any_hex(d.read_any()), any_hex(op.make()));
        break;
      case Op::kBuf:
        EXPECT_EQ(to_hex(d.read_buf()), to_hex(op.s));
        break;
      case Op::kJson:
        // v1 goes through JSON text (a Uint8Array becomes an object), so
        // compare what JSON.stringify would print.
        EXPECT_EQ(lib0::json_stringify(d.read_json()), lib0::json_stringify(op.make()));
        break;
      case Op::kKey:
        EXPECT_EQ(d.read_key(), op.s);
        break;
      case Op::kResetds:
        d.reset_ds_cur_val();
        break;
      case Op::kDsclock:
        EXPECT_EQ(d.read_ds_clock(), op.a);
        break;
      case Op::kDslen:
        EXPECT_EQ(d.read_ds_len(), op.a);
        break;
    }
    EXPECT_TRUE(d.ok());
  }
}

// Reads every field without checking (for malformed input).
template <class D>
void read_ops(D& d, const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    switch (op.kind) {
      case Op::kClient:
        d.read_client();
        break;
      case Op::kLeft:
        d.read_left_id();
        break;
      case Op::kRight:
        d.read_right_id();
        break;
      case Op::kInfo:
        d.read_info();
        break;
      case Op::kString:
        d.read_string();
        break;
      case Op::kParent:
        d.read_parent_info();
        break;
      case Op::kTyperef:
        d.read_type_ref();
        break;
      case Op::kLen:
        d.read_len();
        break;
      case Op::kAny:
        d.read_any();
        break;
      case Op::kBuf:
        d.read_buf();
        break;
      case Op::kJson:
        d.read_json();
        break;
      case Op::kKey:
        d.read_key();
        break;
      case Op::kResetds:
        d.reset_ds_cur_val();
        break;
      case Op::kDsclock:
        d.read_ds_clock();
        break;
      case Op::kDslen:
        d.read_ds_len();
        break;
    }
  }
}

TEST(UpdateCodec, EncodersMatchYjs) {
  for (const auto& v : lib0_vectors::kUpdateOps) {
    UpdateEncoderV1 e1;
    apply_ops(e1, v.ops);
    EXPECT_EQ(to_hex(e1.to_bytes()), v.v1_hex) << v.name;
    UpdateEncoderV2 e2;
    apply_ops(e2, v.ops);
    EXPECT_EQ(to_hex(e2.to_bytes()), v.v2_hex) << v.name;
  }
}

TEST(UpdateCodec, DecodersReadYjsBytes) {
  for (const auto& v : lib0_vectors::kUpdateOps) {
    const auto b1 = from_hex(v.v1_hex);
    UpdateDecoderV1 d1(b1);
    check_ops(d1, v.ops, v.name);
    EXPECT_TRUE(d1.ok());
    EXPECT_FALSE(d1.rest_decoder().has_content()) << v.name;
    const auto b2 = from_hex(v.v2_hex);
    UpdateDecoderV2 d2(b2);
    EXPECT_TRUE(d2.ok()) << v.name;
    check_ops(d2, v.ops, v.name);
    EXPECT_TRUE(d2.ok());
    EXPECT_FALSE(d2.error().has_value());
    EXPECT_FALSE(d2.rest_decoder().has_content()) << v.name;
  }
}

TEST(UpdateCodec, EveryTruncationFails) {
  for (const auto& v : lib0_vectors::kUpdateOps) {
    const auto b1 = from_hex(v.v1_hex);
    for (std::size_t n = 0; n < b1.size(); ++n) {
      UpdateDecoderV1 d(std::span(b1.data(), n));
      read_ops(d, v.ops);
      EXPECT_FALSE(d.ok()) << v.name << " v1 cut at " << n;
    }
    const auto b2 = from_hex(v.v2_hex);
    for (std::size_t n = 0; n < b2.size(); ++n) {
      UpdateDecoderV2 d(std::span(b2.data(), n));
      read_ops(d, v.ops);
      EXPECT_FALSE(d.ok()) << v.name << " v2 cut at " << n;
      EXPECT_TRUE(d.error().has_value());
    }
  }
}

TEST(UpdateCodec, V2ColumnHeaderErrors) {
  const std::vector<std::uint8_t> empty;
  UpdateDecoderV2 d0(empty);
  EXPECT_FALSE(d0.ok());
  // A column length beyond the input.
  const auto huge = from_hex("00ffffffff0f");
  UpdateDecoderV2 d1(huge);
  ASSERT_FALSE(d1.ok());
  EXPECT_EQ(d1.error()->code, ErrorCode::kTruncated);
  // Invalid UTF-8 in the string column.
  const auto bad_utf8 = from_hex("0000000000000402c32800000000");
  UpdateDecoderV2 d2(bad_utf8);
  ASSERT_FALSE(d2.ok());
  EXPECT_EQ(d2.error()->code, ErrorCode::kInvalidValue);
}

TEST(UpdateCodec, V2HostileColumnValues) {
  // A left clock column that decodes to a negative value.
  lib0::IntDiffOptRleEncoder neg;
  neg.write(-5);
  const auto neg_col = neg.to_bytes();
  lib0::Encoder e;
  e.write_var_uint(0);
  for (int col = 0; col < 9; ++col) {
    if (col == 2) {
      e.write_var_uint8_array(neg_col);
    } else if (col == 7) {  // type refs: 300
      lib0::UintOptRleEncoder t;
      t.write(300);
      e.write_var_uint8_array(t.to_bytes());
    } else if (col == 5) {  // an empty string column still holds ""
      lib0::StringEncoder strings;
      e.write_var_uint8_array(strings.to_bytes());
    } else if (col == 0) {  // key clocks: -1
      lib0::IntDiffOptRleEncoder k;
      k.write(-1);
      e.write_var_uint8_array(k.to_bytes());
    } else {
      e.write_var_uint(0);
    }
  }
  {
    UpdateDecoderV2 d(e.bytes());
    ASSERT_TRUE(d.ok());
    d.read_left_id();  // the client column is empty: truncated
    EXPECT_FALSE(d.ok());
  }
  {
    UpdateDecoderV2 d(e.bytes());
    EXPECT_EQ(d.read_type_ref(), 0);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error()->code, ErrorCode::kUnknownTag);
  }
  {
    UpdateDecoderV2 d(e.bytes());
    EXPECT_EQ(d.read_key(), "");
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error()->code, ErrorCode::kInvalidValue);
  }
}

TEST(UpdateCodec, V1JsonErrors) {
  UpdateEncoderV1 e;
  e.write_string("{not json");
  const auto b = e.to_bytes();
  UpdateDecoderV1 d(b);
  d.read_json();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error()->code, ErrorCode::kInvalidValue);

  UpdateEncoderV1 u;
  u.write_json(lib0::Any(lib0::Undefined{}));
  const auto ub = u.to_bytes();
  EXPECT_EQ(to_hex(ub), "09756e646566696e6564");  // "undefined"
  UpdateDecoderV1 ud(ub);
  EXPECT_TRUE(ud.read_json().is<lib0::Undefined>());
  EXPECT_TRUE(ud.ok());
}

TEST(UpdateCodec, DsDecoderV2RejectsClockOverflow) {
  lib0::Encoder e;
  e.write_var_uint(lib0::kMaxSafeInteger);
  e.write_var_uint(5);  // len 6 runs past 2^53-1
  DSDecoderV2 d(e.bytes());
  EXPECT_EQ(d.read_ds_clock(), lib0::kMaxSafeInteger);
  d.read_ds_len();
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error()->code, ErrorCode::kVarintOverflow);
}

TEST(UpdateCodec, TranscodesYjsDocumentsByteForByte) {
  for (const auto& v : lib0_vectors::kDocs) {
    SCOPED_TRACE(v.name);
    const auto b1 = from_hex(v.v1_hex);
    const auto b2 = from_hex(v.v2_hex);
    {
      UpdateDecoderV1 d(b1);
      UpdateEncoderV1 e;
      ASSERT_TRUE(transcode(d, e));
      EXPECT_EQ(to_hex(e.to_bytes()), v.v1_hex);
    }
    {
      UpdateDecoderV2 d(b2);
      UpdateEncoderV2 e;
      ASSERT_TRUE(transcode(d, e));
      EXPECT_EQ(to_hex(e.to_bytes()), v.v2_hex);
    }
    {  // v1 -> v2 gives what Yjs writes as v2
      UpdateDecoderV1 d(b1);
      UpdateEncoderV2 e;
      ASSERT_TRUE(transcode(d, e));
      EXPECT_EQ(to_hex(e.to_bytes()), v.v2_hex);
    }
    {  // v2 -> v1
      UpdateDecoderV2 d(b2);
      UpdateEncoderV1 e;
      ASSERT_TRUE(transcode(d, e));
      EXPECT_EQ(to_hex(e.to_bytes()), v.v1_hex);
    }
  }
}

TEST(UpdateCodec, TruncatedDocumentsFail) {
  for (const auto& v : lib0_vectors::kDocs) {
    const auto b1 = from_hex(v.v1_hex);
    for (std::size_t n = 0; n < b1.size(); ++n) {
      UpdateDecoderV1 d(std::span(b1.data(), n));
      UpdateEncoderV1 e;
      EXPECT_FALSE(transcode(d, e)) << v.name << " v1 cut at " << n;
    }
    const auto b2 = from_hex(v.v2_hex);
    for (std::size_t n = 0; n < b2.size(); ++n) {
      UpdateDecoderV2 d(std::span(b2.data(), n));
      UpdateEncoderV2 e;
      EXPECT_FALSE(transcode(d, e)) << v.name << " v2 cut at " << n;
    }
  }
}

}  // namespace
}  // namespace corates::crdt
