#include "limits/rate_limiter.hpp"

#include "metrics/metrics.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <vector>

namespace corates::server {
namespace {

using Seconds = std::chrono::duration<double>;

// Retry-After is whole seconds; never 0 for a refusal (clients would spin).
std::chrono::seconds ceil_seconds(double s) {
  if (!(s > 0)) return std::chrono::seconds(1);
  const double c = std::ceil(s);
  if (c > 86400.0 * 365) return std::chrono::seconds(86400 * 365);
  return std::chrono::seconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(c)));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<double> parse_positive(std::string_view s) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v) || v <= 0 || v > 1e9) {
    return std::nullopt;
  }
  return v;
}

std::size_t class_index(RateClass c) { return static_cast<std::size_t>(c); }

std::string_view class_name(RateClass c) {
  switch (c) {
    case RateClass::kNone: return "none";
    case RateClass::kRead: return "read";
    case RateClass::kWrite: return "write";
    case RateClass::kAuth: return "auth";
    case RateClass::kOps: return "ops";
  }
  return "unknown";
}

}  // namespace

// ---- TokenBucket

void TokenBucket::refill(const BucketRate& rate, LimiterClock::time_point now) {
  if (now > last_) {
    tokens_ = std::min(rate.burst, tokens_ + Seconds(now - last_).count() * rate.per_second);
    last_ = now;
  }
  // A lowered burst (reload) caps what is held.
  tokens_ = std::min(tokens_, rate.burst);
}

bool TokenBucket::try_take(const BucketRate& rate, LimiterClock::time_point now, double cost) {
  if (rate.unlimited()) return true;
  refill(rate, now);
  if (tokens_ + 1e-9 < cost) return false;
  tokens_ = std::clamp(tokens_ - cost, 0.0, rate.burst);
  return true;
}

bool TokenBucket::can_take(const BucketRate& rate, LimiterClock::time_point now, double cost) {
  if (rate.unlimited()) return true;
  refill(rate, now);
  return tokens_ + 1e-9 >= cost;
}

std::chrono::seconds TokenBucket::retry_after(const BucketRate& rate, LimiterClock::time_point now, double cost) {
  if (rate.unlimited()) return std::chrono::seconds(0);
  refill(rate, now);
  if (tokens_ + 1e-9 >= cost) return std::chrono::seconds(0);
  return ceil_seconds((cost - tokens_) / rate.per_second);
}

bool TokenBucket::full(const BucketRate& rate, LimiterClock::time_point now) {
  if (rate.unlimited()) return true;
  refill(rate, now);
  return tokens_ + 1e-9 >= rate.burst;
}

// ---- configuration

Result<BucketRate> parse_rate(std::string_view key, std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(ErrorCode::kInvalidArgument, std::string(key) + ": " + std::string(why) + ", got '" +
                                                 std::string(text) + "' (expected RATE/s|min|h [burst N] or off)");
  };
  std::string_view t = trim(text);
  if (t == "off" || t == "0") return BucketRate{};
  std::string_view burst_part;
  const bool has_burst = t.find("burst") != std::string_view::npos;
  if (const std::size_t b = t.find("burst"); has_burst) {
    burst_part = trim(t.substr(b + 5));
    t = trim(t.substr(0, b));
    if (!t.empty() && t.back() == ',') t = trim(t.substr(0, t.size() - 1));
    if (!burst_part.empty() && burst_part.front() == '=') burst_part = trim(burst_part.substr(1));
  }
  const std::size_t slash = t.find('/');
  if (slash == std::string_view::npos) return bad("missing /UNIT");
  auto amount = parse_positive(trim(t.substr(0, slash)));
  if (!amount) return bad("rate must be a positive number");
  const std::string_view unit = trim(t.substr(slash + 1));
  double per = 0;
  if (unit == "s" || unit == "sec" || unit == "second") per = 1;
  else if (unit == "min" || unit == "m" || unit == "minute") per = 60;
  else if (unit == "h" || unit == "hour") per = 3600;
  else return bad("unit must be s, min or h");
  BucketRate r;
  r.per_second = *amount / per;
  r.burst = std::max(1.0, std::floor(r.per_second));
  if (has_burst) {
    auto burst = parse_positive(burst_part);
    if (!burst || *burst < 1) return bad("burst must be a number >= 1");
    r.burst = *burst;
  }
  return r;
}

