// Version negotiation, rate limits and legacy payload adapters (issue 4):
// the pure parts, with injected clocks. The end-to-end matrix against the
// real binary is tests/versions/run.sh.
#include "corates/server/config.hpp"
#include "http/payload_adapters.hpp"
#include "http/versioning.hpp"
#include "limits/rate_limiter.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace corates::server {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// ---- SemVer

TEST(SemVer, ParsesValidVersions) {
  auto v = SemVer::parse("1.22.333-alpha.1+build.5");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->major, 1u);
  EXPECT_EQ(v->minor, 22u);
  EXPECT_EQ(v->patch, 333u);
  EXPECT_EQ(v->prerelease, (std::vector<std::string>{"alpha", "1"}));
  EXPECT_EQ(v->build, "build.5");
  EXPECT_EQ(v->to_string(), "1.22.333-alpha.1+build.5");
  for (const char* ok : {"0.0.0", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85",
                         "1.0.0+21AF26D3----117B344092BD", "1.0.0-x-y-z.--", "9223372036854775807.0.0", "1.2.3+001"}) {
    EXPECT_TRUE(SemVer::parse(ok).has_value()) << ok;
  }
}

TEST(SemVer, RefusesBadInput) {
  for (const char* bad : {"", "1", "1.2", "1.2.3.4", "v1.2.3", "01.2.3", "1.02.3", "1.2.03", "1.2.3-", "1.2.3+",
                          "1.2.3-01", "1.2.3-a..b", "1.2.3-a.", "1.2.3+a..b", "1.2.3-é", "1.2.3 ", " 1.2.3", "-1.2.3",
                          "1.2.-3", "1.2.3-a+b+c", "9223372036854775808.0.0", "99999999999999999999.0.0", "1..3",
                          "a.b.c", "1.2.3\n", "1.2.3-a_b"}) {
    EXPECT_FALSE(SemVer::parse(bad).has_value()) << '"' << bad << '"';
  }
  EXPECT_FALSE(SemVer::parse(std::string(300, '1')).has_value());
  EXPECT_FALSE(SemVer::parse("1.2.3-" + std::string(260, 'a')).has_value());
  EXPECT_FALSE(SemVer::parse(std::string_view("1.2.3\0", 6)).has_value());
}

TEST(SemVer, OrdersBySpecPrecedence) {
  // SemVer 2.0.0 section 11, in ascending order.
  const std::vector<std::string> ordered{"1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
                                         "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",       "1.0.0",
                                         "1.0.1",        "1.1.0",         "1.10.0",           "2.0.0-0",
                                         "2.0.0",        "10.0.0"};
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    for (std::size_t j = 0; j < ordered.size(); ++j) {
      auto a = SemVer::parse(ordered[i]);
      auto b = SemVer::parse(ordered[j]);
      ASSERT_TRUE(a && b);
      EXPECT_EQ((*a <=> *b), (i <=> j)) << ordered[i] << " vs " << ordered[j];
    }
  }
  EXPECT_EQ(*SemVer::parse("1.0.0+a"), *SemVer::parse("1.0.0+b"));  // build metadata is ignored
  EXPECT_LT(*SemVer::parse("1.0.0-999"), *SemVer::parse("1.0.0-a"));  // numeric below alphanumeric
  EXPECT_LT(*SemVer::parse("1.0.0-99"), *SemVer::parse("1.0.0-100"));   // numerically, not lexically
}

// ---- version settings and verdicts

ServerConfig version_config(std::string min, std::string rec) {
  ServerConfig c;
  c.min_supported_client = std::move(min);
  c.recommended_client = std::move(rec);
  return c;
}

