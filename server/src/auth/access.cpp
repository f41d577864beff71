#include "auth/access.hpp"

#include "auth/auth_service.hpp"

namespace corates::server {

// Without an AuthService the server runs open (auth_required = false).
Role doc_role(ServerContext& ctx, const Principal& who, std::string_view doc) {
  auto auth = ctx.auth;
  if (auth == nullptr) return Role::kOwner;
  return auth->role_of(who, doc);
}

bool require_doc_role(RequestContext& rctx, std::string_view doc, Role needed) {
  auto auth = rctx.ctx.auth;
  if (auth == nullptr) return true;
  if (!rctx.principal.authenticated) {
    rctx.extra_headers.emplace_back("WWW-Authenticate", "Bearer realm=\"corates-sync\"");
    rctx.error(401, "UNAUTHENTICATED", "a valid session is required");
    return false;
  }
  // Opening a document nobody holds a role on makes the caller its owner.
  if (auth->open_role(rctx.principal, doc) >= needed) return true;
  rctx.error(403, "FORBIDDEN", "your role on this document does not allow this");
  return false;
}

}  // namespace corates::server
