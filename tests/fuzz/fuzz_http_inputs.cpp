// The server's untrusted text inputs besides Yjs bytes: a JSON request body
// validated against every request schema of contracts/ (Valijson plus our
// pattern constraint), a bearer JWT, and an X-Client-Version header. The
// first byte picks the input kind. Nothing may crash, hang or throw.
#include "auth/jwt.hpp"
#include "http/schema_validator.hpp"
#include "http/versioning.hpp"

#include <boost/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace corates::server;

namespace {

const std::vector<std::string>& request_schemas() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const std::string& n : contract_schemas().names()) {
      if (n.rfind("ops.", 0) == 0 || n.find("Request") != std::string::npos) out.push_back(n);
    }
    return out;
  }();
  return names;
}

const JwtVerifier& verifier() {
  static const auto v = JwtVerifier::from_material("fuzz-secret-fuzz-secret-fuzz-secret", "", "", "iss", "aud");
  if (!v) std::abort();
  return **v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0: {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(text, ec);
      if (ec) return 0;
      for (const std::string& name : request_schemas()) (void)contract_schemas().validate(name, v);
      return 0;
    }
    case 1: {
      JwtRefusal why;
      auto claims = verifier().verify(text, 1'800'000'000, why);
      // Nobody holds the secret: no input may verify.
      if (claims) std::abort();
      return 0;
    }
    default: {
      auto v = SemVer::parse(text);
      if (v && !SemVer::parse(v->to_string())) std::abort();
      return 0;
    }
  }
}
