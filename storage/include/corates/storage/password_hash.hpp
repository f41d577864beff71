#pragma once
// Password hashes: Argon2id (libargon2) in the PHC encoded form
// "$argon2id$v=19$m=...,t=...,p=...$salt$hash", so parameters can be raised
// later without invalidating stored hashes. Each call costs about
// kArgonMemoryKiB of memory and tens of milliseconds: run it off the I/O
// threads. Used by the server's sign-in and `corates-sync token --password-stdin`.

#include "corates/common/result.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace corates::storage {

// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
inline constexpr std::uint32_t kArgonMemoryKiB = 19 * 1024;
inline constexpr std::uint32_t kArgonPasses = 2;
inline constexpr std::uint32_t kArgonLanes = 1;
inline constexpr std::size_t kMaxPasswordBytes = 1024;

// kInvalidArgument for an empty or over-long password, kInternal when
// libargon2 or the random generator fails.
Result<std::string> hash_password(std::string_view password);

// True when `password` matches `encoded`; false for a mismatch, an empty
// `encoded` (an account without a password) or a malformed hash.
bool verify_password(std::string_view encoded, std::string_view password);

}  // namespace corates::storage
