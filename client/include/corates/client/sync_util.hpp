#pragma once
// Small pieces of the op queue's protocol, public so applications and tests
// can use them: UUIDs, the hybrid logical clock (docs/ops.md), SemVer
// precedence (docs/versioning.md), exponential backoff with jitter, base64url.
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>

namespace corates::client {

// A random (version 4) UUID, lower case.
std::string new_uuid();

// `YYYY-MM-DDTHH:MM:SS.mmmZ-CCCC`: UTC wall clock in ms and a 4-hex counter.
struct HlcTimestamp {
  std::int64_t wall_ms = 0;
  std::uint32_t counter = 0;  // 0..0xffff

  std::string to_string() const;
  static std::optional<HlcTimestamp> parse(std::string_view text);
  friend auto operator<=>(const HlcTimestamp&, const HlcTimestamp&) = default;
};

// For a new local event: wall = max(wall, now); the counter resets when the
// wall moved, else increments (overflow carries into the wall).
HlcTimestamp hlc_tick(HlcTimestamp last, std::int64_t now_ms);
// On learning a remote timestamp: the maximum of both, counter + 1.
HlcTimestamp hlc_observe(HlcTimestamp last, HlcTimestamp remote);

// SemVer 2.0.0 precedence: <0, 0, >0; nullopt if either is not SemVer.
std::optional<int> compare_semver(std::string_view a, std::string_view b);

// Exponential backoff with "equal jitter": attempt n waits a uniformly random
// time in [d/2, d] with d = min(max, base * 2^n). Never zero, never above max.
struct Backoff {
  std::chrono::milliseconds base{250};
  std::chrono::milliseconds max{30'000};

  std::chrono::milliseconds delay(unsigned attempt, std::mt19937_64& rng) const;
  // The bounds of delay(attempt) (for tests and logs).
  std::chrono::milliseconds ceiling(unsigned attempt) const;
};

// base64url without padding (Yjs state vectors in OpsPushRequest.stateVector).
std::string base64url_encode(std::span<const std::uint8_t> bytes);

std::int64_t unix_ms_now();

}  // namespace corates::client
