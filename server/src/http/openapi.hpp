#pragma once
// The OpenAPI 3.1 description of the HTTP API, generated from the RouteTable
// and the embedded contracts/schemas (issue 4, "Contracts"). Served at
// GET /openapi.json, printed by `corates-sync openapi`, committed at
// contracts/openapi.json (scripts/check-contracts.sh fails on drift).

#include "corates/common/result.hpp"
#include "http/route_table.hpp"
#include "http/schema_validator.hpp"

#include <boost/json/value.hpp>

#include <string>

namespace corates::server {

// Every route of the server, in the order the server registers them (the
// server and `corates-sync openapi` build their tables with this one list).
void add_all_routes(RouteTable& table);

// The document. Schemas become components.schemas (their $id and $schema
// dropped, file references rewritten to #/components/schemas/<name>).
// kInvalidArgument: a route names a schema that does not exist, or two
// routes share an operation id.
Result<boost::json::value> build_openapi(const RouteTable& table, const SchemaRegistry& schemas);

// `v` as indented JSON (two spaces, keys in insertion order, trailing
// newline): stable text for the committed file.
std::string pretty_json(const boost::json::value& v);

}  // namespace corates::server