RateLimits RateLimits::from_config(const ServerConfig& c) {
  // Callers validate first with parse_rate (apply_config_reload, Server::create);
  // here a bad value falls back to unlimited rather than failing.
  auto rate = [](std::string_view key, const std::string& v) {
    auto r = parse_rate(key, v);
    return r ? *r : BucketRate{};
  };
  RateLimits l;
  l.per_user[class_index(RateClass::kRead)] = rate("rate_user_read", c.rate_user_read);
  l.per_user[class_index(RateClass::kWrite)] = rate("rate_user_write", c.rate_user_write);
  l.per_user[class_index(RateClass::kAuth)] = rate("rate_user_auth", c.rate_user_auth);
  l.per_user[class_index(RateClass::kOps)] = rate("rate_user_ops", c.rate_user_ops);
  l.per_ip[class_index(RateClass::kRead)] = rate("rate_ip_read", c.rate_ip_read);
  l.per_ip[class_index(RateClass::kWrite)] = rate("rate_ip_write", c.rate_ip_write);
  l.per_ip[class_index(RateClass::kAuth)] = rate("rate_ip_auth", c.rate_ip_auth);
  l.per_ip[class_index(RateClass::kOps)] = rate("rate_ip_ops", c.rate_ip_ops);
  l.ws_messages = rate("rate_ws_messages", c.rate_ws_messages);
  l.signin_failures_per_account = c.signin_failures_per_account;
  l.signin_failures_per_ip = c.signin_failures_per_ip;
  l.signin_window = std::chrono::seconds(static_cast<std::int64_t>(c.signin_failure_window_s));
  l.max_buckets = c.rate_limit_max_buckets;
  return l;
}

Result<void> validate_rate_limits(const ServerConfig& c) {
  const std::pair<std::string_view, const std::string*> keys[] = {
      {"rate_user_read", &c.rate_user_read}, {"rate_user_write", &c.rate_user_write},
      {"rate_user_auth", &c.rate_user_auth}, {"rate_user_ops", &c.rate_user_ops},
      {"rate_ip_read", &c.rate_ip_read},     {"rate_ip_write", &c.rate_ip_write},
      {"rate_ip_auth", &c.rate_ip_auth},     {"rate_ip_ops", &c.rate_ip_ops},
      {"rate_ws_messages", &c.rate_ws_messages},
  };
  for (const auto& [key, value] : keys) {
    if (auto r = parse_rate(key, *value); !r) return r.error();
  }
  return {};
}

// ---- RateLimiter

RateLimiter::RateLimiter(RateLimits limits, LimiterNow now)
    : now_(std::move(now)), limits_(std::make_shared<const RateLimits>(std::move(limits))) {}

void RateLimiter::reload(RateLimits limits) {
  auto next = std::make_shared<const RateLimits>(std::move(limits));
  std::lock_guard lock(limits_mutex_);
  limits_ = std::move(next);
}

std::shared_ptr<const RateLimits> RateLimiter::limits() const {
  std::lock_guard lock(limits_mutex_);
  return limits_;
}

LimiterClock::time_point RateLimiter::now() const { return now_ ? now_() : LimiterClock::now(); }

RateLimiter::Shard& RateLimiter::shard_for(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

TokenBucket& RateLimiter::bucket(Shard& s, const std::string& key, const BucketRate& rate,
                                 LimiterClock::time_point t) {
  auto it = s.buckets.find(key);
  if (it == s.buckets.end()) {
    it = s.buckets.emplace(key, Entry{TokenBucket(rate, t), rate}).first;
    size_.fetch_add(1, std::memory_order_relaxed);
  }
  it->second.rate = rate;
  it->second.bucket.touch(t);
  return it->second.bucket;
}

bool RateLimiter::take(const std::string& key, const BucketRate& rate, LimiterClock::time_point t,
                       std::chrono::seconds* retry) {
  if (rate.unlimited()) return true;
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mutex);
  TokenBucket& b = bucket(s, key, rate, t);
  if (b.try_take(rate, t)) return true;
  if (retry != nullptr) *retry = std::max(*retry, b.retry_after(rate, t));
  return false;
}

void RateLimiter::give_back(const std::string& key, const BucketRate& rate) {
  if (rate.unlimited()) return;
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mutex);
  auto it = s.buckets.find(key);
  if (it == s.buckets.end()) return;
  // A refund is a negative cost: try_take(-1) always succeeds and caps at burst.
  it->second.bucket.try_take(rate, now(), -1);
}

