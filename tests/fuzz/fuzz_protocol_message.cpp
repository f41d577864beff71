// Fuzz target: y-websocket frames and awareness updates from untrusted peers.
// Whatever decodes must re-encode to the same bytes (the protocol is canonical
// apart from varint padding, which the decoder rejects or normalises).
#include "corates/protocol/awareness.hpp"
#include "corates/protocol/message.hpp"

#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace corates::protocol;
  std::span<const std::uint8_t> input(data, size);
  auto msg = decode_message(input);
  if (msg.has_value()) {
    if (const auto* aw = std::get_if<AwarenessMessage>(&*msg)) {
      auto entries = decode_awareness_update(aw->update);
      if (entries.has_value()) {
        Awareness a;
        a.apply(*entries, 0);
        a.remove({entries->empty() ? 0 : (*entries)[0].client_id});
        (void)encode_awareness_update(a.snapshot());
      }
    }
  }
  auto entries = decode_awareness_update(input);
  if (entries.has_value()) {
    Awareness a;
    a.apply(*entries, 1);
    (void)a.outdated(1 + Awareness::kOutdatedTimeoutMs);
  }
  return 0;
}
