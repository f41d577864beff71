#include "auth/jwt.hpp"

#include <boost/json.hpp>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <fstream>
#include <sstream>

namespace corates::server {
namespace json = boost::json;

struct JwtVerifier::Key {
  std::string alg;  // RS256, ES256, EdDSA
  std::string kid;  // "" for the PEM key
  std::string pem;  // SubjectPublicKeyInfo, what libjwt takes
  EVP_PKEY* pkey = nullptr;
  ~Key() { EVP_PKEY_free(pkey); }
};

namespace {

std::optional<std::string> b64url_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;  // JWS uses unpadded base64url only
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;
  return out;
}

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::optional<std::int64_t> as_seconds(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64() && v.as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v.as_uint64());
  if (v.is_double() && v.as_double() > -9.2e18 && v.as_double() < 9.2e18) return static_cast<std::int64_t>(v.as_double());
  return std::nullopt;
}

std::string str_field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().as_string());
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(ErrorCode::kIo, path + ": cannot open for reading");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The JWS alg a public key is used with, or "" when unsupported.
std::string alg_of(EVP_PKEY* pkey) {
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
      return EVP_PKEY_get_bits(pkey) >= 2048 ? "RS256" : "";
    case EVP_PKEY_EC: {
      char group[64] = {};
      size_t len = 0;
      if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) return "";
      return std::string_view(group) == "prime256v1" ? "ES256" : "";
    }
    case EVP_PKEY_ED25519:
      return "EdDSA";
    default:
      return "";
  }
}

Result<std::string> to_pem(EVP_PKEY* pkey) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return fail(ErrorCode::kInternal, "out of memory");
  std::string out;
  if (PEM_write_bio_PUBKEY(bio, pkey) == 1) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  if (out.empty()) return fail(ErrorCode::kInternal, "cannot write public key as PEM");
  return out;
}

EVP_PKEY* pkey_from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* pkey = nullptr;
  if (params != nullptr && ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

// One JWK as a public key; nullptr (with `why`) when unusable.
EVP_PKEY* pkey_from_jwk(const json::object& jwk, std::string& why) {
  const std::string kty = str_field(jwk, "kty");
  if (kty == "RSA") {
    auto n = b64url_decode(str_field(jwk, "n"));
    auto e = b64url_decode(str_field(jwk, "e"));
    if (!n || !e || n->empty() || e->empty()) return why = "RSA key without n or e", nullptr;
    BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr);
    BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr);
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    EVP_PKEY* pkey = nullptr;
    if (bn_n != nullptr && bn_e != nullptr && bld != nullptr &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
      pkey = pkey_from_params("RSA", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    if (pkey == nullptr) why = "RSA key rejected by OpenSSL";
    return pkey;
  }
  if (kty == "EC") {
    if (str_field(jwk, "crv") != "P-256") return why = "only EC curve P-256 is supported", nullptr;
    auto x = b64url_decode(str_field(jwk, "x"));
    auto y = b64url_decode(str_field(jwk, "y"));
    if (!x || !y || x->size() != 32 || y->size() != 32) return why = "EC key needs 32-byte x and y", nullptr;
    std::string point = "\x04" + *x + *y;
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    EVP_PKEY* pkey = nullptr;
    if (bld != nullptr &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1) {
      pkey = pkey_from_params("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    if (pkey == nullptr) why = "EC key rejected by OpenSSL (not on the curve?)";
    return pkey;
  }
  if (kty == "OKP") {
    if (str_field(jwk, "crv") != "Ed25519") return why = "only OKP curve Ed25519 is supported", nullptr;
    auto x = b64url_decode(str_field(jwk, "x"));
    if (!x || x->size() != 32) return why = "Ed25519 key needs a 32-byte x", nullptr;
    EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                                 reinterpret_cast<const unsigned char*>(x->data()), x->size());
    if (pkey == nullptr) why = "Ed25519 key rejected by OpenSSL";
    return pkey;
  }
  why = "unsupported kty '" + kty + "'";
  return nullptr;
}

bool verify_eddsa(EVP_PKEY* pkey, std::string_view signing_input, const std::string& sig) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  bool ok = md != nullptr && EVP_DigestVerifyInit(md, nullptr, nullptr, nullptr, pkey) == 1 &&
            EVP_DigestVerify(md, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  EVP_MD_CTX_free(md);
  return ok;
}

bool verify_libjwt(const std::string& token, const std::string& key) {
  jwt_t* jwt = nullptr;
  const int rc = jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(key.data()),
                            static_cast<int>(key.size()));
  const bool ok = rc == 0 && jwt != nullptr && jwt_get_alg(jwt) != JWT_ALG_NONE;
  jwt_free(jwt);
  return ok;
}

}  // namespace

