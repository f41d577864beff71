#include "http/openapi.hpp"

#include "corates/server/openapi.hpp"
#include "corates/server/server.hpp"
#include "http/versioning.hpp"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <set>

namespace corates::server {
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kSecurityScheme = "sessionToken";

std::string_view rate_class_name(RateClass c) {
  switch (c) {
    case RateClass::kNone: return "none";
    case RateClass::kRead: return "read";
    case RateClass::kWrite: return "write";
    case RateClass::kAuth: return "auth";
    case RateClass::kOps: return "ops";
  }
  return "none";
}

std::string status_text(unsigned status) {
  const std::string_view reason = http::obsolete_reason(static_cast<http::status>(status));
  return reason.empty() || reason == "<unknown-status>" ? "status " + std::to_string(status) : std::string(reason);
}

json::value ref_to(std::string_view schema) {
  return json::object{{"$ref", "#/components/schemas/" + std::string(schema)}};
}

// A schema file as a component: "$ref": "Other.json#/x" -> "#/components/schemas/Other/x",
// "#/x" -> "#/components/schemas/<self>/x".
void rewrite_refs(json::value& v, std::string_view self) {
  if (v.is_array()) {
    for (auto& e : v.as_array()) rewrite_refs(e, self);
    return;
  }
  if (!v.is_object()) return;
  json::object& o = v.as_object();
  for (auto& [k, child] : o) {
    if (k == "$ref" && child.is_string()) {
      std::string ref(child.as_string());
      const std::size_t hash = ref.find('#');
      std::string file = ref.substr(0, hash);
      std::string fragment = hash == std::string::npos ? std::string{} : ref.substr(hash + 1);
      std::string name = file.empty() ? std::string(self) : file;
      if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) name.resize(name.size() - 5);
      child = "#/components/schemas/" + name + fragment;
    } else if (k != "const" && k != "enum" && k != "examples" && k != "default") {
      rewrite_refs(child, self);
    }
  }
}

std::vector<std::string> path_params(std::string_view path) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = path.find('{', pos)) != std::string_view::npos) {
    const std::size_t end = path.find('}', pos);
    if (end == std::string_view::npos) break;
    out.emplace_back(path.substr(pos + 1, end - pos - 1));
    pos = end + 1;
  }
  return out;
}

json::object response_headers() {
  return json::object{{"X-API-Version", {{"$ref", "#/components/headers/X-API-Version"}}},
                      {"X-Cache-Version", {{"$ref", "#/components/headers/X-Cache-Version"}}},
                      {"X-Request-Id", {{"$ref", "#/components/headers/X-Request-Id"}}}};
}

json::object error_response_object(std::string description) {
  return json::object{{"description", std::move(description)},
                      {"headers", response_headers()},
                      {"content", {{"application/json", {{"schema", ref_to("Error")}}}}}};
}

json::object body_content(std::string_view content_type, std::string_view schema) {
  json::object media;
  if (!schema.empty()) {
    media["schema"] = ref_to(schema);
  } else if (content_type == "application/octet-stream") {
    media["schema"] = json::object{{"type", "string"}, {"contentMediaType", "application/octet-stream"}};
  } else {
    media["schema"] = json::object{{"type", "string"}};
  }
  return json::object{{std::string(content_type), std::move(media)}};
}

// Pretty printer: Boost.JSON keeps object keys in insertion order, so the
// output is as stable as the table and the schema files.
void pretty(const json::value& v, std::string& out, int indent) {
  const auto newline = [&](int n) {
    out.push_back('\n');
    out.append(static_cast<std::size_t>(n) * 2, ' ');
  };
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out.push_back('{');
    bool first = true;
    for (const auto& [k, child] : o) {
      if (!first) out.push_back(',');
      first = false;
      newline(indent + 1);
      out += json::serialize(json::value(k));
      out += ": ";
      pretty(child, out, indent + 1);
    }
    newline(indent);
    out.push_back('}');
  } else if (v.is_array()) {
    const auto& a = v.as_array();
    if (a.empty()) {
      out += "[]";
      return;
    }
    out.push_back('[');
    bool first = true;
    for (const auto& child : a) {
      if (!first) out.push_back(',');
      first = false;
      newline(indent + 1);
      pretty(child, out, indent + 1);
    }
    newline(indent);
    out.push_back(']');
  } else {
    out += json::serialize(v);
  }
}

}  // namespace

