// Unit tests of the document model: store, delete set, transactions, Array/Map,
// convergence, pending updates, gc, snapshots, malformed input.
#include "corates/crdt/array.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/map.hpp"
#include "corates/crdt/snapshot.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace corates::crdt;
using lib0::Any;

namespace {

Doc make_doc(ClientID id, bool gc = true) {
  DocOptions o;
  o.client_id = id;
  o.gc = gc;
  return Doc(o);
}

std::string json_of(const AbstractType& t) { return lib0::to_json(t.to_json()); }

// Map key order follows arrival order (as in Yjs), so compare sorted entries.
std::string sorted_json(const Map& m) {
  auto entries = m.entries();
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [k, v] : entries) out += k + "=" + lib0::to_json(value_to_json(v)) + ";";
  return out;
}


}  // namespace

TEST(CoreDeleteSet, SortMergeAndLookup) {
  DeleteSet ds;
  ds.add(1, 5, 2);
  ds.add(1, 0, 3);
  ds.add(1, 3, 1);
  ds.add(2, 10, 1);
  ds.sort_and_merge();
  ASSERT_EQ(ds.clients[1].size(), 2u);
  EXPECT_EQ(ds.clients[1][0], (DeleteItem{0, 4}));
  EXPECT_EQ(ds.clients[1][1], (DeleteItem{5, 2}));
  EXPECT_TRUE(ds.is_deleted({1, 3}));
  EXPECT_FALSE(ds.is_deleted({1, 4}));
  EXPECT_TRUE(ds.is_deleted({1, 6}));
  EXPECT_FALSE(ds.is_deleted({1, 7}));
  EXPECT_TRUE(ds.is_deleted({2, 10}));
  EXPECT_FALSE(ds.is_deleted({3, 0}));
}

TEST(CoreStore, FindIndexAndState) {
  Doc d = make_doc(1);
  Array& a = d.get_array("a");
  for (int i = 0; i < 10; ++i) {
    // Insert at the front so items do not merge.
    ASSERT_TRUE(a.insert(0, {Any(i)}).has_value());
  }
  const auto& structs = d.store().clients.at(1);
  EXPECT_EQ(structs.size(), 10u);
  EXPECT_EQ(d.store().get_state(1), 10u);
  for (Clock c = 0; c < 10; ++c) {
    EXPECT_EQ(StructStore::find_index_ss(structs, c), c);
    EXPECT_EQ(d.store().find({1, c})->id.clock, c);
  }
  EXPECT_EQ(d.store().find({1, 10}), nullptr);
  EXPECT_EQ(d.store().find({2, 0}), nullptr);
}

TEST(CoreTransaction, NestingEventsAndHooks) {
  Doc d = make_doc(1);
  Array& a = d.get_array("a");
  Map& m = d.get_map("m");
  int updates = 0;
  int array_events = 0;
  std::set<std::string> keys;
  d.on_update([&](std::span<const std::uint8_t>, const Origin& origin, Transaction&) {
    ++updates;
    EXPECT_EQ(origin, Origin{std::string("me")});
  });
  a.observe([&](const YEvent& ev, Transaction&) {
    ++array_events;
    EXPECT_TRUE(ev.child_list_changed());
    ASSERT_EQ(ev.delta().size(), 1u);
    EXPECT_EQ(ev.delta()[0].kind, YEvent::DeltaOp::Kind::kInsert);
    EXPECT_EQ(ev.delta()[0].insert.size(), 3u);
  });
  m.observe([&](const YEvent& ev, Transaction&) {
    for (const auto& [k, c] : ev.keys()) keys.insert(k);
  });
  d.transact(
      [&](Transaction& tr) {
        const InsertValue v[] = {Any(1), Any(2), Any(3)};
        ASSERT_TRUE(a.insert(tr, 0, v).has_value());
        d.transact([&](Transaction& inner) {
          EXPECT_EQ(&inner, &tr);
          m.set(inner, "k", Any("v"));
        });
        m.set(tr, "j", Any(1));
      },
      Origin{std::string("me")});
  EXPECT_EQ(updates, 1);
  EXPECT_EQ(array_events, 1);
  EXPECT_EQ(keys, (std::set<std::string>{"j", "k"}));
  // A transaction that changes nothing emits no update.
  d.transact([](Transaction&) {}, Origin{std::string("me")});
  EXPECT_EQ(updates, 1);
}

