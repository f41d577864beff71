#pragma once
// Yjs update encoders (yjs/src/utils/UpdateEncoder.js), format v1 and v2.
// Both classes have the same member functions so that the algorithms that
// write updates are written once as templates over the encoder
// (STYLE.md principle 3) and instantiated for V1 and V2.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "corates/crdt/id.hpp"
#include "corates/crdt/lib0/encoding.hpp"

namespace corates::crdt {

class DSEncoderV1 {
 public:
  lib0::Encoder& rest_encoder() noexcept { return rest_; }
  void reset_ds_cur_val() {}
  void write_ds_clock(Clock clock) { rest_.write_var_uint(clock); }
  void write_ds_len(std::uint64_t len) { rest_.write_var_uint(len); }
  std::vector<std::uint8_t> to_bytes() { return std::move(rest_).to_bytes(); }

 protected:
  lib0::Encoder rest_;
};

class UpdateEncoderV1 : public DSEncoderV1 {
 public:
  static constexpr int kVersion = 1;
  void write_left_id(ID id);
  void write_right_id(ID id);
  void write_client(ClientID client);  // first struct of a client section
  void write_info(std::uint8_t info);
  void write_string(std::string_view s);
  void write_parent_info(bool is_y_key);
  void write_type_ref(std::uint8_t info);
  void write_len(std::uint64_t len);
  void write_any(const lib0::Any& any);
  void write_buf(std::span<const std::uint8_t> buf);
  // ContentJSON entries: v1 writes JSON.stringify(value) ("undefined" for undefined).
  void write_json(const lib0::Any& value);
  void write_key(std::string_view key);
};

class DSEncoderV2 {
 public:
  lib0::Encoder& rest_encoder() noexcept { return rest_; }
  void reset_ds_cur_val() { ds_curr_val_ = 0; }
  void write_ds_clock(Clock clock);
  void write_ds_len(std::uint64_t len);  // len > 0 (Yjs throws on 0)
  std::vector<std::uint8_t> to_bytes() { return std::move(rest_).to_bytes(); }

 protected:
  lib0::Encoder rest_;
  Clock ds_curr_val_ = 0;
};

class UpdateEncoderV2 : public DSEncoderV2 {
 public:
  static constexpr int kVersion = 2;
  void write_left_id(ID id);
  void write_right_id(ID id);
  void write_client(ClientID client);
  void write_info(std::uint8_t info);
  void write_string(std::string_view s);
  void write_parent_info(bool is_y_key);
  void write_type_ref(std::uint8_t info);
  void write_len(std::uint64_t len);
  void write_any(const lib0::Any& any);
  void write_buf(std::span<const std::uint8_t> buf);
  void write_json(const lib0::Any& value);  // v2 writes the value as Any
  // Yjs 13.6 declares a key cache but never fills it (keyMap.set is commented
  // out), so every key is written again with a fresh key clock; we do the same
  // for byte identity.
  void write_key(std::string_view key);
  // Assembles the column encoders and the rest encoder, as UpdateEncoderV2.toUint8Array.
  std::vector<std::uint8_t> to_bytes();

 private:
  std::uint64_t key_clock_ = 0;
  lib0::IntDiffOptRleEncoder key_clock_encoder_;
  lib0::UintOptRleEncoder client_encoder_;
  lib0::IntDiffOptRleEncoder left_clock_encoder_;
  lib0::IntDiffOptRleEncoder right_clock_encoder_;
  lib0::RleEncoder info_encoder_;
  lib0::StringEncoder string_encoder_;
  lib0::RleEncoder parent_info_encoder_;
  lib0::UintOptRleEncoder type_ref_encoder_;
  lib0::UintOptRleEncoder len_encoder_;
};

}  // namespace corates::crdt