void add_all_routes(RouteTable& table) {
  add_system_routes(table);
  add_metadata_routes(table);
  add_auth_routes(table);
  add_doc_routes(table);
  add_ops_routes(table);
  add_telemetry_routes(table);
}

Result<json::value> build_openapi(const RouteTable& table, const SchemaRegistry& schemas) {
  json::object paths;
  std::set<std::string> operation_ids;
  auto need_schema = [&](std::string_view name, const RouteSpec& r) -> Result<void> {
    if (name.empty() || schemas.has(name)) return {};
    return fail(ErrorCode::kInvalidArgument,
                "route " + std::string(http::to_string(r.method)) + " " + r.path + ": no schema contracts/schemas/" +
                    std::string(name) + ".json");
  };

  for (const RouteSpec& r : table.routes()) {
    if (r.operation_id.empty() || !operation_ids.insert(r.operation_id).second) {
      return fail(ErrorCode::kInvalidArgument, "route " + r.path + ": missing or repeated operationId '" +
                                                   r.operation_id + "'");
    }
    json::object op;
    op["operationId"] = r.operation_id;
    op["summary"] = r.summary;
    // The first path segment after /api groups operations in the docs.
    {
      std::string_view p = r.path;
      if (p.substr(0, 5) == "/api/") p.remove_prefix(5);
      else if (!p.empty() && p.front() == '/') p.remove_prefix(1);
      std::string tag(p.substr(0, p.find('/')));
      if (tag.empty() || r.path.substr(0, 5) != "/api/") tag = "system";
      op["tags"] = json::array{json::value(tag)};
    }

    json::array params;
    for (const std::string& name : path_params(r.path)) {
      params.push_back(json::object{{"name", name},
                                    {"in", "path"},
                                    {"required", true},
                                    {"description", "percent-encoded path segment ('/' as %2F)"},
                                    {"schema", {{"type", "string"}, {"minLength", 1}}}});
    }
    for (const std::string& name : r.query_params) {
      params.push_back(json::object{{"name", name}, {"in", "query"}, {"required", false}, {"schema", {{"type", "string"}}}});
    }
    params.push_back(json::object{{"$ref", "#/components/parameters/ClientVersion"}});
    op["parameters"] = std::move(params);

    if (!r.request_content_type.empty()) {
      if (auto ok = need_schema(r.request_schema, r); !ok) return ok.error();
      op["requestBody"] = json::object{{"required", true},
                                       {"content", body_content(r.request_content_type, r.request_schema)}};
    }

    json::object responses;
    for (const ResponseSpec& rs : r.responses) {
      if (auto ok = need_schema(rs.schema, r); !ok) return ok.error();
      const std::string key = std::to_string(rs.status);
      if (auto* existing = responses.if_contains(key)) {
        // Two causes for one status: one entry, both descriptions.
        auto& d = existing->as_object()["description"];
        d = std::string(d.as_string()) + "; " + rs.description;
        continue;
      }
      json::object resp{{"description", rs.description.empty() ? status_text(rs.status) : rs.description},
                        {"headers", response_headers()}};
      if (!rs.content_type.empty()) resp["content"] = body_content(rs.content_type, rs.schema);
      responses[key] = std::move(resp);
    }
    // What the pipeline itself answers, whatever the handler declares.
    auto add_error = [&](unsigned status, std::string description) {
      const std::string key = std::to_string(status);
      if (!responses.contains(key)) responses[key] = error_response_object(std::move(description));
    };
    if (!r.request_schema.empty()) add_error(400, "MALFORMED_JSON or VALIDATION_FAILED (details name each pointer and rule)");
    if (!r.request_content_type.empty()) {
      add_error(413, "PAYLOAD_TOO_LARGE: the body is over the route's limit");
      add_error(415, "UNSUPPORTED_MEDIA_TYPE: the body is not " + r.request_content_type);
    }
    if (!version_exempt_path(r.path)) {
      add_error(400, "INVALID_CLIENT_VERSION: X-Client-Version is not SemVer");
      add_error(426, "CLIENT_UPGRADE_REQUIRED: the client is older than minSupportedClient");
    }
    if (r.auth == AuthRequirement::kSession) add_error(401, "UNAUTHENTICATED: no valid session");
    if (r.rate != RateClass::kNone) add_error(429, "RATE_LIMITED: over the rate limit (see Retry-After)");
    responses["default"] = error_response_object("any other error (see contracts/errors.md)");
    op["responses"] = std::move(responses);

    if (r.auth == AuthRequirement::kNone) op["security"] = json::array{};
    op["x-rate-limit-class"] = rate_class_name(r.rate);

    std::string method(http::to_string(r.method));
    for (char& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    json::value& item = paths[r.path];
    if (!item.is_object()) item = json::object{};
    item.as_object()[method] = std::move(op);
  }

  json::object components_schemas;
  for (const std::string& name : schemas.names()) {
    json::value copy = *schemas.document(name);
    json::object& o = copy.as_object();
    // The document's jsonSchemaDialect says 2020-12; $id would re-base the rewritten refs.
    o.erase("$schema");
    o.erase("$id");
    rewrite_refs(copy, name);
    components_schemas[name] = std::move(copy);
  }

  json::object doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = json::object{
      {"title", "corates-sync HTTP API"},
      {"version", std::string(kApiVersion)},
      {"description",
       "The HTTP API of the corates-sync server, generated from its route table "
       "(server/src/http) and contracts/schemas. Errors use the envelope in "
       "#/components/schemas/Error; the codes are listed in contracts/errors.md."},
      {"license", {{"name", "MIT"}, {"identifier", "MIT"}}}};
  doc["jsonSchemaDialect"] = "https://json-schema.org/draft/2020-12/schema";
  doc["servers"] = json::array{json::object{{"url", "http://127.0.0.1:8080"}, {"description", "corates-sync serve (default address)"}}};
  doc["security"] = json::array{json::object{{std::string(kSecurityScheme), json::array{}}}};
  std::set<std::string> tags;
  for (const auto& [_, item] : paths) {
    for (const auto& [__, op] : item.as_object()) tags.insert(std::string(op.at("tags").at(0).as_string()));
  }
  json::array tag_list;
  for (const auto& t : tags) tag_list.push_back(json::object{{"name", t}, {"description", t + " routes"}});
  doc["tags"] = std::move(tag_list);
  doc["paths"] = std::move(paths);
  doc["components"] = json::object{
      {"schemas", std::move(components_schemas)},
      {"parameters",
       {{"ClientVersion",
         {{"name", "X-Client-Version"},
          {"in", "header"},
          {"required", false},
          {"description", "the client's version (SemVer); too old: 426 CLIENT_UPGRADE_REQUIRED"},
          {"schema", {{"type", "string"}}}}}}},
      {"headers",
       {{"X-API-Version", {{"description", "the server's API version"}, {"schema", {{"type", "string"}}}}},
        {"X-Cache-Version", {{"description", "clients drop cached data made under another cache version"},
                             {"schema", {{"type", "string"}}}}},
        {"X-Request-Id", {{"description", "the request's id (the client's if it sent a plain one)"},
                          {"schema", {{"type", "string"}}}}}}},
      {"securitySchemes",
       {{std::string(kSecurityScheme),
         {{"type", "http"},
          {"scheme", "bearer"},
          {"description", "a session token from POST /api/auth/session or `corates-sync token`"}}}}}};
  return json::value(std::move(doc));
}

std::string pretty_json(const json::value& v) {
  std::string out;
  pretty(v, out, 0);
  out.push_back('\n');
  return out;
}

Result<std::string> openapi_document() {
  RouteTable table;
  add_all_routes(table);
  auto doc = build_openapi(table, contract_schemas());
  if (!doc) return doc.error();
  return pretty_json(*doc);
}

}  // namespace corates::server
