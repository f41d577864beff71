#pragma once
// y-protocols messages as the y-websocket provider frames them: a varuint
// message type, then the type's payload (see y-protocols' PROTOCOL.md, sync.js,
// awareness.js, auth.js). Decoding takes untrusted bytes and returns a value or
// an Error; it never touches a Doc. The room decides what to do with a message.

#include "corates/common/result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corates::protocol {

// Outer message types used by y-websocket.
inline constexpr std::uint64_t kMessageSync = 0;
inline constexpr std::uint64_t kMessageAwareness = 1;
inline constexpr std::uint64_t kMessageAuth = 2;
inline constexpr std::uint64_t kMessageQueryAwareness = 3;

// Sync sub-types (y-protocols/sync.js).
inline constexpr std::uint64_t kSyncStep1 = 0;
inline constexpr std::uint64_t kSyncStep2 = 1;
inline constexpr std::uint64_t kSyncUpdate = 2;

// Auth sub-types (y-protocols/auth.js).
inline constexpr std::uint64_t kAuthPermissionDenied = 0;

using Bytes = std::vector<std::uint8_t>;

struct SyncStep1 {
  Bytes state_vector;  // encoded state vector (v1)
};
struct SyncStep2 {
  Bytes update;  // update (v1) with what the receiver lacks
};
struct SyncUpdate {
  Bytes update;
};
struct AwarenessMessage {
  Bytes update;  // an awareness update, decoded by awareness.hpp
};
struct AuthPermissionDenied {
  std::string reason;
};
struct QueryAwareness {};

using Message = std::variant<SyncStep1, SyncStep2, SyncUpdate, AwarenessMessage,
                             AuthPermissionDenied, QueryAwareness>;

// Decodes one whole frame. Fails with kUnknownTag for an unknown message or
// sync/auth sub-type, kTruncated for a short frame, kInconsistentLength when
// bytes are left over after the payload. Cost: one copy of the payload.
Result<Message> decode_message(std::span<const std::uint8_t> frame);

// Encoders produce whole frames ready to send.
Bytes encode_sync_step1(std::span<const std::uint8_t> state_vector);
Bytes encode_sync_step2(std::span<const std::uint8_t> update);
Bytes encode_sync_update(std::span<const std::uint8_t> update);
Bytes encode_awareness(std::span<const std::uint8_t> awareness_update);
Bytes encode_query_awareness();
Bytes encode_permission_denied(std::string_view reason);

}  // namespace corates::protocol
