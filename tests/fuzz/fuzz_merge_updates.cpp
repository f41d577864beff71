// Fuzz target: the Doc-less update operations (merge, diff, state vector,
// metadata, conversion, inspection) on untrusted updates, v1 and v2.
//
// Input layout: byte 0 = (update count - 1) in bits 0-1, format v2 in bit 2;
// then (count - 1) little-endian 16-bit lengths of the first updates; the
// rest is the last update. Whatever the bytes, nothing may crash or hang.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "corates/crdt/updates.hpp"

using corates::crdt::ByteView;

namespace {

template <class F>
void each(std::span<const ByteView> parts, F&& f) {
  for (ByteView p : parts) f(p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace c = corates::crdt;
  if (size < 1) return 0;
  const std::size_t count = static_cast<std::size_t>(data[0] & 3) + 1;
  const bool v2 = (data[0] & 4) != 0;
  std::size_t pos = 1;
  std::vector<ByteView> parts;
  for (std::size_t i = 0; i + 1 < count; ++i) {
    if (pos + 2 > size) return 0;
    std::size_t len =
        static_cast<std::size_t>(data[pos]) | (static_cast<std::size_t>(data[pos + 1]) << 8);
    pos += 2;
    if (len > size - pos) len = size - pos;
    parts.emplace_back(data + pos, len);
    pos += len;
  }
  parts.emplace_back(data + pos, size - pos);

  auto merged = v2 ? c::merge_updates_v2(std::span<const ByteView>(parts))
                   : c::merge_updates(std::span<const ByteView>(parts));
  // A state vector to diff against: the first update's, or a fixed one.
  c::UpdateBytes sv{2, 1, 3, 7, 1};
  if (auto s = v2 ? c::encode_state_vector_from_update_v2(parts[0])
                  : c::encode_state_vector_from_update(parts[0])) {
    sv = *s;
  }
  each(parts, [&](ByteView p) {
    (void)(v2 ? c::diff_update_v2(p, sv) : c::diff_update(p, sv));
    (void)(v2 ? c::parse_update_meta_v2(p) : c::parse_update_meta(p));
    (void)(v2 ? c::inspect_update_v2(p) : c::inspect_update(p));
    auto conv = v2 ? c::convert_update_format_v2_to_v1(p) : c::convert_update_format_v1_to_v2(p);
    if (conv) {
      // Converting back must be readable.
      (void)(v2 ? c::parse_update_meta(*conv) : c::parse_update_meta_v2(*conv));
    }
  });
  if (merged) {
    (void)(v2 ? c::diff_update_v2(*merged, sv) : c::diff_update(*merged, sv));
    (void)(v2 ? c::encode_state_vector_from_update_v2(*merged)
              : c::encode_state_vector_from_update(*merged));
    (void)(v2 ? c::read_update_delete_set_v2(*merged) : c::read_update_delete_set(*merged));
  }
  return 0;
}
