// updates.hpp against Yjs's own outputs (vectors/make_updates_vectors.mjs
// records them in vectors/updates_vectors.inc), plus malformed-input and
// scaling checks.

#include "corates/crdt/updates.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace corates::crdt {
namespace {

enum class UpdatesOp {
  kMerge,
  kDiff,
  kStateVector,
  kMeta,
  kInspect,
  kConvertV1ToV2,
  kConvertV2ToV1
};

struct UpdatesVector {
  const char* name;
  UpdatesOp op;
  int version;
  std::vector<const char*> inputs;
  const char* sv;
  const char* expected;
};

const std::vector<UpdatesVector>& vectors() {
  static const std::vector<UpdatesVector> v = {
#include "vectors/updates_vectors.inc"
  };
  return v;
}

UpdateBytes from_hex(std::string_view h) {
  UpdateBytes out;
  auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i + 1 < h.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nib(h[i]) * 16 + nib(h[i + 1])));
  }
  return out;
}

std::string to_hex(const UpdateBytes& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto x : b) {
    s.push_back(d[x >> 4]);
    s.push_back(d[x & 15]);
  }
  return s;
}

std::string meta_text(const UpdateMeta& m) {
  auto f = [](const std::map<ClientID, Clock>& mm) {
    std::string s;
    for (const auto& [c, k] : mm) {
      if (!s.empty()) s += ',';
      s += std::to_string(c) + ':' + std::to_string(k);
    }
    return s;
  };
  return "from=" + f(m.from) + ";to=" + f(m.to);
}

std::string inspect_text(const UpdateInspection& in) {
  std::string s;
  for (const auto& c : in.clients) {
    for (const auto& st : c.structs) {
      if (!s.empty()) s += ' ';
      s += st.kind == InspectedStruct::Kind::kItem ? 'I'
           : st.kind == InspectedStruct::Kind::kGC ? 'G'
                                                   : 'S';
      s += std::to_string(st.id.client) + ':' + std::to_string(st.id.clock) + '+' +
           std::to_string(st.length);
    }
  }
  s += '|';
  bool first = true;
  for (const auto& [client, items] : in.delete_set.clients) {
    if (!first) s += ' ';
    first = false;
    s += std::to_string(client) + ':';
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (i > 0) s += ',';
      s += std::to_string(items[i].clock) + '+' + std::to_string(items[i].len);
    }
  }
  return s;
}

// Runs one vector; returns our output in the vector's textual form, or "error: ...".
std::string run(const UpdatesVector& v) {
  std::vector<UpdateBytes> in;
  for (const char* h : v.inputs) in.push_back(from_hex(h));
  const bool v2 = v.version == 2;
  auto text = [](const Result<UpdateBytes>& r) {
    return r ? to_hex(*r) : "error: " + r.error().message;
  };
  switch (v.op) {
    case UpdatesOp::kMerge:
      return text(v2 ? merge_updates_v2(in) : merge_updates(in));
    case UpdatesOp::kDiff: {
      const UpdateBytes sv = from_hex(v.sv);
      return text(v2 ? diff_update_v2(in.at(0), sv) : diff_update(in.at(0), sv));
    }
    case UpdatesOp::kStateVector:
      return text(v2 ? encode_state_vector_from_update_v2(in.at(0))
                     : encode_state_vector_from_update(in.at(0)));
    case UpdatesOp::kMeta: {
      auto r = v2 ? parse_update_meta_v2(in.at(0)) : parse_update_meta(in.at(0));
      return r ? meta_text(*r) : "error: " + r.error().message;
    }
    case UpdatesOp::kInspect: {
      auto r = v2 ? inspect_update_v2(in.at(0)) : inspect_update(in.at(0));
      return r ? inspect_text(*r) : "error: " + r.error().message;
    }
    case UpdatesOp::kConvertV1ToV2:
      return text(convert_update_format_v1_to_v2(in.at(0)));
    case UpdatesOp::kConvertV2ToV1:
      return text(convert_update_format_v2_to_v1(in.at(0)));
  }
  return "error: unknown op";
}

