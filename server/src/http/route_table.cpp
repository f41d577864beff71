#include "http/route_table.hpp"

#include "http/schema_validator.hpp"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <exception>

namespace corates::server {
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

// Nesting deeper than this is refused as malformed before any schema runs.
constexpr std::size_t kMaxJsonDepth = 64;

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

// "/a/b" -> {"a","b"}; "/" -> {""}. Segments stay encoded.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    const std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool is_param(std::string_view seg) { return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}'; }

// Whether `tmpl` matches the raw segments; `literals` marks literal positions
// (the more specific template wins: "/api/session" before "/api/{x}").
bool match(std::string_view tmpl, const std::vector<std::string_view>& segs, std::vector<bool>& literals) {
  const auto parts = split_path(tmpl);
  if (parts.size() != segs.size()) return false;
  literals.assign(parts.size(), false);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (is_param(parts[i])) {
      if (segs[i].empty()) return false;
    } else if (parts[i] == segs[i]) {
      literals[i] = true;
    } else {
      return false;
    }
  }
  return true;
}

bool allows(const RouteSpec& r, http::verb v) {
  return r.method == v || (v == http::verb::head && r.method == http::verb::get);
}

// The media type of a Content-Type value, lower case, without parameters.
std::string media_type(std::string_view v) {
  v = v.substr(0, v.find(';'));
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string out(v);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// ---- RequestContext ------------------------------------------------------------

RequestContext::RequestContext(ServerContext& c, HttpRequest r, std::string rid, std::string ip, Responder respond)
    : ctx(c),
      req(std::move(r)),
      request_id(std::move(rid)),
      client_ip(std::move(ip)),
      respond_(std::move(respond)),
      started_(std::chrono::steady_clock::now()) {
  const std::string_view target = req.target();
  const std::size_t q = target.find('?');
  path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) query = std::string(target.substr(q + 1));
  if (auto it = req.find("X-Client-Version"); it != req.end()) client_version = std::string(it->value());
}

std::optional<std::string> RequestContext::query_param(std::string_view key) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    std::string k;
    // '+' is a space in form encoding; our clients escape spaces as %20.
    if (!url_decode(pair.substr(0, eq), k) || k != key) continue;
    std::string v;
    if (eq != std::string_view::npos && !url_decode(pair.substr(eq + 1), v)) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

void RequestContext::reply(HttpResponse res) {
  if (answered_.exchange(true)) {
    spdlog::warn("http {} {}: a second answer ({}) was dropped request_id={}", std::string(req.method_string()),
                 path, res.result_int(), request_id);
    return;
  }
  res.version(req.version());
  const bool close = res[http::field::connection] == "close";
  res.keep_alive(req.keep_alive() && !close);
  for (const auto& [k, v] : extra_headers) res.set(k, v);
  if (table_ != nullptr) {
    const auto& stages = table_->stages();
    const std::size_t n = std::min(stages_reached_, stages.size());
    for (std::size_t i = 0; i < n; ++i) {
      try {
        stages[i]->decorate(*this, res);
      } catch (const std::exception& e) {
        spdlog::error("stage {} decorate failed: {} request_id={}", stages[i]->name(), e.what(), request_id);
      }
    }
  }
  finish_response(res, request_id);
  spdlog::info("http {} {} -> {} ({:.1f} ms) request_id={}", std::string(req.method_string()),
               std::string(req.target()), res.result_int(),
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count(),
               request_id);
  respond_(std::move(res));
}

