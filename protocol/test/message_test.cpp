#include "corates/protocol/message.hpp"

#include "hex.hpp"

#include <gtest/gtest.h>

#include <string_view>

namespace corates::protocol {
namespace {
#include "vectors/protocol_vectors.inc"

const ProtocolVector& vec(std::string_view name) {
  for (const auto& v : kProtocolVectors)
    if (name == v.name) return v;
  throw std::runtime_error("no vector");
}

TEST(Message, DecodesAndReencodesSyncFramesFromYProtocols) {
  for (const char* name : {"sync_step1", "sync_step2", "sync_update"}) {
    const auto& v = vec(name);
    auto frame = from_hex(v.hex);
    auto msg = decode_message(frame);
    ASSERT_TRUE(msg.has_value()) << name << ": " << msg.error().message;
    const auto payload = from_hex(v.payload);
    Bytes reencoded;
    if (auto* s1 = std::get_if<SyncStep1>(&*msg)) {
      EXPECT_EQ(s1->state_vector, payload);
      reencoded = encode_sync_step1(s1->state_vector);
    } else if (auto* s2 = std::get_if<SyncStep2>(&*msg)) {
      EXPECT_EQ(s2->update, payload);
      reencoded = encode_sync_step2(s2->update);
    } else if (auto* u = std::get_if<SyncUpdate>(&*msg)) {
      EXPECT_EQ(u->update, payload);
      reencoded = encode_sync_update(u->update);
    } else {
      FAIL() << name << " decoded as the wrong kind";
    }
    EXPECT_EQ(reencoded, frame) << name;
  }
}

TEST(Message, AwarenessQueryAndAuthFrames) {
  auto aw = from_hex(vec("awareness").hex);
  auto msg = decode_message(aw);
  ASSERT_TRUE(msg.has_value());
  ASSERT_TRUE(std::holds_alternative<AwarenessMessage>(*msg));
  EXPECT_EQ(std::get<AwarenessMessage>(*msg).update, from_hex(vec("awareness").payload));
  EXPECT_EQ(encode_awareness(std::get<AwarenessMessage>(*msg).update), aw);

  auto q = from_hex(vec("query_awareness").hex);
  msg = decode_message(q);
  ASSERT_TRUE(msg.has_value());
  EXPECT_TRUE(std::holds_alternative<QueryAwareness>(*msg));
  EXPECT_EQ(encode_query_awareness(), q);

  auto pd = from_hex(vec("permission_denied").hex);
  msg = decode_message(pd);
  ASSERT_TRUE(msg.has_value());
  ASSERT_TRUE(std::holds_alternative<AuthPermissionDenied>(*msg));
  EXPECT_EQ(std::get<AuthPermissionDenied>(*msg).reason, vec("permission_denied").reason);
  EXPECT_EQ(encode_permission_denied(vec("permission_denied").reason), pd);
}

TEST(Message, EveryTruncationIsAnErrorNotACrash) {
  for (const auto& v : kProtocolVectors) {
    if (std::string_view(v.name) == "awareness_removal") continue;  // not a frame
    auto frame = from_hex(v.hex);
    for (std::size_t cut = 0; cut < frame.size(); ++cut) {
      std::span<const std::uint8_t> part(frame.data(), cut);
      auto msg = decode_message(part);
      // A prefix of query-awareness (one byte) is empty: always an error.
      EXPECT_FALSE(msg.has_value()) << v.name << " cut at " << cut;
    }
  }
}

TEST(Message, RejectsUnknownTypesAndTrailingBytes) {
  EXPECT_EQ(decode_message(Bytes{9}).error().code, ErrorCode::kUnknownTag);
  EXPECT_EQ(decode_message(Bytes{0, 3, 0}).error().code, ErrorCode::kUnknownTag);
  EXPECT_EQ(decode_message(Bytes{2, 1, 0}).error().code, ErrorCode::kUnknownTag);
  EXPECT_EQ(decode_message(Bytes{3, 0}).error().code, ErrorCode::kInconsistentLength);
  auto frame = from_hex(vec("sync_step1").hex);
  frame.push_back(0);
  EXPECT_EQ(decode_message(frame).error().code, ErrorCode::kInconsistentLength);
  // A payload length far beyond the frame.
  EXPECT_FALSE(decode_message(Bytes{0, 2, 0xff, 0xff, 0xff, 0x0f, 1}).has_value());
}

}  // namespace
}  // namespace corates::protocol
