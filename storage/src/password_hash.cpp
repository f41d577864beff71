#include "corates/storage/password_hash.hpp"

#include <argon2.h>
#include <openssl/rand.h>

#include <array>
#include <vector>

namespace corates::storage {

Result<std::string> hash_password(std::string_view password) {
  if (password.empty() || password.size() > kMaxPasswordBytes) {
    return fail(ErrorCode::kInvalidArgument, "password must be 1 to 1024 bytes");
  }
  std::array<unsigned char, 16> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) return fail(ErrorCode::kInternal, "random generator failed");
  constexpr std::size_t kHashLen = 32;
  const std::size_t len = argon2_encodedlen(kArgonPasses, kArgonMemoryKiB, kArgonLanes, salt.size(), kHashLen, Argon2_id);
  std::vector<char> encoded(len);
  const int rc = argon2id_hash_encoded(kArgonPasses, kArgonMemoryKiB, kArgonLanes, password.data(), password.size(),
                                       salt.data(), salt.size(), kHashLen, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) return fail(ErrorCode::kInternal, std::string("argon2: ") + argon2_error_message(rc));
  return std::string(encoded.data());
}

bool verify_password(std::string_view encoded, std::string_view password) {
  if (encoded.empty() || password.size() > kMaxPasswordBytes) return false;
  // Only Argon2id hashes are ours; anything else never matches.
  if (encoded.substr(0, 10) != "$argon2id$") return false;
  const std::string enc(encoded);
  return argon2id_verify(enc.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace corates::storage
