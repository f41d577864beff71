#pragma once
// The server's HTTP contract as text, for `corates-sync openapi` and the
// contract checks (scripts/check-contracts.sh): the OpenAPI 3.1 document
// generated from the route table and contracts/schemas, the same bytes that
// GET /openapi.json serves.

#include "corates/common/result.hpp"

#include <string>

namespace corates::server {

// Indented JSON ending in a newline. kInvalidArgument: the route table and
// the schemas disagree (a route names a missing schema) - a build bug.
// Any thread; builds a route table of its own, starts nothing.
Result<std::string> openapi_document();

}  // namespace corates::server
