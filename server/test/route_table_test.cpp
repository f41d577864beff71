// The HTTP pipeline without sockets: path matching (templates, %-decoding,
// 404/405), stages, body checks (413/415/400) and JSON Schema validation
// (missing, extra, wrong-typed, oversized and malformed fields, with the
// JSON pointers and rules in the details). Real SQLite store, real schemas.
#include "http/route_table.hpp"
#include "http/schema_validator.hpp"

#include "corates/storage/sqlite_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace corates::server {
namespace {

namespace http = boost::beast::http;
namespace json = boost::json;

class RouteTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("corates-route-test-" + std::to_string(std::random_device{}()));
    storage::SqliteOptions opts;
    opts.data_dir = dir_;
    auto s = storage::open_sqlite_store(opts);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    store_ = std::move(*s);
    ServerConfig config;
    config.max_body_bytes = 1000;
    ctx_ = std::make_unique<ServerContext>(config, ioc_, *store_);
  }
  void TearDown() override {
    ctx_.reset();
    if (store_) (void)store_->close();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Adds a route whose handler records the parameters it saw.
  void route(http::verb m, std::string path, std::string id, std::string schema = {}, std::string ct = {}) {
    RouteSpec r;
    r.method = m;
    r.path = std::move(path);
    r.operation_id = id;
    r.request_schema = std::move(schema);
    r.request_content_type = std::move(ct);
    r.handler = [this, id](std::shared_ptr<RequestContext> rctx) {
      handled_ = id;
      params_ = rctx->params;
      if (rctx->body) body_ = *rctx->body;
      rctx->reply_json(200, json::object{{"route", id}});
    };
    table_.add(std::move(r));
  }

  HttpResponse call(http::verb m, std::string target, std::string body = {}, std::string content_type = {}) {
    HttpRequest req{m, target, 11};
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    handled_.clear();
    params_.clear();
    std::optional<HttpResponse> got;
    auto rctx = std::make_shared<RequestContext>(*ctx_, std::move(req), "rid-1", "127.0.0.1",
                                                 [&got](HttpResponse res) { got = std::move(res); });
    table_.dispatch(rctx);
    EXPECT_TRUE(got.has_value());
    return got ? *got : HttpResponse{};
  }

  static json::object error_of(const HttpResponse& res) {
    auto v = json::parse(res.body());
    return v.at("error").as_object();
  }

  boost::asio::io_context ioc_;
  std::filesystem::path dir_;
  std::unique_ptr<storage::DocumentStore> store_;
  std::unique_ptr<ServerContext> ctx_;
  RouteTable table_;
  std::string handled_;
  std::map<std::string, std::string, std::less<>> params_;
  json::value body_;
};

TEST_F(RouteTableTest, TemplatesMatchRawSegmentsThenDecodeEach) {
  route(http::verb::get, "/api/docs/{id}", "doc");
  route(http::verb::get, "/api/docs/{id}/update", "update");
  auto res = call(http::verb::get, "/api/docs/a%2Fb%20c/update?x=1");
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(handled_, "update");
  EXPECT_EQ(params_["id"], "a/b c");
  // An unencoded '/' is another segment, so it is not a document name.
  EXPECT_EQ(call(http::verb::get, "/api/docs/a/b").result_int(), 404u);
  call(http::verb::get, "/api/docs/x");
  EXPECT_EQ(handled_, "doc");
}

TEST_F(RouteTableTest, LiteralSegmentsWinOverParameters) {
  route(http::verb::get, "/api/{thing}", "param");
  route(http::verb::get, "/api/session", "literal");
  call(http::verb::get, "/api/session");
  EXPECT_EQ(handled_, "literal");
  call(http::verb::get, "/api/other");
  EXPECT_EQ(handled_, "param");
}

TEST_F(RouteTableTest, UnknownPathsAre404InTheEnvelope) {
  route(http::verb::get, "/healthz", "health");
  route(http::verb::get, "/api/docs/{id}", "doc");
  for (const char* target : {"/nope", "/healthz/", "/api/docs/", "/api/docs//", "/", ""}) {
    auto res = call(http::verb::get, target);
    EXPECT_EQ(res.result_int(), 404u) << target;
    auto err = error_of(res);
    EXPECT_EQ(err.at("code"), "NOT_FOUND");
    EXPECT_EQ(err.at("requestId"), "rid-1");
    EXPECT_TRUE(err.at("details").is_array());
    EXPECT_EQ(res["X-Request-Id"], "rid-1");
    EXPECT_FALSE(res["X-API-Version"].empty());
  }
  EXPECT_TRUE(handled_.empty());
}

