#pragma once
// Updates with a Doc (yjs/src/utils/encoding.js): apply, encode state as
// update, state vectors. Formats v1 and v2; the algorithms are written once
// as templates over the codecs (STYLE.md principle 3).
//
// apply_update decodes and validates the WHOLE update (structs and delete
// set) before touching the Doc: malformed input returns an Error and leaves
// the Doc unchanged. Structs whose dependencies are missing are kept pending
// (as Yjs does) and integrated as soon as the missing structs arrive.
//
// Cost: apply is O(structs * log) plus YATA conflict resolution; encode is
// O(structs) of the diff. Thread-safety: none (see doc.hpp).

#include "corates/common/result.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/struct_store.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace corates::crdt {

Result<void> apply_update(Doc& doc, std::span<const std::uint8_t> update, const Origin& origin = {});
Result<void> apply_update_v2(Doc& doc, std::span<const std::uint8_t> update,
                             const Origin& origin = {});

// The structs the holder of `sv` lacks plus the whole delete set (and the
// pending structs/deletes, as Yjs includes them).
std::vector<std::uint8_t> encode_state_as_update(const Doc& doc, const StateVector& sv = {});
std::vector<std::uint8_t> encode_state_as_update_v2(const Doc& doc, const StateVector& sv = {});
// Same with an encoded state vector (fails on malformed bytes; empty = all).
Result<std::vector<std::uint8_t>> encode_state_as_update(const Doc& doc,
                                                         std::span<const std::uint8_t> sv);
Result<std::vector<std::uint8_t>> encode_state_as_update_v2(const Doc& doc,
                                                            std::span<const std::uint8_t> sv);

std::vector<std::uint8_t> encode_state_vector(const Doc& doc);
std::vector<std::uint8_t> encode_state_vector_v2(const Doc& doc);  // same bytes as v1 (as in Yjs)
std::vector<std::uint8_t> encode_state_vector(const StateVector& sv);
Result<StateVector> decode_state_vector(std::span<const std::uint8_t> bytes);

}  // namespace corates::crdt
