#pragma once
// Errors as values (STYLE.md principle 6): every decoder of untrusted bytes and
// every storage call returns Result<T>; exceptions never cross a part's API.

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace corates {

// The kinds of expected failure. Parts add their own codes here so that a
// caller (CLI exit status, HTTP status, WebSocket close code) can map them.
enum class ErrorCode : std::uint8_t {
  kTruncated,          // input ended before a value was complete
  kVarintOverflow,     // a variable-length integer exceeds the supported range
  kInvalidValue,       // a field holds a value outside its domain
  kUnknownTag,         // an unknown content / type / message tag
  kInconsistentLength, // declared and actual lengths disagree
  kTooLarge,           // an absurd size (allocation bound exceeded)
  kMissingDependency,  // a reference to a struct that can never arrive
  kInvalidArgument,    // a caller passed an argument outside the contract
  kIo,                 // file or stream error
  kInternal,           // should not happen; reported instead of crashing
  kNotFound,           // the named object does not exist
  kEpochMismatch,      // a document's epoch differs from the caller's (reset or re-created)
  kConflict,           // the stored state moved on (e.g. an older compaction lost)
  kBusy,               // temporarily overloaded (queue full, database locked); retry later
  kClosed,             // the object was shut down
};

std::string_view to_string(ErrorCode code) noexcept;

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  Error() = default;
  Error(ErrorCode c, std::string msg) : code(c), message(std::move(msg)) {}
};

// Thrown only by Result<T>::value() on an error; callers that check
// has_value() / has_error() first never see it.
class ErrorException : public std::exception {
 public:
  explicit ErrorException(Error e) : error_(std::move(e)) {}
  const char* what() const noexcept override { return error_.message.c_str(); }
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

// Found by ADL from boost::system::result<T, Error>::value().
[[noreturn]] void throw_exception_from_error(const Error& e,
                                             const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

// Shorthand for building an error result: `return fail(ErrorCode::kTruncated, "...")`.
inline Error fail(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace corates
