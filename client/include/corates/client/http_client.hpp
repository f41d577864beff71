#pragma once
// A small synchronous HTTP/1.1 client for the SDK (Boost.Beast underneath):
// one keep-alive connection, a deadline on connect and on each exchange
// (Endpoint::timeout unless the call names another), the SDK's headers on
// every request (Authorization: Bearer, X-Client-Version).
//
// Failures are values: a refused connection, a timeout or a reset is
// ErrorCode::kIo; cancel() turns the request in flight (and every later one,
// until reset()) into ErrorCode::kClosed. Any HTTP status is a response, not
// an error: callers look at `status` and, for errors, parse_api_error().
//
// Threading: one thread at a time calls request(); cancel() may be called
// from any thread at any time.
#include "corates/client/endpoint.hpp"
#include "corates/common/result.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corates::client {

struct HttpResponse {
  unsigned status = 0;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // as received, names as sent

  // First header of that name (case-insensitive), or "".
  std::string_view header(std::string_view name) const;
};

// The server's error envelope {"error":{code,message,details,...}}.
struct ApiError {
  unsigned status = 0;
  std::string code;          // "CLIENT_UPGRADE_REQUIRED", "SEQ_GAP", ... ("HTTP_<status>" if the body has none)
  std::string message;
  std::string details_json = "[]";
  std::string min_supported_client;  // only with 426
  std::chrono::milliseconds retry_after{0};  // from Retry-After (seconds), 0 when absent
};

// Reads the envelope of a non-2xx answer; tolerates any body.
ApiError parse_api_error(const HttpResponse& response);

class HttpClient {
 public:
  explicit HttpClient(Endpoint endpoint);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // method: "GET", "POST", "DELETE"...; target: path and query below the
  // endpoint's base path ("/api/sync/ops?since=3"). A non-empty body is sent
  // with `content_type`. Response bodies above 64 MiB are an error (kTooLarge).
  // timeout 0 = Endpoint::timeout; it bounds connect and the whole exchange.
  Result<HttpResponse> request(std::string_view method, std::string_view target, std::string_view body = {},
                               std::string_view content_type = "application/json",
                               std::chrono::milliseconds timeout = std::chrono::milliseconds{0});
  Result<HttpResponse> get(std::string_view target, std::chrono::milliseconds timeout = std::chrono::milliseconds{0}) {
    return request("GET", target, {}, {}, timeout);
  }
  Result<HttpResponse> post_json(std::string_view target, std::string_view json) {
    return request("POST", target, json, "application/json");
  }

  // Any thread: aborts the exchange in flight and refuses later ones (kClosed).
  void cancel();
  // Undoes cancel() (call from the thread that uses the client).
  void reset();
  // Drops the kept-alive connection.
  void close();

  const Endpoint& endpoint() const { return endpoint_; }
  void set_token(std::string token) { endpoint_.token = std::move(token); }

 private:
  struct Impl;
  Endpoint endpoint_;
  std::unique_ptr<Impl> impl_;
};

// GET /api/sync/events (docs/ops.md): a server-sent-events response that
// carries at most one `checkpoint` event. Waits up to `hold` (plus the
// endpoint's timeout) for the server to answer. Returns the event's checkpoint,
// or nullopt when the server's hold time ran out with no news. Without `since`
// the server answers at once with the current checkpoint.
Result<std::optional<std::uint64_t>> wait_for_checkpoint(HttpClient& http, std::optional<std::uint64_t> since,
                                                         std::chrono::milliseconds hold);

// Parses an SSE body: the last `checkpoint` event's id/data, or nullopt.
std::optional<std::uint64_t> parse_checkpoint_event(std::string_view sse_body);

}  // namespace corates::client