void check_op(UpdatesOp op) {
  int count = 0;
  int failed = 0;
  for (const auto& v : vectors()) {
    if (v.op != op) continue;
    ++count;
    const std::string got = run(v);
    if (got != v.expected) {
      ++failed;
      ADD_FAILURE() << v.name << "\n  yjs: " << v.expected << "\n  ours: " << got;
      if (failed > 10) break;
    }
  }
  EXPECT_GT(count, 0);
}

TEST(UpdatesVectors, Merge) { check_op(UpdatesOp::kMerge); }
TEST(UpdatesVectors, Diff) { check_op(UpdatesOp::kDiff); }
TEST(UpdatesVectors, StateVector) { check_op(UpdatesOp::kStateVector); }
TEST(UpdatesVectors, Meta) { check_op(UpdatesOp::kMeta); }
TEST(UpdatesVectors, Inspect) { check_op(UpdatesOp::kInspect); }
TEST(UpdatesVectors, ConvertV1ToV2) { check_op(UpdatesOp::kConvertV1ToV2); }
TEST(UpdatesVectors, ConvertV2ToV1) { check_op(UpdatesOp::kConvertV2ToV1); }

// Every prefix and a few byte flips of real updates: an error or a value, never a crash.
TEST(UpdatesMalformed, TruncationsAndFlipsNeverCrash) {
  int n = 0;
  for (const auto& v : vectors()) {
    if (v.op != UpdatesOp::kInspect || (n++ % 7) != 0) continue;
    const UpdateBytes u = from_hex(v.inputs[0]);
    const bool v2 = v.version == 2;
    const UpdateBytes sv{1, 1, 3};
    for (std::size_t len = 0; len < u.size(); ++len) {
      const ByteView p(u.data(), len);
      const ByteView pair[2] = {p, ByteView(u)};
      (void)(v2 ? merge_updates_v2(std::span<const ByteView>(pair))
                : merge_updates(std::span<const ByteView>(pair)));
      (void)(v2 ? diff_update_v2(p, sv) : diff_update(p, sv));
      (void)(v2 ? encode_state_vector_from_update_v2(p) : encode_state_vector_from_update(p));
      (void)(v2 ? parse_update_meta_v2(p) : parse_update_meta(p));
      (void)(v2 ? inspect_update_v2(p) : inspect_update(p));
      (void)(v2 ? convert_update_format_v2_to_v1(p) : convert_update_format_v1_to_v2(p));
    }
    for (std::size_t i = 0; i < u.size(); ++i) {
      UpdateBytes f = u;
      f[i] ^= static_cast<std::uint8_t>(0x5a + i);
      const ByteView pair[2] = {ByteView(u), ByteView(f)};
      (void)(v2 ? merge_updates_v2(std::span<const ByteView>(pair))
                : merge_updates(std::span<const ByteView>(pair)));
      (void)(v2 ? inspect_update_v2(f) : inspect_update(f));
      (void)(v2 ? diff_update_v2(f, sv) : diff_update(f, sv));
    }
  }
  EXPECT_GT(n, 0);
}

