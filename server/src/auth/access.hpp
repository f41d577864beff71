#pragma once
// Per-document access checks for route handlers and the WebSocket gate
// (issue 4). The auth part (auth/) implements them over its AuthService; with
// no AuthService installed (auth not configured) every caller may do anything.

#include "http/route_table.hpp"

#include <string_view>

namespace corates::server {

// The caller's role on `doc` (kNone when it has none). kOwner without auth.
Role doc_role(ServerContext& ctx, const Principal& who, std::string_view doc);

// True when the caller holds at least `needed` on `doc`. Otherwise answers
// 401 UNAUTHENTICATED (no session) or 403 FORBIDDEN and returns false.
bool require_doc_role(RequestContext& rctx, std::string_view doc, Role needed);

}  // namespace corates::server
