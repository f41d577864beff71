#include "corates/crdt/update_encoder.hpp"

#include <cassert>

namespace corates::crdt {

void UpdateEncoderV1::write_left_id(ID id) {
  rest_.write_var_uint(id.client);
  rest_.write_var_uint(id.clock);
}

void UpdateEncoderV1::write_right_id(ID id) {
  rest_.write_var_uint(id.client);
  rest_.write_var_uint(id.clock);
}

void UpdateEncoderV1::write_client(ClientID client) { rest_.write_var_uint(client); }
void UpdateEncoderV1::write_info(std::uint8_t info) { rest_.write_uint8(info); }
void UpdateEncoderV1::write_string(std::string_view s) { rest_.write_var_string(s); }
void UpdateEncoderV1::write_parent_info(bool is_y_key) { rest_.write_var_uint(is_y_key ? 1 : 0); }
void UpdateEncoderV1::write_type_ref(std::uint8_t info) { rest_.write_var_uint(info); }
void UpdateEncoderV1::write_len(std::uint64_t len) { rest_.write_var_uint(len); }
void UpdateEncoderV1::write_any(const lib0::Any& any) { rest_.write_any(any); }
void UpdateEncoderV1::write_buf(std::span<const std::uint8_t> buf) {
  rest_.write_var_uint8_array(buf);
}
void UpdateEncoderV1::write_json(const lib0::Any& value) {
  rest_.write_var_string(lib0::json_stringify(value));
}
void UpdateEncoderV1::write_key(std::string_view key) { rest_.write_var_string(key); }

void DSEncoderV2::write_ds_clock(Clock clock) {
  // Delete sets are written sorted and merged, so clocks never go backwards.
  assert(clock >= ds_curr_val_);
  rest_.write_var_uint(clock - ds_curr_val_);
  ds_curr_val_ = clock;
}

void DSEncoderV2::write_ds_len(std::uint64_t len) {
  assert(len > 0);
  rest_.write_var_uint(len - 1);
  ds_curr_val_ += len;
}

void UpdateEncoderV2::write_left_id(ID id) {
  client_encoder_.write(id.client);
  left_clock_encoder_.write(static_cast<std::int64_t>(id.clock));
}

void UpdateEncoderV2::write_right_id(ID id) {
  client_encoder_.write(id.client);
  right_clock_encoder_.write(static_cast<std::int64_t>(id.clock));
}

void UpdateEncoderV2::write_client(ClientID client) { client_encoder_.write(client); }
void UpdateEncoderV2::write_info(std::uint8_t info) { info_encoder_.write(info); }
void UpdateEncoderV2::write_string(std::string_view s) { string_encoder_.write(s); }
void UpdateEncoderV2::write_parent_info(bool is_y_key) {
  parent_info_encoder_.write(is_y_key ? 1 : 0);
}
void UpdateEncoderV2::write_type_ref(std::uint8_t info) { type_ref_encoder_.write(info); }
void UpdateEncoderV2::write_len(std::uint64_t len) { len_encoder_.write(len); }
void UpdateEncoderV2::write_any(const lib0::Any& any) { rest_.write_any(any); }
void UpdateEncoderV2::write_buf(std::span<const std::uint8_t> buf) {
  rest_.write_var_uint8_array(buf);
}
void UpdateEncoderV2::write_json(const lib0::Any& value) { rest_.write_any(value); }

void UpdateEncoderV2::write_key(std::string_view key) {
  key_clock_encoder_.write(static_cast<std::int64_t>(key_clock_++));
  string_encoder_.write(key);
}

std::vector<std::uint8_t> UpdateEncoderV2::to_bytes() {
  std::vector<std::uint8_t> columns[] = {
      key_clock_encoder_.to_bytes(),   client_encoder_.to_bytes(),   left_clock_encoder_.to_bytes(),
      right_clock_encoder_.to_bytes(), info_encoder_.to_bytes(),     string_encoder_.to_bytes(),
      parent_info_encoder_.to_bytes(), type_ref_encoder_.to_bytes(), len_encoder_.to_bytes()};
  std::size_t total = rest_.length() + 1;
  for (const auto& c : columns) total += c.size() + 10;
  lib0::Encoder out;
  out.reserve(total);
  out.write_var_uint(0);  // feature flag, unused by Yjs 13
  for (const auto& c : columns) out.write_var_uint8_array(c);
  out.write_uint8_array(rest_.bytes());  // the rest is appended without a length
  return std::move(out).to_bytes();
}

}  // namespace corates::crdt