TEST(CoreArrayMap, EditsAndErrors) {
  Doc d = make_doc(1);
  Array& a = d.get_array("a");
  EXPECT_FALSE(a.insert(1, {Any(1)}).has_value());
  ASSERT_TRUE(a.insert(0, {Any(1), Any(2), Any(3), Any(4)}).has_value());
  ASSERT_TRUE(a.remove(1, 2).has_value());
  EXPECT_FALSE(a.remove(1, 5).has_value());
  EXPECT_EQ(json_of(a), "[1,4]");
  EXPECT_EQ(a.length(), 2u);
  auto v = a.get(1);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(std::get<Any>(*v), Any(4));
  Map& m = d.get_map("m");
  m.set("b", Any(1));
  m.set("a", Any("x"));
  EXPECT_TRUE(m.has("a"));
  EXPECT_EQ(m.size(), 2u);
  m.remove("b");
  EXPECT_FALSE(m.has("b"));
  EXPECT_EQ(json_of(m), R"({"a":"x"})");
  d.transact([&](Transaction& tr) {
    Map* inner = a.insert_type<Map>(tr, 1);
    ASSERT_NE(inner, nullptr);
    inner->set(tr, "deep", Any(true));
  });
  EXPECT_EQ(json_of(a), R"([1,{"deep":true},4])");
}

TEST(CoreConvergence, ThreeDocsAnyOrder) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::unique_ptr<Doc>> docs;
    std::vector<std::vector<std::vector<std::uint8_t>>> logs(3);
    for (ClientID c = 1; c <= 3; ++c) {
      DocOptions o;
      o.client_id = c;
      docs.push_back(std::make_unique<Doc>(o));
      auto* log = &logs[c - 1];
      docs.back()->on_update([log](std::span<const std::uint8_t> u, const Origin&, Transaction& tr) {
        if (tr.local()) log->emplace_back(u.begin(), u.end());
      });
    }
    for (int step = 0; step < 30; ++step) {
      Doc& d = *docs[rng() % 3];
      Array& a = d.get_array("a");
      Map& m = d.get_map("m");
      switch (rng() % 4) {
        case 0:
        case 1: {
          const auto idx = a.length() ? rng() % (a.length() + 1) : 0;
          ASSERT_TRUE(a.insert(idx, {Any(static_cast<int>(step)), Any("s")}).has_value());
          break;
        }
        case 2:
          if (a.length() > 0) {
            ASSERT_TRUE(a.remove(rng() % a.length(), 1).has_value());
          }
          break;
        default:
          m.set(std::string(1, static_cast<char>('a' + rng() % 3)), Any(static_cast<int>(step)));
      }
      // Occasionally exchange everything, in random order with duplicates.
      if (rng() % 5 == 0) {
        for (auto& to : docs) {
          std::vector<std::vector<std::uint8_t>> all;
          for (auto& l : logs) all.insert(all.end(), l.begin(), l.end());
          std::shuffle(all.begin(), all.end(), rng);
          for (auto& u : all) ASSERT_TRUE(apply_update(*to, u).has_value());
        }
      }
    }
    for (auto& to : docs) {
      std::vector<std::vector<std::uint8_t>> all;
      for (auto& l : logs) all.insert(all.end(), l.begin(), l.end());
      std::shuffle(all.begin(), all.end(), rng);
      for (auto& u : all) ASSERT_TRUE(apply_update(*to, u).has_value());
    }
    for (int i = 1; i < 3; ++i) {
      EXPECT_EQ(json_of(docs[i]->get_array("a")), json_of(docs[0]->get_array("a"))) << "round " << round;
      EXPECT_EQ(sorted_json(docs[i]->get_map("m")), sorted_json(docs[0]->get_map("m")));
      EXPECT_EQ(encode_state_as_update(*docs[i]), encode_state_as_update(*docs[0]));
      EXPECT_FALSE(docs[i]->store().has_pending());
    }
  }
}

TEST(CorePending, AppliedWhenDependenciesArrive) {
  Doc a = make_doc(1);
  std::vector<std::vector<std::uint8_t>> ups;
  a.on_update([&](std::span<const std::uint8_t> u, const Origin&, Transaction&) { ups.emplace_back(u.begin(), u.end()); });
  Array& arr = a.get_array("a");
  ASSERT_TRUE(arr.insert(0, {Any("x")}).has_value());
  ASSERT_TRUE(arr.insert(0, {Any("y")}).has_value());
  ASSERT_TRUE(arr.remove(1, 1).has_value());
  Doc b = make_doc(2);
  ASSERT_TRUE(apply_update(b, ups[2]).has_value());  // delete of an unknown item
  ASSERT_TRUE(apply_update(b, ups[1]).has_value());  // insert depending on ups[0]
  EXPECT_TRUE(b.store().has_pending());
  EXPECT_EQ(json_of(b.get_array("a")), "[]");
  ASSERT_TRUE(apply_update(b, ups[0]).has_value());
  EXPECT_FALSE(b.store().has_pending());
  EXPECT_EQ(json_of(b.get_array("a")), R"(["y"])");
  EXPECT_EQ(encode_state_as_update(b), encode_state_as_update(a));
}