RateDecision RateLimiter::allow_request(RateClass cls, std::string_view user_id, std::string_view ip) {
  RateDecision d;
  if (cls == RateClass::kNone) return d;
  maybe_evict();
  const auto l = limits();
  const std::size_t i = class_index(cls);
  const auto t = now();
  const std::string tag(class_name(cls));
  const std::string ip_key = "i:" + tag + ":" + std::string(ip);
  if (!take(ip_key, l->per_ip[i], t, &d.retry_after)) {
    d.allowed = false;
    return d;
  }
  if (!user_id.empty()) {
    const std::string user_key = "u:" + tag + ":" + std::string(user_id);
    if (!take(user_key, l->per_user[i], t, &d.retry_after)) {
      give_back(ip_key, l->per_ip[i]);
      d.allowed = false;
      d.by_user = true;
    }
  }
  return d;
}

std::function<bool()> RateLimiter::connection_bucket() {
  const auto l = limits();
  // Only the connection's strand calls it: the bucket needs no lock.
  auto state = std::make_shared<TokenBucket>(l->ws_messages, now());
  return [weak = weak_from_this(), state] {
    auto self = weak.lock();
    if (!self) return true;
    const auto live = self->limits();
    return state->try_take(live->ws_messages, self->now());
  };
}

namespace {
BucketRate signin_rate(std::size_t failures, std::chrono::seconds window) {
  BucketRate r;
  r.burst = static_cast<double>(std::max<std::size_t>(1, failures));
  r.per_second = r.burst / static_cast<double>(std::max<std::int64_t>(1, window.count()));
  return r;
}
}  // namespace

bool RateLimiter::allow_signin(std::string_view account, std::string_view ip, std::chrono::seconds* retry_after) {
  const auto l = limits();
  const auto t = now();
  std::chrono::seconds wait{0};
  bool ok = true;
  auto check = [&](const std::string& key, const BucketRate& rate) {
    Shard& s = shard_for(key);
    std::lock_guard lock(s.mutex);
    auto it = s.buckets.find(key);
    if (it == s.buckets.end()) return;  // no failures recorded
    it->second.rate = rate;
    if (!it->second.bucket.can_take(rate, t)) {
      ok = false;
      wait = std::max(wait, it->second.bucket.retry_after(rate, t));
    }
  };
  if (!account.empty()) check("sa:" + std::string(account), signin_rate(l->signin_failures_per_account, l->signin_window));
  if (!ip.empty()) check("si:" + std::string(ip), signin_rate(l->signin_failures_per_ip, l->signin_window));
  if (retry_after != nullptr) *retry_after = ok ? std::chrono::seconds(0) : wait;
  return ok;
}

void RateLimiter::record_signin_failure(std::string_view account, std::string_view ip) {
  maybe_evict();
  const auto l = limits();
  const auto t = now();
  // An empty bucket simply stays empty: the failure is still "recorded" by
  // refusing until it refills.
  if (!account.empty()) {
    take("sa:" + std::string(account), signin_rate(l->signin_failures_per_account, l->signin_window), t, nullptr);
  }
  if (!ip.empty()) take("si:" + std::string(ip), signin_rate(l->signin_failures_per_ip, l->signin_window), t, nullptr);
}

void RateLimiter::record_signin_success(std::string_view account, std::string_view /*ip*/) {
  if (account.empty()) return;
  const std::string key = "sa:" + std::string(account);
  Shard& s = shard_for(key);
  std::lock_guard lock(s.mutex);
  if (s.buckets.erase(key) > 0) size_.fetch_sub(1, std::memory_order_relaxed);
}

std::size_t RateLimiter::bucket_count() const { return size_.load(std::memory_order_relaxed); }

