// Snapshots (Yjs's Snapshot.js).
#include "corates/crdt/snapshot.hpp"

#include "corates/crdt/encoding.hpp"
#include "corates/crdt/update_decoder.hpp"
#include "corates/crdt/update_encoder.hpp"
#include "internal.hpp"

namespace corates::crdt {

namespace {

template <class Encoder>
std::vector<std::uint8_t> encode_snapshot_impl(const Snapshot& s) {
  Encoder enc;
  write_delete_set(enc, s.ds);
  auto& rest = enc.rest_encoder();
  rest.write_var_uint(s.sv.size());
  for (auto it = s.sv.rbegin(); it != s.sv.rend(); ++it) {
    rest.write_var_uint(it->first);
    rest.write_var_uint(it->second);
  }
  return enc.to_bytes();
}

template <class Decoder>
Result<Snapshot> decode_snapshot_impl(std::span<const std::uint8_t> bytes) {
  Decoder dec(bytes);
  auto ds = read_delete_set(dec);
  if (!ds) return ds.error();
  auto& rest = dec.rest_decoder();
  const std::uint64_t n = rest.read_var_uint();
  if (!dec.ok()) return *dec.error();
  if (n > rest.remaining()) return Error{ErrorCode::kTooLarge, "snapshot: more clients than input"};
  Snapshot s;
  s.ds = std::move(*ds);
  for (std::uint64_t i = 0; i < n; ++i) {
    const ClientID client = rest.read_var_uint();
    const Clock clock = rest.read_var_uint();
    if (!dec.ok()) return *dec.error();
    s.sv[client] = clock;
  }
  return s;
}

}  // namespace

Snapshot snapshot(const Doc& doc) {
  return Snapshot{detail::delete_set_from_store(doc.store()), doc.store().get_state_vector()};
}

bool equal_snapshots(const Snapshot& a, const Snapshot& b) { return a.sv == b.sv && a.ds == b.ds; }

std::vector<std::uint8_t> encode_snapshot(const Snapshot& s) { return encode_snapshot_impl<DSEncoderV1>(s); }
std::vector<std::uint8_t> encode_snapshot_v2(const Snapshot& s) { return encode_snapshot_impl<DSEncoderV2>(s); }
Result<Snapshot> decode_snapshot(std::span<const std::uint8_t> bytes) {
  return decode_snapshot_impl<DSDecoderV1>(bytes);
}
Result<Snapshot> decode_snapshot_v2(std::span<const std::uint8_t> bytes) {
  return decode_snapshot_impl<DSDecoderV2>(bytes);
}

bool is_visible(const Item& item, const Snapshot* s) {
  if (s == nullptr) return !item.deleted();
  auto it = s->sv.find(item.id.client);
  return it != s->sv.end() && it->second > item.id.clock && !s->ds.is_deleted(item.id);
}

Result<std::unique_ptr<Doc>> create_doc_from_snapshot(Doc& origin, const Snapshot& snap, DocOptions options) {
  if (origin.gc()) return Error{ErrorCode::kInvalidArgument, "garbage collection must be disabled in the origin doc"};
  for (const auto& [client, clock] : snap.sv) {
    if (clock > origin.store().get_state(client)) {
      return Error{ErrorCode::kInvalidArgument, "snapshot is ahead of the origin doc"};
    }
  }
  DeleteSet ds = snap.ds;
  ds.sort_and_merge();
  UpdateEncoderV2 enc;
  origin.transact([&](Transaction& tr) {
    std::size_t size = 0;
    for (const auto& [client, clock] : snap.sv) size += clock > 0 ? 1 : 0;
    enc.rest_encoder().write_var_uint(size);
    for (const auto& [client, clock] : snap.sv) {
      if (clock == 0) continue;
      if (clock < origin.store().get_state(client)) get_item_clean_start(tr, ID{client, clock});
      const auto& structs = origin.store().clients[client];
      const std::size_t last = StructStore::find_index_ss(structs, clock - 1);
      enc.rest_encoder().write_var_uint(last + 1);
      enc.write_client(client);
      enc.rest_encoder().write_var_uint(0);
      for (std::size_t i = 0; i <= last; ++i) detail::write_struct(enc, structs[i], 0);
    }
    write_delete_set(enc, ds);
  });
  auto doc = std::make_unique<Doc>(std::move(options));
  auto r = apply_update_v2(*doc, enc.to_bytes(), Origin{std::string("snapshot")});
  if (!r) return r.error();
  return doc;
}

}  // namespace corates::crdt
