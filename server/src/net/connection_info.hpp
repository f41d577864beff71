#pragma once
// What the server knows of one WebSocket connection, decided at the upgrade
// by the WebSocket gates (version, auth, rate limits, extensions) and read by
// the room. Immutable after the upgrade except `role` (a role change applies
// to live connections at once) and the limiter's own state.

#include "http/route_table.hpp"

#include <boost/json/object.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace corates::server {

struct ConnectionInfo {
  Principal principal;
  std::atomic<Role> role{Role::kEditor};  // kViewer: updates refused with permission-denied
  std::string client_version;             // ?clientVersion=, "" when absent
  std::string client_ip;
  std::string doc_name;
  // Extensions the client asked for with ?ext=ack,epoch (docs/protocol-extensions.md).
  bool ext_ack = false;
  bool ext_epoch = false;
  // Per-connection message rate limit; false -> close 4429. Unset = unlimited.
  std::function<bool()> allow_message;
};

// Why an upgrade is refused: answered as an HTTP error in the JSON envelope.
struct Refusal {
  unsigned status = 400;
  std::string code;
  std::string message;
  boost::json::object extra;  // merged into the error object (e.g. minSupportedClient)
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
};

// One check at the WebSocket upgrade. Gates run in registration order; the
// first refusal answers. A gate fills in its part of `info`.
class WsGate {
 public:
  virtual ~WsGate() = default;
  virtual std::string_view name() const = 0;
  virtual std::optional<Refusal> admit(const HttpRequest& req, ConnectionInfo& info) = 0;
};

}  // namespace corates::server
