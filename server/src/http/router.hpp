#pragma once
// The HTTP entry point and the helpers every route shares (DESIGN.md "HTTP").
// Routes themselves are declared in the RouteTable (http/route_table.hpp);
// every response carries X-API-Version, X-Cache-Version and X-Request-Id;
// errors use the JSON envelope {"error":{"code","message","details","requestId"}}.

#include "server_context.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <string>
#include <string_view>

namespace corates::server {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using Responder = std::function<void(HttpResponse)>;

// Answers `req` through `respond`, exactly once, from any thread (document
// routes answer from the room's strand once the data is durable), by
// dispatching it through ctx.routes.
void handle_http(ServerContext& ctx, HttpRequest req, std::string request_id, std::string client_ip,
                 Responder respond);

// The JSON error envelope as a complete response (for answers given before a
// request reaches the route table: read limits, WebSocket upgrades).
HttpResponse error_response(unsigned status, std::string_view code, std::string_view message,
                            std::string_view request_id, unsigned version, bool keep_alive);

// Adds the headers every response carries and sets the payload size.
void finish_response(HttpResponse& res, std::string_view request_id);

// Percent-decodes a path segment; false on a bad escape.
bool url_decode(std::string_view in, std::string& out);

// A document name from the URL: decoded, 1..512 bytes of UTF-8, no control
// characters (C0, DEL, C1). The error message says what is wrong.
Result<std::string> doc_name_from_url(std::string_view encoded);

}  // namespace corates::server
