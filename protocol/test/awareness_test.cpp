#include "corates/protocol/awareness.hpp"

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

TEST(Awareness, DecodesAndReencodesYProtocolsUpdates) {
  for (const char* name : {"awareness", "awareness_removal"}) {
    const auto& v = vec(name);
    auto bytes = from_hex(std::string_view(v.payload).empty() ? v.hex : v.payload);
    auto entries = decode_awareness_update(bytes);
    ASSERT_TRUE(entries.has_value()) << entries.error().message;
    ASSERT_EQ(entries->size(), 1u);
    EXPECT_EQ((*entries)[0].client_id, v.client);
    EXPECT_EQ((*entries)[0].clock, v.clock);
    EXPECT_EQ((*entries)[0].state_json, v.state);
    EXPECT_EQ(encode_awareness_update(*entries), bytes);
  }
}

TEST(Awareness, TruncatedOrPaddedUpdatesAreErrors) {
  auto bytes = from_hex(vec("awareness").payload);
  for (std::size_t cut = 0; cut < bytes.size(); ++cut)
    EXPECT_FALSE(decode_awareness_update(std::span(bytes.data(), cut)).has_value()) << cut;
  bytes.push_back(0);
  EXPECT_FALSE(decode_awareness_update(bytes).has_value());
  // A count that cannot fit in the remaining bytes is refused before allocating.
  EXPECT_FALSE(decode_awareness_update(std::vector<std::uint8_t>{0xff, 0xff, 0xff, 0x7f}).has_value());
}

TEST(Awareness, NewerClockWinsAndNullRemoves) {
  Awareness a;
  auto c = a.apply({{1, 1, R"({"x":1})"}}, 0);
  EXPECT_EQ(c.added, std::vector<std::uint64_t>{1});
  c = a.apply({{1, 1, R"({"x":2})"}}, 10);  // same clock, not null: ignored
  EXPECT_TRUE(c.empty());
  c = a.apply({{1, 2, R"({"x":2})"}}, 10);
  EXPECT_EQ(c.updated, std::vector<std::uint64_t>{1});
  c = a.apply({{1, 2, "null"}}, 20);  // same clock with null removes
  EXPECT_EQ(c.removed, std::vector<std::uint64_t>{1});
  EXPECT_FALSE(a.has(1));
  c = a.apply({{1, 1, R"({"x":3})"}}, 30);  // older clock: ignored
  EXPECT_TRUE(c.empty());
}

TEST(Awareness, RemoveAnnouncesWithSameClockAndOutdatedExpires) {
  Awareness a;
  a.apply({{5, 3, R"({"u":"a"})"}, {6, 1, R"({"u":"b"})"}}, 1000);
  auto removed = a.remove({5, 99});
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].client_id, 5u);
  EXPECT_EQ(removed[0].clock, 3u);
  EXPECT_EQ(removed[0].state_json, "null");
  // A peer applying the announcement drops the state.
  Awareness peer;
  peer.apply({{5, 3, R"({"u":"a"})"}}, 0);
  EXPECT_EQ(peer.apply(removed, 1).removed, std::vector<std::uint64_t>{5});
  EXPECT_TRUE(a.outdated(1000 + Awareness::kOutdatedTimeoutMs - 1).empty());
  EXPECT_EQ(a.outdated(1000 + Awareness::kOutdatedTimeoutMs), std::vector<std::uint64_t>{6});
  EXPECT_EQ(a.snapshot().size(), 1u);
}

}  // namespace
}  // namespace corates::protocol
