#pragma once
// The corates-sync server: HTTP and WebSocket (y-websocket protocol at
// /ws/<doc-name>) on a pool of I/O threads, documents stored durably in the
// SQLite store under config.data_dir. See DESIGN.md and docs/server.md.
//
// Lifecycle: create() opens the storage and binds the listening socket (so a
// port in use is an error value, not a crash), start() runs the I/O threads,
// stop() shuts down gracefully: stop accepting, close every WebSocket with
// 1001, wait for them at most config.shutdown_timeout, flush the storage,
// stop the threads. The destructor calls stop().
//
// Thread-safety: every method may be called from any thread except the
// server's own I/O threads (stop() and wait_for_signal() block).

#include "corates/common/result.hpp"
#include "corates/server/config.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace corates::server {

// Defaults of api_version / cache_version (X-API-Version / X-Cache-Version);
// the live values come from the configuration (http/versioning).
inline constexpr std::string_view kApiVersion = "1.0.0";
inline constexpr std::string_view kCacheVersion = "1";

// Sets up spdlog from config.log_level / config.log_format (stderr).
void configure_logging(const ServerConfig& config);

class Server {
 public:
  // kIo: the data directory or database is unusable, or the address cannot
  // be bound; kInvalidArgument: the host is not an IP address.
  static Result<std::unique_ptr<Server>> create(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound address (port resolved when config.port was 0).
  const std::string& host() const;
  std::uint16_t port() const;

  // Starts the I/O threads and accepting. Call once.
  void start();
  // Blocks until SIGINT or SIGTERM arrives (or stop() is called elsewhere).
  void wait_for_signal();
  // Graceful shutdown (see above); idempotent. Returns once everything that
  // was acknowledged is durable and the threads have stopped.
  void stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace corates::server
