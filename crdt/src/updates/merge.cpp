// Y.mergeUpdates / Y.mergeUpdatesV2 (yjs/src/utils/updates.js), written once
// over the codecs.
//
// Yjs keeps its update readers in an array that it sorts with
// Array.prototype.sort before every step (client descending, then clock) and
// always works on the first one; only that reader changes in a step. Its
// comparator says that of two readers at the same (client, clock) with
// different struct kinds (Item vs GC) each is smaller than the other, so the
// order inside such a group depends on V8's TimSort and on the whole array.
// Every other pair keeps the key order (TimSort only ever places an element
// between neighbours that compare "not greater" and "not smaller"), and
// without such a tie the comparator is a total preorder and the sort stable.
//
// So we keep a binary heap keyed by (client desc, clock asc, stamp asc), where
// the reader a step touched gets a stamp smaller than every earlier one: the
// stable sort's order, which is Yjs's while no two active readers tie as Item
// and GC. A TieTracker counts such ties (only once a GC struct has been seen).
// While one exists we switch to Yjs's array, in its exact order, and sort it
// as V8 does (v8_sort.hpp, O(n) per step on the nearly sorted array); when
// none is left the heap is rebuilt with stamps = array positions. A merge
// whose ties last so long that this would turn quadratic (kArrayWorkBudget),
// or that has more active readers than kArrayModeMaxReaders when a tie
// appears, stays in heap mode: the output is then equivalent to Yjs's, though
// not always byte-identical.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "corates/crdt/update_decoder.hpp"
#include "corates/crdt/update_encoder.hpp"
#include "corates/crdt/updates.hpp"
#include "updates/lazy_struct.hpp"
#include "updates/v8_sort.hpp"

namespace corates::crdt {
namespace {

using updates_detail::LazyStructReader;
using updates_detail::LazyStructWriter;
using updates_detail::struct_end;
using updates_detail::v8_sort;

// Yjs's mergeWith as it behaves on structs fresh from a reader: an Item's
// mergeWith requires `this.right === right`, and `right` is always null
// there, so only GC+GC (and Skip+Skip) merge.
bool merge_with(StructRef& left, const StructRef& right) {
  if (left.kind != right.kind || left.kind == StructRef::Kind::kItem) return false;
  left.length += right.length;
  return true;
}

using Kind = StructRef::Kind;

struct HeapEntry {
  ClientID client;
  Clock clock;
  std::int64_t stamp;
  std::uint32_t reader;
  Kind kind;
};

// std heap functions keep the "largest" on top; "larger" = comes first in Yjs's order.
struct HeapLess {
  bool operator()(const HeapEntry& a, const HeapEntry& b) const noexcept {
    if (a.client != b.client) return a.client < b.client;  // higher client first
    if (a.clock != b.clock) return a.clock > b.clock;      // lower clock first
    return a.stamp > b.stamp;                              // lower stamp first
  }
};

// Active readers per (client, clock) of their current struct, by kind, and
// how many of those ids are held by an Item and a GC at once.
class TieTracker {
 public:
  bool active() const noexcept { return active_; }
  std::size_t conflicts() const noexcept { return conflicts_; }
  void activate() noexcept { active_ = true; }
  void add(ID id, Kind kind) {
    if (kind == Kind::kSkip) return;
    Counts& c = map_[id];
    const bool was = c.items > 0 && c.gcs > 0;
    ++(kind == Kind::kItem ? c.items : c.gcs);
    if (!was && c.items > 0 && c.gcs > 0) ++conflicts_;
  }
  void remove(ID id, Kind kind) {
    if (kind == Kind::kSkip) return;
    auto it = map_.find(id);
    if (it == map_.end()) return;
    Counts& c = it->second;
    const bool was = c.items > 0 && c.gcs > 0;
    --(kind == Kind::kItem ? c.items : c.gcs);
    if (was && !(c.items > 0 && c.gcs > 0)) --conflicts_;
    if (c.items == 0 && c.gcs == 0) map_.erase(it);
  }