void RequestContext::reply_json(unsigned status, const json::value& value) {
  HttpResponse res{static_cast<http::status>(status), req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = json::serialize(value);
  reply(std::move(res));
}

void RequestContext::reply_bytes(unsigned status, std::vector<std::uint8_t> data, std::string_view content_type) {
  HttpResponse res{static_cast<http::status>(status), req.version()};
  res.set(http::field::content_type, content_type);
  res.body().assign(data.begin(), data.end());
  reply(std::move(res));
}

void RequestContext::error(unsigned status, std::string_view code, std::string_view message, json::value details) {
  if (!details.is_array()) details = json::array{};
  json::object err;
  err["code"] = code;
  err["message"] = message;
  err["details"] = std::move(details);
  err["requestId"] = request_id;
  reply_json(status, json::object{{"error", std::move(err)}});
}

void RequestContext::error_from(const Error& e) {
  const ErrorMapping m = map_error(e);
  // Storage and internal failures say nothing about the inside; the log does.
  if (m.status >= 500) {
    spdlog::error("http {} {}: {} request_id={}", std::string(req.method_string()), path, e.message, request_id);
    const std::string_view msg =
        m.status == 500 ? "internal error" : "the server is busy or unavailable, try again later";
    return error(m.status, m.code, msg);
  }
  error(m.status, m.code, e.message);
}

// ---- RouteTable ----------------------------------------------------------------

void RouteTable::add(RouteSpec spec) {
  for (const auto& r : routes_) {
    if (r.method == spec.method && r.path == spec.path) {
      spdlog::error("route {} {} declared twice; the first one wins", std::string(http::to_string(spec.method)),
                    spec.path);
      return;
    }
  }
  if (!spec.request_schema.empty() && !contract_schemas().has(spec.request_schema)) {
    spdlog::error("route {}: request schema {} is not in contracts/schemas", spec.path, spec.request_schema);
  }
  routes_.push_back(std::move(spec));
}

void RouteTable::add_stage(std::shared_ptr<Stage> stage) { stages_.push_back(std::move(stage)); }

void RouteTable::dispatch(std::shared_ptr<RequestContext> rctx) const {
  RequestContext& r = *rctx;
  r.table_ = this;
  try {
    const auto segs = split_path(r.path);
    const RouteSpec* best = nullptr;
    std::vector<bool> best_literals;
    std::vector<const RouteSpec*> path_matches;
    std::vector<bool> literals;
    for (const auto& spec : routes_) {
      if (!match(spec.path, segs, literals)) continue;
      path_matches.push_back(&spec);
      if (allows(spec, r.req.method()) && (best == nullptr || literals > best_literals)) {
        best = &spec;
        best_literals = literals;
      }
    }
    if (path_matches.empty()) return r.error(404, "NOT_FOUND", "no route for " + r.path);
    if (best == nullptr) {
      std::string allow;
      for (const RouteSpec* spec : path_matches) {
        const std::string m(http::to_string(spec->method));
        if (allow.find(m) != std::string::npos) continue;
        if (!allow.empty()) allow += ", ";
        allow += m;
      }
      r.extra_headers.emplace_back("Allow", allow);
      return r.error(405, "METHOD_NOT_ALLOWED", "method not allowed here");
    }
    r.route = best;

    const auto parts = split_path(best->path);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (!is_param(parts[i])) continue;
      std::string value;
      const std::string name(parts[i].substr(1, parts[i].size() - 2));
      if (!url_decode(segs[i], value)) return r.error(400, "BAD_REQUEST", "path parameter " + name + " has a bad %-escape");
      r.params[name] = std::move(value);
    }

    r.stages_reached_ = 0;
    for (const auto& stage : stages_) {
      ++r.stages_reached_;
      if (!stage->before(r)) {
        if (!r.answered()) {
          spdlog::error("stage {} stopped {} without an answer request_id={}", stage->name(), r.path, r.request_id);
          r.error(500, "INTERNAL", "internal error");
        }
        return;
      }
      if (r.answered()) return;
    }
    r.stages_reached_ = stages_.size();

    const std::size_t limit = best->body_limit != 0 ? best->body_limit : r.ctx.config.max_body_bytes;
    const std::string& body = r.req.body();
    if (body.size() > limit) {
      return r.error(413, "PAYLOAD_TOO_LARGE", "request body larger than " + std::to_string(limit) + " bytes");
    }
    if (!best->request_content_type.empty()) {
      const auto ct = r.req.find(http::field::content_type);
      const std::string got = ct == r.req.end() ? std::string{} : media_type(ct->value());
      // A missing Content-Type means octet-stream (RFC 9110 8.3); JSON must say so.
      const bool ok = got == best->request_content_type ||
                      (got.empty() && best->request_content_type == "application/octet-stream");
      if (!ok) {
        return r.error(415, "UNSUPPORTED_MEDIA_TYPE", "Content-Type must be " + best->request_content_type);
      }
    }
    if (!best->request_schema.empty()) {
      const SchemaRegistry& schemas = contract_schemas();
      if (!schemas.has(best->request_schema)) {
        spdlog::error("route {}: no schema {}", best->path, best->request_schema);
        return r.error(500, "INTERNAL", "internal error");
      }
      json::parse_options opts;
      opts.max_depth = kMaxJsonDepth;
      boost::system::error_code ec;
      json::value parsed = json::parse(body, ec, json::storage_ptr(), opts);
      if (ec) return r.error(400, "MALFORMED_JSON", "request body is not valid JSON");
      auto violations = schemas.validate(best->request_schema, parsed);
      if (!violations.empty()) {
        return r.error(400, "VALIDATION_FAILED", "request body does not match " + best->request_schema,
                       violations_to_details(violations));
      }
      r.body = std::move(parsed);
    }
    if (!best->handler) {
      spdlog::error("route {} has no handler", best->path);
      return r.error(500, "INTERNAL", "internal error");
    }
    best->handler(rctx);
  } catch (const std::exception& e) {
    // Exceptions stop here, at the boundary of the pipeline (STYLE 6).
    spdlog::error("http {} {}: exception: {} request_id={}", std::string(r.req.method_string()), r.path, e.what(),
                  r.request_id);
    if (!r.answered()) r.error(500, "INTERNAL", "internal error");
  }
}

}  // namespace corates::server
