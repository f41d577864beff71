#pragma once
// The server's own counters and gauges (lock-free atomics, touched from any
// strand) and their rendering in the Prometheus text format together with
// the storage writer's metrics.

#include "corates/storage/document_store.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace corates::server {

// Protocol errors by kind, the label of corates_protocol_errors_total.
enum class ProtocolError : std::uint8_t {
  kMalformedMessage,  // frame does not decode (unknown type, truncated)
  kBadUpdate,         // sync step 2 / update does not apply
  kBadAwareness,      // awareness update does not decode
  kTooLarge,          // message over max_message_bytes
  kBinaryExpected,    // a text frame
  kCount
};
std::string_view to_string(ProtocolError e);

struct Metrics {
  std::atomic<std::int64_t> connections{0};        // open WebSocket sessions (gauge)
  std::atomic<std::uint64_t> connections_total{0};
  std::atomic<std::uint64_t> connections_refused{0};  // 503 at upgrade
  std::atomic<std::int64_t> rooms_loaded{0};         // gauge
  std::atomic<std::uint64_t> rooms_unloaded{0};      // evictions
  std::atomic<std::uint64_t> updates_received{0};
  std::atomic<std::uint64_t> updates_broadcast{0};   // messages queued to peers
  std::atomic<std::uint64_t> bytes_received{0};      // WebSocket payload bytes
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> persist_failures{0};
  std::atomic<std::uint64_t> compactions_started{0};
  std::atomic<std::uint64_t> queue_collapses{0};
  std::atomic<std::uint64_t> slow_consumer_disconnects{0};
  std::atomic<std::uint64_t> http_requests{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(ProtocolError::kCount)> protocol_errors{};
  // Versions and rate limits (http/versioning, limits/).
  std::array<std::atomic<std::uint64_t>, 5> rate_limited_by_class{};  // 429s, indexed by RateClass
  std::atomic<std::uint64_t> ws_rate_limited{0};          // connections closed with 4429
  std::atomic<std::uint64_t> client_upgrade_required{0};  // 426 answers (HTTP and upgrades)
  std::atomic<std::uint64_t> invalid_client_version{0};   // 400 INVALID_CLIENT_VERSION
  std::atomic<std::uint64_t> deprecated_client{0};        // answers with a Deprecation header
  std::atomic<std::uint64_t> outdated_closed{0};          // live connections closed with 4426
  std::atomic<std::uint64_t> config_reloads{0};           // SIGHUP reloads applied
  std::atomic<std::uint64_t> config_reload_failures{0};   // SIGHUP reloads refused

  void rate_limited(std::size_t rate_class) {
    if (rate_class < rate_limited_by_class.size()) {
      rate_limited_by_class[rate_class].fetch_add(1, std::memory_order_relaxed);
    }
  }
  void protocol_error(ProtocolError e) {
    protocol_errors[static_cast<std::size_t>(e)].fetch_add(1, std::memory_order_relaxed);
  }
};

// The whole /metrics body.
std::string render_prometheus(const Metrics& m, const storage::WriterMetrics& w);

// Pieces for the parts that render their own families (ops, telemetry, adapters).
// A label value with backslash, quote and newline escaped.
std::string prometheus_label(std::string_view value);
// HELP, TYPE histogram, cumulative _bucket lines (h.counts are per bucket,
// the last one +Inf), _sum and _count.
void append_histogram(std::string& out, std::string_view name, std::string_view help, const storage::Histogram& h);

}  // namespace corates::server
