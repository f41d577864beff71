#pragma once
// What a room knows of a connection: an id, and thread-safe send/close that
// post to the connection's own strand.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace corates::server {

struct ConnectionInfo;

using Bytes = std::vector<std::uint8_t>;
using SharedBytes = std::shared_ptr<const Bytes>;

// How a frame may be treated by a send queue under pressure.
enum class FrameKind : std::uint8_t {
  kDocument,   // sync update / step 2: dropped while a collapse is pending
  kAwareness,  // dropped while a collapse is pending
  kResync,     // the collapsed state (ends a pending collapse)
  kControl,    // sync step 1 and the like: never dropped
};

class Peer {
 public:
  virtual ~Peer() = default;
  virtual std::uint64_t id() const = 0;
  // Thread-safe, never blocks.
  virtual void send(SharedBytes frame, FrameKind kind) = 0;
  virtual void close(std::uint16_t code, std::string reason) = 0;
  // Who is connected and what they asked for (net/connection_info.hpp).
  virtual const ConnectionInfo& info() const = 0;
};

}  // namespace corates::server
