// POST /api/telemetry (docs/telemetry.md): one client's sync health, kept in
// memory by TelemetryStore and aggregated in /metrics.

#include "http/route_table.hpp"
#include "telemetry/telemetry_store.hpp"

#include <boost/beast/http/verb.hpp>
#include <boost/json.hpp>

namespace corates::server {
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

// A full report (64 failures + 64 replays, every field at its longest) is
// about 10 KB; anything much larger is not a report.
constexpr std::size_t kReportBodyLimit = 32u << 10;

void post_telemetry(std::shared_ptr<RequestContext> r) {
  auto store = r->ctx.telemetry;
  if (!store) return r->error(503, "UNAVAILABLE", "telemetry is not running");
  auto report = parse_telemetry_report(*r->body);
  if (!report) return r->error(400, "VALIDATION_FAILED", report.error().message);
  if (store->record(*report, r->principal.user_id) == TelemetryStore::Outcome::kForeignClient) {
    // The same code POST /api/sync/ops gives for a clientId another user owns.
    return r->error(409, "CLIENT_ID_IN_USE", "this clientId belongs to another user");
  }
  r->reply_json(202, json::object{{"accepted", true}, {"clientTtlMs", store->limits().ttl.count()}});
}

}  // namespace

void add_telemetry_routes(RouteTable& table) {
  RouteSpec r;
  r.method = http::verb::post;
  r.path = "/api/telemetry";
  r.operation_id = "postTelemetry";
  r.summary = "A client's sync health (version, queue depth, failures, replays); aggregated in /metrics";
  r.request_schema = "TelemetryReport";
  r.request_content_type = "application/json";
  r.responses = {
      ResponseSpec{202, "TelemetryAccepted", "application/json", "recorded"},
      ResponseSpec{400, "Error", "application/json", "MALFORMED_JSON or VALIDATION_FAILED (nothing recorded)"},
      ResponseSpec{401, "Error", "application/json", "UNAUTHENTICATED"},
      ResponseSpec{409, "Error", "application/json", "CLIENT_ID_IN_USE: another user reports with this clientId"},
      ResponseSpec{413, "Error", "application/json", "PAYLOAD_TOO_LARGE: the body is over 32 KiB"},
  };
  r.auth = AuthRequirement::kSession;
  // Not kOps: telemetry must never take tokens the op replay needs.
  r.rate = RateClass::kWrite;
  r.body_limit = kReportBodyLimit;
  r.handler = post_telemetry;
  table.add(std::move(r));
}

}  // namespace corates::server
