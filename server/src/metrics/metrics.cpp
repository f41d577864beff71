#include "metrics/metrics.hpp"

#include "http/payload_adapters.hpp"

#include <fmt/format.h>

#include <iterator>

namespace corates::server {

std::string_view to_string(ProtocolError e) {
  switch (e) {
    case ProtocolError::kMalformedMessage: return "malformed_message";
    case ProtocolError::kBadUpdate: return "bad_update";
    case ProtocolError::kBadAwareness: return "bad_awareness";
    case ProtocolError::kTooLarge: return "too_large";
    case ProtocolError::kBinaryExpected: return "binary_expected";
    case ProtocolError::kCount: break;
  }
  return "unknown";
}

std::string prometheus_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// storage::Histogram counts are per bucket; Prometheus wants cumulative ones.
void append_histogram(std::string& out, std::string_view name, std::string_view help, const storage::Histogram& h) {
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    cumulative += h.counts[i];
    if (i < h.upper_bounds.size()) {
      fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"{}\"}} {}\n", name, h.upper_bounds[i], cumulative);
    } else {
      fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
    }
  }
  if (h.counts.empty()) fmt::format_to(std::back_inserter(out), "{}_bucket{{le=\"+Inf\"}} 0\n", name);
  fmt::format_to(std::back_inserter(out), "{}_sum {}\n{}_count {}\n", name, h.sum, name, h.count);
}

namespace {

void metric(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value) {
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
}

}  // namespace

std::string render_prometheus(const Metrics& m, const storage::WriterMetrics& w) {
  std::string out;
  out.reserve(4096);
  auto load = [](const auto& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  metric(out, "corates_connections", "gauge", "Open WebSocket connections.", load(m.connections));
  metric(out, "corates_connections_total", "counter", "WebSocket connections accepted.", load(m.connections_total));
  metric(out, "corates_connections_refused_total", "counter", "WebSocket upgrades refused (max_connections).", load(m.connections_refused));
  metric(out, "corates_rooms_loaded", "gauge", "Documents loaded in memory.", load(m.rooms_loaded));
  metric(out, "corates_room_evictions_total", "counter", "Idle documents unloaded.", load(m.rooms_unloaded));
  metric(out, "corates_updates_received_total", "counter", "Document updates received (WebSocket and HTTP).", load(m.updates_received));
  metric(out, "corates_updates_broadcast_total", "counter", "Update messages queued to connections.", load(m.updates_broadcast));
  metric(out, "corates_received_bytes_total", "counter", "WebSocket message bytes received.", load(m.bytes_received));
  metric(out, "corates_sent_bytes_total", "counter", "WebSocket message bytes sent.", load(m.bytes_sent));
  metric(out, "corates_persist_failures_total", "counter", "Updates the storage failed to store.", load(m.persist_failures));
  metric(out, "corates_compactions_started_total", "counter", "Compactions submitted.", load(m.compactions_started));
  metric(out, "corates_queue_collapses_total", "counter", "Send queues collapsed into one state update.", load(m.queue_collapses));
  metric(out, "corates_slow_consumer_disconnects_total", "counter", "Connections closed because they could not keep up.", load(m.slow_consumer_disconnects));
  metric(out, "corates_http_requests_total", "counter", "HTTP requests handled.", load(m.http_requests));
  out += "# HELP corates_protocol_errors_total Connections closed for a protocol error, by kind.\n"
         "# TYPE corates_protocol_errors_total counter\n";
  for (std::size_t i = 0; i < m.protocol_errors.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "corates_protocol_errors_total{{kind=\"{}\"}} {}\n",
                   to_string(static_cast<ProtocolError>(i)), m.protocol_errors[i].load(std::memory_order_relaxed));
  }
  metric(out, "corates_storage_batches_committed_total", "counter", "Storage transactions committed (one fsync each).", static_cast<double>(w.batches_committed));
  metric(out, "corates_storage_batches_failed_total", "counter", "Storage transactions rolled back.", static_cast<double>(w.batches_failed));
  metric(out, "corates_storage_appends_committed_total", "counter", "Updates stored durably.", static_cast<double>(w.appends_committed));
  metric(out, "corates_storage_appends_failed_total", "counter", "Updates that failed after being queued.", static_cast<double>(w.appends_failed));
  metric(out, "corates_storage_appends_rejected_total", "counter", "Updates refused at submission.", static_cast<double>(w.appends_rejected));
  metric(out, "corates_storage_compactions_total", "counter", "Compactions committed.", static_cast<double>(w.compactions));
  metric(out, "corates_storage_removals_total", "counter", "Documents removed.", static_cast<double>(w.removals));
  metric(out, "corates_storage_queue_depth", "gauge", "Storage operations waiting.", static_cast<double>(w.queue_depth));
  metric(out, "corates_storage_queued_bytes", "gauge", "Payload bytes waiting for storage.", static_cast<double>(w.queued_bytes));
  append_histogram(out, "corates_storage_batch_size", "Operations per committed storage transaction (fsync batch size).", w.batch_size);
  append_histogram(out, "corates_storage_commit_seconds", "Storage transaction time including fsync.", w.commit_seconds);
  append_histogram(out, "corates_persist_latency_seconds", "Update submission to durable.", w.append_seconds);
  out += "# HELP corates_rate_limited_total Requests and upgrades refused with 429, by route class.\n"
         "# TYPE corates_rate_limited_total counter\n";
  static constexpr std::string_view kClasses[] = {"none", "read", "write", "auth", "ops"};
  for (std::size_t i = 0; i < m.rate_limited_by_class.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "corates_rate_limited_total{{class=\"{}\"}} {}\n", kClasses[i],
                   m.rate_limited_by_class[i].load(std::memory_order_relaxed));
  }
  metric(out, "corates_ws_rate_limited_total", "counter", "WebSocket connections closed with 4429.", load(m.ws_rate_limited));
  metric(out, "corates_client_upgrade_required_total", "counter", "Requests and upgrades refused with 426.", load(m.client_upgrade_required));
  metric(out, "corates_invalid_client_version_total", "counter", "Requests refused for a client version that is not SemVer.", load(m.invalid_client_version));
  metric(out, "corates_deprecated_client_total", "counter", "Answers sent with a Deprecation header.", load(m.deprecated_client));
  metric(out, "corates_outdated_connections_closed_total", "counter", "Live connections closed with 4426 after the minimum was raised.", load(m.outdated_closed));
  metric(out, "corates_config_reloads_total", "counter", "Configuration reloads applied (SIGHUP).", load(m.config_reloads));
  metric(out, "corates_config_reload_failures_total", "counter", "Configuration reloads refused (old settings kept).", load(m.config_reload_failures));
  out += payload_adapters().render_prometheus();
  return out;
}

}  // namespace corates::server
