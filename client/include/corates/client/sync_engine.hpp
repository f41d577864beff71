#pragma once
// Replays an OpQueue against a server (docs/client-sdk.md, docs/ops.md):
//   - GET /api/metadata on connect: version gate (UpgradeRequired pauses the
//     queue, nothing is dropped) and cacheVersion (a change clears the
//     queue's caches and pulls again from checkpoint 0);
//   - pending ops in seq order, in batches, to POST /api/sync/ops, with the
//     same ids on every resend; per-op outcomes recorded in the queue;
//   - GET /api/sync/ops?since= into the queue's change store until caught
//     up, which is what turns acknowledged ops into `applied`;
//   - a background loop (start/stop) that syncs on connect, on enqueue and
//     on GET /api/sync/events, with exponential backoff and jitter on
//     failures (Retry-After respected);
//   - telemetry (POST /api/telemetry), rate limited; its failures never
//     affect syncing.
//
// Threading: sync_once() may be called from any thread; calls are
// serialized with the background loop. start()/stop() from the owning thread.
// State callbacks run on the thread that changed the state, outside locks;
// they must not call stop() or destroy the engine.
#include "corates/client/endpoint.hpp"
#include "corates/client/op_queue.hpp"
#include "corates/client/sync_util.hpp"
#include "corates/common/result.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace corates::client {

class HttpClient;

enum class SyncState : std::uint8_t {
  kIdle,             // nothing running, or caught up
  kSyncing,          // a pass is sending ops
  kOffline,          // the server cannot be reached (backing off)
  kUpgradeRequired,  // the server refuses this client version: queue paused, kept
  kUnauthorized,     // the token was refused (401): queue kept
  kError,            // the server answered something the client cannot resolve (code/message say what)
};
std::string_view to_string(SyncState state) noexcept;

struct SyncStatus {
  SyncState state = SyncState::kIdle;
  std::string code;     // server or client code: NETWORK, CLIENT_UPGRADE_REQUIRED, SEQ_GAP, ...
  std::string message;
  std::string min_supported_client;  // with kUpgradeRequired, when the server said
};

struct SyncOptions {
  std::size_t batch_size = 100;
  std::size_t pull_limit = 1000;
  Backoff backoff{};
  std::chrono::milliseconds upgrade_poll{30'000};  // how often a paused client asks /api/metadata again
  std::chrono::milliseconds events_hold{20'000};   // longest wait for one /api/sync/events answer
  std::chrono::milliseconds idle_resync{60'000};   // a pass even without events
  bool telemetry = true;
  std::chrono::milliseconds telemetry_interval{10'000};
  std::uint64_t seed = 0;  // jitter RNG seed; 0 = random
};

// What one sync pass did.
struct SyncReport {
  std::size_t sent = 0;      // ops carried by pushes (resends included)
  std::size_t applied = 0;   // outcomes: applied or duplicate-of-applied
  std::size_t rejected = 0;  // outcomes: rejected or duplicate-of-rejected
  std::size_t pulled = 0;    // changes stored
  std::uint64_t checkpoint = 0;
  bool cache_cleared = false;
  StatusCounts counts;
};

class SyncEngine {
 public:
  SyncEngine(Endpoint endpoint, OpQueue& queue, SyncOptions options = {});
  ~SyncEngine();  // stop()
  SyncEngine(const SyncEngine&) = delete;
  SyncEngine& operator=(const SyncEngine&) = delete;

  // One pass: metadata, push everything pending, pull until caught up. On
  // failure the error says why and status() has the state (kOffline on
  // kIo, kUpgradeRequired, kUnauthorized, kError); nothing is dropped.
  Result<SyncReport> sync_once();

  // The background loop (two threads: sync, and the events listener).
  void start();
  // Stops the loop and aborts requests in flight (a push cut off is resent
  // later with the same ids); sends a last telemetry report (bounded wait).
  void stop();
  bool running() const { return running_; }

  // Wakes the loop (the queue's enqueue does this by itself).
  void notify();

  SyncStatus status() const;
  // Called on every state change (one callback; replaces the previous one).
  void on_status(std::function<void(const SyncStatus&)> callback);

  // Called after each page of pulled changes was stored (on the syncing
  // thread, during the pass: must not call sync_once()).
  void on_changes(std::function<void(const std::vector<Change>& changes, std::uint64_t checkpoint)> callback);

  // A telemetry report now (normally sent by the loop); false if it failed.
  bool send_telemetry(std::chrono::milliseconds timeout = std::chrono::milliseconds{2'000});
  // The body the next report would carry (for tests).
  std::string telemetry_body();

 private:
  Result<SyncReport> do_sync(SyncReport& report);
  Result<void> check_metadata(SyncReport& report);
  Result<void> push_all(SyncReport& report);
  Result<void> pull_all(SyncReport& report);
  Result<void> reconcile_records(std::uint64_t after_seq);
  Error go_offline(const Error& e);
  void set_status(SyncStatus s);
  void count_failure(const std::string& code, std::size_t n = 1);
  void sync_loop();
  void events_loop();
  void maybe_telemetry();         // sends one report (caller holds sync_mutex_)
  void maybe_report_telemetry();  // ... if telemetry is on and a report is due
  bool wait_for(std::chrono::milliseconds d, bool wake_on_notify);

  Endpoint endpoint_;
  OpQueue& queue_;
  SyncOptions options_;
  std::unique_ptr<HttpClient> http_;         // used under sync_mutex_
  std::unique_ptr<HttpClient> events_http_;  // the events thread's own
  int subscription_ = 0;

  std::mutex sync_mutex_;  // one pass at a time
  bool metadata_checked_ = false;
  std::size_t batch_size_;

  mutable std::mutex mutex_;  // guards the fields below
  std::condition_variable cv_;
  SyncStatus status_;
  std::function<void(const SyncStatus&)> status_cb_;
  std::function<void(const std::vector<Change>&, std::uint64_t)> changes_cb_;
  bool stopping_ = false;
  bool woken_ = false;
  bool reconnected_ = false;
  bool running_ = false;
  std::uint64_t last_event_checkpoint_ = 0;
  std::mt19937_64 rng_;         // sync thread
  std::mt19937_64 events_rng_;  // events thread
  std::atomic<std::int64_t> last_retry_after_ms_{0};  // the last pass's Retry-After

  // Telemetry (guarded by mutex_).
  std::map<std::string, std::uint64_t> failures_;
  struct Replay {
    double duration_ms;
    std::uint64_t ops;
  };
  std::vector<Replay> replays_;
  std::optional<std::chrono::steady_clock::time_point> replay_start_;
  std::uint64_t replay_ops_ = 0;
  bool was_offline_ = true;  // the first contact counts as a reconnect
  std::chrono::steady_clock::time_point last_report_{};
  bool reported_once_ = false;

  std::thread sync_thread_;
  std::thread events_thread_;
};

}  // namespace corates::client