void RateLimiter::evict_shard(Shard& s, LimiterClock::time_point t, std::size_t keep) {
  std::size_t removed = 0;
  for (auto it = s.buckets.begin(); it != s.buckets.end();) {
    if (it->second.bucket.full(it->second.rate, t)) {
      it = s.buckets.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  if (s.buckets.size() > keep) {
    // Still over the bound: drop the least recently used. Forgetting a
    // bucket can only let a client through sooner, never refuse it.
    std::vector<LimiterClock::time_point> used;
    used.reserve(s.buckets.size());
    for (const auto& [k, e] : s.buckets) used.push_back(e.bucket.last_used());
    const std::size_t drop = s.buckets.size() - keep;
    std::nth_element(used.begin(), used.begin() + static_cast<std::ptrdiff_t>(drop - 1), used.end());
    const auto cutoff = used[drop - 1];
    for (auto it = s.buckets.begin(); it != s.buckets.end() && s.buckets.size() > keep;) {
      if (it->second.bucket.last_used() <= cutoff) {
        it = s.buckets.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
  }
  size_.fetch_sub(removed, std::memory_order_relaxed);
}

void RateLimiter::evict_idle() {
  const auto t = now();
  // Down to three quarters, so a table at its bound is not swept on every request.
  const std::size_t keep = std::max<std::size_t>(1, limits()->max_buckets * 3 / 4 / kShards);
  for (Shard& s : shards_) {
    std::lock_guard lock(s.mutex);
    evict_shard(s, t, keep);
  }
}

void RateLimiter::maybe_evict() {
  const std::uint64_t n = ops_.fetch_add(1, std::memory_order_relaxed);
  if ((n & 4095) == 4095 || size_.load(std::memory_order_relaxed) >= limits()->max_buckets) evict_idle();
}

// ---- HTTP stage and WebSocket gate

namespace {

class RateLimitStage final : public Stage {
 public:
  explicit RateLimitStage(ServerContext& ctx) : ctx_(ctx) {}
  std::string_view name() const override { return "rate_limit"; }

  bool before(RequestContext& rctx) override {
    if (!ctx_.limiter || rctx.route == nullptr || rctx.route->rate == RateClass::kNone) return true;
    const std::string_view user = rctx.principal.authenticated ? std::string_view(rctx.principal.user_id) : "";
    const RateDecision d = ctx_.limiter->allow_request(rctx.route->rate, user, rctx.client_ip);
    if (d.allowed) return true;
    ctx_.metrics.rate_limited(static_cast<std::size_t>(rctx.route->rate));
    spdlog::info("rate limited: {} {} ({} bucket) retry after {}s request_id={}", class_name(rctx.route->rate),
                 rctx.path, d.by_user ? "user" : "address", d.retry_after.count(), rctx.request_id);
    rctx.extra_headers.emplace_back("Retry-After", std::to_string(d.retry_after.count()));
    rctx.error(429, "RATE_LIMITED",
               "too many requests; retry after " + std::to_string(d.retry_after.count()) + " s",
               boost::json::array{boost::json::object{{"retryAfter", d.retry_after.count()},
                                                      {"bucket", d.by_user ? "user" : "address"}}});
    return false;
  }

  void decorate(const RequestContext& rctx, HttpResponse& res) override {
    for (const auto& [k, v] : rctx.extra_headers) {
      if (k == "Retry-After") res.set(k, v);
    }
  }

 private:
  ServerContext& ctx_;
};

class RateLimitGate final : public WsGate {
 public:
  explicit RateLimitGate(ServerContext& ctx) : ctx_(ctx) {}
  std::string_view name() const override { return "rate_limit"; }

  std::optional<Refusal> admit(const HttpRequest& /*req*/, ConnectionInfo& info) override {
    if (!ctx_.limiter) return std::nullopt;
    const std::string_view user = info.principal.authenticated ? std::string_view(info.principal.user_id) : "";
    const RateDecision d = ctx_.limiter->allow_request(RateClass::kRead, user, info.client_ip);
    if (!d.allowed) {
      ctx_.metrics.rate_limited(static_cast<std::size_t>(RateClass::kRead));
      Refusal r;
      r.status = 429;
      r.code = "RATE_LIMITED";
      r.message = "too many connection attempts; retry after " + std::to_string(d.retry_after.count()) + " s";
      r.extra["retryAfter"] = d.retry_after.count();
      r.headers.emplace_back("Retry-After", std::to_string(d.retry_after.count()));
      return r;
    }
    auto bucket = ctx_.limiter->connection_bucket();
    info.allow_message = [bucket = std::move(bucket), &metrics = ctx_.metrics] {
      if (bucket()) return true;
      metrics.ws_rate_limited.fetch_add(1, std::memory_order_relaxed);
      return false;
    };
    return std::nullopt;
  }

 private:
  ServerContext& ctx_;
};

}  // namespace

std::shared_ptr<Stage> make_rate_limit_stage(ServerContext& ctx) { return std::make_shared<RateLimitStage>(ctx); }
std::shared_ptr<WsGate> make_rate_limit_gate(ServerContext& ctx) { return std::make_shared<RateLimitGate>(ctx); }

}  // namespace corates::server
