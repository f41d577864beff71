#include "http/router.hpp"

#include "http/versioning.hpp"

#include "corates/server/server.hpp"
#include "http/route_table.hpp"

#include "corates/storage/document_store.hpp"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace corates::server {
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool url_decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return true;
}

Result<std::string> doc_name_from_url(std::string_view encoded) {
  std::string name;
  if (!url_decode(encoded, name)) return fail(ErrorCode::kInvalidArgument, "document name has a bad %-escape");
  if (auto ok = storage::validate_doc_name(name); !ok) {
    return fail(ErrorCode::kInvalidArgument,
                "document name must be 1 to 512 bytes of UTF-8: " + ok.error().message);
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool c1 = c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) {
      return fail(ErrorCode::kInvalidArgument, "document name must not contain control characters");
    }
  }
  return name;
}

void finish_response(HttpResponse& res, std::string_view request_id) {
  // The live policy (http/versioning), reloaded on SIGHUP.
  const auto versions = live_version_headers();
  res.set("X-API-Version", versions->api_version);
  res.set("X-Cache-Version", versions->cache_version);
  res.set("X-Request-Id", request_id);
  res.set(http::field::server, "corates-sync");
  res.prepare_payload();
}

HttpResponse error_response(unsigned status, std::string_view code, std::string_view message,
                            std::string_view request_id, unsigned version, bool keep_alive) {
  json::object err;
  err["code"] = code;
  err["message"] = message;
  err["details"] = json::array();
  err["requestId"] = request_id;
  json::object body;
  body["error"] = std::move(err);
  HttpResponse res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  res.body() = json::serialize(body);
  res.keep_alive(keep_alive);
  finish_response(res, request_id);
  return res;
}

void handle_http(ServerContext& ctx, HttpRequest req, std::string request_id, std::string client_ip,
                 Responder respond) {
  ctx.metrics.http_requests.fetch_add(1, std::memory_order_relaxed);
  auto rctx = std::make_shared<RequestContext>(ctx, std::move(req), std::move(request_id), std::move(client_ip),
                                               std::move(respond));
  if (!ctx.routes) return rctx->error(503, "UNAVAILABLE", "the server is starting");
  ctx.routes->dispatch(std::move(rctx));
}

}  // namespace corates::server
