// Every request schema in contracts/ (HTTP bodies and op payloads) against a
// valid example and its mutations: each field removed (invalid unless the
// field is optional), an unknown field added, each field given a value of
// another JSON type, each string made oversized. A schema that silently
// accepts any of these fails here, whatever route uses it.
#include "http/schema_validator.hpp"

#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace corates::server {
namespace {

namespace json = boost::json;

struct Case {
  std::string schema;
  std::string example;            // a valid instance
  std::string object_pointer;     // the object whose fields are mutated ("" = the root)
  std::set<std::string> optional; // fields of that object that may be absent
};

// Every schema named here must exist; the test at the bottom checks that no
// request schema is left without a case.
const std::vector<Case>& cases() {
  static const std::vector<Case> all{
      {"OpsPushRequest",
       R"({"clientId":"0b6f1c8e-7a0d-4c1e-9a55-3f2d1e0c9b7a","ops":[{"id":"5d9e2f4a-1b3c-4d5e-8f70-a1b2c3d4e5f6","seq":1,"type":"doc.create","payloadVersion":1,"payload":{"name":"d"},"hlc":"2026-11-26T10:00:00.000Z-0001","stateVector":"AA"}]})",
       "", {}},
      {"OpsPushRequest",
       R"({"clientId":"0b6f1c8e-7a0d-4c1e-9a55-3f2d1e0c9b7a","ops":[{"id":"5d9e2f4a-1b3c-4d5e-8f70-a1b2c3d4e5f6","seq":1,"type":"doc.create","payloadVersion":1,"payload":{"name":"d"},"hlc":"2026-11-26T10:00:00.000Z-0001","stateVector":"AA"}]})",
       "/ops/0", {"stateVector"}},
      {"AuthSessionRequest", R"({"user":"alice","password":"secret"})", "", {}},
      {"AuthSessionRequest", R"({"jwt":"a.b.c"})", "", {}},
      {"RoleSetRequest", R"({"role":"editor"})", "", {}},
      {"ops.doc.create", R"({"name":"d","title":"T"})", "", {"title"}},
      {"ops.doc.rename", R"({"name":"d","title":"T"})", "", {}},
      {"ops.doc.delete", R"({"name":"d"})", "", {}},
      {"ops.doc.share", R"({"name":"d","user":"bob","role":"viewer"})", "", {}},
      {"ops.doc.unshare", R"({"name":"d","user":"bob"})", "", {}},
      {"ops.todo.add", R"({"list":"l","text":"t"})", "", {}},
      // At least one field (minProperties 1), each of them optional.
      {"ops.user.profile.update", R"({"displayName":"A","locale":"en"})", "",
       {"displayName", "locale"}},
  };
  return all;
}

// A value of another JSON type than `v`.
json::value other_type(const json::value& v) {
  if (v.is_string()) return 12345;
  return "not-the-right-type";
}

std::string describe(const Case& c, const std::string& what) {
  return c.schema + " at '" + c.object_pointer + "': " + what;
}

class SchemaCases : public ::testing::TestWithParam<std::size_t> {};

TEST_P(SchemaCases, RejectsEveryMutation) {
  const Case& c = cases().at(GetParam());
  const SchemaRegistry& reg = contract_schemas();
  ASSERT_TRUE(reg.has(c.schema)) << c.schema;
  const json::value valid = json::parse(c.example);
  ASSERT_TRUE(reg.validate(c.schema, valid).empty()) << describe(c, "the example must be valid");

  const json::object& target = c.object_pointer.empty() ? valid.as_object() : valid.at_pointer(c.object_pointer).as_object();
  auto mutate = [&](auto&& change) {
    json::value copy = valid;
    json::object& obj = c.object_pointer.empty() ? copy.as_object() : copy.at_pointer(c.object_pointer).as_object();
    change(obj);
    return copy;
  };

  for (const auto& entry : target) {
    const std::string k(entry.key());
    const json::value& value = entry.value();  // a named reference: clang 14 cannot capture bindings
    const bool optional = c.optional.count(k) > 0;
    auto without = mutate([&](json::object& o) { o.erase(k); });
    EXPECT_EQ(reg.validate(c.schema, without).empty(), optional)
        << describe(c, "without '" + k + "' must be " + (optional ? "valid" : "invalid"));

    auto wrong = mutate([&](json::object& o) { o[k] = other_type(value); });
    EXPECT_FALSE(reg.validate(c.schema, wrong).empty()) << describe(c, "'" + k + "' with a wrong type");

    if (value.is_string()) {
      auto huge = mutate([&](json::object& o) { o[k] = std::string(200000, 'a'); });
      EXPECT_FALSE(reg.validate(c.schema, huge).empty()) << describe(c, "'" + k + "' oversized");
    }
  }
  auto extra = mutate([](json::object& o) { o["unexpectedField"] = 1; });
  auto violations = reg.validate(c.schema, extra);
  EXPECT_FALSE(violations.empty()) << describe(c, "an unknown field");

  // Not an object at all.
  for (const char* malformed : {"null", "[]", "\"x\"", "7"}) {
    json::value bad = valid;
    if (c.object_pointer.empty()) {
      bad = json::parse(malformed);
    } else {
      bad.at_pointer(c.object_pointer) = json::parse(malformed);
    }
    EXPECT_FALSE(reg.validate(c.schema, bad).empty()) << describe(c, std::string("replaced by ") + malformed);
  }
}

INSTANTIATE_TEST_SUITE_P(Contracts, SchemaCases, ::testing::Range<std::size_t>(0, cases().size()));

// A new request schema (or op type) must come with a case above.
TEST(SchemaCasesCoverage, EveryRequestSchemaHasACase) {
  std::set<std::string> covered;
  for (const Case& c : cases()) covered.insert(c.schema);
  for (const std::string& name : contract_schemas().names()) {
    const bool request = name.rfind("ops.", 0) == 0 || name.find("Request") != std::string::npos;
    if (request) {
      EXPECT_TRUE(covered.count(name)) << name << " has no mutation case in schema_cases_test.cpp";
    }
  }
}

}  // namespace
}  // namespace corates::server
