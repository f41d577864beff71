#pragma once
// Snapshots (yjs/src/utils/Snapshot.js): a state vector plus a delete set.
// With gc off a Doc can be restored to its content at a snapshot.
// Thread-safety: plain values; functions taking a Doc as doc.hpp.

#include "corates/common/result.hpp"
#include "corates/crdt/delete_set.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/struct_store.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace corates::crdt {

struct Snapshot {
  DeleteSet ds;
  StateVector sv;
};

Snapshot snapshot(const Doc& doc);
bool equal_snapshots(const Snapshot& a, const Snapshot& b);
std::vector<std::uint8_t> encode_snapshot(const Snapshot& s);
std::vector<std::uint8_t> encode_snapshot_v2(const Snapshot& s);
Result<Snapshot> decode_snapshot(std::span<const std::uint8_t> bytes);
Result<Snapshot> decode_snapshot_v2(std::span<const std::uint8_t> bytes);
// Whether the item is visible in the snapshot (Yjs's isVisible).
bool is_visible(const Item& item, const Snapshot* s);
// Yjs's createDocFromSnapshot: a new Doc with the content of `origin` at
// `snap`. kInvalidArgument if origin has gc on (content may be gone).
Result<std::unique_ptr<Doc>> create_doc_from_snapshot(Doc& origin, const Snapshot& snap,
                                                      DocOptions options = {});

}  // namespace corates::crdt