JwtVerifier::~JwtVerifier() = default;

bool JwtVerifier::enabled() const { return !hs256_secret_.empty() || !keys_.empty(); }

Result<std::shared_ptr<JwtVerifier>> JwtVerifier::create(const JwtSettings& s) {
  std::string pem, jwks;
  if (!s.public_key_file.empty()) {
    auto r = read_file(s.public_key_file);
    if (!r) return r.error();
    pem = std::move(*r);
  }
  if (!s.jwks_file.empty()) {
    auto r = read_file(s.jwks_file);
    if (!r) return r.error();
    jwks = std::move(*r);
  }
  auto v = from_material(s.hs256_secret, pem, jwks, s.issuer, s.audience);
  if (!v) {
    const std::string where = !s.jwks_file.empty() && v.error().message.rfind("jwks", 0) == 0 ? s.jwks_file
                                                                                              : s.public_key_file;
    return fail(v.error().code, where + ": " + v.error().message);
  }
  return v;
}

Result<std::shared_ptr<JwtVerifier>> JwtVerifier::from_material(std::string hs256_secret,
                                                                 std::string_view public_key_pem,
                                                                 std::string_view jwks_json, std::string issuer,
                                                                 std::string audience) {
  std::shared_ptr<JwtVerifier> v(new JwtVerifier());
  v->hs256_secret_ = std::move(hs256_secret);
  v->issuer_ = std::move(issuer);
  v->audience_ = std::move(audience);
  if (!public_key_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size()));
    EVP_PKEY* pkey = bio != nullptr ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr;
    BIO_free(bio);
    if (pkey == nullptr) return fail(ErrorCode::kInvalidValue, "not a PEM public key (BEGIN PUBLIC KEY)");
    auto key = std::make_unique<Key>();
    key->pkey = pkey;
    key->alg = alg_of(pkey);
    if (key->alg.empty()) {
      return fail(ErrorCode::kInvalidValue, "unsupported key type (RSA >= 2048 bits, EC P-256 or Ed25519)");
    }
    auto p = to_pem(pkey);
    if (!p) return p.error();
    key->pem = std::move(*p);
    v->keys_.push_back(std::move(key));
  }
  if (!jwks_json.empty()) {
    auto set = parse_object(jwks_json);
    if (!set || !set->contains("keys") || !set->at("keys").is_array()) {
      return fail(ErrorCode::kInvalidValue, "jwks: expected {\"keys\": [...]}");
    }
    for (const json::value& k : set->at("keys").as_array()) {
      if (!k.is_object()) return fail(ErrorCode::kInvalidValue, "jwks: every key must be an object");
      const json::object& jwk = k.as_object();
      const std::string use = str_field(jwk, "use");
      if (!use.empty() && use != "sig") continue;  // encryption keys are not ours
      std::string why;
      EVP_PKEY* pkey = pkey_from_jwk(jwk, why);
      if (pkey == nullptr) return fail(ErrorCode::kInvalidValue, "jwks: key '" + str_field(jwk, "kid") + "': " + why);
      auto key = std::make_unique<Key>();
      key->pkey = pkey;
      key->kid = str_field(jwk, "kid");
      key->alg = alg_of(pkey);
      const std::string stated = str_field(jwk, "alg");
      if (key->alg.empty() || (!stated.empty() && stated != key->alg)) {
        return fail(ErrorCode::kInvalidValue, "jwks: key '" + key->kid + "': alg '" + stated +
                                                  "' does not fit its key type (supported: RS256, ES256, EdDSA)");
      }
      auto p = to_pem(pkey);
      if (!p) return p.error();
      key->pem = std::move(*p);
      v->keys_.push_back(std::move(key));
    }
  }
  return v;
}

