#include "corates/storage/document_store.hpp"

namespace corates::storage {

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i], 0 if ill-formed
// (Unicode 15, table 3-7).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  std::size_t len = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (std::size_t k = 2; k < len; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return len;
}

}  // namespace

Result<void> validate_doc_name(std::string_view name) {
  if (name.empty()) return fail(ErrorCode::kInvalidArgument, "document name is empty");
  if (name.size() > kMaxDocNameBytes) {
    return fail(ErrorCode::kInvalidArgument, "document name longer than 512 bytes");
  }
  for (std::size_t i = 0; i < name.size();) {
    if (name[i] == '\0') return fail(ErrorCode::kInvalidArgument, "document name contains NUL");
    const std::size_t len = utf8_sequence_length(name, i);
    if (len == 0) return fail(ErrorCode::kInvalidArgument, "document name is not valid UTF-8");
    i += len;
  }
  return {};
}

}  // namespace corates::storage