TEST(VersionSettings, JudgesClients) {
  auto s = VersionSettings::from_config(version_config("2.0.0", "2.3.0"));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(judge_client_version(*s, "1.9.9"), VersionVerdict::kTooOld);
  EXPECT_EQ(judge_client_version(*s, "2.0.0-rc.1"), VersionVerdict::kTooOld);
  EXPECT_EQ(judge_client_version(*s, "2.0.0"), VersionVerdict::kDeprecated);
  EXPECT_EQ(judge_client_version(*s, "2.3.0-beta"), VersionVerdict::kDeprecated);
  EXPECT_EQ(judge_client_version(*s, "2.3.0"), VersionVerdict::kCurrent);
  EXPECT_EQ(judge_client_version(*s, "3.0.0"), VersionVerdict::kCurrent);
  EXPECT_EQ(judge_client_version(*s, "latest"), VersionVerdict::kInvalid);
  EXPECT_EQ(judge_client_version(*s, ""), VersionVerdict::kCurrent);
  s->require_client_version = true;
  EXPECT_EQ(judge_client_version(*s, ""), VersionVerdict::kTooOld);

  auto refusal = version_refusal(*s, "1.0.0", false);
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->status, 426u);
  EXPECT_EQ(refusal->code, "CLIENT_UPGRADE_REQUIRED");
  EXPECT_EQ(refusal->extra.at("minSupportedClient"), "2.0.0");
  auto invalid = version_refusal(*s, "2.0", true);
  ASSERT_TRUE(invalid.has_value());
  EXPECT_EQ(invalid->status, 400u);
  EXPECT_EQ(invalid->code, "INVALID_CLIENT_VERSION");
  EXPECT_FALSE(version_refusal(*s, "2.1.0", false).has_value());
}

TEST(VersionSettings, RefusesBadConfig) {
  EXPECT_FALSE(VersionSettings::from_config(version_config("2.0", "2.0.0")).has_value());
  EXPECT_FALSE(VersionSettings::from_config(version_config("2.0.0", "1.0.0")).has_value());  // recommended < min
  ServerConfig c;
  c.api_version = "1";
  EXPECT_FALSE(VersionSettings::from_config(c).has_value());
  c = ServerConfig{};
  c.cache_version = "";
  EXPECT_FALSE(VersionSettings::from_config(c).has_value());
  c = ServerConfig{};
  c.features = "ok-flag, bad flag";
  EXPECT_FALSE(VersionSettings::from_config(c).has_value());
  c = ServerConfig{};
  c.ws_extensions = "ack,compress";
  EXPECT_FALSE(VersionSettings::from_config(c).has_value());
}

TEST(VersionSettings, MetadataBody) {
  ServerConfig c = version_config("1.2.0", "1.4.0");
  c.api_version = "3.1.0";
  c.cache_version = "7";
  c.features = "beta-search, beta-search";
  c.ws_extensions = "epoch";
  auto s = VersionSettings::from_config(c);
  ASSERT_TRUE(s.has_value());
  const json::object m = s->metadata_json();
  EXPECT_EQ(m.at("apiVersion"), "3.1.0");
  EXPECT_EQ(m.at("minSupportedClient"), "1.2.0");
  EXPECT_EQ(m.at("recommendedClient"), "1.4.0");
  EXPECT_EQ(m.at("cacheVersion"), "7");
  const auto& flags = m.at("features").at("flags").as_array();
  EXPECT_EQ(std::count(flags.begin(), flags.end(), json::value("beta-search")), 1);
  EXPECT_EQ(m.at("features").at("wsExtensions"), (json::array{"epoch"}));
}

TEST(VersionPolicy, ReloadSwapsTheSnapshot) {
  VersionPolicy p(*VersionSettings::from_config(version_config("1.0.0", "1.0.0")));
  auto before = p.current();
  p.reload(*VersionSettings::from_config(version_config("2.0.0", "2.0.0")));
  EXPECT_EQ(before->min_supported_client.to_string(), "1.0.0");  // readers keep their snapshot
  EXPECT_EQ(p.current()->min_supported_client.to_string(), "2.0.0");
}

// ---- token buckets

struct FakeClock {
  LimiterClock::time_point t{std::chrono::hours(1)};
  LimiterNow now() {
    return [this] { return t; };
  }
};

