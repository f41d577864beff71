// UpdateDecoderV2 over arbitrary bytes: the column headers, then every field
// in the struct layout Yjs reads (readClientsStructRefs, readDeleteSet),
// re-encoded with UpdateEncoderV2. A successful decode must be a fixed point:
// decoding our own output again gives the same bytes.
#include <cstdint>
#include <cstdlib>

#include "corates/crdt/update_decoder.hpp"
#include "corates/crdt/update_encoder.hpp"
#include "../../crdt/test/transcode.hpp"  // shared with the codec unit tests

using namespace corates::crdt;
using corates::crdt::test::transcode;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::size_t budget = 4096 + size * 4;
  UpdateDecoderV2 d(std::span(data, size));
  UpdateEncoderV2 e;
  if (!transcode(d, e, budget)) {
    if (d.ok() && d.error().has_value()) std::abort();  // ok() and error() must agree
    return 0;
  }
  const auto first = e.to_bytes();
  UpdateDecoderV2 d2(first);
  UpdateEncoderV2 e2;
  if (!transcode(d2, e2, budget)) std::abort();
  if (e2.to_bytes() != first) std::abort();
  return 0;
}
