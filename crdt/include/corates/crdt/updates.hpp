#pragma once
// Operations on encoded updates without a Doc (yjs/src/utils/updates.js):
// merge, diff against a state vector, state vector and metadata of an update,
// v1 <-> v2 conversion, and a readable inspection model for `update inspect`.
//
// Every function comes in a v1 flavour (Yjs's mergeUpdates, diffUpdate, ...)
// and a v2 flavour (mergeUpdatesV2, ...); both are one template over the
// update codecs. Outputs are meant to be byte-identical to Yjs's for the same
// inputs (the differential suite measures this).
//
// Errors: malformed input (truncated data, bad tags, inconsistent lengths,
// zero-length structs, clocks beyond 2^53, absurd counts) is returned as an
// Error; nothing is thrown. Where Yjs reads only part of an update, so do we:
// the state vector and the metadata ignore the delete set, as Yjs does. Where
// Yjs would throw or write a corrupt update (a v1 delete set with empty or
// unsorted ranges converted to v2), we return an error.
//
// Limits: v2 can run-length encode many structs in a few bytes, so each
// update may hold at most limits.struct_budget(size) structs (DecodeLimits in
// structs.hpp, the same bound the Doc applies: about 2 million plus 4 per
// byte). Raise it for trusted input with longer regular runs.
//
// Cost: every function is one pass over its input(s). merge_updates is a
// k-way merge with a heap keyed by (client desc, clock, recency), so it is
// O(S log U) for S structs in U updates (Yjs re-sorts all updates for every
// struct it writes, which is quadratic). While two updates' current structs
// sit at the same id as an Item and a GC, Yjs's order depends on V8's sort
// and the merge re-sorts as Yjs does, O(U) per step, within a fixed budget
// (about 2^26 element visits, at most 65,536 open updates); past it the
// output stays equivalent but may differ from Yjs's bytes. Memory: one heap
// entry per update, the readers of updates in progress (a reader is opened
// when the merge reaches its update and freed when it is consumed; all
// active ones while re-sorting), the delete sets and the output. Structs are
// streamed, never all held at once.
//
// Thread-safety: pure functions over their arguments.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "corates/common/result.hpp"
#include "corates/crdt/delete_set.hpp"
#include "corates/crdt/id.hpp"
#include "corates/crdt/structs.hpp"

namespace corates::crdt {

using UpdateBytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// Y.mergeUpdates / Y.mergeUpdatesV2. A single update is validated and
// returned unchanged (Yjs returns it as is); no update gives an empty update.
Result<UpdateBytes> merge_updates(std::span<const ByteView> updates,
                                  const DecodeLimits& limits = {});
Result<UpdateBytes> merge_updates_v2(std::span<const ByteView> updates,
                                     const DecodeLimits& limits = {});
Result<UpdateBytes> merge_updates(const std::vector<UpdateBytes>& updates,
                                  const DecodeLimits& limits = {});
Result<UpdateBytes> merge_updates_v2(const std::vector<UpdateBytes>& updates,
                                     const DecodeLimits& limits = {});

// Y.diffUpdate / Y.diffUpdateV2: the part of `update` not covered by the
// state vector `sv` (encoded as Y.encodeStateVector does, same in v1 and v2).
// The delete set is kept whole, as in Yjs.
Result<UpdateBytes> diff_update(ByteView update, ByteView sv, const DecodeLimits& limits = {});
Result<UpdateBytes> diff_update_v2(ByteView update, ByteView sv, const DecodeLimits& limits = {});

// Y.encodeStateVectorFromUpdate / ...V2: the encoded state vector a Doc would
// have after applying only this update (clients whose structs do not start at
// clock 0, or stop at a gap, count only up to the gap, as Yjs computes it).
Result<UpdateBytes> encode_state_vector_from_update(ByteView update,
                                                    const DecodeLimits& limits = {});
Result<UpdateBytes> encode_state_vector_from_update_v2(ByteView update,
                                                       const DecodeLimits& limits = {});

// Y.parseUpdateMeta / ...V2: per client, the first clock (`from`) and the end
// clock (`to`) of its structs in the update. Maps are ordered by client.
struct UpdateMeta {
  std::map<ClientID, Clock> from;
  std::map<ClientID, Clock> to;
  friend bool operator==(const UpdateMeta&, const UpdateMeta&) = default;
};
Result<UpdateMeta> parse_update_meta(ByteView update, const DecodeLimits& limits = {});
Result<UpdateMeta> parse_update_meta_v2(ByteView update, const DecodeLimits& limits = {});

// Y.convertUpdateFormatV1ToV2 / Y.convertUpdateFormatV2ToV1.
Result<UpdateBytes> convert_update_format_v1_to_v2(ByteView update,
                                                   const DecodeLimits& limits = {});
Result<UpdateBytes> convert_update_format_v2_to_v1(ByteView update,
                                                   const DecodeLimits& limits = {});

// The delete set of an update (after its structs), as Yjs's readDeleteSet.
Result<DeleteSet> read_update_delete_set(ByteView update, const DecodeLimits& limits = {});
Result<DeleteSet> read_update_delete_set_v2(ByteView update, const DecodeLimits& limits = {});

// ---------------------------------------------------------------------------
// Inspection: what `corates-sync update inspect` prints (Yjs's decodeUpdate).

struct InspectedStruct {
  enum class Kind : std::uint8_t { kItem, kGC, kSkip };
  Kind kind = Kind::kGC;
  ID id;
  std::uint64_t length = 0;
  // Items only.
  std::optional<ID> origin;
  std::optional<ID> right_origin;
  // Written only when the item has neither origin: a root type's name or the
  // ID of the item holding the parent type.
  std::optional<std::string> parent_root;
  std::optional<ID> parent_id;
  std::optional<std::string> parent_sub;  // map key
  std::string content_kind;               // "String", "Any", "Deleted", ... (empty for GC/Skip)
  std::string content_preview;            // short and printable; at most ~80 bytes
};

// Structs of one client section of the update, in wire order.
struct InspectedClient {
  ClientID client = 0;
  std::vector<InspectedStruct> structs;
};

struct UpdateInspection {
  std::vector<InspectedClient> clients;  // in wire order (Yjs writes descending)
  DeleteSet delete_set;
};

// Reads the whole update (structs and delete set). Memory is proportional to
// the number of structs, never to the content (previews are truncated).
Result<UpdateInspection> inspect_update(ByteView update, const DecodeLimits& limits = {});
Result<UpdateInspection> inspect_update_v2(ByteView update, const DecodeLimits& limits = {});

const char* to_string(InspectedStruct::Kind kind) noexcept;

}  // namespace corates::crdt
