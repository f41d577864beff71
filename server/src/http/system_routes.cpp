// Health, readiness, Prometheus metrics and the OpenAPI document: public, not
// rate limited, answered on the connection's thread.
#include "http/openapi.hpp"
#include "http/route_table.hpp"
#include "ops/op_service.hpp"
#include "telemetry/telemetry_store.hpp"
#include "http/schema_validator.hpp"
#include "metrics/metrics.hpp"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <spdlog/spdlog.h>

namespace corates::server {
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

void get_health(std::shared_ptr<RequestContext> rctx) { rctx->reply_json(200, json::object{{"status", "ok"}}); }

void get_ready(std::shared_ptr<RequestContext> rctx) {
  if (rctx->ctx.stopping.load()) return rctx->error(503, "SHUTTING_DOWN", "the server is shutting down");
  if (auto ok = rctx->ctx.store.ping(); !ok) {
    spdlog::warn("readyz: storage ping failed: {}", ok.error().message);
    return rctx->error(503, "STORAGE_UNAVAILABLE", "storage is unavailable");
  }
  rctx->reply_json(200, json::object{{"status", "ready"}});
}

void get_metrics(std::shared_ptr<RequestContext> rctx) {
  HttpResponse res{http::status::ok, rctx->req.version()};
  res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  res.body() = render_prometheus(rctx->ctx.metrics, rctx->ctx.store.metrics());
  if (rctx->ctx.ops) res.body() += rctx->ctx.ops->render_prometheus();
  if (rctx->ctx.telemetry) res.body() += rctx->ctx.telemetry->render_prometheus();
  rctx->reply(std::move(res));
}

void get_openapi(std::shared_ptr<RequestContext> rctx) {
  auto doc = build_openapi(*rctx->ctx.routes, contract_schemas());
  if (!doc) {
    spdlog::error("openapi: {}", doc.error().message);
    return rctx->error(500, "INTERNAL", "internal error");
  }
  HttpResponse res{http::status::ok, rctx->req.version()};
  res.set(http::field::content_type, "application/json");
  res.body() = pretty_json(*doc);
  rctx->reply(std::move(res));
}

ResponseSpec json_ok(std::string schema, std::string description) {
  return ResponseSpec{200, std::move(schema), "application/json", std::move(description)};
}

}  // namespace

void add_system_routes(RouteTable& table) {
  using http::verb;
  {
    RouteSpec r;
    r.path = "/healthz";
    r.operation_id = "getHealth";
    r.summary = "Liveness: the process answers";
    r.responses = {json_ok("Health", "alive")};
    r.auth = AuthRequirement::kNone;
    r.rate = RateClass::kNone;
    r.handler = get_health;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.path = "/readyz";
    r.operation_id = "getReady";
    r.summary = "Readiness: storage answers and the server is not shutting down";
    r.responses = {json_ok("Health", "ready"),
                   ResponseSpec{503, "Error", "application/json", "SHUTTING_DOWN or STORAGE_UNAVAILABLE"}};
    r.auth = AuthRequirement::kNone;
    r.rate = RateClass::kNone;
    r.handler = get_ready;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.path = "/metrics";
    r.operation_id = "getMetrics";
    r.summary = "Prometheus metrics (text exposition format 0.0.4)";
    r.responses = {ResponseSpec{200, "", "text/plain", "the metrics"}};
    r.auth = AuthRequirement::kNone;
    r.rate = RateClass::kNone;
    r.handler = get_metrics;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.path = "/openapi.json";
    r.operation_id = "getOpenApi";
    r.summary = "This API as an OpenAPI 3.1 document (the same as contracts/openapi.json)";
    r.responses = {json_ok("OpenApiDocument", "the document")};
    r.auth = AuthRequirement::kNone;
    r.rate = RateClass::kNone;
    r.handler = get_openapi;
    table.add(std::move(r));
  }
}

}  // namespace corates::server
