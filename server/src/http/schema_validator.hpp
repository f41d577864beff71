#pragma once
// JSON Schema validation of request bodies (issue 4, "Contracts"). The schemas
// are the files of contracts/schemas/, embedded into the binary at build time
// (server/CMakeLists.txt generates contract_schemas.cpp), so the installed
// binary does not depend on its working directory. Each is compiled once.
//
// The engine is Valijson (Boost.JSON adapter). Valijson implements draft 7;
// our schemas declare 2020-12 and keep to the keywords whose meaning is the
// same in both (contracts/README.md lists them), so the tests can check the
// same files with a 2020-12 validator (ajv).
//
// $ref between files uses the bare file name ("Error.json",
// "Op.json#/$defs/Insert").

#include "corates/common/result.hpp"

#include <boost/json/value.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corates::server {

// One broken rule: where (JSON pointer into the body, "" = the body itself),
// which keyword ("required", "type", "minimum", "additionalProperties", ...)
// and a message for people. Nothing of the server's internals.
struct Violation {
  std::string pointer;
  std::string rule;
  std::string message;
};

class SchemaRegistry {
 public:
  // `docs`: schema name ("Error") -> JSON text. Parses and compiles every
  // schema; kInvalidArgument names the first one that is not valid JSON, has
  // a dangling $ref or is not a schema.
  static Result<std::shared_ptr<const SchemaRegistry>> compile(
      const std::vector<std::pair<std::string, std::string>>& docs);

  ~SchemaRegistry();
  SchemaRegistry(const SchemaRegistry&) = delete;
  SchemaRegistry& operator=(const SchemaRegistry&) = delete;

  bool has(std::string_view name) const;
  // Every violation found (deduplicated, in document order); empty = valid.
  // An unknown schema name is reported as one violation with rule "schema".
  // Thread-safe: the compiled schemas are never modified after compile().
  std::vector<Violation> validate(std::string_view name, const boost::json::value& instance) const;
  // The parsed schema document, or nullptr.
  const boost::json::value* document(std::string_view name) const;
  // Schema names, sorted.
  std::vector<std::string> names() const;

  struct Compiled;

 private:
  SchemaRegistry() = default;
  std::map<std::string, std::unique_ptr<Compiled>, std::less<>> schemas_;
};

// The schemas embedded from contracts/schemas/, compiled on the first call
// (the server calls it at start-up; a broken schema is a build bug and ends
// the process with a message).
const SchemaRegistry& contract_schemas();

// The embedded files themselves: name (without ".json") -> JSON text.
const std::vector<std::pair<std::string, std::string>>& embedded_schema_files();

// Violations as the "details" array of a VALIDATION_FAILED error.
boost::json::array violations_to_details(const std::vector<Violation>& violations);

}  // namespace corates::server
