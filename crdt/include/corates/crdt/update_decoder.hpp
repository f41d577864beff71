#pragma once
// Yjs update decoders (yjs/src/utils/UpdateDecoder.js), format v1 and v2, over
// untrusted bytes. Errors are sticky (see lib0/decoding.hpp): check ok() after
// reading a struct or a section; values read after an error are zero.
// The input must outlive the decoder (v2 columns are views into it).
//
// Bounds: every read is O(size of the value) and allocates at most what the
// input describes, except that a v2 run-length column can repeat a value up to
// 2^53 times from a few bytes, and the last run of an info / parent-info
// column repeats forever (as in lib0). Code that loops over counts read from
// the update must therefore bound its own work (e.g. struct counts against the
// clock range or a size budget), not rely on running out of input.
//
// Where Yjs would silently accept garbage, these decoders fail instead:
// truncated columns (lib0 reads undefined/0 past the end), a string slice
// beyond the string column (kInconsistentLength; JS shortens it), negative
// clocks or key clocks (kInvalidValue), type refs above 255 (kUnknownTag),
// running values beyond 2^53-1 (kVarintOverflow).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "corates/common/result.hpp"
#include "corates/crdt/content.hpp"
#include "corates/crdt/id.hpp"
#include "corates/crdt/lib0/decoding.hpp"

namespace corates::crdt {

class DSDecoderV1 {
 public:
  explicit DSDecoderV1(std::span<const std::uint8_t> data) : rest_(data) {}
  lib0::Decoder& rest_decoder() noexcept { return rest_; }
  void reset_ds_cur_val() {}
  Clock read_ds_clock() { return rest_.read_var_uint(); }
  std::uint64_t read_ds_len() { return rest_.read_var_uint(); }
  bool ok() const noexcept { return rest_.ok(); }
  std::optional<Error> error() const { return rest_.error(); }

 protected:
  lib0::Decoder rest_;
};

class UpdateDecoderV1 : public DSDecoderV1 {
 public:
  static constexpr int kVersion = 1;
  explicit UpdateDecoderV1(std::span<const std::uint8_t> data) : DSDecoderV1(data) {}
  ID read_left_id();
  ID read_right_id();
  ClientID read_client();
  std::uint8_t read_info();
  std::string read_string();
  ContentString read_content_string() { return ContentString(read_string()); }
  bool read_parent_info();
  std::uint8_t read_type_ref();
  std::uint64_t read_len();
  lib0::Any read_any();
  std::vector<std::uint8_t> read_buf();
  lib0::Any read_json();  // v1: JSON text parsed ("undefined" -> Undefined)
  std::string read_key();
};

class DSDecoderV2 {
 public:
  explicit DSDecoderV2(std::span<const std::uint8_t> data) : rest_(data) {}
  lib0::Decoder& rest_decoder() noexcept { return rest_; }
  void reset_ds_cur_val() { ds_curr_val_ = 0; }
  Clock read_ds_clock();
  std::uint64_t read_ds_len();
  bool ok() const noexcept { return rest_.ok(); }
  std::optional<Error> error() const { return rest_.error(); }

 protected:
  lib0::Decoder rest_;
  Clock ds_curr_val_ = 0;
};

class UpdateDecoderV2 : public DSDecoderV2 {
 public:
  static constexpr int kVersion = 2;
  // Reads the feature flag and the column headers; on malformed input the
  // decoder starts in the error state.
  explicit UpdateDecoderV2(std::span<const std::uint8_t> data);
  ID read_left_id();
  ID read_right_id();
  ClientID read_client();
  std::uint8_t read_info();
  std::string read_string();
  // The content of a ContentString: its UTF-16 length comes with the column.
  ContentString read_content_string();
  bool read_parent_info();
  std::uint8_t read_type_ref();
  std::uint64_t read_len();
  lib0::Any read_any();
  std::vector<std::uint8_t> read_buf();
  lib0::Any read_json();
  std::string read_key();
  // ok() also reflects errors of the column decoders.
  bool ok() const noexcept;
  std::optional<Error> error() const;

 private:
  std::vector<std::string> keys_;
  lib0::IntDiffOptRleDecoder key_clock_decoder_;
  lib0::UintOptRleDecoder client_decoder_;
  lib0::IntDiffOptRleDecoder left_clock_decoder_;
  lib0::IntDiffOptRleDecoder right_clock_decoder_;
  lib0::RleDecoder info_decoder_;
  lib0::StringDecoder string_decoder_;
  lib0::RleDecoder parent_info_decoder_;
  lib0::UintOptRleDecoder type_ref_decoder_;
  lib0::UintOptRleDecoder len_decoder_;
};

}  // namespace corates::crdt
