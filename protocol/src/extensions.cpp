#include "corates/protocol/extensions.hpp"

#include "corates/crdt/lib0/decoding.hpp"
#include "corates/crdt/lib0/encoding.hpp"

namespace corates::protocol {
namespace {

Error decoder_error(const crdt::lib0::Decoder& d) {
  if (d.error()) return *d.error();
  return Error{ErrorCode::kInternal, "decoder failed without an error"};
}

// Reads the type and checks it; the decoder is left at the payload.
Result<void> expect_type(crdt::lib0::Decoder& d, std::uint64_t type) {
  const std::uint64_t t = d.read_var_uint();
  if (!d.ok()) return decoder_error(d);
  if (t != type) return Error{ErrorCode::kUnknownTag, "unexpected message type " + std::to_string(t)};
  return {};
}

Result<void> expect_end(const crdt::lib0::Decoder& d) {
  if (!d.ok()) return decoder_error(d);
  if (d.remaining() != 0)
    return Error{ErrorCode::kInconsistentLength, std::to_string(d.remaining()) + " trailing bytes after message"};
  return {};
}

}  // namespace

std::vector<std::uint8_t> encode_ack(std::uint64_t count) {
  crdt::lib0::Encoder e;
  e.write_var_uint(kMessageAck);
  e.write_var_uint(count);
  return std::move(e).to_bytes();
}

std::vector<std::uint8_t> encode_epoch(std::string_view epoch) {
  crdt::lib0::Encoder e;
  e.write_var_uint(kMessageEpoch);
  e.write_var_string(epoch);
  return std::move(e).to_bytes();
}

Result<std::uint64_t> decode_ack(std::span<const std::uint8_t> frame) {
  crdt::lib0::Decoder d(frame);
  if (auto ok = expect_type(d, kMessageAck); !ok) return ok.error();
  const std::uint64_t count = d.read_var_uint();
  if (auto ok = expect_end(d); !ok) return ok.error();
  return count;
}

Result<std::string> decode_epoch(std::span<const std::uint8_t> frame) {
  crdt::lib0::Decoder d(frame);
  if (auto ok = expect_type(d, kMessageEpoch); !ok) return ok.error();
  std::string epoch = d.read_var_string();
  if (auto ok = expect_end(d); !ok) return ok.error();
  return epoch;
}

}  // namespace corates::protocol
