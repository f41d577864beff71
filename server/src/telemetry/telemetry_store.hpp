#pragma once
// Client telemetry (issue 5, docs/telemetry.md): the latest TelemetryReport of
// each client install, kept in memory, and its aggregate in /metrics.
//
// Gauges (client versions in use, queue depth distribution, backlog, failed
// ops) describe the live clients: those whose last report is at most `ttl`
// old. Counters (sync failures by code, replays) add up the per-report deltas
// of every accepted report, so a client that resends a report whose answer it
// lost counts its deltas twice (at-least-once, like every push metric).
//
// Bounds: at most `max_clients` clients (on a new client beyond it the one
// silent longest is dropped), at most `max_version_labels` version labels per
// scrape (the least used versions are summed as "other") and at most
// `max_failure_codes` code labels over the process's life (later new codes
// count as "other"; a counter's label never disappears).
//
// Thread safety: every method may be called from any thread (one mutex, held
// for O(1) work per report and O(versions + codes) per render).

#include "corates/common/result.hpp"
#include "corates/storage/document_store.hpp"

#include <boost/json/fwd.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace corates::server {

struct TelemetryFailure {
  std::string code;  // ^[A-Z][A-Z0-9_]*$
  std::uint64_t count = 0;
};

struct TelemetryReplay {
  double duration_ms = 0;
  std::uint64_t ops = 0;
};

// contracts/schemas/TelemetryReport.json as a struct.
struct TelemetryReport {
  std::string client_id;  // lower-cased UUID
  std::string client_version;
  std::string platform;
  std::uint64_t queue_depth = 0;
  std::uint64_t failed_ops = 0;
  std::vector<TelemetryFailure> failures;  // deltas since the client's last accepted report
  std::vector<TelemetryReplay> replays;    // replays finished since then
};

// A body that passed the TelemetryReport schema -> the struct. The schema is
// the real check; this one only refuses (kInvalidArgument, naming the field)
// what would make the struct wrong, so a body that skipped validation cannot
// crash or corrupt the aggregate.
Result<TelemetryReport> parse_telemetry_report(const boost::json::value& body);

struct TelemetryLimits {
  std::chrono::milliseconds ttl{600000};  // config telemetry_client_ttl_ms
  std::size_t max_clients = 100000;
  std::size_t max_version_labels = 20;  // including "other"
  std::size_t max_failure_codes = 64;   // not including "other"
};

// Bucket upper bounds (the last, +Inf, is implicit).
inline constexpr std::array<std::uint64_t, 13> kQueueDepthBounds{
    0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 10000, 100000};
inline constexpr std::array<double, 14> kReplaySecondsBounds{0.1, 0.25, 0.5, 1,   2.5, 5,    10,
                                                             30,  60,   120, 300, 600, 1800, 3600};

// What the gauges and counters hold at one moment (tests, render).
struct TelemetrySnapshot {
  std::size_t clients = 0;
  std::uint64_t backlog = 0;                                  // sum of queue depths
  std::uint64_t failed_ops = 0;                               // sum of failedOps
  std::vector<std::pair<std::string, std::size_t>> versions;  // capped, "other" last; by count desc
  // Clients per queue-depth bucket, cumulative (le), the last one = clients.
  std::array<std::size_t, kQueueDepthBounds.size() + 1> depth_le{};
  std::map<std::string, std::uint64_t, std::less<>> failures;  // by code (capped, "other")
  storage::Histogram replay_seconds;  // per-bucket counts, the last one +Inf
  std::uint64_t replayed_ops = 0;
  std::uint64_t reports = 0;
  std::uint64_t expired = 0;  // clients dropped after ttl
  std::uint64_t evicted = 0;  // clients dropped for max_clients
};

class TelemetryStore {
 public:
  using Clock = std::chrono::steady_clock;
  // Must not go backwards (tests inject a manual clock).
  using Now = std::function<Clock::time_point()>;

  explicit TelemetryStore(TelemetryLimits limits, Now now = {});

  enum class Outcome : std::uint8_t {
    kAccepted,
    kForeignClient,  // the clientId's live report came from another user: nothing recorded
  };
  // Replaces the client's report and adds its deltas. `user_id` is the
  // session's user ("" with auth off); a live client stays bound to it.
  Outcome record(const TelemetryReport& report, std::string_view user_id);

  TelemetrySnapshot snapshot();
  // The corates_telemetry_* families in the Prometheus text format 0.0.4.
  std::string render_prometheus();

  const TelemetryLimits& limits() const { return limits_; }

 private:
  struct Client {
    std::string user_id;
    std::string version;
    std::uint64_t queue_depth = 0;
    std::uint64_t failed_ops = 0;
    Clock::time_point last_seen{};
    std::list<std::string>::iterator order;  // position in order_
  };

  Clock::time_point now() const;
  void expire(Clock::time_point now);  // mutex_ held
  void remove(const std::string& id);  // mutex_ held
  void add_live(const Client& c);      // mutex_ held: into the gauges
  void remove_live(const Client& c);   // mutex_ held: out of the gauges
  static std::size_t depth_bucket(std::uint64_t depth);
  TelemetrySnapshot snapshot_locked() const;

  const TelemetryLimits limits_;
  const Now now_;
  std::mutex mutex_;
  std::unordered_map<std::string, Client> clients_;
  std::list<std::string> order_;  // client ids, least recently reported first
  std::unordered_map<std::string, std::size_t> versions_;  // live clients per version
  std::array<std::size_t, kQueueDepthBounds.size() + 1>
      depth_counts_{};  // per bucket, not cumulative
  std::uint64_t backlog_ = 0;
  std::uint64_t failed_ops_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> failures_;
  storage::Histogram replay_seconds_;
  std::uint64_t replayed_ops_ = 0;
  std::uint64_t reports_ = 0;
  std::uint64_t expired_ = 0;
  std::uint64_t evicted_ = 0;
};

}  // namespace corates::server
