// Byte identity with real Yjs: vectors from crdt/test/vectors/make_core_vectors.mjs.
#include "corates/crdt/array.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/map.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vectors/core_vectors.inc"

using namespace corates::crdt;

namespace {

std::vector<std::uint8_t> unhex(const char* h) {
  std::vector<std::uint8_t> out;
  const std::string s(h);
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string hex(const std::vector<std::uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (auto c : b) {
    s.push_back(d[c >> 4]);
    s.push_back(d[c & 15]);
  }
  return s;
}

std::string roots_json(Doc& doc, const std::string& roots) {
  lib0::AnyObject o;
  std::size_t pos = 0;
  while (pos < roots.size()) {
    std::size_t end = roots.find(';', pos);
    if (end == std::string::npos) end = roots.size();
    const std::string r = roots.substr(pos, end - pos);
    pos = end + 1;
    const auto eq = r.find('=');
    const std::string name = r.substr(0, eq);
    const std::string kind = r.substr(eq + 1);
    if (kind == "array") o.emplace_back(name, doc.get_array(name).to_json());
    if (kind == "map") o.emplace_back(name, doc.get_map(name).to_json());
    if (kind == "text") return "";  // text JSON is checked by the Text tests
  }
  return lib0::json_stringify(lib0::Any(std::move(o)));
}

void check_vector(const CoreVector& v, bool use_v2) {
  SCOPED_TRACE(std::string(v.name) + (use_v2 ? " (v2 updates)" : " (v1 updates)"));
  DocOptions o;
  o.client_id = 999;
  o.gc = v.gc;
  Doc doc(o);
  const auto& ups = use_v2 ? v.v2 : v.v1;
  for (std::size_t i = 0; i < ups.size(); ++i) {
    const auto bytes = unhex(ups[i]);
    auto r = use_v2 ? apply_update_v2(doc, bytes) : apply_update(doc, bytes);
    ASSERT_TRUE(r.has_value()) << "step " << i << ": " << r.error().message;
    EXPECT_EQ(hex(encode_state_as_update(doc)), v.steps[i]) << "state after step " << i;
  }
  EXPECT_EQ(hex(encode_state_as_update(doc)), v.state_v1);
  EXPECT_EQ(hex(encode_state_as_update_v2(doc)), v.state_v2);
  EXPECT_EQ(hex(encode_state_vector(doc)), v.sv);
  const std::string json = roots_json(doc, v.roots);
  if (!json.empty()) {
    EXPECT_EQ(json, v.json);
  }
}

}  // namespace

TEST(CoreVectors, ApplyV1MatchesYjs) {
  for (const auto& v : core_vectors()) check_vector(v, false);
}

TEST(CoreVectors, ApplyV2MatchesYjs) {
  for (const auto& v : core_vectors()) check_vector(v, true);
}

TEST(CoreVectors, LoadEncodedStateAsYjsDoes) {
  for (const auto& v : core_vectors()) {
    SCOPED_TRACE(v.name);
    DocOptions o;
    o.gc = v.gc;
    Doc a(o);
    ASSERT_TRUE(apply_update(a, unhex(v.state_v1)).has_value());
    EXPECT_EQ(hex(encode_state_as_update(a)), v.reload_v1);
    Doc b(o);
    ASSERT_TRUE(apply_update_v2(b, unhex(v.state_v2)).has_value());
    EXPECT_EQ(hex(encode_state_as_update_v2(b)), v.reload_v2);
  }
}

TEST(CoreVectors, EncodeAgainstStateVector) {
  for (const auto& s : sv_vectors()) {
    SCOPED_TRACE(s.name);
    Doc d;
    ASSERT_TRUE(apply_update(d, unhex(s.update)).has_value());
    auto v1 = encode_state_as_update(d, std::span<const std::uint8_t>(unhex(s.sv)));
    ASSERT_TRUE(v1.has_value());
    EXPECT_EQ(hex(*v1), s.v1);
    auto v2 = encode_state_as_update_v2(d, std::span<const std::uint8_t>(unhex(s.sv)));
    ASSERT_TRUE(v2.has_value());
    EXPECT_EQ(hex(*v2), s.v2);
  }
}

// The same local edits as the generator's first two scenarios must emit the
// same update bytes as Yjs.
TEST(CoreVectors, LocalArrayEditsEmitYjsUpdates) {
  DocOptions o;
  o.client_id = 1;
  Doc d(o);
  std::vector<std::string> emitted;
  d.on_update([&](std::span<const std::uint8_t> u, const Origin&, Transaction&) {
    emitted.push_back(hex(std::vector<std::uint8_t>(u.begin(), u.end())));
  });
  Array& a = d.get_array("a");
  ASSERT_TRUE(a.insert(0, {lib0::Any(1), lib0::Any(2), lib0::Any(3)}).has_value());
  lib0::AnyObject obj{{"k", lib0::Any("v")}, {"n", lib0::Any(1.5)}};
  ASSERT_TRUE(a.insert(1, {lib0::Any("x"), lib0::Any(true), lib0::Any(lib0::Null{}), lib0::Any(obj)}).has_value());
  ASSERT_TRUE(a.remove(0, 2).has_value());
  a.push({lib0::Any(lib0::AnyArray{lib0::Any(1), lib0::Any(2)}), lib0::Any("tail")});
  d.transact([&](Transaction& tr) {
    const InsertValue v[] = {lib0::Any(42)};
    ASSERT_TRUE(a.insert(tr, 2, v).has_value());
    ASSERT_TRUE(a.remove(tr, 4, 1).has_value());
  });
  ASSERT_TRUE(a.insert(0, {lib0::Any(lib0::Bytes{1, 2, 3})}).has_value());
  const CoreVector& v = core_vectors()[0];
  ASSERT_EQ(std::string(v.name), "array_local_gc");
  ASSERT_EQ(emitted.size(), v.v1.size());
  for (std::size_t i = 0; i < emitted.size(); ++i) EXPECT_EQ(emitted[i], v.v1[i]) << "update " << i;
  EXPECT_EQ(hex(encode_state_as_update(d)), v.state_v1);
}

TEST(CoreVectors, LocalMapEditsEmitYjsUpdates) {
  DocOptions o;
  o.client_id = 2;
  Doc d(o);
  std::vector<std::string> emitted;
  d.on_update([&](std::span<const std::uint8_t> u, const Origin&, Transaction&) {
    emitted.push_back(hex(std::vector<std::uint8_t>(u.begin(), u.end())));
  });
  Map& m = d.get_map("m");
  m.set("a", lib0::Any(1));
  m.set("b", lib0::Any("two"));
  m.set("a", lib0::Any(3));
  m.remove("b");
  Map* inner = nullptr;
  d.transact([&](Transaction& tr) { inner = m.set_type<Map>(tr, "inner"); });
  ASSERT_NE(inner, nullptr);
  inner->set("x", lib0::Any(lib0::AnyArray{lib0::Any(1), lib0::Any(lib0::AnyObject{{"y", lib0::Any(2)}})}));
  Array* arr = nullptr;
  d.transact([&](Transaction& tr) { arr = m.set_type<Array>(tr, "list"); });
  ASSERT_NE(arr, nullptr);
  ASSERT_TRUE(arr->insert(0, {lib0::Any("p"), lib0::Any("q"), lib0::Any("r")}).has_value());
  ASSERT_TRUE(arr->remove(1, 1).has_value());
  m.set("10", lib0::Any("num-key"));
  m.set("2", lib0::Any("two-key"));
  m.set("inner", lib0::Any("replaced"));
  const CoreVector* v = nullptr;
  for (const auto& c : core_vectors()) {
    if (std::string(c.name) == "map_nested_gc") v = &c;
  }
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(emitted.size(), v->v1.size());
  for (std::size_t i = 0; i < emitted.size(); ++i) EXPECT_EQ(emitted[i], v->v1[i]) << "update " << i;
  EXPECT_EQ(hex(encode_state_as_update(d)), v->state_v1);
  EXPECT_EQ(lib0::json_stringify(lib0::Any(lib0::AnyObject{{"m", m.to_json()}})), v->json);
}

namespace {
const CoreVector& vector_named(const std::string& name) {
  for (const auto& c : core_vectors()) {
    if (name == c.name) return c;
  }
  ADD_FAILURE() << "no vector " << name;
  return core_vectors().front();
}
}  // namespace

// A received delete set is applied in wire order (Yjs's readAndApplyDeleteSet):
// the parent type's client first, so its children are deleted whole before
// their own client's ranges come up. Conformance seeds 224 and 1976.
TEST(CoreVectors, DeleteSetAppliedInWireOrderKeepsGcStructsApart) {
  for (const char* name : {"delete_set_wire_order_gc_split_gc", "delete_set_wire_order_gc_split_nogc"}) {
    check_vector(vector_named(name), false);
    check_vector(vector_named(name), true);
  }
}

TEST(CoreVectors, DeleteSetAppliedInWireOrderKeepsSurrogatePairs) {
  for (const char* name : {"delete_set_wire_order_surrogate_gc", "delete_set_wire_order_surrogate_nogc"}) {
    check_vector(vector_named(name), false);
    check_vector(vector_named(name), true);
  }
}