TEST(CoreGc, OnReplacesContentOffKeepsIt) {
  for (bool gc : {true, false}) {
    Doc d = make_doc(1, gc);
    Array& a = d.get_array("a");
    d.transact([&](Transaction& tr) {
      Map* m = a.insert_type<Map>(tr, 0);
      m->set(tr, "k", Any("some long value"));
    });
    ASSERT_TRUE(a.insert(1, {Any("keep")}).has_value());
    ASSERT_TRUE(a.remove(0, 1).has_value());
    bool found_type_content = false;
    for (AbstractStruct* s : d.store().clients.at(1)) {
      if (s->is_item() && content_ref(static_cast<Item*>(s)->content) == ContentRef::kType) found_type_content = true;
    }
    EXPECT_EQ(found_type_content, !gc);
    EXPECT_EQ(json_of(a), R"(["keep"])");
    Doc copy = make_doc(2, gc);
    ASSERT_TRUE(apply_update(copy, encode_state_as_update(d)).has_value());
    EXPECT_EQ(encode_state_as_update(copy), encode_state_as_update(d));
  }
}

TEST(CoreSnapshot, EncodeDecodeAndRestore) {
  Doc d = make_doc(1, false);
  Array& a = d.get_array("a");
  ASSERT_TRUE(a.insert(0, {Any(1), Any(2), Any(3)}).has_value());
  Snapshot s1 = snapshot(d);
  ASSERT_TRUE(a.remove(0, 2).has_value());
  ASSERT_TRUE(a.insert(1, {Any(4)}).has_value());
  Snapshot s2 = snapshot(d);
  EXPECT_FALSE(equal_snapshots(s1, s2));
  auto r1 = decode_snapshot(encode_snapshot(s1));
  ASSERT_TRUE(r1.has_value());
  EXPECT_TRUE(equal_snapshots(*r1, s1));
  auto r2 = decode_snapshot_v2(encode_snapshot_v2(s2));
  ASSERT_TRUE(r2.has_value());
  EXPECT_TRUE(equal_snapshots(*r2, s2));
  auto restored = create_doc_from_snapshot(d, s1);
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(json_of((*restored)->get_array("a")), "[1,2,3]");
  EXPECT_EQ(json_of(a), "[3,4]");
  Doc gc_on = make_doc(3, true);
  EXPECT_FALSE(create_doc_from_snapshot(gc_on, s1).has_value());
}

TEST(CoreMalformed, RejectedWithoutChangingTheDoc) {
  Doc src = make_doc(1);
  ASSERT_TRUE(src.get_array("a").insert(0, {Any("hello"), Any(1)}).has_value());
  ASSERT_TRUE(src.get_array("a").remove(0, 1).has_value());
  const auto good = encode_state_as_update(src);
  Doc d = make_doc(2);
  d.get_map("m").set("k", Any(1));
  const auto before = encode_state_as_update(d);
  // Every truncation fails and leaves the doc untouched.
  for (std::size_t n = 0; n < good.size(); ++n) {
    auto r = apply_update(d, std::span<const std::uint8_t>(good.data(), n));
    if (r.has_value()) continue;  // a prefix may be a valid (smaller) update
    EXPECT_EQ(encode_state_as_update(d), before) << "prefix " << n;
  }
  // A huge struct count is rejected.
  const std::vector<std::uint8_t> huge = {1, 0xff, 0xff, 0xff, 0x0f, 1, 0};
  EXPECT_FALSE(apply_update(d, huge).has_value());
  // An origin in the item's own client at a higher clock can never arrive.
  // 1 client, 1 struct, client 5, clock 0, info 0x88 (origin + ContentAny), origin (5, 3).
  const std::vector<std::uint8_t> never = {1, 1, 5, 0, 0x88, 5, 3, 1, 0x7d, 0};
  auto r = apply_update(d, never);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, corates::ErrorCode::kMissingDependency);
  EXPECT_FALSE(d.store().has_pending());
}
