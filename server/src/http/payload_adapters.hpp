#pragma once
// Legacy payload adapters (issue 4, "Version negotiation"): an op may state
// the `payloadVersion` of its payload; adapters registered here translate an
// older shape into the canonical one (the one its schema in contracts/
// describes) before validation. Each adapter has a sunset date; from that day
// on the old shape is refused with PAYLOAD_VERSION_RETIRED.
//
// adapt() chains adapters: v1 -(1->2)-> v2 -(2->3)-> v3 = canonical. A chain
// is refused as retired if any of its steps is past its sunset (a shape is
// never supported longer than a newer one). Use is counted per (type, stated
// version) for /metrics.
//
// Thread safety: registration happens at start-up but is locked anyway;
// adapt() may be called from any thread (it copies the chain out under the
// lock and runs the adapter functions without it).

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace corates::server {

// Error codes of adapt(), as they appear in the HTTP error envelope.
inline constexpr std::string_view kPayloadVersionRetired = "PAYLOAD_VERSION_RETIRED";  // past sunset
inline constexpr std::string_view kPayloadVersionUnsupported =
    "PAYLOAD_VERSION_UNSUPPORTED";  // no chain from it (unknown, newer than canonical, < 1)
inline constexpr std::string_view kPayloadAdapterFailed =
    "PAYLOAD_ADAPTER_FAILED";  // an adapter refused this payload (shape does not match the version)

// Why a payload could not be brought to the canonical version. `code` is one
// of the constants above; the HTTP status to answer with is 400.
struct PayloadError {
  std::string code;
  std::string message;
  std::string op_type;
  int payload_version = 0;
};

// Found by ADL from PayloadResult<T>::value(); prefer has_value()/operator*.
[[noreturn]] void throw_exception_from_error(const PayloadError& e, const boost::source_location& loc);

template <class T>
using PayloadResult = boost::system::result<T, PayloadError>;

// An adapter's refusal: the payload does not have the old shape it expects.
struct PayloadShapeError {
  std::string message;
};
[[noreturn]] void throw_exception_from_error(const PayloadShapeError& e, const boost::source_location& loc);

// One step: translates a payload of `from_version` into `to_version`
// (to_version > from_version). The function gets the payload by value and
// returns the translated one, or PayloadShapeError{"why"} (-> the request is
// refused with PAYLOAD_ADAPTER_FAILED). It must not throw.
using PayloadAdapterFn =
    std::function<boost::system::result<boost::json::value, PayloadShapeError>(boost::json::value)>;

struct PayloadAdapter {
  std::string op_type;
  int from_version = 1;
  int to_version = 2;
  // Refused on and after this day (UTC). For "no sunset yet", a far date.
  std::chrono::sys_days sunset{};
  PayloadAdapterFn fn;
};

struct AdapterUse {
  std::string op_type;
  int payload_version = 0;
  std::uint64_t adapted = 0;  // payloads translated from this version
  std::uint64_t refused = 0;  // refused as retired
};

class PayloadAdapterRegistry {
 public:
  using Now = std::function<std::chrono::system_clock::time_point()>;
  explicit PayloadAdapterRegistry(Now now = {});

  // The canonical payload version of an op type (default 1 for types never
  // declared). Returns false if adapters already registered for the type
  // would not lead to it (they must be added after).
  bool set_canonical(std::string_view op_type, int version);
  int canonical(std::string_view op_type) const;

  // Registers one step. false (and nothing registered) when from >= to,
  // from < 1, to > canonical, or a step from `from_version` already exists.
  bool add(PayloadAdapter adapter);

  // Brings `payload` stated as `payload_version` to the canonical version of
  // `op_type`. payload_version 0 means "not stated" and is taken as the
  // canonical version. The canonical version passes through untouched.
  PayloadResult<boost::json::value> adapt(std::string_view op_type, int payload_version,
                                          boost::json::value payload);

  std::vector<AdapterUse> usage() const;
  // corates_payload_adapted_total{type,version} and
  // corates_payload_retired_total{type,version}, Prometheus text.
  std::string render_prometheus() const;

  void clear();  // tests

 private:
  struct Key {
    std::string type;
    int from;
    bool operator<(const Key& o) const { return std::tie(type, from) < std::tie(o.type, o.from); }
  };
  Now now_;
  mutable std::mutex mutex_;
  std::map<std::string, int, std::less<>> canonical_;
  std::map<Key, PayloadAdapter> steps_;
  std::map<Key, AdapterUse> use_;
};

// The process-wide registry the server uses (ops/ registers its adapters at
// start-up; /metrics renders its counts).
PayloadAdapterRegistry& payload_adapters();

// Shorthand for payload_adapters().adapt(...).
PayloadResult<boost::json::value> adapt(std::string_view op_type, int payload_version,
                                        boost::json::value payload);

}  // namespace corates::server
