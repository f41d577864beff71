// Fuzz target: apply arbitrary bytes as a v1 and as a v2 update to a fresh Doc.
// Malformed input must fail cleanly and leave the Doc unchanged; accepted
// input must re-encode to an update that a second Doc accepts, reaching the
// same state vector. (Byte equality of the re-encoding is not required:
// fuzzed input can carry origins no real history has, for which YATA, in
// Yjs as here, may order items differently when they arrive differently.)
#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"

#include <cstdint>
#include <cstdlib>
#include <span>

using namespace corates::crdt;

namespace {

void check(bool v2, std::span<const std::uint8_t> data) {
  for (bool gc : {true, false}) {
    DocOptions o;
    o.client_id = 1;
    o.gc = gc;
    Doc doc(o);
    const auto empty = encode_state_as_update(doc);
    auto r = v2 ? apply_update_v2(doc, data) : apply_update(doc, data);
    if (!r) {
      if (encode_state_as_update(doc) != empty || doc.store().has_pending()) std::abort();
      continue;
    }
    const auto state_v1 = encode_state_as_update(doc);
    const auto state_v2 = encode_state_as_update_v2(doc);
    Doc copy(o);
    if (!apply_update(copy, state_v1)) std::abort();
    if (encode_state_vector(copy) != encode_state_vector(doc)) std::abort();
    Doc copy2(o);
    if (!apply_update_v2(copy2, state_v2)) std::abort();
    if (encode_state_vector(copy2) != encode_state_vector(doc)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  check(false, in);
  check(true, in);
  return 0;
}
