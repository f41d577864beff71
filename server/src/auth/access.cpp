#include "auth/access.hpp"

namespace corates::server {

// Without an AuthService the server runs open (auth_required = false).
Role doc_role(ServerContext& ctx, const Principal& /*who*/, std::string_view /*doc*/) {
  if (ctx.auth == nullptr) return Role::kOwner;
  return Role::kNone;
}

bool require_doc_role(RequestContext& rctx, std::string_view doc, Role needed) {
  if (doc_role(rctx.ctx, rctx.principal, doc) >= needed) return true;
  if (!rctx.principal.authenticated) {
    rctx.error(401, "UNAUTHENTICATED", "a valid session is required");
  } else {
    rctx.error(403, "FORBIDDEN", "your role on this document does not allow this");
  }
  return false;
}

}  // namespace corates::server
