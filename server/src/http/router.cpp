#include "http/router.hpp"

#include "corates/server/server.hpp"
#include "metrics/metrics.hpp"
#include "rooms/room.hpp"

#include "corates/storage/document_store.hpp"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>

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

// base64url (RFC 4648 §5), padding optional; also accepts '+' and '/'.
std::optional<Bytes> base64url_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  Bytes out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-' || c == '+') v = 62;
    else if (c == '_' || c == '/') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character
  return out;
}

// The value of a query parameter (decoded), or nullopt.
std::optional<std::string> query_param(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    std::string k;
    if (!url_decode(pair.substr(0, eq), k) || k != key) continue;
    std::string v;
    if (eq != std::string_view::npos && !url_decode(pair.substr(eq + 1), v)) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

struct ErrorMapping {
  unsigned status;
  std::string_view code;
};

ErrorMapping map_error(const Error& e) {
  switch (e.code) {
    case ErrorCode::kNotFound: return {404, "NOT_FOUND"};
    case ErrorCode::kBusy: return {503, "BUSY"};
    case ErrorCode::kClosed: return {503, "UNAVAILABLE"};
    case ErrorCode::kIo:
    case ErrorCode::kInternal: return {500, "INTERNAL"};
    case ErrorCode::kEpochMismatch:
    case ErrorCode::kConflict: return {409, "CONFLICT"};
    case ErrorCode::kTooLarge: return {413, "TOO_LARGE"};
    default: return {400, "BAD_REQUEST"};
  }
}

HttpResponse json_response(unsigned status, const json::value& body, unsigned version, bool keep_alive) {
  HttpResponse res{static_cast<http::status>(status), version};
  res.set(http::field::content_type, "application/json");
  res.body() = json::serialize(body);
  res.keep_alive(keep_alive);
  return res;
}

HttpResponse binary_response(Bytes data, unsigned version, bool keep_alive) {
  HttpResponse res{http::status::ok, version};
  res.set(http::field::content_type, "application/octet-stream");
  res.body().assign(data.begin(), data.end());
  res.keep_alive(keep_alive);
  return res;
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
  res.set("X-API-Version", kApiVersion);
  res.set("X-Cache-Version", kCacheVersion);
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
  HttpResponse res = json_response(status, body, version, keep_alive);
  finish_response(res, request_id);
  return res;
}

void handle_http(ServerContext& ctx, HttpRequest req, std::string rid, Responder respond) {
  ctx.metrics.http_requests.fetch_add(1, std::memory_order_relaxed);
  const unsigned version = req.version();
  const bool keep_alive = req.keep_alive();
  const std::string target(req.target());
  const std::string method(req.method_string());
  const auto started = std::chrono::steady_clock::now();
  // Every answer funnels through here: headers and the access log line.
  auto reply = [respond = std::move(respond), rid, method, target, started](HttpResponse res) {
    finish_response(res, rid);
    spdlog::info("http {} {} -> {} ({:.1f} ms) request_id={}", method, target, res.result_int(),
                 std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count(), rid);
    respond(std::move(res));
  };
  auto error = [&](unsigned status, std::string_view code, std::string_view message) {
    reply(error_response(status, code, message, rid, version, keep_alive));
  };
  auto error_from = [rid, version, keep_alive, reply](const Error& e) {
    const ErrorMapping m = map_error(e);
    reply(error_response(m.status, m.code, e.message, rid, version, keep_alive));
  };

  const std::size_t qpos = target.find('?');
  const std::string_view path = std::string_view(target).substr(0, qpos);
  const std::string_view query =
      qpos == std::string::npos ? std::string_view{} : std::string_view(target).substr(qpos + 1);
  const http::verb verb = req.method();
  auto method_not_allowed = [&](std::string_view allow) {
    HttpResponse res = error_response(405, "METHOD_NOT_ALLOWED", "method not allowed here", rid, version, keep_alive);
    res.set(http::field::allow, allow);
    reply(std::move(res));
  };

  if (path == "/healthz") {
    if (verb != http::verb::get && verb != http::verb::head) return method_not_allowed("GET");
    return reply(json_response(200, json::object{{"status", "ok"}}, version, keep_alive));
  }
  if (path == "/readyz") {
    if (verb != http::verb::get && verb != http::verb::head) return method_not_allowed("GET");
    if (ctx.stopping.load()) return error(503, "SHUTTING_DOWN", "the server is shutting down");
    if (auto ok = ctx.store.ping(); !ok) return error(503, "STORAGE_UNAVAILABLE", ok.error().message);
    return reply(json_response(200, json::object{{"status", "ready"}}, version, keep_alive));
  }
  if (path == "/metrics") {
    if (verb != http::verb::get) return method_not_allowed("GET");
    HttpResponse res{http::status::ok, version};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = render_prometheus(ctx.metrics, ctx.store.metrics());
    res.keep_alive(keep_alive);
    return reply(std::move(res));
  }

  constexpr std::string_view kDocs = "/api/docs/";
  if (path.substr(0, kDocs.size()) == kDocs && path.size() > kDocs.size()) {
    std::string_view rest = path.substr(kDocs.size());
    enum class Route { kJson, kUpdate, kStateVector } route = Route::kJson;
    auto strip = [&](std::string_view suffix) {
      if (rest.size() > suffix.size() && rest.substr(rest.size() - suffix.size()) == suffix) {
        rest.remove_suffix(suffix.size());
        return true;
      }
      return false;
    };
    if (strip("/update")) route = Route::kUpdate;
    else if (strip("/state-vector")) route = Route::kStateVector;
    auto name = doc_name_from_url(rest);
    if (!name) return error(400, "INVALID_DOC_NAME", name.error().message);

    if (route == Route::kUpdate && verb == http::verb::post) {
      if (ctx.stopping.load()) return error(503, "SHUTTING_DOWN", "the server is shutting down");
      Bytes body(req.body().begin(), req.body().end());
      if (body.empty()) return error(400, "BAD_REQUEST", "empty body: expected a binary Yjs update (v1)");
      auto room = ctx.rooms->acquire(*name);
      room->post_update(std::move(body), [reply, error_from, version, keep_alive](Result<PostResult> r) {
        if (!r) {
          if (r.error().code == ErrorCode::kInvalidValue) {
            // An undecodable update: the client's fault, with its own code.
            return error_from(Error{ErrorCode::kInvalidArgument, r.error().message});
          }
          return error_from(r.error());
        }
        json::object out{{"changed", r->changed}, {"epoch", r->epoch}};
        out["seq"] = r->seq;
        reply(json_response(200, out, version, keep_alive));
      });
      return;
    }
    if (verb != http::verb::get && verb != http::verb::head) {
      return method_not_allowed(route == Route::kUpdate ? "GET, POST" : "GET");
    }
    auto room = ctx.rooms->acquire(*name);
    auto binary_reply = [reply, error_from, version, keep_alive](Result<Bytes> r) {
      if (!r) return error_from(r.error());
      reply(binary_response(std::move(*r), version, keep_alive));
    };
    switch (route) {
      case Route::kUpdate: {
        Bytes sv;
        if (auto p = query_param(query, "stateVector")) {
          auto decoded = base64url_decode(*p);
          if (!decoded) {
            room->release();
            return error(400, "BAD_REQUEST", "stateVector is not base64url");
          }
          sv = std::move(*decoded);
        }
        bool v2 = false;
        if (auto f = query_param(query, "format")) {
          if (*f == "v2") {
            v2 = true;
          } else if (*f != "v1") {
            room->release();
            return error(400, "BAD_REQUEST", "format must be v1 or v2");
          }
        }
        room->get_update(std::move(sv), v2, binary_reply);
        return;
      }
      case Route::kStateVector:
        room->get_state_vector(binary_reply);
        return;
      case Route::kJson:
        room->get_json([reply, error_from, version, keep_alive](Result<std::string> r) {
          if (!r) return error_from(r.error());
          HttpResponse res{http::status::ok, version};
          res.set(http::field::content_type, "application/json");
          res.body() = std::move(*r);
          res.keep_alive(keep_alive);
          reply(std::move(res));
        });
        return;
    }
  }
  error(404, "NOT_FOUND", "no route for " + std::string(path));
}

}  // namespace corates::server
