// Behaviours at the edges of the model, against real Yjs: vectors from
// crdt/test/vectors/make_edge_vectors.mjs.
#include "corates/crdt/array.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/map.hpp"
#include "corates/crdt/text.hpp"
#include "corates/crdt/updates.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_hex.hpp"
#include "vectors/edge_vectors.inc"

using namespace corates::crdt;
using corates::ErrorCode;
using corates::crdt::test::from_hex;
using corates::crdt::test::to_hex;

namespace {

std::string value_hex(const Value& v) {
  const auto* a = std::get_if<lib0::Any>(&v);
  if (a == nullptr) return "<not a value>";
  const auto* s = a->get_if<std::string>();
  return s == nullptr ? "<not a string>" : to_hex(*s);
}

std::uint32_t fnv1a(const std::vector<std::uint8_t>& bytes) {
  std::uint32_t h = 0x811c9dc5u;
  for (const std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x01000193u;
  }
  return h;
}

}  // namespace

// Yjs's ContentString.getContent() is str.split(''): one element per UTF-16
// unit; the halves of a surrogate pair are lone surrogates (U+FFFD in UTF-8).
TEST(Edge, TextReadAsArrayHasOneElementPerUtf16Unit) {
  Doc doc;
  ASSERT_TRUE(apply_update(doc, from_hex(edge_vectors::kTextAsArrayUpdate)).has_value());
  Array& a = doc.get_array("t");
  EXPECT_EQ(a.length(), edge_vectors::kTextAsArrayLength);
  const std::vector<Value> values = a.to_array();
  ASSERT_EQ(values.size(), edge_vectors::kTextAsArrayElements.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(value_hex(values[i]), edge_vectors::kTextAsArrayElements[i]) << "element " << i;
    auto got = a.get(i);
    ASSERT_TRUE(got.has_value()) << "get(" << i << ")";
    EXPECT_EQ(value_hex(*got), edge_vectors::kTextAsArrayElements[i]) << "get(" << i << ")";
  }
  EXPECT_FALSE(a.get(values.size()).has_value());
}

// A v2 update can hold any number of structs in a few bytes; the decode
// limit must let real documents through (200,000 structs in 42 bytes here).
TEST(Edge, V2RunOfManyStructsLoadsAsInYjs) {
  const auto v2 = from_hex(edge_vectors::kRunV2);
  Doc doc;
  auto r = apply_update_v2(doc, v2);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(to_hex(encode_state_as_update_v2(doc)), edge_vectors::kRunReloadV2);
  const auto v1 = encode_state_as_update(doc);
  EXPECT_EQ(v1.size(), edge_vectors::kRunReloadV1Size);
  EXPECT_EQ(fnv1a(v1), edge_vectors::kRunReloadV1Fnv);
  auto sv = encode_state_vector_from_update_v2(v2);
  ASSERT_TRUE(sv.has_value()) << sv.error().message;
  EXPECT_EQ(to_hex(*sv), edge_vectors::kRunStateVector);
  auto meta = parse_update_meta_v2(v2);
  ASSERT_TRUE(meta.has_value());
}

// The limit is still there, and configurable: a budget below the run rejects it.
TEST(Edge, V2RunBeyondTheDecodeLimitIsRejected) {
  const auto v2 = from_hex(edge_vectors::kRunV2);
  DecodeLimits small;
  small.max_structs_floor = 1000;
  auto sv = encode_state_vector_from_update_v2(v2, small);
  ASSERT_FALSE(sv.has_value());
  EXPECT_EQ(sv.error().code, ErrorCode::kTooLarge);
  auto merged = merge_updates_v2(std::vector<UpdateBytes>{v2, v2}, small);
  ASSERT_FALSE(merged.has_value());
  EXPECT_EQ(merged.error().code, ErrorCode::kTooLarge);
  // The default budget covers the run; a saturating budget never wraps.
  EXPECT_GE(DecodeLimits{}.struct_budget(v2.size()), edge_vectors::kRunStructs);
  DecodeLimits huge;
  huge.max_structs_per_byte = ~std::uint64_t{0};
  EXPECT_EQ(huge.struct_budget(1000), ~std::uint64_t{0});
}