TEST_F(RouteTableTest, WrongMethodIs405WithAllow) {
  route(http::verb::get, "/api/docs/{id}/update", "get");
  route(http::verb::post, "/api/docs/{id}/update", "post", {}, "application/octet-stream");
  auto res = call(http::verb::put, "/api/docs/x/update");
  EXPECT_EQ(res.result_int(), 405u);
  EXPECT_EQ(res[http::field::allow], "GET, POST");
  EXPECT_EQ(error_of(res).at("code"), "METHOD_NOT_ALLOWED");
  // HEAD is served by the GET route.
  EXPECT_EQ(call(http::verb::head, "/api/docs/x/update").result_int(), 200u);
  EXPECT_EQ(handled_, "get");
}

TEST_F(RouteTableTest, BadEscapeInAParameterIs400) {
  route(http::verb::get, "/api/docs/{id}", "doc");
  auto res = call(http::verb::get, "/api/docs/%ZZ");
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_EQ(error_of(res).at("code"), "BAD_REQUEST");
  EXPECT_TRUE(handled_.empty());
}

TEST_F(RouteTableTest, BodyLimitContentTypeAndJson) {
  route(http::verb::post, "/bin", "bin", {}, "application/octet-stream");
  route(http::verb::post, "/json", "json", "Health", "application/json");
  auto big = call(http::verb::post, "/bin", std::string(1001, 'x'));
  EXPECT_EQ(big.result_int(), 413u);
  EXPECT_EQ(error_of(big).at("code"), "PAYLOAD_TOO_LARGE");
  // No Content-Type means octet-stream; a wrong one is refused.
  EXPECT_EQ(call(http::verb::post, "/bin", "abc").result_int(), 200u);
  auto wrong = call(http::verb::post, "/bin", "abc", "text/plain");
  EXPECT_EQ(wrong.result_int(), 415u);
  EXPECT_EQ(error_of(wrong).at("code"), "UNSUPPORTED_MEDIA_TYPE");
  EXPECT_EQ(call(http::verb::post, "/json", R"({"status":"ok"})").result_int(), 415u);  // JSON must say so
  auto ok = call(http::verb::post, "/json", R"({"status":"ok"})", "Application/JSON; charset=utf-8");
  EXPECT_EQ(ok.result_int(), 200u);
  EXPECT_EQ(body_.at("status"), "ok");
  for (const char* bad : {"", "{", "{\"status\":\"ok\"} x", "[1,]", "\xff"}) {
    auto res = call(http::verb::post, "/json", bad, "application/json");
    EXPECT_EQ(res.result_int(), 400u) << bad;
    EXPECT_EQ(error_of(res).at("code"), "MALFORMED_JSON") << bad;
  }
  // Nesting beyond the parser's depth limit is malformed, not a crash.
  auto deep = call(http::verb::post, "/json", std::string(300, '[') + std::string(300, ']'), "application/json");
  EXPECT_EQ(error_of(deep).at("code"), "MALFORMED_JSON");
  auto invalid = call(http::verb::post, "/json", R"({"status":"down","extra":1})", "application/json");
  EXPECT_EQ(invalid.result_int(), 400u);
  auto err = error_of(invalid);
  EXPECT_EQ(err.at("code"), "VALIDATION_FAILED");
  const auto& details = err.at("details").as_array();
  ASSERT_EQ(details.size(), 2u) << json::serialize(details);
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& d : details) {
    got.emplace(std::string(d.at("pointer").as_string()), std::string(d.at("rule").as_string()));
    EXPECT_FALSE(d.at("message").as_string().empty());
  }
  EXPECT_TRUE(got.count({"/status", "enum"}));
  EXPECT_TRUE(got.count({"/extra", "additionalProperties"}));
  EXPECT_TRUE(handled_.empty());
}

class RecordingStage : public Stage {
 public:
  RecordingStage(std::string name, bool admit) : name_(std::move(name)), admit_(admit) {}
  std::string_view name() const override { return name_; }
  bool before(RequestContext& rctx) override {
    ++calls;
    if (!admit_) rctx.error(429, "RATE_LIMITED", "slow down");
    return admit_;
  }
  void decorate(const RequestContext&, HttpResponse& res) override { res.set("X-Stage-" + name_, "1"); }
  int calls = 0;

 private:
  std::string name_;
  bool admit_;
};

