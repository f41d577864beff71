#include "corates/protocol/message.hpp"

#include "corates/crdt/lib0/decoding.hpp"
#include "corates/crdt/lib0/encoding.hpp"

#include <string>

namespace corates::protocol {
namespace {

using crdt::lib0::Decoder;
using crdt::lib0::Encoder;

Bytes copy(std::span<const std::uint8_t> s) { return Bytes(s.begin(), s.end()); }

Error decoder_error(const Decoder& d) {
  if (d.error()) return *d.error();
  return Error{ErrorCode::kInternal, "decoder failed without an error"};
}

Bytes frame_with_payload(std::uint64_t type, std::uint64_t sub, std::span<const std::uint8_t> p) {
  Encoder e;
  e.write_var_uint(type);
  e.write_var_uint(sub);
  e.write_var_uint8_array(p);
  return std::move(e).to_bytes();
}

}  // namespace

Result<Message> decode_message(std::span<const std::uint8_t> frame) {
  Decoder d(frame);
  const std::uint64_t type = d.read_var_uint();
  if (!d.ok()) return decoder_error(d);
  Message msg;
  switch (type) {
    case kMessageSync: {
      const std::uint64_t sub = d.read_var_uint();
      if (!d.ok()) return decoder_error(d);
      auto payload = d.read_var_uint8_array();
      if (!d.ok()) return decoder_error(d);
      if (sub == kSyncStep1) {
        msg = SyncStep1{copy(payload)};
      } else if (sub == kSyncStep2) {
        msg = SyncStep2{copy(payload)};
      } else if (sub == kSyncUpdate) {
        msg = SyncUpdate{copy(payload)};
      } else {
        return Error{ErrorCode::kUnknownTag, "unknown sync message type " + std::to_string(sub)};
      }
      break;
    }
    case kMessageAwareness: {
      auto payload = d.read_var_uint8_array();
      if (!d.ok()) return decoder_error(d);
      msg = AwarenessMessage{copy(payload)};
      break;
    }
    case kMessageAuth: {
      const std::uint64_t sub = d.read_var_uint();
      if (!d.ok()) return decoder_error(d);
      if (sub != kAuthPermissionDenied)
        return Error{ErrorCode::kUnknownTag, "unknown auth message type " + std::to_string(sub)};
      std::string reason = d.read_var_string();
      if (!d.ok()) return decoder_error(d);
      msg = AuthPermissionDenied{std::move(reason)};
      break;
    }
    case kMessageQueryAwareness:
      msg = QueryAwareness{};
      break;
    default:
      return Error{ErrorCode::kUnknownTag, "unknown message type " + std::to_string(type)};
  }
  // y-websocket frames carry exactly one message; trailing bytes mean a
  // confused or hostile sender, so the frame is refused rather than half-read.
  if (d.remaining() != 0)
    return Error{ErrorCode::kInconsistentLength,
                 std::to_string(d.remaining()) + " trailing bytes after message"};
  return msg;
}

Bytes encode_sync_step1(std::span<const std::uint8_t> sv) {
  return frame_with_payload(kMessageSync, kSyncStep1, sv);
}
Bytes encode_sync_step2(std::span<const std::uint8_t> update) {
  return frame_with_payload(kMessageSync, kSyncStep2, update);
}
Bytes encode_sync_update(std::span<const std::uint8_t> update) {
  return frame_with_payload(kMessageSync, kSyncUpdate, update);
}

Bytes encode_awareness(std::span<const std::uint8_t> awareness_update) {
  Encoder e;
  e.write_var_uint(kMessageAwareness);
  e.write_var_uint8_array(awareness_update);
  return std::move(e).to_bytes();
}

Bytes encode_query_awareness() {
  Encoder e;
  e.write_var_uint(kMessageQueryAwareness);
  return std::move(e).to_bytes();
}

Bytes encode_permission_denied(std::string_view reason) {
  Encoder e;
  e.write_var_uint(kMessageAuth);
  e.write_var_uint(kAuthPermissionDenied);
  e.write_var_string(reason);
  return std::move(e).to_bytes();
}

}  // namespace corates::protocol