std::optional<JwtClaims> JwtVerifier::verify(std::string_view token, std::int64_t now_s, JwtRefusal& why) const {
  auto refuse = [&why](std::string code, std::string message) -> std::optional<JwtClaims> {
    why = {std::move(code), std::move(message)};
    return std::nullopt;
  };
  if (token.size() > kMaxTokenBytes) return refuse("TOKEN_MALFORMED", "token is too long");
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return refuse("TOKEN_MALFORMED", "a JWT has three dot-separated parts");
  }
  auto header_text = b64url_decode(token.substr(0, dot1));
  auto payload_text = b64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = b64url_decode(token.substr(dot2 + 1));
  if (!header_text || !payload_text || !sig) return refuse("TOKEN_MALFORMED", "a part is not base64url");
  auto header = parse_object(*header_text);
  auto payload = parse_object(*payload_text);
  if (!header || !payload) return refuse("TOKEN_MALFORMED", "header and payload must be JSON objects");
  if (header->contains("crit")) return refuse("TOKEN_MALFORMED", "critical header extensions are not supported");
  const std::string alg = str_field(*header, "alg");

  // The alg picks the key kind; a token never chooses how a key is used.
  const std::string signing_input(token.substr(0, dot2));
  const std::string whole(token);
  if (alg == "HS256") {
    if (hs256_secret_.empty()) return refuse("TOKEN_ALG_NOT_ALLOWED", "HS256 tokens are not accepted here");
    if (!verify_libjwt(whole, hs256_secret_)) return refuse("TOKEN_BAD_SIGNATURE", "signature does not verify");
  } else if (alg == "RS256" || alg == "ES256" || alg == "EdDSA") {
    const std::string kid = str_field(*header, "kid");
    std::vector<const Key*> candidates;
    bool any_alg = false;
    for (const auto& k : keys_) {
      if (k->alg != alg) continue;
      any_alg = true;
      if (kid.empty() || k->kid.empty() || k->kid == kid) candidates.push_back(k.get());
    }
    if (!any_alg) return refuse("TOKEN_ALG_NOT_ALLOWED", alg + " tokens are not accepted here");
    if (candidates.empty()) return refuse("TOKEN_UNKNOWN_KEY", "no configured key has kid '" + kid + "'");
    bool ok = false;
    for (const Key* k : candidates) {
      ok = alg == "EdDSA" ? verify_eddsa(k->pkey, signing_input, *sig) : verify_libjwt(whole, k->pem);
      if (ok) break;
    }
    if (!ok) return refuse("TOKEN_BAD_SIGNATURE", "signature does not verify");
  } else {
    return refuse("TOKEN_ALG_NOT_ALLOWED", "alg '" + alg + "' is not accepted (HS256, RS256, ES256, EdDSA)");
  }

  // Claims count only once the signature holds.
  JwtClaims claims;
  auto exp_it = payload->find("exp");
  std::optional<std::int64_t> exp = exp_it == payload->end() ? std::nullopt : as_seconds(exp_it->value());
  if (!exp) return refuse("TOKEN_MISSING_CLAIM", "exp (a number) is required");
  if (now_s >= *exp + kLeewaySeconds) return refuse("TOKEN_EXPIRED", "the token has expired");
  if (auto nbf_it = payload->find("nbf"); nbf_it != payload->end()) {
    auto nbf = as_seconds(nbf_it->value());
    if (!nbf) return refuse("TOKEN_MALFORMED", "nbf must be a number");
    if (now_s + kLeewaySeconds < *nbf) return refuse("TOKEN_NOT_YET_VALID", "the token is not valid yet");
  }
  claims.expires_s = *exp;
  claims.issuer = str_field(*payload, "iss");
  if (!issuer_.empty() && claims.issuer != issuer_) return refuse("TOKEN_INVALID_ISSUER", "unexpected issuer");
  if (!audience_.empty()) {
    bool match = false;
    if (auto aud = payload->find("aud"); aud != payload->end()) {
      if (aud->value().is_string()) match = aud->value().as_string() == audience_;
      if (aud->value().is_array()) {
        for (const auto& a : aud->value().as_array()) match = match || (a.is_string() && a.as_string() == audience_);
      }
    }
    if (!match) return refuse("TOKEN_INVALID_AUDIENCE", "this server is not an audience of the token");
  }
  claims.subject = str_field(*payload, "sub");
  if (claims.subject.empty()) return refuse("TOKEN_MISSING_CLAIM", "sub (a string) is required");
  claims.preferred_name = str_field(*payload, "preferred_username");
  if (claims.preferred_name.empty()) claims.preferred_name = str_field(*payload, "name");
  return claims;
}

}  // namespace corates::server
