#pragma once
// LazyStructReader / LazyStructWriter of yjs/src/utils/updates.js: read the
// structs of an update one at a time, and write structs client section by
// client section without knowing the counts beforehand. Templates over the
// update codecs (V1/V2).

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "corates/common/result.hpp"
#include "corates/crdt/content.hpp"
#include "corates/crdt/delete_set.hpp"
#include "corates/crdt/lib0/encoding.hpp"
#include "corates/crdt/structs.hpp"

namespace corates::crdt::updates_detail {

inline std::uint64_t struct_end(const StructRef& s) noexcept { return s.id.clock + s.length; }

// Yjs's lazyStructReaderGenerator + LazyStructReader. Owns the decoder, so
// the delete set can be read from it once the structs are consumed.
template <class Decoder>
class LazyStructReader {
 public:
  LazyStructReader(std::span<const std::uint8_t> data, bool filter_skips,
                   const DecodeLimits& limits = {})
      : dec_(data),
        filter_skips_(filter_skips),
        budget_(limits.struct_budget(data.size())) {
    start();
  }
  LazyStructReader(const LazyStructReader&) = delete;
  LazyStructReader& operator=(const LazyStructReader&) = delete;

  // The current struct, or null when the structs are consumed or on error.
  const StructRef* curr() const noexcept { return has_curr_ ? &curr_ : nullptr; }
  // Moves the current struct out; call next() afterwards.
  StructRef take() noexcept { return std::move(curr_); }
  const StructRef* next() {
    do {
      read_one();
    } while (filter_skips_ && has_curr_ && curr_.kind == StructRef::Kind::kSkip);
    return curr();
  }
  const std::optional<Error>& error() const noexcept { return error_; }
  bool ok() const noexcept { return !error_.has_value(); }
  // Increments at every client section (for inspection).
  std::uint64_t section() const noexcept { return section_; }
  ClientID section_client() const noexcept { return client_; }
  Decoder& decoder() noexcept { return dec_; }

  // Reads the delete set that follows the structs (Yjs's readDeleteSet).
  Result<DeleteSet> read_delete_set_after() {
    if (error_) return *error_;
    return read_delete_set(dec_);
  }

 private:
  void start() {
    if (!dec_.ok()) {
      fail_from_decoder();
      return;
    }
    clients_left_ = dec_.rest_decoder().read_var_uint();
    if (!dec_.ok()) {
      fail_from_decoder();
      return;
    }
    // Every client section takes at least two bytes of the rest column.
    if (clients_left_ > dec_.rest_decoder().remaining()) {
      fail(ErrorCode::kTooLarge, "update: more clients than input");
      return;
    }
    next();
  }

  void fail(ErrorCode code, const char* msg) {
    if (!error_) error_ = Error{code, msg};
    has_curr_ = false;
  }
  void fail_from_decoder() {
    if (!error_) {
      auto e = dec_.error();
      error_ = e ? *e : Error{ErrorCode::kInternal, "decoder failed"};
    }
    has_curr_ = false;
  }

  void read_one() {
    has_curr_ = false;
    if (error_) return;
    auto& rest = dec_.rest_decoder();
    while (structs_left_ == 0) {
      if (clients_left_ == 0) return;
      --clients_left_;
      structs_left_ = rest.read_var_uint();
      client_ = dec_.read_client();
      clock_ = rest.read_var_uint();
      ++section_;
      if (!dec_.ok()) return fail_from_decoder();
      if (clock_ > kMaxSafeInteger)
        return fail(ErrorCode::kInvalidValue, "update: clock beyond 2^53");
      // V2 can run-length encode structs (see DecodeLimits).
      if (structs_left_ > budget_)
        return fail(ErrorCode::kTooLarge, "update: struct count exceeds the decode limit");
      budget_ -= structs_left_;
    }
    --structs_left_;
    if (auto r = read_struct_ref(dec_, ID{client_, clock_}, StructDispatch::kLazy, curr_); !r) {
      if (!error_) error_ = r.error();
      return;
    }
    clock_ += curr_.length;
    has_curr_ = true;
  }

  Decoder dec_;
  bool filter_skips_;
  std::uint64_t budget_;
  std::uint64_t clients_left_ = 0;
  std::uint64_t structs_left_ = 0;
  std::uint64_t section_ = 0;
  ClientID client_ = 0;
  Clock clock_ = 0;
  bool has_curr_ = false;
  StructRef curr_;
  std::optional<Error> error_;
};

// Yjs's LazyStructWriter with writeStructToLazyStructWriter,
// flushLazyStructWriter and finishLazyStructWriting. The rest column is cut
// into one fragment per client section because the section header (struct
// count) precedes its structs; V2's other columns are written straight through.
template <class Encoder>
class LazyStructWriter {
 public:
  explicit LazyStructWriter(Encoder& enc) : enc_(enc) {}

  void write(const StructRef& s, std::uint64_t offset) {
    if (written_ > 0 && curr_client_ != s.id.client) flush();
    if (written_ == 0) {
      curr_client_ = s.id.client;
      enc_.write_client(s.id.client);
      enc_.rest_encoder().write_var_uint(s.id.clock + offset);
    }
    write_struct_ref(enc_, s, offset);
    ++written_;
  }

  // Writes the section count and the sections into the rest column; the
  // encoder can then take the delete set.
  void finish() {
    flush();
    auto& rest = enc_.rest_encoder();
    rest.write_var_uint(sections_.size());
    for (const auto& [count, bytes] : sections_) {
      rest.write_var_uint(count);
      rest.write_uint8_array(bytes);
    }
    sections_.clear();
  }

 private:
  void flush() {
    if (written_ == 0) return;
    std::vector<std::uint8_t> bytes = std::move(enc_.rest_encoder()).to_bytes();
    enc_.rest_encoder() = lib0::Encoder{};
    sections_.emplace_back(written_, std::move(bytes));
    written_ = 0;
  }

  Encoder& enc_;
  ClientID curr_client_ = 0;
  std::uint64_t written_ = 0;
  std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> sections_;
};

// The v2 delete set stores each range relative to the end of the previous
// one, so it can only hold sorted, non-overlapping, non-empty ranges. Only a
// v1 input can break that (converted to v2): Yjs throws on an empty range and
// writes a corrupt update for an unsorted one; we return an error for both.
template <class Encoder>
Result<void> write_delete_set_checked(Encoder& enc, const DeleteSet& ds) {
  if constexpr (Encoder::kVersion == 2) {
    for (const auto& [client, items] : ds.clients) {
      Clock end = 0;
      for (const DeleteItem& d : items) {
        if (d.len == 0) return Error{ErrorCode::kInvalidValue, "delete set: empty range"};
        if (d.clock < end) {
          return Error{ErrorCode::kInvalidValue,
                       "delete set: unsorted ranges cannot be written in v2"};
        }
        end = d.clock + d.len;
      }
    }
  }
  write_delete_set(enc, ds);
  return {};
}

}  // namespace corates::crdt::updates_detail
