#pragma once
// Verification of JWTs from an external identity provider (issue 4).
//
// Keys come from the configuration: an HS256 shared secret, a PEM public key
// (RSA -> RS256, EC P-256 -> ES256, Ed25519 -> EdDSA) and/or a JWKS file
// (kty RSA / EC P-256 / OKP Ed25519, optional kid and alg). A token is
// accepted only when its header's alg names a key kind that is configured:
// HS256 is checked against the secret alone and never against a public key
// (no alg confusion), "none" and every other alg are refused.
//
// Signatures: libjwt (1.10) for HS256, RS256 and ES256; OpenSSL directly for
// EdDSA, which that libjwt lacks. JWKS keys are turned into PEM for libjwt.
// Claims, after the signature: exp (required), nbf, iss and aud (when
// configured; aud may be a string or an array) and sub (required), with
// kLeewaySeconds of clock skew.
//
// Thread-safe after create(); verify() does no I/O.

#include "corates/common/result.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corates::server {

struct JwtSettings {
  std::string hs256_secret;     // "" = HS256 off
  std::string public_key_file;  // PEM; "" = none
  std::string jwks_file;        // JSON Web Key Set; "" = none
  std::string issuer;           // "" = iss not checked
  std::string audience;         // "" = aud not checked
};

struct JwtClaims {
  std::string issuer;
  std::string subject;
  std::string preferred_name;  // preferred_username, else name, else ""
  std::int64_t expires_s = 0;
};

// Why a token was refused: `code` is the API error code (docs/auth.md).
struct JwtRefusal {
  std::string code;  // TOKEN_MALFORMED, TOKEN_ALG_NOT_ALLOWED, TOKEN_UNKNOWN_KEY,
                     // TOKEN_BAD_SIGNATURE, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID,
                     // TOKEN_INVALID_ISSUER, TOKEN_INVALID_AUDIENCE, TOKEN_MISSING_CLAIM
  std::string message;
};

class JwtVerifier {
 public:
  static constexpr std::int64_t kLeewaySeconds = 30;
  static constexpr std::size_t kMaxTokenBytes = 16 * 1024;

  // Reads the key files. kIo when unreadable, kInvalidValue when a key
  // cannot be used (the message names the file and why). A verifier with no
  // key at all is valid and refuses every token (enabled() is false).
  static Result<std::shared_ptr<JwtVerifier>> create(const JwtSettings& settings);
  // From key material in memory (tests): PEM text and JWKS JSON text.
  static Result<std::shared_ptr<JwtVerifier>> from_material(std::string hs256_secret, std::string_view public_key_pem,
                                                            std::string_view jwks_json, std::string issuer,
                                                            std::string audience);
  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  bool enabled() const;

  // Verifies `token` at time `now_s` (seconds since the epoch).
  // Returns the claims, or sets `why` and returns nullopt.
  std::optional<JwtClaims> verify(std::string_view token, std::int64_t now_s, JwtRefusal& why) const;

  struct Key;

 private:
  JwtVerifier() = default;
  std::string hs256_secret_;
  std::vector<std::unique_ptr<Key>> keys_;
  std::string issuer_;
  std::string audience_;
};

}  // namespace corates::server
