#pragma once
// corates-sync's opt-in WebSocket extensions (docs/protocol-extensions.md).
// A client asks for them with `?ext=ack,epoch` on the /ws/<doc> URL; stock
// y-websocket clients never receive them (they log an error for an unknown
// message type). The outer message types are numbers y-protocols does not
// use (it uses 0..3; Hocuspocus uses up to 8), encoded like every y-protocols
// message: a varuint type, then the payload.
//
//   ack:   varuint(100) varuint(count)
//          `count` update messages (sync step 2 + sync update) this connection
//          has sent so far are handled: durable, a no-op, or refused.
//   epoch: varuint(101) varstring(epoch)
//          the document's generation id (32 lowercase hex digits; "" while
//          the document does not exist in storage).
//
// Server -> client only; a client that sends one is closed with 4400 like for
// any unknown message type. Pure functions, no I/O.

#include "corates/common/result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corates::protocol {

inline constexpr std::uint64_t kMessageAck = 100;
inline constexpr std::uint64_t kMessageEpoch = 101;

std::vector<std::uint8_t> encode_ack(std::uint64_t count);
std::vector<std::uint8_t> encode_epoch(std::string_view epoch);

// Client side (SDK, tests): decode a whole frame of the given kind. Fail with
// kUnknownTag if the frame is of another type, kTruncated / kInconsistentLength
// on short or over-long frames.
Result<std::uint64_t> decode_ack(std::span<const std::uint8_t> frame);
Result<std::string> decode_epoch(std::span<const std::uint8_t> frame);

}  // namespace corates::protocol