TEST(UpdatesMalformed, ExplicitErrors) {
  // Truncated: one client section announced, nothing follows.
  const UpdateBytes truncated{1};
  EXPECT_FALSE(merge_updates(std::vector<UpdateBytes>{truncated, truncated}));
  EXPECT_FALSE(parse_update_meta(truncated));
  // A single update is validated even though Yjs would return it unchanged.
  EXPECT_FALSE(merge_updates(std::vector<UpdateBytes>{truncated}));
  // Unknown content kind 11.
  const UpdateBytes bad_tag{1, 1, 5, 0, 11, 0, 0};
  EXPECT_FALSE(encode_state_vector_from_update(bad_tag));
  // A struct count far beyond what the input could hold.
  const UpdateBytes absurd{1, 0xff, 0xff, 0xff, 0xff, 0x0f, 5, 0, 0, 1};
  EXPECT_FALSE(convert_update_format_v1_to_v2(absurd));
  // A zero-length delete range cannot be written in v2 (Yjs throws): the
  // delete set reader drops it, or the conversion fails; never a bad update.
  const UpdateBytes zero_ds{0, 1, 5, 1, 3, 0};
  if (auto z = convert_update_format_v1_to_v2(zero_ds)) {
    EXPECT_TRUE(read_update_delete_set_v2(*z).has_value());
  }
  // Unsorted ranges (fuzz: regress_unsorted_v1_delete_set_to_v2) cannot be
  // written in v2; Yjs writes a corrupt update, we refuse.
  const UpdateBytes unsorted_ds{0, 1, 5, 2, 10, 2, 3, 1};
  EXPECT_TRUE(convert_update_format_v1_to_v2(unsorted_ds).has_error());
  EXPECT_TRUE(convert_update_format_v1_to_v2(UpdateBytes{0, 1, 5, 2, 3, 2, 4, 1}).has_error());
  EXPECT_TRUE(convert_update_format_v1_to_v2(UpdateBytes{0, 1, 5, 2, 3, 1, 4, 1}).has_value());
  // Malformed state vector.
  const UpdateBytes empty_update{0, 0};
  EXPECT_FALSE(diff_update(empty_update, UpdateBytes{5, 1}));
  // No updates: an empty update, as Yjs.
  auto none = merge_updates(std::vector<UpdateBytes>{});
  ASSERT_TRUE(none);
  EXPECT_EQ(to_hex(*none), "0000");
}

// One struct per update, as a client sends while typing; Yjs needs seconds
// for this count, a linear merge milliseconds. A sanity check, not a benchmark.
UpdateBytes keystroke_update(std::uint64_t client, std::uint64_t clock) {
  // v1: 1 client, 1 struct, client, clock, info = String (+origin unless first)
  UpdateBytes u{1, 1};
  auto var = [&u](std::uint64_t x) {
    while (x > 127) {
      u.push_back(static_cast<std::uint8_t>(0x80 | (x & 127)));
      x >>= 7;
    }
    u.push_back(static_cast<std::uint8_t>(x));
  };
  var(client);
  var(clock);
  if (clock == 0) {
    u.insert(u.end(), {4, 1, 1, 't'});
  } else {
    u.push_back(4 | 0x80);
    var(client);
    var(clock - 1);
  }
  u.insert(u.end(), {1, 'a', 0});
  return u;
}

TEST(UpdatesScaling, MergesTwentyThousandKeystrokes) {
  constexpr std::uint64_t kCount = 20000;
  std::vector<UpdateBytes> ups;
  for (std::uint64_t i = 0; i < kCount; ++i) ups.push_back(keystroke_update(42, i));
  const auto t0 = std::chrono::steady_clock::now();
  auto merged = merge_updates(ups);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(merged) << merged.error().message;
  std::printf("merged %llu updates in %lld ms\n", static_cast<unsigned long long>(kCount),
              static_cast<long long>(ms.count()));
  auto meta = parse_update_meta(*merged);
  ASSERT_TRUE(meta);
  EXPECT_EQ(meta->from.at(42), 0u);
  EXPECT_EQ(meta->to.at(42), kCount);
  // Interleaved clients, shuffled order, v2.
  std::vector<UpdateBytes> v2;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    const std::uint64_t j = (i * 7919) % kCount;  // a permutation: 7919 is prime to 20000
    auto c = convert_update_format_v1_to_v2(keystroke_update(1 + j % 50, j / 50));
    ASSERT_TRUE(c);
    v2.push_back(std::move(*c));
  }
  auto merged2 = merge_updates_v2(v2);
  ASSERT_TRUE(merged2) << merged2.error().message;
  auto meta2 = parse_update_meta_v2(*merged2);
  ASSERT_TRUE(meta2);
  EXPECT_EQ(meta2->to.size(), 50u);
}

}  // namespace
}  // namespace corates::crdt