 private:
  struct Counts {
    std::uint32_t items = 0;
    std::uint32_t gcs = 0;
  };
  bool active_ = false;
  std::size_t conflicts_ = 0;
  std::unordered_map<ID, Counts> map_;
};

// Elements the V8 sort may visit, summed over the steps spent in array mode,
// before the merge gives up byte identity for a bounded running time.
constexpr std::uint64_t kArrayWorkBudget = std::uint64_t{1} << 26;
// Array mode opens every active reader; above this many the merge stays in
// heap mode (memory stays bounded by the readers in progress).
constexpr std::size_t kArrayModeMaxReaders = std::size_t{1} << 16;

template <class Decoder>
Result<void> validate_update(ByteView update, const DecodeLimits& limits) {
  LazyStructReader<Decoder> reader(update, false, limits);
  while (reader.curr() != nullptr) reader.next();
  if (!reader.ok()) return *reader.error();
  auto ds = reader.read_delete_set_after();
  if (!ds) return ds.error();
  return {};
}

template <class Decoder, class Encoder>
Result<UpdateBytes> merge_updates_impl(std::span<const ByteView> updates,
                                       const DecodeLimits& limits) {
  if (updates.size() == 1) {
    // Yjs returns a single update untouched; we still refuse a malformed one.
    auto ok = validate_update<Decoder>(updates[0], limits);
    if (!ok) return ok.error();
    return UpdateBytes(updates[0].begin(), updates[0].end());
  }
  if (updates.size() > UINT32_MAX) return Error{ErrorCode::kTooLarge, "merge: too many updates"};

  using Reader = LazyStructReader<Decoder>;
  // Readers are opened lazily: the first pass only records each update's
  // first (client, clock) and the reader is reopened when the heap reaches it,
  // so memory holds only the readers that are in progress (for a log of
  // sequential updates, one at a time).
  std::vector<std::unique_ptr<Reader>> readers(updates.size());
  DeleteSet ds;  // the union of all delete sets; sorted and merged at the end

  // A reader whose structs are consumed gives up its delete set and its memory
  // at once (Yjs reads the delete sets at the end; the result is the same).
  auto retire = [&](Reader& r) -> Result<void> {
    if (!r.ok()) return *r.error();
    auto rds = r.read_delete_set_after();
    if (!rds) return rds.error();
    for (auto& [client, items] : rds->clients) {
      auto& dst = ds.clients[client];
      dst.insert(dst.end(), items.begin(), items.end());
    }
    return {};
  };

  // Yjs's comparator on the readers' current structs (skips are filtered).
  auto yjs_compare = [&](std::uint32_t x, std::uint32_t y) -> int {
    const StructRef& a = *readers[x]->curr();
    const StructRef& b = *readers[y]->curr();
    if (a.id.client != b.id.client) return b.id.client > a.id.client ? 1 : -1;
    if (a.id.clock != b.id.clock) return a.id.clock < b.id.clock ? -1 : 1;
    if (a.kind == b.kind) return 0;
    return a.kind == StructRef::Kind::kSkip ? 1 : -1;
  };

  std::vector<HeapEntry> heap;
  for (std::size_t i = 0; i < updates.size(); ++i) {
    Reader probe(updates[i], /*filter_skips=*/true, limits);
    if (const StructRef* c = probe.curr()) {
      heap.push_back(HeapEntry{c->id.client, c->id.clock, static_cast<std::int64_t>(i),
                               static_cast<std::uint32_t>(i), c->kind});
    } else {
      auto r = retire(probe);
      if (!r) return r.error();
    }
  }

  // Opens a reader the heap reached (or the array needs) for the first time.
  auto open = [&](const HeapEntry& e) -> Result<void> {
    if (readers[e.reader]) return {};
    readers[e.reader] = std::make_unique<Reader>(updates[e.reader], /*filter_skips=*/true, limits);
    const StructRef* c = readers[e.reader]->curr();
    if (c == nullptr || c->id != ID{e.client, e.clock}) {
      return Error{ErrorCode::kInternal, "merge: reader not reproducible"};
    }
    return {};
  };

  TieTracker ties;
  auto track_all = [&] {
    ties.activate();
    for (const HeapEntry& e : heap) ties.add(ID{e.client, e.clock}, e.kind);
  };
  if (std::any_of(heap.begin(), heap.end(),
                  [](const HeapEntry& e) { return e.kind == Kind::kGC; })) {
    track_all();
  }

  std::vector<std::uint32_t> order;  // array mode: Yjs's lazyStructDecoders, in its order
  bool array_mode = false;
  std::uint64_t array_work = 0;
  // Yjs's array before its next sort, from the heap: the reader the last step
  // advanced (`front`, if still active) in front, the others in the order of
  // the last sort, which the heap's (key, stamp) order is.
  auto enter_array_mode = [&](std::uint32_t front) -> Result<void> {
    std::sort(heap.begin(), heap.end(), [front](const HeapEntry& x, const HeapEntry& y) {
      if ((x.reader == front) != (y.reader == front)) return x.reader == front;
      return HeapLess{}(y, x);
    });
    order.clear();
    for (const HeapEntry& e : heap) {
      auto r = open(e);
      if (!r) return r.error();
      order.push_back(e.reader);
    }
    heap.clear();
    array_mode = true;
    return {};
  };
  // The heap from the array: stamps = positions, so (key, stamp) is the order
  // a stable sort gives, which V8's is while no tie is left.
  auto leave_array_mode = [&] {
    heap.clear();
    for (std::size_t i = 0; i < order.size(); ++i) {
      const StructRef& c = *readers[order[i]]->curr();
      heap.push_back(
          HeapEntry{c.id.client, c.id.clock, static_cast<std::int64_t>(i), order[i], c.kind});
    }
    std::make_heap(heap.begin(), heap.end(), HeapLess{});
    order.clear();
    array_mode = false;
  };

  if (ties.conflicts() > 0 && heap.size() <= kArrayModeMaxReaders) {
    // Yjs's initial array: the non-empty updates in the order given.
    for (const HeapEntry& e : heap) {
      auto r = open(e);
      if (!r) return r.error();
      order.push_back(e.reader);
    }
    heap.clear();
    array_mode = true;
  } else {
    std::make_heap(heap.begin(), heap.end(), HeapLess{});
  }
  std::int64_t next_stamp = -1;

  Encoder encoder;
  LazyStructWriter<Encoder> writer(encoder);
  std::optional<StructRef> cw;  // Yjs's currWrite

  while (array_mode ? !order.empty() : !heap.empty()) {
    std::uint32_t ri = 0;
    if (array_mode) {
      array_work += order.size();
      v8_sort(order, yjs_compare);
      ri = order.front();
    } else {
      ri = heap.front().reader;
      if (!readers[ri]) {
        auto r = open(heap.front());
        if (!r) return r.error();
      }
    }
    Reader& dec = *readers[ri];
    const ID old_id = dec.curr()->id;
    const Kind old_kind = dec.curr()->kind;
    const ClientID first_client = old_id.client;

    // Returns false where Yjs `continue`s (re-sorts without the run loop below).
    const bool proceed = [&] {
      if (!cw) {
        cw = dec.take();
        dec.next();
        return true;
      }
      const StructRef* curr = dec.curr();
      bool iterated = false;
      // Skip what was written already (Yjs compares clocks even across clients here).
      while (curr != nullptr && struct_end(*curr) <= struct_end(*cw) &&
             curr->id.client >= cw->id.client) {
        curr = dec.next();
        iterated = true;
      }
      if (curr == nullptr || curr->id.client != first_client ||
          (iterated && curr->id.clock > struct_end(*cw))) {
        return false;  // another reader may come first now
      }
      if (first_client != cw->id.client) {
        writer.write(*cw, 0);
        cw = dec.take();
        dec.next();
      } else if (struct_end(*cw) < curr->id.clock) {
        if (cw->kind == StructRef::Kind::kSkip) {
          cw->length = struct_end(*curr) - cw->id.clock;  // extend the skip
        } else {
          writer.write(*cw, 0);
          const Clock gap_start = struct_end(*cw);
          StructRef skip;
          skip.kind = StructRef::Kind::kSkip;
          skip.id = ID{first_client, gap_start};
          skip.length = curr->id.clock - gap_start;
          cw = std::move(skip);
        }
      } else {
        const std::uint64_t diff = struct_end(*cw) - curr->id.clock;
        std::optional<StructRef> sliced;
        if (diff > 0) {
          if (cw->kind == StructRef::Kind::kSkip) {
            // Prefer to shorten the skip: the other struct carries more information.
            cw->length = diff < cw->length ? cw->length - diff : 0;
          } else {
            sliced = curr->slice(diff);
          }
        }
        const StructRef& right = sliced ? *sliced : *curr;
        if (!merge_with(*cw, right)) {
          writer.write(*cw, 0);
          cw = sliced ? std::move(*sliced) : dec.take();
          dec.next();
        }
      }
      return true;
    }();

    // Write consecutive structs of this reader while they continue the run.
    for (const StructRef* next = proceed ? dec.curr() : nullptr;
         next != nullptr && next->id.client == first_client && next->id.clock == struct_end(*cw) &&
         next->kind != StructRef::Kind::kSkip;
         next = dec.next()) {
      writer.write(*cw, 0);
      cw = dec.take();
    }

    const StructRef* now = dec.curr();
    if (ties.active()) {
      ties.remove(old_id, old_kind);
      if (now != nullptr) ties.add(now->id, now->kind);
    }
    if (now == nullptr) {
      auto r = retire(dec);
      if (!r) return r.error();
      readers[ri].reset();
    }

    if (array_mode) {
      // Yjs filters exhausted readers before the next sort, keeping the order.
      if (now == nullptr) order.erase(order.begin());
      if (ties.conflicts() == 0 || array_work > kArrayWorkBudget) leave_array_mode();
      continue;
    }
    std::pop_heap(heap.begin(), heap.end(), HeapLess{});
    if (now != nullptr) {
      heap.back() = HeapEntry{now->id.client, now->id.clock, next_stamp--, ri, now->kind};
      std::push_heap(heap.begin(), heap.end(), HeapLess{});
      if (!ties.active() && now->kind == Kind::kGC) track_all();
    } else {
      heap.pop_back();
    }
    if (ties.conflicts() > 0 && heap.size() <= kArrayModeMaxReaders &&
        array_work + heap.size() <= kArrayWorkBudget) {
      auto r = enter_array_mode(ri);
      if (!r) return r.error();
    }
  }
  if (cw) writer.write(*cw, 0);
  writer.finish();

  ds.sort_and_merge();
  auto w = updates_detail::write_delete_set_checked(encoder, ds);
  if (!w) return w.error();
  return encoder.to_bytes();
}

std::vector<ByteView> views(const std::vector<UpdateBytes>& updates) {
  std::vector<ByteView> v;
  v.reserve(updates.size());
  for (const auto& u : updates) v.emplace_back(u);
  return v;
}

}  // namespace

Result<UpdateBytes> merge_updates(std::span<const ByteView> updates, const DecodeLimits& limits) {
  return merge_updates_impl<UpdateDecoderV1, UpdateEncoderV1>(updates, limits);
}
Result<UpdateBytes> merge_updates_v2(std::span<const ByteView> updates,
                                     const DecodeLimits& limits) {
  return merge_updates_impl<UpdateDecoderV2, UpdateEncoderV2>(updates, limits);
}
Result<UpdateBytes> merge_updates(const std::vector<UpdateBytes>& updates,
                                  const DecodeLimits& limits) {
  const auto v = views(updates);
  return merge_updates(std::span<const ByteView>(v), limits);
}
Result<UpdateBytes> merge_updates_v2(const std::vector<UpdateBytes>& updates,
                                     const DecodeLimits& limits) {
  const auto v = views(updates);
  return merge_updates_v2(std::span<const ByteView>(v), limits);
}

}  // namespace corates::crdt
