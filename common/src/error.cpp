#include "corates/common/result.hpp"

namespace corates {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kVarintOverflow: return "varint_overflow";
    case ErrorCode::kInvalidValue: return "invalid_value";
    case ErrorCode::kUnknownTag: return "unknown_tag";
    case ErrorCode::kInconsistentLength: return "inconsistent_length";
    case ErrorCode::kTooLarge: return "too_large";
    case ErrorCode::kMissingDependency: return "missing_dependency";
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kEpochMismatch: return "epoch_mismatch";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kClosed: return "closed";
  }
  return "unknown";
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw ErrorException(e);
}

}  // namespace corates
