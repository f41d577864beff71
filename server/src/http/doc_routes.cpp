// The document API (DESIGN.md "HTTP", docs/server.md): content, updates,
// state vectors, listing, deletion and the one-round-trip reconcile. Each
// handler validates its input, checks the caller's role on the document and
// hands the work to the document's room, which answers once the data is
// durable.

#include "auth/access.hpp"
#include "http/route_table.hpp"
#include "rooms/room.hpp"

#include "corates/storage/document_store.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

namespace corates::server {
namespace http = boost::beast::http;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

constexpr std::size_t kDefaultListLimit = 100;
constexpr std::size_t kMaxListLimit = 1000;

// base64url (RFC 4648 §5), padding optional; '+' and '/' accepted too.
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

// base64url without padding.
std::string base64url_encode(std::span<const std::uint8_t> in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::uint8_t b : in) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

// RFC 3339 UTC with milliseconds: 2026-11-26T16:39:02.123Z.
std::string iso_time(storage::Timestamp t) {
  const auto ms = t.time_since_epoch().count();
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const auto frac = static_cast<int>(ms - static_cast<std::int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", tm, frac);
}

// A decoded document name from the path: the same rule as /ws/<name>
// (docs/server.md): 1..512 bytes of UTF-8, no C0, DEL or C1 controls.
bool valid_doc_name(RequestContext& rctx, const std::string& name) {
  if (auto ok = storage::validate_doc_name(name); !ok) {
    rctx.error(400, "INVALID_DOC_NAME", "document name must be 1 to 512 bytes of UTF-8: " + ok.error().message);
    return false;
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    const bool c1 = c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(name[i + 1]) <= 0x9F;
    if (c < 0x20 || c == 0x7F || c1) {
      rctx.error(400, "INVALID_DOC_NAME", "document name must not contain control characters");
      return false;
    }
  }
  return true;
}

// The {id} of the path, validated, with the caller's role checked. nullopt:
// already answered.
std::optional<std::string> doc_param(RequestContext& rctx, Role needed) {
  auto it = rctx.params.find("id");
  if (it == rctx.params.end()) {
    rctx.error(400, "INVALID_DOC_NAME", "missing document name");
    return std::nullopt;
  }
  std::string name = it->second;
  if (!valid_doc_name(rctx, name)) return std::nullopt;
  if (!require_doc_role(rctx, name, needed)) return std::nullopt;
  return name;
}

bool refuse_if_stopping(RequestContext& rctx) {
  if (!rctx.ctx.stopping.load()) return false;
  rctx.error(503, "SHUTTING_DOWN", "the server is shutting down");
  return true;
}

Bytes body_bytes(const RequestContext& rctx) { return Bytes(rctx.req.body().begin(), rctx.req.body().end()); }

// Errors of a room's callbacks: an undecodable update is the client's fault.
void room_error(RequestContext& rctx, const Error& e) {
  if (e.code == ErrorCode::kInvalidValue) return rctx.error(400, "BAD_REQUEST", e.message);
  rctx.error_from(e);
}

ResponseSpec json_ok(std::string schema, std::string description) {
  return ResponseSpec{200, std::move(schema), "application/json", std::move(description)};
}
ResponseSpec binary_ok(std::string description) {
  return ResponseSpec{200, "", "application/octet-stream", std::move(description)};
}
ResponseSpec err(unsigned status, std::string description) {
  return ResponseSpec{status, "Error", "application/json", std::move(description)};
}

// ---- Handlers ------------------------------------------------------------------

void get_doc_json(std::shared_ptr<RequestContext> rctx) {
  auto name = doc_param(*rctx, Role::kViewer);
  if (!name) return;
  rctx->ctx.rooms->acquire(*name)->get_json([rctx](Result<std::string> r) {
    if (!r) return room_error(*rctx, r.error());
    HttpResponse res{http::status::ok, rctx->req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = std::move(*r);
    res.keep_alive(rctx->req.keep_alive());
    rctx->reply(std::move(res));
  });
}

void get_doc_update(std::shared_ptr<RequestContext> rctx) {
  auto name = doc_param(*rctx, Role::kViewer);
  if (!name) return;
  Bytes sv;
  if (auto p = rctx->query_param("stateVector")) {
    auto decoded = base64url_decode(*p);
    if (!decoded) return rctx->error(400, "BAD_REQUEST", "stateVector is not base64url");
    sv = std::move(*decoded);
  }
  bool v2 = false;
  if (auto f = rctx->query_param("format")) {
    if (*f == "v2") {
      v2 = true;
    } else if (*f != "v1") {
      return rctx->error(400, "BAD_REQUEST", "format must be v1 or v2");
    }
  }
  rctx->ctx.rooms->acquire(*name)->get_update(std::move(sv), v2, [rctx](Result<Bytes> r) {
    if (!r) return room_error(*rctx, r.error());
    rctx->reply_bytes(200, std::move(*r), "application/octet-stream");
  });
}

void post_doc_update(std::shared_ptr<RequestContext> rctx) {
  auto name = doc_param(*rctx, Role::kEditor);
  if (!name || refuse_if_stopping(*rctx)) return;
  Bytes body = body_bytes(*rctx);
  if (body.empty()) return rctx->error(400, "BAD_REQUEST", "empty body: expected a binary Yjs update (v1)");
  rctx->ctx.rooms->acquire(*name)->post_update(std::move(body), [rctx](Result<PostResult> r) {
    if (!r) return room_error(*rctx, r.error());
    json::object out{{"changed", r->changed}, {"epoch", r->epoch}};
    out["seq"] = r->seq;
    rctx->reply_json(200, out);
  });
}

void get_doc_state_vector(std::shared_ptr<RequestContext> rctx) {
  auto name = doc_param(*rctx, Role::kViewer);
  if (!name) return;
  rctx->ctx.rooms->acquire(*name)->get_state_vector([rctx](Result<Bytes> r) {
    if (!r) return room_error(*rctx, r.error());
    rctx->reply_bytes(200, std::move(*r), "application/octet-stream");
  });
}

void delete_doc(std::shared_ptr<RequestContext> rctx) {
  auto name = doc_param(*rctx, Role::kOwner);
  if (!name || refuse_if_stopping(*rctx)) return;
  rctx->ctx.rooms->acquire(*name)->remove_document([rctx, name = *name](Result<RemoveResult> r) {
    if (!r) return room_error(*rctx, r.error());
    if (!r->existed) return rctx->error(404, "NOT_FOUND", "no document named '" + name + "'");
    json::object out{{"deleted", true}};
    out["connectionsClosed"] = r->connections_closed;
    rctx->reply_json(200, out);
  });
}

void list_docs(std::shared_ptr<RequestContext> rctx) {
  std::string prefix = rctx->query_param("prefix").value_or("");
  std::string cursor = rctx->query_param("cursor").value_or("");
  std::size_t limit = kDefaultListLimit;
  if (auto l = rctx->query_param("limit")) {
    const char* end = l->data() + l->size();
    auto [p, ec] = std::from_chars(l->data(), end, limit);
    if (l->empty() || ec != std::errc{} || p != end || limit < 1 || limit > kMaxListLimit) {
      return rctx->error(400, "BAD_REQUEST", fmt::format("limit must be an integer 1..{}", kMaxListLimit));
    }
  }
  // Listing reads SQLite and checks a role per name: that runs on the loader
  // pool, not on an I/O thread.
  asio::post(rctx->ctx.rooms->loader(), [rctx, prefix = std::move(prefix), cursor = std::move(cursor), limit] {
    // Names the caller may not see are skipped, so one page may take several
    // reads; a bounded scan keeps a caller who sees few names from walking
    // the whole catalog in one request (the cursor resumes where it stopped).
    const std::size_t max_scanned = std::max<std::size_t>(1000, limit * 4);
    json::array docs;
    std::string next = cursor;
    for (std::size_t scanned = 0; scanned < max_scanned && docs.size() < limit;) {
      auto page = rctx->ctx.store.list(prefix, limit - docs.size(), next);
      if (!page) {
        if (page.error().code == ErrorCode::kInvalidArgument) {
          return rctx->error(400, "BAD_REQUEST", "cursor: " + page.error().message);
        }
        return rctx->error_from(page.error());
      }
      scanned += page->documents.size();
      for (const storage::DocumentInfo& d : page->documents) {
        if (doc_role(rctx->ctx, rctx->principal, d.name) < Role::kViewer) continue;
        json::object o{{"name", d.name}, {"epoch", d.epoch}, {"lastChange", iso_time(d.last_change)}};
        o["size"] = d.size_bytes;
        o["lastSeq"] = d.last_seq;
        docs.push_back(std::move(o));
      }
      next = std::move(page->next_cursor);
      if (next.empty()) break;
    }
    json::object out{{"documents", std::move(docs)}};
    if (next.empty()) {
      out["nextCursor"] = nullptr;
    } else {
      out["nextCursor"] = next;
    }
    rctx->reply_json(200, out);
  });
}

void reconcile_doc(std::shared_ptr<RequestContext> rctx) {
  auto name = doc_param(*rctx, Role::kEditor);
  if (!name || refuse_if_stopping(*rctx)) return;
  Bytes body = body_bytes(*rctx);
  if (body.empty()) return rctx->error(400, "BAD_REQUEST", "empty body: expected the document state as a Yjs update (v1)");
  std::string expected_epoch = rctx->query_param("epoch").value_or("");
  rctx->ctx.rooms->acquire(*name)->reconcile(
      std::move(body), std::move(expected_epoch), [rctx](Result<ReconcileResult> r) {
        if (!r) {
          if (r.error().code == ErrorCode::kEpochMismatch) {
            return rctx->error(409, "EPOCH_MISMATCH", r.error().message);
          }
          return room_error(*rctx, r.error());
        }
        json::object out{{"changed", r->changed},
                         {"epoch", r->epoch},
                         {"update", base64url_encode(r->update)},
                         {"stateVector", base64url_encode(r->state_vector)}};
        out["seq"] = r->seq;
        rctx->reply_json(200, out);
      });
}

}  // namespace

void add_doc_routes(RouteTable& table) {
  using http::verb;
  const ResponseSpec bad_name = err(400, "invalid document name or parameter");
  const ResponseSpec unauth = err(401, "no valid session");
  const ResponseSpec forbidden = err(403, "the caller's role on the document does not allow this");
  const ResponseSpec not_found = err(404, "no such document");
  const ResponseSpec stopping = err(503, "the server is shutting down or storage is unavailable");

  {
    RouteSpec r;
    r.method = verb::get;
    r.path = "/api/docs";
    r.operation_id = "listDocs";
    r.summary = "List documents (name, size, last change), paginated, in bytewise name order";
    r.query_params = {"prefix", "limit", "cursor"};
    r.responses = {json_ok("DocList", "one page of documents"), bad_name, unauth, stopping};
    r.rate = RateClass::kRead;
    r.handler = list_docs;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::get;
    r.path = "/api/docs/{id}";
    r.operation_id = "getDoc";
    r.summary = "The document's content as JSON (as `update to-json` prints it)";
    r.responses = {json_ok("DocContent", "the content of every root type"), bad_name, unauth, forbidden, not_found};
    r.rate = RateClass::kRead;
    r.handler = get_doc_json;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::delete_;
    r.path = "/api/docs/{id}";
    r.operation_id = "deleteDoc";
    r.summary = "Delete a document: its connections are closed with 4404 and its storage removed";
    r.responses = {json_ok("DocDeleteResult", "deleted"), bad_name, unauth, forbidden, not_found, stopping};
    r.rate = RateClass::kWrite;
    r.handler = delete_doc;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::get;
    r.path = "/api/docs/{id}/update";
    r.operation_id = "getDocUpdate";
    r.summary = "The document as a binary Yjs update, or the diff against a state vector";
    r.query_params = {"stateVector", "format"};
    r.responses = {binary_ok("a Yjs update (v1, or v2 with format=v2)"), bad_name, unauth, forbidden, not_found};
    r.rate = RateClass::kRead;
    r.handler = get_doc_update;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::post;
    r.path = "/api/docs/{id}/update";
    r.operation_id = "postDocUpdate";
    r.summary = "Apply a binary Yjs update (v1) as if a client sent it; answered once durable";
    r.request_content_type = "application/octet-stream";
    r.responses = {json_ok("DocUpdateResult", "stored (or changed nothing)"), bad_name, unauth, forbidden, stopping};
    r.rate = RateClass::kWrite;
    r.handler = post_doc_update;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::get;
    r.path = "/api/docs/{id}/state-vector";
    r.operation_id = "getDocStateVector";
    r.summary = "The document's state vector (binary)";
    r.responses = {binary_ok("an encoded state vector"), bad_name, unauth, forbidden, not_found};
    r.rate = RateClass::kRead;
    r.handler = get_doc_state_vector;
    table.add(std::move(r));
  }
  {
    RouteSpec r;
    r.method = verb::post;
    r.path = "/api/reconcile/doc/{id}";
    r.operation_id = "reconcileDoc";
    r.summary = "Send the client's whole document state (binary Yjs update v1); get back what it lacks";
    r.request_content_type = "application/octet-stream";
    r.query_params = {"epoch"};
    r.responses = {json_ok("ReconcileResult", "merged; what the client lacks, the state vector and epoch"),
                   bad_name, unauth, forbidden, err(409, "EPOCH_MISMATCH: the document was reset since `epoch`"),
                   stopping};
    r.rate = RateClass::kWrite;
    r.handler = reconcile_doc;
    table.add(std::move(r));
  }
}

}  // namespace corates::server
