// Y.diffUpdate / Y.diffUpdateV2 and Y.convertUpdateFormat (yjs/src/utils/updates.js).

#include <unordered_map>

#include "corates/crdt/update_decoder.hpp"
#include "corates/crdt/update_encoder.hpp"
#include "corates/crdt/updates.hpp"
#include "updates/lazy_struct.hpp"

namespace corates::crdt {
namespace {

using updates_detail::LazyStructReader;
using updates_detail::LazyStructWriter;
using updates_detail::struct_end;

// Yjs's decodeStateVector (always the v1 layout): later entries for the same
// client win.
Result<std::unordered_map<ClientID, Clock>> decode_state_vector_map(ByteView sv) {
  lib0::Decoder dec(sv);
  const std::uint64_t n = dec.read_var_uint();
  if (!dec.ok()) return *dec.error();
  if (n > dec.remaining())
    return Error{ErrorCode::kTooLarge, "state vector: more entries than input"};
  std::unordered_map<ClientID, Clock> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    const ClientID client = dec.read_var_uint();
    const Clock clock = dec.read_var_uint();
    if (!dec.ok()) return *dec.error();
    out[client] = clock;
  }
  return out;
}

template <class Decoder, class Encoder>
Result<UpdateBytes> diff_update_impl(ByteView update, ByteView sv, const DecodeLimits& limits) {
  auto state = decode_state_vector_map(sv);
  if (!state) return state.error();
  Encoder encoder;
  LazyStructWriter<Encoder> writer(encoder);
  LazyStructReader<Decoder> reader(update, false, limits);
  while (const StructRef* curr = reader.curr()) {
    const ClientID client = curr->id.client;
    const auto it = state->find(client);
    const Clock sv_clock = it == state->end() ? 0 : it->second;
    if (curr->kind == StructRef::Kind::kSkip) {
      reader.next();  // the first written struct of a client must not be a Skip
      continue;
    }
    if (struct_end(*curr) > sv_clock) {
      writer.write(*curr, sv_clock > curr->id.clock ? sv_clock - curr->id.clock : 0);
      for (const StructRef* s = reader.next(); s != nullptr && s->id.client == client;
           s = reader.next()) {
        writer.write(*s, 0);
      }
    } else {
      const StructRef* s = curr;
      while (s != nullptr && s->id.client == client && struct_end(*s) <= sv_clock)
        s = reader.next();
    }
  }
  if (!reader.ok()) return *reader.error();
  writer.finish();
  auto ds = reader.read_delete_set_after();
  if (!ds) return ds.error();
  auto w = updates_detail::write_delete_set_checked(encoder, *ds);
  if (!w) return w.error();
  return encoder.to_bytes();
}

template <class Decoder, class Encoder>
Result<UpdateBytes> convert_update_impl(ByteView update, const DecodeLimits& limits) {
  LazyStructReader<Decoder> reader(update, false, limits);
  Encoder encoder;
  LazyStructWriter<Encoder> writer(encoder);
  for (const StructRef* s = reader.curr(); s != nullptr; s = reader.next()) writer.write(*s, 0);
  if (!reader.ok()) return *reader.error();
  writer.finish();
  auto ds = reader.read_delete_set_after();
  if (!ds) return ds.error();
  auto w = updates_detail::write_delete_set_checked(encoder, *ds);
  if (!w) return w.error();
  return encoder.to_bytes();
}

template <class Decoder>
Result<DeleteSet> read_update_delete_set_impl(ByteView update, const DecodeLimits& limits) {
  LazyStructReader<Decoder> reader(update, false, limits);
  while (reader.curr() != nullptr) reader.next();
  return reader.read_delete_set_after();
}

}  // namespace

Result<UpdateBytes> diff_update(ByteView update, ByteView sv, const DecodeLimits& limits) {
  return diff_update_impl<UpdateDecoderV1, UpdateEncoderV1>(update, sv, limits);
}
Result<UpdateBytes> diff_update_v2(ByteView update, ByteView sv, const DecodeLimits& limits) {
  return diff_update_impl<UpdateDecoderV2, UpdateEncoderV2>(update, sv, limits);
}
Result<UpdateBytes> convert_update_format_v1_to_v2(ByteView update, const DecodeLimits& limits) {
  return convert_update_impl<UpdateDecoderV1, UpdateEncoderV2>(update, limits);
}
Result<UpdateBytes> convert_update_format_v2_to_v1(ByteView update, const DecodeLimits& limits) {
  return convert_update_impl<UpdateDecoderV2, UpdateEncoderV1>(update, limits);
}
Result<DeleteSet> read_update_delete_set(ByteView update, const DecodeLimits& limits) {
  return read_update_delete_set_impl<UpdateDecoderV1>(update, limits);
}
Result<DeleteSet> read_update_delete_set_v2(ByteView update, const DecodeLimits& limits) {
  return read_update_delete_set_impl<UpdateDecoderV2>(update, limits);
}

}  // namespace corates::crdt