TEST(TokenBucket, RefillsAtTheRateUpToTheBurst) {
  const BucketRate rate{2.0, 4.0};  // 2 per second, 4 at most
  LimiterClock::time_point t{std::chrono::hours(1)};
  TokenBucket b(rate, t);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.try_take(rate, t)) << i;
  EXPECT_FALSE(b.try_take(rate, t));
  EXPECT_EQ(b.retry_after(rate, t), 1s);  // 0.5 s, rounded up
  t += 499ms;
  EXPECT_FALSE(b.try_take(rate, t));
  t += 2ms;
  EXPECT_TRUE(b.try_take(rate, t));
  EXPECT_FALSE(b.try_take(rate, t));
  t += 1h;  // long idle: still only `burst`
  EXPECT_TRUE(b.full(rate, t));
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(b.try_take(rate, t));
  EXPECT_FALSE(b.try_take(rate, t));
  // A slow rate: Retry-After in whole seconds.
  const BucketRate slow{1.0 / 60, 1.0};
  TokenBucket s(slow, t);
  EXPECT_TRUE(s.try_take(slow, t));
  EXPECT_EQ(s.retry_after(slow, t), 60s);
  t += 30s;
  EXPECT_EQ(s.retry_after(slow, t), 30s);
  // Time going backwards (clock adjustments) never adds tokens.
  t -= 20s;
  EXPECT_FALSE(s.try_take(slow, t));
}

TEST(RateLimits, ParsesRates) {
  auto r = parse_rate("k", "120/min burst 10");
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->per_second, 2.0);
  EXPECT_DOUBLE_EQ(r->burst, 10.0);
  r = parse_rate("k", "5/s");
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->burst, 5.0);
  r = parse_rate("k", "1/h");
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->burst, 1.0);
  EXPECT_TRUE(parse_rate("k", "off")->unlimited());
  for (const char* bad : {"", "10", "10/day", "-1/s", "x/s", "1/s burst", "1/s burst 0", "1/s burst x", "nan/s",
                          "inf/s", "1e12/s"}) {
    auto e = parse_rate("rate_ip_read", bad);
    ASSERT_FALSE(e.has_value()) << bad;
    EXPECT_NE(e.error().message.find("rate_ip_read"), std::string::npos);
  }
  ServerConfig c;
  c.rate_ws_messages = "fast";
  EXPECT_FALSE(validate_rate_limits(c).has_value());
  EXPECT_TRUE(validate_rate_limits(ServerConfig{}).has_value());
}

RateLimits small_limits() {
  RateLimits l;
  l.per_user[static_cast<std::size_t>(RateClass::kWrite)] = {1.0, 2.0};
  l.per_ip[static_cast<std::size_t>(RateClass::kWrite)] = {1.0, 3.0};
  l.per_ip[static_cast<std::size_t>(RateClass::kRead)] = {10.0, 10.0};
  l.ws_messages = {5.0, 5.0};
  l.signin_failures_per_account = 3;
  l.signin_failures_per_ip = 5;
  l.signin_window = 60s;
  return l;
}

TEST(RateLimiter, PerUserAndPerAddress) {
  FakeClock clock;
  auto rl = std::make_shared<RateLimiter>(small_limits(), clock.now());
  // alice has a burst of 2; the address allows 3.
  EXPECT_TRUE(rl->allow_request(RateClass::kWrite, "alice", "10.0.0.1").allowed);
  EXPECT_TRUE(rl->allow_request(RateClass::kWrite, "alice", "10.0.0.1").allowed);
  RateDecision d = rl->allow_request(RateClass::kWrite, "alice", "10.0.0.1");
  EXPECT_FALSE(d.allowed);
  EXPECT_TRUE(d.by_user);
  EXPECT_EQ(d.retry_after, 1s);
  // The refused request gave its address token back: bob still gets the third.
  EXPECT_TRUE(rl->allow_request(RateClass::kWrite, "bob", "10.0.0.1").allowed);
  d = rl->allow_request(RateClass::kWrite, "bob", "10.0.0.1");
  EXPECT_FALSE(d.allowed);
  EXPECT_FALSE(d.by_user);
  // Another address is independent; other classes too; kNone is never limited.
  EXPECT_TRUE(rl->allow_request(RateClass::kWrite, "carol", "10.0.0.2").allowed);
  EXPECT_TRUE(rl->allow_request(RateClass::kRead, "alice", "10.0.0.1").allowed);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(rl->allow_request(RateClass::kNone, "alice", "10.0.0.1").allowed);
  // Recovery after the wait.
  clock.t += 1s;
  EXPECT_TRUE(rl->allow_request(RateClass::kWrite, "alice", "10.0.0.1").allowed);
  // A reload applies to existing buckets.
  RateLimits off = small_limits();
  off.per_user[static_cast<std::size_t>(RateClass::kWrite)] = {};
  off.per_ip[static_cast<std::size_t>(RateClass::kWrite)] = {};
  rl->reload(off);
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(rl->allow_request(RateClass::kWrite, "alice", "10.0.0.1").allowed);
}

