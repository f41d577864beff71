#pragma once
// Rate limits (issue 4, "Sessions and access control"): token buckets per user
// and per IP address by route class, per WebSocket connection for messages,
// and sign-in failure throttling per account and per address.
//
// A token bucket holds at most `burst` tokens and refills at `per_second`;
// each request takes one token, and an empty bucket answers with the time
// until the next token (Retry-After). Buckets are created on first use and
// evicted once idle long enough to be full again, and the table is bounded:
// when it holds `max_buckets`, the least recently used buckets go first (a
// bucket that is evicted early only errs toward allowing).
//
// Thread safety: every method may be called from any thread; the bucket
// table is sharded and each shard has its own mutex, held only for the
// arithmetic. reload() swaps the limits atomically; existing buckets keep
// their tokens and follow the new rates from their next use.

#include "corates/server/config.hpp"
#include "http/route_table.hpp"
#include "net/connection_info.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace corates::server {

using LimiterClock = std::chrono::steady_clock;
// The clock the limiter reads; injected by tests.
using LimiterNow = std::function<LimiterClock::time_point()>;

// One bucket's parameters. per_second <= 0 means unlimited.
struct BucketRate {
  double per_second = 0;
  double burst = 1;
  bool unlimited() const { return per_second <= 0; }
};

// The arithmetic of one bucket; no locking (the owner locks).
class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(BucketRate rate, LimiterClock::time_point now) : tokens_(rate.burst), last_(now) {}

  // Takes `cost` tokens if available. Refills first by the elapsed time.
  bool try_take(const BucketRate& rate, LimiterClock::time_point now, double cost = 1);
  // Whether `cost` tokens are available, without taking them.
  bool can_take(const BucketRate& rate, LimiterClock::time_point now, double cost = 1);
  // Time until `cost` tokens are available (zero if they are), rounded up
  // to whole seconds for a Retry-After header (at least 1 when not zero).
  std::chrono::seconds retry_after(const BucketRate& rate, LimiterClock::time_point now, double cost = 1);
  // Back to a full bucket.
  void reset(const BucketRate& rate) { tokens_ = rate.burst; }
  // True once the bucket has refilled completely (it can be forgotten).
  bool full(const BucketRate& rate, LimiterClock::time_point now);
  double tokens() const { return tokens_; }
  LimiterClock::time_point last_used() const { return last_used_; }
  void touch(LimiterClock::time_point now) { last_used_ = now; }

 private:
  void refill(const BucketRate& rate, LimiterClock::time_point now);
  double tokens_ = 0;
  LimiterClock::time_point last_{};
  LimiterClock::time_point last_used_{};
};

// Parses a rate: "RATE/UNIT [burst N]" with UNIT s, min or h, RATE and N
// positive decimals (burst defaults to max(1, RATE per second)), or "off" /
// "0" for unlimited. kInvalidArgument names `key` on bad text.
Result<BucketRate> parse_rate(std::string_view key, std::string_view text);

constexpr std::size_t kRateClassCount = 5;  // RateClass::kNone .. kOps

// Every limit; built from ServerConfig (rate-limit keys) and reloadable.
struct RateLimits {
  std::array<BucketRate, kRateClassCount> per_user{};  // indexed by RateClass; kNone stays unlimited
  std::array<BucketRate, kRateClassCount> per_ip{};
  BucketRate ws_messages{};                 // per WebSocket connection
  std::size_t signin_failures_per_account = 5;  // failures allowed per window
  std::size_t signin_failures_per_ip = 20;
  std::chrono::seconds signin_window{300};   // failures are forgotten at max/window per second
  std::size_t max_buckets = 100000;          // bound on the table (all kinds together)

  static RateLimits from_config(const ServerConfig& config);
};

// The answer for one HTTP request.
struct RateDecision {
  bool allowed = true;
  std::chrono::seconds retry_after{0};  // when !allowed
  bool by_user = false;                 // which bucket refused (for the log)
};

class RateLimiter : public std::enable_shared_from_this<RateLimiter> {
 public:
  explicit RateLimiter(RateLimits limits, LimiterNow now = {});

  // Swaps in new limits (SIGHUP). Thread-safe.
  void reload(RateLimits limits);
  std::shared_ptr<const RateLimits> limits() const;

  // One request of class `cls` from `ip`, by `user_id` ("" = anonymous: only
  // the IP bucket applies). Takes a token from each applicable bucket; when
  // one is empty, nothing is taken from the other and the answer says when to
  // retry. kNone is never limited.
  RateDecision allow_request(RateClass cls, std::string_view user_id, std::string_view ip);

  // A per-connection message bucket for ConnectionInfo::allow_message: each
  // call takes one token; false -> the session closes with 4429. The callable
  // holds a weak reference to the limiter and reads the live rate.
  std::function<bool()> connection_bucket();

  // Sign-in throttling (auth/ calls these around a password check).
  // allow_signin: false when the account or the address has used up its
  // failures in the window; *retry_after (if not null) gets the wait.
  bool allow_signin(std::string_view account, std::string_view ip, std::chrono::seconds* retry_after);
  // A failed attempt costs one from the account's and the address's allowance.
  void record_signin_failure(std::string_view account, std::string_view ip);
  // A success clears the account's failures (the address keeps its count).
  void record_signin_success(std::string_view account, std::string_view ip);

  // Buckets currently held (for tests and /metrics).
  std::size_t bucket_count() const;
  // Drops every bucket that is full again. Called on its own every few
  // thousand operations; exposed for tests.
  void evict_idle();

 private:
  struct Entry {
    TokenBucket bucket;
    BucketRate rate;  // as last used, to tell when it is full again
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> buckets;
  };
  static constexpr std::size_t kShards = 16;

  LimiterClock::time_point now() const;
  Shard& shard_for(const std::string& key);
  // Looks up or creates the bucket for `key` (shard locked by the caller).
  TokenBucket& bucket(Shard& s, const std::string& key, const BucketRate& rate, LimiterClock::time_point t);
  // Takes one token from `key`'s bucket; on refusal *retry gets the wait.
  bool take(const std::string& key, const BucketRate& rate, LimiterClock::time_point t, std::chrono::seconds* retry);
  void give_back(const std::string& key, const BucketRate& rate);
  void maybe_evict();
  void evict_shard(Shard& s, LimiterClock::time_point t, std::size_t keep);

  LimiterNow now_;
  mutable std::mutex limits_mutex_;
  std::shared_ptr<const RateLimits> limits_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> ops_{0};
};

// kInvalidArgument naming the first rate key that parse_rate refuses.
Result<void> validate_rate_limits(const ServerConfig& config);

// The HTTP stage (after version and auth): 429 RATE_LIMITED with Retry-After.
std::shared_ptr<Stage> make_rate_limit_stage(ServerContext& ctx);
// The WebSocket gate: installs ConnectionInfo::allow_message. The upgrade
// itself is counted as one kRead request of the user (or address).
std::shared_ptr<WsGate> make_rate_limit_gate(ServerContext& ctx);

}  // namespace corates::server
