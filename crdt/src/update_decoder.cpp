#include "corates/crdt/update_decoder.hpp"

namespace corates::crdt {

using lib0::kMaxSafeInteger;

ID UpdateDecoderV1::read_left_id() {
  const ClientID client = rest_.read_var_uint();
  return ID{client, rest_.read_var_uint()};
}

ID UpdateDecoderV1::read_right_id() {
  const ClientID client = rest_.read_var_uint();
  return ID{client, rest_.read_var_uint()};
}

ClientID UpdateDecoderV1::read_client() { return rest_.read_var_uint(); }
std::uint8_t UpdateDecoderV1::read_info() { return rest_.read_uint8(); }
std::string UpdateDecoderV1::read_string() { return rest_.read_var_string(); }
bool UpdateDecoderV1::read_parent_info() { return rest_.read_var_uint() == 1; }

std::uint8_t UpdateDecoderV1::read_type_ref() {
  const std::uint64_t v = rest_.read_var_uint();
  if (v > 0xff) {
    rest_.set_error(ErrorCode::kUnknownTag, "unknown type ref");
    return 0;
  }
  return static_cast<std::uint8_t>(v);
}

std::uint64_t UpdateDecoderV1::read_len() { return rest_.read_var_uint(); }
lib0::Any UpdateDecoderV1::read_any() { return rest_.read_any(); }

std::vector<std::uint8_t> UpdateDecoderV1::read_buf() {
  const auto b = rest_.read_var_uint8_array();
  return {b.begin(), b.end()};
}

lib0::Any UpdateDecoderV1::read_json() {
  const std::string_view text = rest_.read_var_string_view();
  if (!rest_.ok()) return {};
  auto parsed = lib0::parse_json(text);
  if (!parsed) {
    rest_.set_error(parsed.error().code, parsed.error().message);
    return {};
  }
  return std::move(*parsed);
}

std::string UpdateDecoderV1::read_key() { return rest_.read_var_string(); }

Clock DSDecoderV2::read_ds_clock() {
  ds_curr_val_ += rest_.read_var_uint();
  if (ds_curr_val_ > kMaxSafeInteger) {
    rest_.set_error(ErrorCode::kVarintOverflow, "delete set clock exceeds 2^53-1");
    ds_curr_val_ = 0;
  }
  return ds_curr_val_;
}

std::uint64_t DSDecoderV2::read_ds_len() {
  const std::uint64_t v = rest_.read_var_uint();
  if (!rest_.ok()) return 0;
  const std::uint64_t len = v + 1;
  ds_curr_val_ += len;
  if (ds_curr_val_ > kMaxSafeInteger) {
    rest_.set_error(ErrorCode::kVarintOverflow, "delete set clock exceeds 2^53-1");
    ds_curr_val_ = 0;
    return 0;
  }
  return len;
}

UpdateDecoderV2::UpdateDecoderV2(std::span<const std::uint8_t> data) : DSDecoderV2(data) {
  rest_.read_var_uint();  // feature flag, unused by Yjs 13
  key_clock_decoder_ = lib0::IntDiffOptRleDecoder(rest_.read_var_uint8_array());
  client_decoder_ = lib0::UintOptRleDecoder(rest_.read_var_uint8_array());
  left_clock_decoder_ = lib0::IntDiffOptRleDecoder(rest_.read_var_uint8_array());
  right_clock_decoder_ = lib0::IntDiffOptRleDecoder(rest_.read_var_uint8_array());
  info_decoder_ = lib0::RleDecoder(rest_.read_var_uint8_array());
  string_decoder_ = lib0::StringDecoder(rest_.read_var_uint8_array());
  parent_info_decoder_ = lib0::RleDecoder(rest_.read_var_uint8_array());
  type_ref_decoder_ = lib0::UintOptRleDecoder(rest_.read_var_uint8_array());
  len_decoder_ = lib0::UintOptRleDecoder(rest_.read_var_uint8_array());
}

bool UpdateDecoderV2::ok() const noexcept {
  return rest_.ok() && key_clock_decoder_.decoder().ok() && client_decoder_.decoder().ok() &&
         left_clock_decoder_.decoder().ok() && right_clock_decoder_.decoder().ok() &&
         info_decoder_.decoder().ok() && string_decoder_.ok() &&
         parent_info_decoder_.decoder().ok() && type_ref_decoder_.decoder().ok() &&
         len_decoder_.decoder().ok();
}

std::optional<Error> UpdateDecoderV2::error() const {
  for (const auto* e : {&rest_.error(), &key_clock_decoder_.decoder().error(),
                        &client_decoder_.decoder().error(), &left_clock_decoder_.decoder().error(),
                        &right_clock_decoder_.decoder().error(), &info_decoder_.decoder().error(),
                        &string_decoder_.error(), &parent_info_decoder_.decoder().error(),
                        &type_ref_decoder_.decoder().error(), &len_decoder_.decoder().error()}) {
    if (e->has_value()) return *e;
  }
  return std::nullopt;
}

namespace {
// Clocks are unsigned on the wire of any valid update; a negative running
// value (possible only in hostile column data) is rejected.
Clock checked_clock(lib0::Decoder& rest, std::int64_t v) {
  if (v < 0) {
    rest.set_error(ErrorCode::kInvalidValue, "negative clock");
    return 0;
  }
  return static_cast<Clock>(v);
}
}  // namespace

ID UpdateDecoderV2::read_left_id() {
  const ClientID client = client_decoder_.read();
  return ID{client, checked_clock(rest_, left_clock_decoder_.read())};
}

ID UpdateDecoderV2::read_right_id() {
  const ClientID client = client_decoder_.read();
  return ID{client, checked_clock(rest_, right_clock_decoder_.read())};
}

ClientID UpdateDecoderV2::read_client() { return client_decoder_.read(); }
std::uint8_t UpdateDecoderV2::read_info() { return info_decoder_.read(); }
std::string UpdateDecoderV2::read_string() { return string_decoder_.read(); }
ContentString UpdateDecoderV2::read_content_string() {
  std::uint64_t units = 0;
  std::string s = string_decoder_.read(&units);
  return ContentString(std::move(s), units);
}
bool UpdateDecoderV2::read_parent_info() { return parent_info_decoder_.read() == 1; }

std::uint8_t UpdateDecoderV2::read_type_ref() {
  const std::uint64_t v = type_ref_decoder_.read();
  if (v > 0xff) {
    rest_.set_error(ErrorCode::kUnknownTag, "unknown type ref");
    return 0;
  }
  return static_cast<std::uint8_t>(v);
}

std::uint64_t UpdateDecoderV2::read_len() { return len_decoder_.read(); }
lib0::Any UpdateDecoderV2::read_any() { return rest_.read_any(); }

std::vector<std::uint8_t> UpdateDecoderV2::read_buf() {
  const auto b = rest_.read_var_uint8_array();
  return {b.begin(), b.end()};
}

lib0::Any UpdateDecoderV2::read_json() { return rest_.read_any(); }

std::string UpdateDecoderV2::read_key() {
  const std::int64_t key_clock = key_clock_decoder_.read();
  if (!key_clock_decoder_.decoder().ok()) return {};
  if (key_clock < 0) {
    rest_.set_error(ErrorCode::kInvalidValue, "negative key clock");
    return {};
  }
  if (static_cast<std::uint64_t>(key_clock) < keys_.size()) return keys_[key_clock];
  std::string key = string_decoder_.read();
  keys_.push_back(key);
  return key;
}

}  // namespace corates::crdt