TEST(RateLimiter, ConnectionBuckets) {
  FakeClock clock;
  auto rl = std::make_shared<RateLimiter>(small_limits(), clock.now());
  auto a = rl->connection_bucket();
  auto b = rl->connection_bucket();
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(a()) << i;
  EXPECT_FALSE(a());
  EXPECT_TRUE(b());  // per connection
  clock.t += 200ms;
  EXPECT_TRUE(a());
  EXPECT_FALSE(a());
  std::weak_ptr<RateLimiter> weak = rl;
  rl.reset();
  EXPECT_TRUE(weak.expired());
  EXPECT_TRUE(a());  // the limiter is gone (shutdown): never refuse
}

TEST(RateLimiter, SigninThrottling) {
  FakeClock clock;
  auto rl = std::make_shared<RateLimiter>(small_limits(), clock.now());
  std::chrono::seconds retry{};
  EXPECT_TRUE(rl->allow_signin("alice", "10.0.0.1", &retry));
  for (int i = 0; i < 3; ++i) rl->record_signin_failure("alice", "10.0.0.1");
  EXPECT_FALSE(rl->allow_signin("alice", "10.0.0.9", &retry));  // the account, from anywhere
  EXPECT_EQ(retry, 20s);  // 3 per 60 s: one failure forgiven every 20 s
  EXPECT_TRUE(rl->allow_signin("bob", "10.0.0.1", &retry));  // the address has 2 left
  rl->record_signin_failure("bob", "10.0.0.1");
  rl->record_signin_failure("", "10.0.0.1");
  EXPECT_FALSE(rl->allow_signin("carol", "10.0.0.1", &retry));  // the address is used up
  EXPECT_GE(retry, 12s);
  clock.t += 20s;
  EXPECT_TRUE(rl->allow_signin("alice", "10.0.0.9", &retry));
  EXPECT_EQ(retry, 0s);
  // A success clears the account's failures.
  rl->record_signin_failure("alice", "10.0.0.9");
  EXPECT_FALSE(rl->allow_signin("alice", "10.0.0.9", &retry));
  rl->record_signin_success("alice", "10.0.0.9");
  EXPECT_TRUE(rl->allow_signin("alice", "10.0.0.9", nullptr));
}

TEST(RateLimiter, MemoryIsBounded) {
  FakeClock clock;
  RateLimits l = small_limits();
  l.max_buckets = 160;
  auto rl = std::make_shared<RateLimiter>(l, clock.now());
  for (int i = 0; i < 5000; ++i) {
    rl->allow_request(RateClass::kRead, "", "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
    ASSERT_LE(rl->bucket_count(), l.max_buckets + 16) << i;
  }
  // Idle buckets refill and go away.
  clock.t += 10s;
  rl->evict_idle();
  EXPECT_EQ(rl->bucket_count(), 0u);
  // A bucket that is not full yet survives an idle sweep.
  for (int i = 0; i < 10; ++i) rl->allow_request(RateClass::kRead, "", "10.9.9.9");
  rl->evict_idle();
  EXPECT_EQ(rl->bucket_count(), 1u);
  EXPECT_FALSE(rl->allow_request(RateClass::kRead, "", "10.9.9.9").allowed);
}

// ---- legacy payload adapters

std::chrono::sys_days day(int y, unsigned m, unsigned d) {
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}};
}

struct AdapterFixture : ::testing::Test {
  std::chrono::system_clock::time_point now = day(2026, 6, 1);
  PayloadAdapterRegistry reg{[this] { return now; }};

