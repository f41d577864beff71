#include "http/schema_validator.hpp"

#include <boost/json.hpp>

#include <valijson/adapters/boost_json_adapter.hpp>
#include <valijson/constraint_builder.hpp>
#include <valijson/constraints/concrete_constraints.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <new>
#include <regex>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <set>

namespace corates::server {
namespace json = boost::json;

struct SchemaRegistry::Compiled {
  json::value document;   // as written (openapi.json copies it)
  json::value validated;  // with "pattern" replaced by kSafePattern
  valijson::Schema schema;
};

namespace {

// Valijson runs "pattern" through std::regex, whose matcher recurses once per
// input character: a 30,000-character string overflows an 8 MB stack. So
// patterns are compiled under our own keyword: a lone repeated character
// class (^[A-Za-z0-9_-]*$) is checked in linear time, anything else only on
// strings short enough for std::regex, longer ones fail the rule.
constexpr std::string_view kSafePattern = "x-corates-pattern";
constexpr std::size_t kRegexInputLimit = 1024;

class SafePatternConstraint : public valijson::constraints::PolyConstraint {
 public:
  explicit SafePatternConstraint(std::string pattern) : pattern_(std::move(pattern)), regex_(pattern_) {
    parse_simple();
  }

  bool validate(const valijson::adapters::Adapter& target, const std::vector<std::string>& context,
                valijson::ValidationResults* results) const override {
    if (!target.isString()) return true;  // "pattern" constrains strings only
    const std::string s = target.asString();
    bool ok;
    if (simple_) {
      ok = s.size() >= min_ && s.size() <= max_ &&
           std::all_of(s.begin(), s.end(), [&](char c) { return allowed_[static_cast<unsigned char>(c)]; });
    } else {
      ok = s.size() <= kRegexInputLimit && std::regex_search(s, regex_);
    }
    if (!ok && results != nullptr) {
      results->pushError(context, "Failed to match regex specified by 'pattern' constraint.");
    }
    return ok;
  }

 private:
  Constraint* cloneInto(void* ptr) const override { return new (ptr) SafePatternConstraint(*this); }
  std::size_t sizeOf() const override { return sizeof(SafePatternConstraint); }

  // Recognizes ^[class]*$, ^[class]+$, ^[class]{n}$ and ^[class]{m,n}$ with
  // literal characters and ranges in the class.
  void parse_simple() {
    std::string_view p = pattern_;
    if (p.size() < 5 || p.front() != '^' || p.back() != '$' || p[1] != '[') return;
    const std::size_t close = p.find(']', 2);
    if (close == std::string_view::npos) return;
    const std::string_view cls = p.substr(2, close - 2);
    const std::string_view rep = p.substr(close + 1, p.size() - close - 2);
    if (cls.empty() || cls.front() == '^' || cls.find('\\') != std::string_view::npos) return;
    std::array<bool, 256> allowed{};
    for (std::size_t i = 0; i < cls.size(); ++i) {
      if (i + 2 < cls.size() && cls[i + 1] == '-') {
        for (int c = static_cast<unsigned char>(cls[i]); c <= static_cast<unsigned char>(cls[i + 2]); ++c) {
          allowed[static_cast<std::size_t>(c)] = true;
        }
        i += 2;
      } else {
        allowed[static_cast<unsigned char>(cls[i])] = true;
      }
    }
    std::size_t min = 0;
    std::size_t max = static_cast<std::size_t>(-1);
    if (rep == "*") {
    } else if (rep == "+") {
      min = 1;
    } else if (rep.size() >= 3 && rep.front() == '{' && rep.back() == '}') {
      const std::string_view inner = rep.substr(1, rep.size() - 2);
      const std::size_t comma = inner.find(',');
      auto number = [](std::string_view t, std::size_t& out) {
        if (t.empty() || t.size() > 9) return false;
        out = 0;
        for (char c : t) {
          if (c < '0' || c > '9') return false;
          out = out * 10 + static_cast<std::size_t>(c - '0');
        }
        return true;
      };
      if (comma == std::string_view::npos) {
        if (!number(inner, min)) return;
        max = min;
      } else if (!number(inner.substr(0, comma), min) || !number(inner.substr(comma + 1), max)) {
        return;
      }
    } else {
      return;
    }
    allowed_ = allowed;
    min_ = min;
    max_ = max;
    simple_ = true;
  }

  std::string pattern_;
  std::regex regex_;
  bool simple_ = false;
  std::array<bool, 256> allowed_{};
  std::size_t min_ = 0;
  std::size_t max_ = 0;
};

class SafePatternBuilder : public valijson::ConstraintBuilder {
 public:
  valijson::constraints::Constraint* make(const valijson::adapters::Adapter& value) const override {
    if (!value.maybeString()) valijson::throwRuntimeError("pattern must be a string");
    return new SafePatternConstraint(value.asString());
  }
};

// Renames every string-valued "pattern" keyword (a property named "pattern"
// has an object value and stays).
void rename_patterns(json::value& v) {
  if (auto* obj = v.if_object()) {
    if (auto it = obj->find("pattern"); it != obj->end() && it->value().is_string()) {
      json::value pattern = it->value();
      obj->erase(it);
      (*obj)[kSafePattern] = std::move(pattern);
    }
    for (auto& kv : *obj) rename_patterns(kv.value());
  } else if (auto* arr = v.if_array()) {
    for (auto& e : *arr) rename_patterns(e);
  }
}

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
  std::map<std::string, json::value, std::less<>> validated = parsed;
  for (auto& [name, doc] : validated) rename_patterns(doc);
  std::shared_ptr<SchemaRegistry> reg(new SchemaRegistry());
  for (const auto& [name, doc] : parsed) {
    auto compiled = std::make_unique<Compiled>();
    compiled->document = doc;
    compiled->validated = validated.at(name);
    try {
      valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
      parser.addConstraintBuilder(std::string(kSafePattern), new SafePatternBuilder());
      valijson::adapters::BoostJsonAdapter adapter(compiled->validated);
      // Files refer to each other by bare name; Valijson owns what fetch returns.
      auto fetch = [&validated](const std::string& uri) -> const json::value* {
        const json::value* found = find_doc(validated, uri);
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
