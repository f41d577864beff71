#pragma once
// The HTTP contract, declared once (issue 4, DESIGN.md "HTTP"): every route is
// a RouteSpec (method, path template, request schema, response schemas per
// status, auth requirement, rate-limit class, body limit, handler). The same
// table drives dispatch and the generated openapi.json, so the two cannot
// drift. Schemas are files in contracts/schemas/<name>.json, referenced by
// name ("DocList" -> contracts/schemas/DocList.json).
//
// Pipeline for a request (RouteTable::dispatch):
//   match path+method (404 / 405 with Allow)
//   -> every Stage::before in registration order (version gate, auth, rate
//      limit; a stage may answer and stop the request)
//   -> body checks: limit (413), content type (415), JSON parse and schema
//      validation (400 VALIDATION_FAILED with details) when request_schema is set
//   -> handler
// Every response, including errors, passes through every Stage::decorate and
// finish_response (X-API-Version, X-Cache-Version, X-Request-Id).

#include "http/router.hpp"
#include "server_context.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corates::server {

// Per-document roles, ordered: a higher role can do everything a lower one can.
enum class Role : std::uint8_t { kNone = 0, kViewer = 1, kEditor = 2, kOwner = 3 };

// Who is calling. Anonymous until the auth stage fills it in.
struct Principal {
  bool authenticated = false;
  std::string user_id;     // stable id of the account
  std::string user_name;   // login name
  std::string session_id;  // id of the server session (not the token)
};

enum class AuthRequirement : std::uint8_t {
  kNone,     // public: health, metrics, metadata, openapi, sign-in
  kSession,  // a valid session is required (401 UNAUTHENTICATED otherwise)
};

// Rate-limit buckets (limits/): each class has its own per-user and per-IP rate.
enum class RateClass : std::uint8_t { kNone, kRead, kWrite, kAuth, kOps };

struct ResponseSpec {
  unsigned status = 200;
  std::string schema;        // contracts/schemas/<schema>.json; "" for a non-JSON body
  std::string content_type;  // "application/json", "application/octet-stream", "text/plain"
  std::string description;
};

struct RequestContext;
using RouteHandler = std::function<void(std::shared_ptr<RequestContext>)>;

struct RouteSpec {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string path;          // OpenAPI style template: "/api/docs/{id}/update"
  std::string operation_id;  // unique, camelCase: "getDocUpdate"
  std::string summary;
  std::string request_schema;        // "" = no JSON body
  std::string request_content_type;  // "" = no body; "application/json"; "application/octet-stream"
  std::vector<ResponseSpec> responses;  // error statuses use the "Error" schema
  std::vector<std::string> query_params;  // documented query parameters (name only)
  AuthRequirement auth = AuthRequirement::kSession;
  RateClass rate = RateClass::kRead;
  std::size_t body_limit = 0;  // 0 = config.max_body_bytes
  RouteHandler handler;
};

// One request on its way through the pipeline. Shared so that handlers can
// answer later from another strand (a room answers once data is durable).
struct RequestContext : std::enable_shared_from_this<RequestContext> {
  ServerContext& ctx;
  HttpRequest req;
  std::string request_id;
  std::string client_ip;       // remote address, text form
  std::string path;            // without the query
  std::string query;           // after '?', undecoded
  const RouteSpec* route = nullptr;
  std::map<std::string, std::string, std::less<>> params;  // decoded path parameters
  std::optional<boost::json::value> body;  // set when the route has a request_schema (validated)
  Principal principal;         // filled by the auth stage
  std::string client_version;  // X-Client-Version, "" when absent
  // Headers that decorate() of earlier stages asked for (e.g. Deprecation).
  std::vector<std::pair<std::string, std::string>> extra_headers;

  RequestContext(ServerContext& c, HttpRequest r, std::string rid, std::string ip, Responder respond);

  // Decoded query parameter, or nullopt (also on a bad escape).
  std::optional<std::string> query_param(std::string_view key) const;

  // Answers exactly once (later calls are ignored and logged). Adds the common
  // headers, runs the stages' decorate(), writes the access log line.
  void reply(HttpResponse res);
  void reply_json(unsigned status, const boost::json::value& body);
  void reply_bytes(unsigned status, std::vector<std::uint8_t> data, std::string_view content_type);
  // The JSON error envelope; `details` is an array of objects (may be empty).
  void error(unsigned status, std::string_view code, std::string_view message,
             boost::json::value details = boost::json::array{});
  // Maps a Result error onto status and code (kNotFound -> 404 NOT_FOUND, ...).
  void error_from(const Error& e);

  bool answered() const { return answered_.load(); }

 private:
  friend class RouteTable;
  Responder respond_;
  std::chrono::steady_clock::time_point started_;
  std::atomic<bool> answered_{false};  // handlers may answer from another strand
  // Set by dispatch: whose decorate() runs. Stages after one that refused were
  // not reached; 404/405 answers (before any stage) pass through all of them.
  const RouteTable* table_ = nullptr;
  std::size_t stages_reached_ = static_cast<std::size_t>(-1);
};

// A cross-cutting step run before every handler (version gate, auth, rate
// limits). Stages are registered once at start-up; before() runs on the
// connection's thread and must not block.
class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view name() const = 0;
  // false: the stage has answered (rctx.error(...)) and the request stops.
  virtual bool before(RequestContext& rctx) = 0;
  // Last touch on every response of a request that reached this stage.
  virtual void decorate(const RequestContext& /*rctx*/, HttpResponse& /*res*/) {}
};

class RouteTable {
 public:
  void add(RouteSpec spec);
  void add_stage(std::shared_ptr<Stage> stage);
  const std::vector<RouteSpec>& routes() const { return routes_; }
  const std::vector<std::shared_ptr<Stage>>& stages() const { return stages_; }

  // Runs the pipeline above. Never throws; always answers exactly once.
  void dispatch(std::shared_ptr<RequestContext> rctx) const;

 private:
  std::vector<RouteSpec> routes_;
  std::vector<std::shared_ptr<Stage>> stages_;
};

// Each part adds its routes (and stages) at start-up; server.cpp calls them.
void add_system_routes(RouteTable& table);    // healthz, readyz, metrics, openapi.json
void add_doc_routes(RouteTable& table);       // /api/docs..., /api/reconcile/doc/{id}
void add_metadata_routes(RouteTable& table);  // /api/metadata (http/versioning)
void add_auth_routes(RouteTable& table);      // /api/auth/session, /api/session, ACL routes (auth/)
void add_ops_routes(RouteTable& table);       // /api/sync/ops, /api/sync/events (ops/)
void add_telemetry_routes(RouteTable& table); // /api/telemetry (telemetry/)

}  // namespace corates::server