  void SetUp() override {
    ASSERT_TRUE(reg.set_canonical("rename", 3));
    // v1 {"name"} -> v2 {"title"}
    ASSERT_TRUE(reg.add({"rename", 1, 2, day(2026, 7, 1), [](json::value p) -> boost::system::result<json::value, PayloadShapeError> {
                           auto* o = p.if_object();
                           if (o == nullptr || !o->contains("name")) return PayloadShapeError{"expected {name}"};
                           return json::value(json::object{{"title", o->at("name")}});
                         }}));
    // v2 {"title"} -> v3 {"title", "lang"}
    ASSERT_TRUE(reg.add({"rename", 2, 3, day(2027, 1, 1), [](json::value p) -> boost::system::result<json::value, PayloadShapeError> {
                           auto* o = p.if_object();
                           if (o == nullptr || !o->contains("title")) return PayloadShapeError{"expected {title}"};
                           (*o)["lang"] = "en";
                           return p;
                         }}));
  }
};

TEST_F(AdapterFixture, ChainsToTheCanonicalVersion) {
  auto r = reg.adapt("rename", 1, json::object{{"name", "a"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, (json::object{{"title", "a"}, {"lang", "en"}}));
  r = reg.adapt("rename", 2, json::object{{"title", "b"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, (json::object{{"title", "b"}, {"lang", "en"}}));
  // Canonical and "not stated" pass through untouched (validation comes next).
  r = reg.adapt("rename", 3, json::object{{"anything", 1}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, (json::object{{"anything", 1}}));
  EXPECT_TRUE(reg.adapt("rename", 0, json::value(nullptr)).has_value());
  EXPECT_TRUE(reg.adapt("unregistered", 1, json::value(1)).has_value());

  const auto use = reg.usage();
  ASSERT_EQ(use.size(), 2u);
  EXPECT_EQ(use[0].payload_version, 1);
  EXPECT_EQ(use[0].adapted, 1u);
  EXPECT_EQ(use[1].payload_version, 2);
  EXPECT_EQ(use[1].adapted, 1u);
  const std::string text = reg.render_prometheus();
  EXPECT_NE(text.find("corates_payload_adapted_total{type=\"rename\",version=\"1\"} 1"), std::string::npos) << text;
}

TEST_F(AdapterFixture, RefusesUnknownAndRetiredVersions) {
  auto r = reg.adapt("rename", 4, json::object{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, kPayloadVersionUnsupported);
  r = reg.adapt("rename", -1, json::object{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, kPayloadVersionUnsupported);
  r = reg.adapt("unregistered", 2, json::object{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, kPayloadVersionUnsupported);
  // A payload that does not have the old shape.
  r = reg.adapt("rename", 1, json::object{{"title", "x"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, kPayloadAdapterFailed);

  // The sunset day itself refuses; v2 still works until its own sunset.
  now = day(2026, 7, 1);
  r = reg.adapt("rename", 1, json::object{{"name", "a"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, kPayloadVersionRetired);
  EXPECT_NE(r.error().message.find("2026-07-01"), std::string::npos) << r.error().message;
  EXPECT_TRUE(reg.adapt("rename", 2, json::object{{"title", "b"}}).has_value());
  // Once v2 is retired, v1 (older) is retired as well, even had its own sunset been later.
  now = day(2027, 1, 1);
  r = reg.adapt("rename", 2, json::object{{"title", "b"}});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, kPayloadVersionRetired);
  EXPECT_NE(reg.render_prometheus().find("corates_payload_retired_total{type=\"rename\",version=\"1\"} 1"),
            std::string::npos);
}

TEST_F(AdapterFixture, RegistrationRules) {
  auto noop = [](json::value p) -> boost::system::result<json::value, PayloadShapeError> { return p; };
  EXPECT_FALSE(reg.add({"rename", 1, 2, day(2030, 1, 1), noop}));  // a step from 1 exists
  EXPECT_FALSE(reg.add({"rename", 3, 4, day(2030, 1, 1), noop}));  // beyond canonical
  EXPECT_FALSE(reg.add({"rename", 2, 2, day(2030, 1, 1), noop}));
  EXPECT_FALSE(reg.add({"rename", 0, 1, day(2030, 1, 1), noop}));
  EXPECT_FALSE(reg.add({"other", 1, 2, day(2030, 1, 1), nullptr}));
  EXPECT_FALSE(reg.set_canonical("rename", 2));  // the 2 -> 3 step would dangle
  EXPECT_EQ(reg.canonical("rename"), 3);
  EXPECT_EQ(reg.canonical("never-declared"), 1);
}

}  // namespace
}  // namespace corates::server