TEST_F(RouteTableTest, StagesRunInOrderAndDecorateWhatTheyReached) {
  route(http::verb::get, "/x", "x");
  auto a = std::make_shared<RecordingStage>("a", true);
  auto b = std::make_shared<RecordingStage>("b", false);
  auto c = std::make_shared<RecordingStage>("c", true);
  table_.add_stage(a);
  table_.add_stage(b);
  table_.add_stage(c);
  auto res = call(http::verb::get, "/x");
  EXPECT_EQ(res.result_int(), 429u);
  EXPECT_TRUE(handled_.empty());
  EXPECT_EQ(a->calls, 1);
  EXPECT_EQ(b->calls, 1);
  EXPECT_EQ(c->calls, 0);
  EXPECT_EQ(res["X-Stage-a"], "1");
  EXPECT_EQ(res["X-Stage-b"], "1");
  EXPECT_TRUE(res["X-Stage-c"].empty());
  // A 404 reaches no stage's before() but every decorate().
  auto nf = call(http::verb::get, "/nope");
  EXPECT_EQ(nf.result_int(), 404u);
  EXPECT_EQ(a->calls, 1);
  EXPECT_EQ(nf["X-Stage-c"], "1");
}

TEST_F(RouteTableTest, AnswersOnceAndDecodesQueryParameters) {
  RouteSpec r;
  r.path = "/twice";
  r.operation_id = "twice";
  std::optional<std::string> seen;
  r.handler = [&seen](std::shared_ptr<RequestContext> rctx) {
    seen = rctx->query_param("name");
    rctx->reply_json(200, json::object{});
    rctx->error(500, "INTERNAL", "ignored");
    EXPECT_TRUE(rctx->answered());
  };
  table_.add(std::move(r));
  int answers = 0;
  HttpRequest req{http::verb::get, "/twice?a=1&name=x%2Fy%20z&b", 11};
  auto rctx = std::make_shared<RequestContext>(*ctx_, std::move(req), "r", "ip", [&](HttpResponse res) {
    ++answers;
    EXPECT_EQ(res.result_int(), 200u);
  });
  table_.dispatch(rctx);
  EXPECT_EQ(answers, 1);
  EXPECT_EQ(seen, "x/y z");
  EXPECT_EQ(rctx->query_param("missing"), std::nullopt);
  EXPECT_EQ(rctx->query_param("b"), "");
}

TEST_F(RouteTableTest, HandlerExceptionsBecome500WithoutDetails) {
  RouteSpec r;
  r.path = "/boom";
  r.operation_id = "boom";
  r.handler = [](std::shared_ptr<RequestContext>) { throw std::runtime_error("secret internal detail"); };
  table_.add(std::move(r));
  auto res = call(http::verb::get, "/boom");
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(res.body().find("secret"), std::string::npos);
  EXPECT_EQ(error_of(res).at("code"), "INTERNAL");
}

// ---- SchemaRegistry ------------------------------------------------------------

constexpr const char* kItem = R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://example.test/Item.json",
  "type": "object",
  "required": ["seq", "name"],
  "additionalProperties": false,
  "properties": {
    "seq": {"type": "integer", "minimum": 0},
    "name": {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[a-z]+$"},
    "a/b~c": {"type": "boolean"}
  }
})";
constexpr const char* kBatch = R"({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://example.test/Batch.json",
  "type": "object",
  "required": ["ops"],
  "properties": {
    "ops": {"type": "array", "maxItems": 3, "items": {"$ref": "Item.json"}},
    "meta": {"type": "object"}
  }
})";

std::shared_ptr<const SchemaRegistry> test_registry() {
  auto r = SchemaRegistry::compile({{"Item", kItem}, {"Batch", kBatch}});
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : nullptr;
}

std::set<std::pair<std::string, std::string>> rules(const std::vector<Violation>& v) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& x : v) out.emplace(x.pointer, x.rule);
  return out;
}

using Rules = std::set<std::pair<std::string, std::string>>;

TEST(SchemaRegistryTest, ValidBodiesPass) {
  auto reg = test_registry();
  ASSERT_TRUE(reg);
  EXPECT_TRUE(reg->validate("Batch", json::parse(R"({"ops":[{"seq":0,"name":"a"}],"meta":{"x":1}})")).empty());
  EXPECT_TRUE(reg->validate("Batch", json::parse(R"({"ops":[]})")).empty());
}

TEST(SchemaRegistryTest, MissingFieldsNameTheMissingPointer) {
  auto reg = test_registry();
  ASSERT_TRUE(reg);
  EXPECT_EQ(rules(reg->validate("Batch", json::parse("{}"))), (Rules{{"/ops", "required"}}));
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":[{"name":"a"}]})"))), (Rules{{"/ops/0/seq", "required"}}));
}

