#include "http/schema_validator.hpp"

#include <boost/json.hpp>

#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>

namespace corates::server {
namespace json = boost::json;

struct SchemaRegistry::Compiled {
  json::value document;
  valijson::Schema schema;
};

namespace {

// Escapes one reference token of a JSON pointer (RFC 6901).
void append_token(std::string& pointer, std::string_view token) {
  pointer.push_back('/');
  for (char c : token) {
    if (c == '~') pointer += "~0";
    else if (c == '/') pointer += "~1";
    else pointer.push_back(c);
  }
}

// The text between the last pair of single quotes, e.g. the property name in
// "Missing required property 'seq'."
std::string quoted_tail(std::string_view s) {
  const std::size_t end = s.rfind('\'');
  if (end == std::string_view::npos || end == 0) return {};
  const std::size_t begin = s.rfind('\'', end - 1);
  if (begin == std::string_view::npos) return {};
  return std::string(s.substr(begin + 1, end - begin - 1));
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

struct RuleText {
  std::string_view prefix;
  std::string_view rule;  // "" = only restates a nested failure already reported
};

// Valijson reports a rule as English text; map it back to the keyword. Order
// matters where one prefix extends another ("less than or equal" first).
constexpr RuleText kRules[] = {
    {"Missing required property", "required"},
    {"Object contains a property that could not be validated", "additionalProperties"},
    {"Value type not permitted", "type"},
    {"Expected number less than or equal to", "maximum"},
    {"Expected number less than", "exclusiveMaximum"},
    {"Expected number greater than or equal to", "minimum"},
    {"Expected number greater than", "exclusiveMinimum"},
    {"String should be no more than", "maxLength"},
    {"String should be no fewer than", "minLength"},
    {"Array should contain no more than", "maxItems"},
    {"Array should contain no fewer than", "minItems"},
    {"Object should have no more than", "maxProperties"},
    {"Object should have no fewer than", "minProperties"},
    {"Failed to match regex", "pattern"},
    {"Failed to match against any enum values", "enum"},
    {"Failed to match expected value set by 'const'", "const"},
    {"Target value and comparison value are not equal", "const"},
    {"Failed to any values against subschema in 'contains'", "contains"},
    {"Elements at indexes", "uniqueItems"},
    {"Value should be a multiple of", "multipleOf"},
    {"Value could not be converted", "multipleOf"},
    {"Array contains more items than allowed", "items"},
    {"Cannot validate item #", "items"},
    {"Missing dependency", "dependentRequired"},
    {"Failed to validate against dependent schema", "dependentSchemas"},
    {"Target should not validate against schema specified in 'not'", "not"},
    {"Failed to validate against any schemas allowed by anyOf", "anyOf"},
    {"Failed to validate against any child schemas allowed by oneOf", "oneOf"},
    {"Failed to validate against exactly one child schema", "oneOf"},
    {"String should be a valid", "format"},
    {"Failed to validate item #", ""},
    {"Failed to validate against schema associated with", ""},
    {"Failed to validate against additional properties schema", ""},
    {"Failed to validate against child schema #", ""},
    {"Failed to validate against a conditional schema", ""},
};

std::string_view rule_of(std::string_view description) {
  for (const auto& r : kRules) {
    if (starts_with(description, r.prefix)) return r.rule;
  }
  return "schema";
}

std::string message_for(std::string_view rule, const std::string& pointer, const std::string& description) {
  const std::string where = pointer.empty() ? std::string("the body") : "'" + pointer + "'";
  if (rule == "required") return where + " is required";
  if (rule == "additionalProperties") return where + " is not allowed here";
  if (rule == "type") return where + " has the wrong type";
  // Valijson's own wording names only the limit and the rule; keep it.
  return where + ": " + description;
}

const json::value* find_doc(const std::map<std::string, json::value, std::less<>>& docs, std::string_view uri) {
  std::string_view name = uri;
  if (const std::size_t slash = name.rfind('/'); slash != std::string_view::npos) name.remove_prefix(slash + 1);
  if (name.size() > 5 && name.substr(name.size() - 5) == ".json") name.remove_suffix(5);
  auto it = docs.find(name);
  return it == docs.end() ? nullptr : &it->second;
}

}  // namespace

SchemaRegistry::~SchemaRegistry() = default;

Result<std::shared_ptr<const SchemaRegistry>> SchemaRegistry::compile(
    const std::vector<std::pair<std::string, std::string>>& docs) {
  std::map<std::string, json::value, std::less<>> parsed;
  for (const auto& [name, text] : docs) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) return fail(ErrorCode::kInvalidArgument, "schema " + name + ": not valid JSON: " + ec.message());
    if (!v.is_object()) return fail(ErrorCode::kInvalidArgument, "schema " + name + ": not a JSON object");
    parsed.emplace(name, std::move(v));
  }
  std::shared_ptr<SchemaRegistry> reg(new SchemaRegistry());
  for (const auto& [name, doc] : parsed) {
    auto compiled = std::make_unique<Compiled>();
    compiled->document = doc;
    try {
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      valijson::adapters::BoostJsonAdapter adapter(compiled->document);
      // Files refer to each other by bare name; Valijson owns what fetch returns.
      auto fetch = [&parsed](const std::string& uri) -> const json::value* {
        const json::value* found = find_doc(parsed, uri);
        return found ? new json::value(*found) : nullptr;
      };
      auto free_doc = [](const json::value* d) { delete d; };
      parser.populateSchema(adapter, compiled->schema, fetch, free_doc);
    } catch (const std::exception& e) {
      return fail(ErrorCode::kInvalidArgument, "schema " + name + ": " + e.what());
    }
    reg->schemas_.emplace(name, std::move(compiled));
  }
  return std::shared_ptr<const SchemaRegistry>(std::move(reg));
}

