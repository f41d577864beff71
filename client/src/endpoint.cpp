#include "corates/client/endpoint.hpp"

#include <charconv>

namespace corates::client {

std::string Endpoint::url() const {
  return "http://" + host + ":" + std::to_string(port) + base_path;
}

std::string Endpoint::target(std::string_view path) const {
  std::string t = base_path;
  t.append(path);
  return t;
}

Result<Endpoint> parse_endpoint(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.starts_with("https://")) {
    return fail(ErrorCode::kInvalidArgument,
                "https is not supported by the SDK; terminate TLS in front of the server or use http on loopback");
  }
  if (!url.starts_with(kHttp)) return fail(ErrorCode::kInvalidArgument, "server URL must start with http://");
  std::string_view rest = url.substr(kHttp.size());
  Endpoint e;
  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view base = rest.substr(slash);
    while (!base.empty() && base.back() == '/') base.remove_suffix(1);
    e.base_path = std::string(base);
  }
  if (authority.empty()) return fail(ErrorCode::kInvalidArgument, "server URL has no host");
  std::size_t colon = authority.rfind(':');
  if (authority.front() == '[') {  // [::1]:port
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail(ErrorCode::kInvalidArgument, "bad IPv6 host in server URL");
    e.host = std::string(authority.substr(1, close - 1));
    colon = authority.size() > close + 1 && authority[close + 1] == ':' ? close + 1 : std::string_view::npos;
  } else {
    e.host = std::string(authority.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    std::string_view p = authority.substr(colon + 1);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
    if (ec != std::errc{} || ptr != p.data() + p.size() || value == 0 || value > 65535) {
      return fail(ErrorCode::kInvalidArgument, "bad port in server URL");
    }
    e.port = static_cast<std::uint16_t>(value);
  }
  if (e.host.empty()) return fail(ErrorCode::kInvalidArgument, "server URL has no host");
  return e;
}

}  // namespace corates::client
