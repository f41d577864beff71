// The routes of the operation queue (docs/ops.md), declared once for dispatch
// and openapi.json.

#include "http/route_table.hpp"
#include "ops/op_service.hpp"

#include <boost/beast/http/verb.hpp>

namespace corates::server {
namespace http = boost::beast::http;

namespace {

// Larger bodies get 413 PAYLOAD_TOO_LARGE before parsing; the op count has
// its own limit (ops_max_batch, 413 BATCH_TOO_LARGE).
constexpr std::size_t kPushBodyLimit = 16u << 20;

RouteHandler with_ops(void (OpService::*method)(const std::shared_ptr<RequestContext>&)) {
  return [method](std::shared_ptr<RequestContext> r) {
    auto ops = r->ctx.ops;
    if (!ops) return r->error(503, "UNAVAILABLE", "the operation queue is not running");
    ((*ops).*method)(r);
  };
}

ResponseSpec error_response_spec(unsigned status, std::string description) {
  return ResponseSpec{status, "Error", "application/json", std::move(description)};
}

}  // namespace

void add_ops_routes(RouteTable& table) {
  RouteSpec push;
  push.method = http::verb::post;
  push.path = "/api/sync/ops";
  push.operation_id = "pushOps";
  push.summary = "Apply a batch of one client's ops, each exactly once, in seq order; answered once durable";
  push.request_schema = "OpsPushRequest";
  push.request_content_type = "application/json";
  push.responses = {
      ResponseSpec{200, "OpsPushResponse", "application/json", "per-op results and the new checkpoint"},
      error_response_spec(400, "MALFORMED_JSON or VALIDATION_FAILED (the batch itself; bad payloads are per op)"),
      error_response_spec(401, "UNAUTHENTICATED"),
      error_response_spec(409, "CLIENT_ID_IN_USE: the clientId belongs to another user"),
      error_response_spec(413, "PAYLOAD_TOO_LARGE (body) or BATCH_TOO_LARGE (more than ops_max_batch ops)"),
      error_response_spec(503, "UNAVAILABLE / BUSY (nothing applied) or OPS_INTERRUPTED (applied up to "
                               "details[0].processedThroughSeq); send again"),
  };
  push.auth = AuthRequirement::kSession;
  push.rate = RateClass::kOps;
  push.body_limit = kPushBodyLimit;
  push.handler = with_ops(&OpService::push);
  table.add(std::move(push));

  RouteSpec pull;
  pull.method = http::verb::get;
  pull.path = "/api/sync/ops";
  pull.operation_id = "pullOps";
  pull.summary = "Applied ops after a checkpoint that the caller may see, in order, and the next checkpoint";
  pull.query_params = {"since", "limit"};
  pull.responses = {
      ResponseSpec{200, "OpsPullResponse", "application/json", "changes and the next checkpoint"},
      error_response_spec(400, "INVALID_CHECKPOINT or a bad limit"),
      error_response_spec(401, "UNAUTHENTICATED"),
  };
  pull.auth = AuthRequirement::kSession;
  pull.rate = RateClass::kRead;
  pull.handler = with_ops(&OpService::pull);
  table.add(std::move(pull));

  RouteSpec events;
  events.method = http::verb::get;
  events.path = "/api/sync/events";
  events.operation_id = "syncEvents";
  events.summary =
      "Server-sent events: one 'checkpoint' event as soon as the checkpoint passes since/Last-Event-ID, then "
      "the stream ends and EventSource reconnects";
  events.query_params = {"since"};
  events.responses = {
      ResponseSpec{200, "", "text/event-stream", "event: checkpoint, id: N, data: {\"checkpoint\":N}"},
      error_response_spec(400, "INVALID_CHECKPOINT"),
      error_response_spec(401, "UNAUTHENTICATED"),
      error_response_spec(503, "BUSY: too many open streams"),
  };
  events.auth = AuthRequirement::kSession;
  events.rate = RateClass::kRead;
  events.handler = with_ops(&OpService::events);
  table.add(std::move(events));

  RouteSpec records;
  records.method = http::verb::get;
  records.path = "/api/sync/clients/{clientId}/ops";
  records.operation_id = "getClientOpRecords";
  records.summary = "What the server recorded for each processed seq of one of the caller's clients";
  records.query_params = {"afterSeq", "limit"};
  records.responses = {
      ResponseSpec{200, "OpsClientRecords", "application/json", "records in seq order"},
      error_response_spec(400, "BAD_REQUEST"),
      error_response_spec(401, "UNAUTHENTICATED"),
      error_response_spec(403, "FORBIDDEN: another user's client"),
  };
  records.auth = AuthRequirement::kSession;
  records.rate = RateClass::kRead;
  records.handler = with_ops(&OpService::client_records);
  table.add(std::move(records));
}

}  // namespace corates::server
