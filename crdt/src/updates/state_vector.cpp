// Y.encodeStateVectorFromUpdate and Y.parseUpdateMeta (and their V2 forms):
// they read only the structs of an update, as Yjs does.

#include <utility>
#include <vector>

#include "corates/crdt/update_decoder.hpp"
#include "corates/crdt/updates.hpp"
#include "updates/lazy_struct.hpp"

namespace corates::crdt {
namespace {

using updates_detail::LazyStructReader;
using updates_detail::struct_end;

template <class Decoder>
Result<UpdateBytes> state_vector_impl(ByteView update, const DecodeLimits& limits) {
  LazyStructReader<Decoder> reader(update, false, limits);
  std::vector<std::pair<ClientID, Clock>> entries;
  const StructRef* curr = reader.curr();
  if (curr != nullptr) {
    ClientID curr_client = curr->id.client;
    // A client counts only from clock 0 and only up to its first Skip.
    bool stop_counting = curr->id.clock != 0;
    Clock curr_clock = stop_counting ? 0 : struct_end(*curr);
    for (; curr != nullptr; curr = reader.next()) {
      if (curr_client != curr->id.client) {
        if (curr_clock != 0) entries.emplace_back(curr_client, curr_clock);
        curr_client = curr->id.client;
        curr_clock = 0;
        stop_counting = curr->id.clock != 0;
      }
      if (curr->kind == StructRef::Kind::kSkip) stop_counting = true;
      if (!stop_counting) curr_clock = struct_end(*curr);
    }
    if (curr_clock != 0) entries.emplace_back(curr_client, curr_clock);
  }
  if (!reader.ok()) return *reader.error();
  lib0::Encoder enc;
  enc.write_var_uint(entries.size());
  for (const auto& [client, clock] : entries) {
    enc.write_var_uint(client);
    enc.write_var_uint(clock);
  }
  return std::move(enc).to_bytes();
}

template <class Decoder>
Result<UpdateMeta> meta_impl(ByteView update, const DecodeLimits& limits) {
  LazyStructReader<Decoder> reader(update, false, limits);
  UpdateMeta meta;
  const StructRef* curr = reader.curr();
  if (curr != nullptr) {
    ClientID curr_client = curr->id.client;
    Clock curr_clock = curr->id.clock;
    meta.from[curr_client] = curr_clock;
    for (; curr != nullptr; curr = reader.next()) {
      if (curr_client != curr->id.client) {
        meta.to[curr_client] = curr_clock;
        meta.from[curr->id.client] = curr->id.clock;
        curr_client = curr->id.client;
      }
      curr_clock = struct_end(*curr);
    }
    meta.to[curr_client] = curr_clock;
  }
  if (!reader.ok()) return *reader.error();
  return meta;
}

}  // namespace

Result<UpdateBytes> encode_state_vector_from_update(ByteView update, const DecodeLimits& limits) {
  return state_vector_impl<UpdateDecoderV1>(update, limits);
}
Result<UpdateBytes> encode_state_vector_from_update_v2(ByteView update,
                                                       const DecodeLimits& limits) {
  return state_vector_impl<UpdateDecoderV2>(update, limits);
}
Result<UpdateMeta> parse_update_meta(ByteView update, const DecodeLimits& limits) {
  return meta_impl<UpdateDecoderV1>(update, limits);
}
Result<UpdateMeta> parse_update_meta_v2(ByteView update, const DecodeLimits& limits) {
  return meta_impl<UpdateDecoderV2>(update, limits);
}

}  // namespace corates::crdt
