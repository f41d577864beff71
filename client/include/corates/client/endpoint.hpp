#pragma once
// Where the SDK talks to: a corates-sync server's base URL, the session token
// and the version this client states on every request (X-Client-Version).
#include "corates/common/result.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace corates::client {

// The SDK's own version; the server compares it with minSupportedClient.
inline constexpr std::string_view kSdkVersion = "0.1.0";

struct Endpoint {
  std::string host;            // "127.0.0.1"
  std::uint16_t port = 80;
  std::string base_path;       // "" or "/prefix" (no trailing slash)
  std::string token;           // bearer session token; empty = anonymous
  std::string client_version = std::string(kSdkVersion);
  std::chrono::milliseconds timeout{10'000};  // per request / per WebSocket handshake

  // "http://host:port/base" (for logs and errors; never includes the token).
  std::string url() const;
  // "/base" + path, e.g. target("/api/sync/ops").
  std::string target(std::string_view path) const;
};

// Parses "http://host[:port][/base]". Only plain http: TLS belongs in front of
// the server (docs/server.md); an https URL is refused with kInvalidArgument.
Result<Endpoint> parse_endpoint(std::string_view url);

}  // namespace corates::client