bool SchemaRegistry::has(std::string_view name) const { return schemas_.find(name) != schemas_.end(); }

const json::value* SchemaRegistry::document(std::string_view name) const {
  auto it = schemas_.find(name);
  return it == schemas_.end() ? nullptr : &it->second->document;
}

std::vector<std::string> SchemaRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : schemas_) out.push_back(name);
  return out;
}

std::vector<Violation> SchemaRegistry::validate(std::string_view name, const json::value& instance) const {
  auto it = schemas_.find(name);
  if (it == schemas_.end()) return {Violation{"", "schema", "no schema for this body"}};
  valijson::ValidationResults results;
  try {
    valijson::Validator validator(valijson::Validator::kStrongTypes);
    valijson::adapters::BoostJsonAdapter adapter(instance);
    if (validator.validate(it->second->schema, adapter, &results)) return {};
  } catch (const std::exception& e) {
    // Only a schema bug gets here (a pattern the regex engine refuses);
    // the client hears a generic failure, the log has the reason.
    spdlog::error("schema {}: validation raised: {}", name, e.what());
    return {Violation{"", "schema", "the body could not be validated"}};
  }
  std::vector<Violation> out;
  std::set<std::pair<std::string, std::string>> seen;
  valijson::ValidationResults::Error err;
  while (results.popError(err)) {
    const std::string_view rule = rule_of(err.description);
    if (rule.empty()) continue;
    std::string pointer;
    for (const std::string& c : err.context) {
      if (c.size() >= 2 && c.front() == '[' && c.back() == ']') {
        append_token(pointer, std::string_view(c).substr(1, c.size() - 2));
      }
    }
    if (rule == "required" || rule == "additionalProperties") {
      if (auto prop = quoted_tail(err.description); !prop.empty()) append_token(pointer, prop);
    }
    if (!seen.emplace(pointer, std::string(rule)).second) continue;
    out.push_back(Violation{pointer, std::string(rule), message_for(rule, pointer, err.description)});
  }
  return out;
}

json::array violations_to_details(const std::vector<Violation>& violations) {
  json::array details;
  for (const auto& v : violations) {
    details.push_back(json::object{{"pointer", v.pointer}, {"rule", v.rule}, {"message", v.message}});
  }
  return details;
}

const SchemaRegistry& contract_schemas() {
  static const std::shared_ptr<const SchemaRegistry> registry = [] {
    auto r = SchemaRegistry::compile(embedded_schema_files());
    if (!r) {
      // The schemas are part of the build: a broken one cannot be served around.
      std::fprintf(stderr, "corates-sync: contracts/schemas: %s\n", r.error().message.c_str());
      std::abort();
    }
    return *r;
  }();
  return *registry;
}

}  // namespace corates::server