TEST(SchemaRegistryTest, ExtraFieldsAreRejectedUnlessAllowed) {
  auto reg = test_registry();
  ASSERT_TRUE(reg);
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":[{"seq":1,"name":"a","x":2}]})"))),
            (Rules{{"/ops/0/x", "additionalProperties"}}));
  // Batch allows extra top-level fields (no additionalProperties: false).
  EXPECT_TRUE(reg->validate("Batch", json::parse(R"({"ops":[],"later":true})")).empty());
}

TEST(SchemaRegistryTest, WrongTypesOversizedAndMalformedFields) {
  auto reg = test_registry();
  ASSERT_TRUE(reg);
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":[{"seq":"1","name":"a"}]})"))),
            (Rules{{"/ops/0/seq", "type"}}));
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":[{"seq":1.5,"name":"a"}]})"))),
            (Rules{{"/ops/0/seq", "type"}}));
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":{}})"))), (Rules{{"/ops", "type"}}));
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":[{"seq":-1,"name":"a"}]})"))),
            (Rules{{"/ops/0/seq", "minimum"}}));
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":[{"seq":1,"name":"abcdefghi"}]})"))),
            (Rules{{"/ops/0/name", "maxLength"}}));
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":[{"seq":1,"name":""}]})"))),
            (Rules{{"/ops/0/name", "minLength"}, {"/ops/0/name", "pattern"}}));
  EXPECT_EQ(rules(reg->validate("Batch", json::parse(R"({"ops":[{"seq":1,"name":"A1"}]})"))),
            (Rules{{"/ops/0/name", "pattern"}}));
  auto many = json::parse(R"({"ops":[{"seq":1,"name":"a"},{"seq":2,"name":"b"},{"seq":3,"name":"c"},{"seq":4,"name":"d"}]})");
  EXPECT_EQ(rules(reg->validate("Batch", many)), (Rules{{"/ops", "maxItems"}}));
  // Several failures at once, each reported; pointer tokens escape '/' and '~'.
  auto several = reg->validate("Batch", json::parse(R"({"ops":[{"seq":-1},{"name":7,"seq":0,"a/b~c":1}]})"));
  EXPECT_EQ(rules(several), (Rules{{"/ops/0/seq", "minimum"},
                                   {"/ops/0/name", "required"},
                                   {"/ops/1/name", "type"},
                                   {"/ops/1/a~1b~0c", "type"}}));
  for (const auto& v : several) EXPECT_NE(v.message.find(v.pointer), std::string::npos) << v.message;
}

TEST(SchemaRegistryTest, UnknownSchemaIsAViolationNotACrash) {
  auto reg = test_registry();
  ASSERT_TRUE(reg);
  EXPECT_EQ(rules(reg->validate("Nope", json::parse("{}"))), (Rules{{"", "schema"}}));
  EXPECT_FALSE(reg->has("Nope"));
  EXPECT_TRUE(reg->has("Item"));
}

TEST(SchemaRegistryTest, BrokenSchemasDoNotCompile) {
  EXPECT_FALSE(SchemaRegistry::compile({{"A", "{"}}).has_value());
  EXPECT_FALSE(SchemaRegistry::compile({{"A", "[]"}}).has_value());
  auto dangling = SchemaRegistry::compile({{"A", R"({"properties":{"x":{"$ref":"Missing.json"}}})"}});
  ASSERT_FALSE(dangling.has_value());
  EXPECT_NE(dangling.error().message.find("A"), std::string::npos);
}

TEST(SchemaRegistryTest, EveryContractSchemaCompiles) {
  const SchemaRegistry& reg = contract_schemas();
  EXPECT_TRUE(reg.has("Error"));
  EXPECT_TRUE(reg.has("Health"));
  EXPECT_EQ(reg.names().size(), embedded_schema_files().size());
  // The envelope the server writes validates against Error.json.
  auto envelope = json::parse(
      R"({"error":{"code":"VALIDATION_FAILED","message":"m","details":[{"pointer":"/a","rule":"type","message":"x"}],"requestId":"r"}})");
  EXPECT_TRUE(reg.validate("Error", envelope).empty());
  EXPECT_FALSE(reg.validate("Error", json::parse(R"({"error":{"code":"lower","message":"m","details":[],"requestId":"r"}})")).empty());
}

}  // namespace
}  // namespace corates::server
