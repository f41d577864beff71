#pragma once
// A reference model of what the store must hold, built only from
// acknowledged operations, and a checker comparing a store with it.

#include <map>
#include <set>

#include "storage_test_util.hpp"

namespace corates::storage::testing {

struct DocModel {
  std::string epoch;  // empty: unknown to the test
  Bytes snapshot;
  std::uint64_t snapshot_seq = 0;
  std::map<std::uint64_t, Bytes> updates;
  std::uint64_t last_seq = 0;
};

class Model {
 public:
  std::map<std::string, DocModel> docs;

  void append(const std::string& doc, const Bytes& data, std::uint64_t seq,
              const std::string& epoch) {
    DocModel& d = docs[doc];
    if (!epoch.empty()) d.epoch = epoch;
    d.updates[seq] = data;
    d.last_seq = seq;
  }
  void compact(const std::string& doc, const Bytes& snapshot, std::uint64_t up_to) {
    DocModel& d = docs.at(doc);
    d.snapshot = snapshot;
    d.snapshot_seq = up_to;
    d.updates.erase(d.updates.begin(), d.updates.upper_bound(up_to));
  }
  void remove(const std::string& doc) { docs.erase(doc); }
  std::uint64_t next_seq(const std::string& doc) const {
    auto it = docs.find(doc);
    return it == docs.end() ? 1 : it->second.last_seq + 1;
  }

  // Every document and byte the model holds is stored, and nothing else.
  void verify(DocumentStore& store) const {
    auto page = store.list("", 1000, "");
    ASSERT_TRUE(page) << page.error().message;
    std::set<std::string> names;
    for (const auto& d : page->documents) names.insert(d.name);
    std::set<std::string> expected;
    for (const auto& [name, d] : docs) expected.insert(name);
    EXPECT_EQ(names, expected);
    for (const auto& [name, d] : docs) {
      SCOPED_TRACE("document " + name);
      auto loaded = store.load(name);
      ASSERT_TRUE(loaded) << loaded.error().message;
      ASSERT_TRUE(loaded->exists);
      if (!d.epoch.empty()) {
        EXPECT_EQ(loaded->epoch, d.epoch);
      }
      EXPECT_EQ(loaded->snapshot, d.snapshot);
      EXPECT_EQ(loaded->snapshot_seq, d.snapshot_seq);
      EXPECT_EQ(loaded->last_seq, d.last_seq);
      std::map<std::uint64_t, Bytes> got;
      for (const auto& u : loaded->updates) got[u.seq] = u.data;
      EXPECT_EQ(got, d.updates);
      std::uint64_t bytes = d.snapshot.size();
      for (const auto& [seq, data] : d.updates) bytes += data.size();
      EXPECT_EQ(loaded->total_bytes, bytes);
    }
  }
};

}  // namespace corates::storage::testing