// lib0 reads strings with a fatal TextDecoder: Yjs throws and applies
// nothing; so do we (an error, the Doc unchanged).
TEST(Edge, InvalidUtf8InAnUpdateIsRejectedAsYjsDoes) {
  for (const bool v2 : {false, true}) {
    SCOPED_TRACE(v2 ? "v2" : "v1");
    Doc doc;
    const auto bytes = from_hex(v2 ? edge_vectors::kBadUtf8V2 : edge_vectors::kBadUtf8V1);
    auto r = v2 ? apply_update_v2(doc, bytes) : apply_update(doc, bytes);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidValue);
    EXPECT_EQ(to_hex(encode_state_vector(doc)), "00");
    auto merged = v2 ? merge_updates_v2(std::vector<UpdateBytes>{bytes}) : merge_updates(std::vector<UpdateBytes>{bytes});
    EXPECT_FALSE(merged.has_value());
  }
}

// Yjs's doc.destroy() on subdocuments: the same events in the same order,
// the fresh unloaded content doc, and removed subdocs destroyed at cleanup.
TEST(Edge, SubdocDestroyMatchesYjs) {
  DocOptions po;
  po.client_id = 1;
  po.guid = "parent";
  Doc d(po);
  std::vector<const Doc*> names{&d};
  const auto nm = [&](const Doc* x) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == x) return "doc" + std::to_string(i);
    }
    names.push_back(x);
    return "doc" + std::to_string(names.size() - 1);
  };
  const auto list = [&](const std::vector<Doc*>& v) {
    std::string s;
    for (const Doc* x : v) s += (s.empty() ? "" : ",") + nm(x);
    return s;
  };
  std::vector<std::string> events;
  d.on_subdocs([&](const SubdocsEvent& ev, Transaction&) {
    events.push_back("added=" + list(ev.added) + " removed=" + list(ev.removed) + " loaded=" + list(ev.loaded));
  });
  DocOptions so;
  so.guid = "g1";
  so.auto_load = true;
  so.meta = lib0::AnyObject{{"a", lib0::Any(1)}};
  Map& m = d.get_map("m");
  m.set("s", so);
  auto sv = m.get("s");
  ASSERT_TRUE(sv.has_value());
  Doc* s = std::get<Doc*>(*sv);
  ASSERT_NE(s, nullptr);
  // The subdocument's own content is not part of the parent's encoding.
  s->get<Text>("inner").insert(0, "gone");
  // After the parent's listeners: the first event names it doc1.
  ASSERT_EQ(nm(s), "doc1");
  s->on_destroy([&](Doc&) { events.push_back("destroy doc1"); });
  events.push_back("-- destroy");
  s->destroy();
  EXPECT_TRUE(s->is_destroyed());
  auto cv = m.get("s");
  ASSERT_TRUE(cv.has_value());
  Doc* c = std::get<Doc*>(*cv);
  ASSERT_NE(c, s);
  events.push_back("content=" + nm(c) + " guid=" + c->guid() + " shouldLoad=" + (c->should_load() ? "true" : "false") +
                   " autoLoad=" + (c->auto_load() ? "true" : "false") + " meta=" + lib0::json_stringify(c->meta()) +
                   " sameClient=" + (c->client_id() == d.client_id() ? "true" : "false") + " subdocs=" + list(d.subdocs()));
  EXPECT_EQ(to_hex(encode_state_as_update(d)), edge_vectors::kDestroyAfter);
  events.push_back("-- delete");
  m.remove("s");
  events.push_back("subdocs=" + list(d.subdocs()));
  events.push_back("-- destroy parent");
  DocOptions s2o;
  s2o.guid = "g2";
  Array& a = d.get_array("a");
  ASSERT_TRUE(a.insert(0, {s2o}).has_value());
  Doc* s2 = std::get<Doc*>(*a.get(0));
  ASSERT_EQ(nm(s2), "doc3");
  s2->on_destroy([&](Doc&) { events.push_back("destroy doc3"); });
  d.destroy();
  events.push_back(std::string("item=") + (s2->item() == nullptr ? "true" : "false") + " content=" +
                   nm(std::get<Doc*>(*a.get(0))));
  ASSERT_EQ(events.size(), edge_vectors::kDestroyEvents.size());
  for (std::size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i], edge_vectors::kDestroyEvents[i]) << i;
}
