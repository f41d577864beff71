#include "ops/op_service.hpp"

#include "auth/access.hpp"
#include "auth/auth_service.hpp"
#include "http/payload_adapters.hpp"
#include "http/schema_validator.hpp"

#include "corates/crdt/encoding.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace corates::server {
namespace json = boost::json;
namespace http = boost::beast::http;
namespace asio = boost::asio;

namespace {

constexpr std::size_t kDefaultPullLimit = 100;
constexpr std::size_t kMaxPullLimit = 1000;
constexpr std::size_t kMaxRecordsLimit = 10000;
constexpr std::size_t kMaxWaiters = 10000;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// JSON with object keys sorted, so that a resend serialized in another key
// order has the same fingerprint.
void canonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& o = v.get_object();
      std::vector<const json::key_value_pair*> kv;
      kv.reserve(o.size());
      for (const auto& p : o) kv.push_back(&p);
      std::sort(kv.begin(), kv.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      out.push_back('{');
      for (std::size_t i = 0; i < kv.size(); ++i) {
        if (i > 0) out.push_back(',');
        out += json::serialize(json::string_view(kv[i]->key()));
        out.push_back(':');
        canonical(kv[i]->value(), out);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        canonical(e, out);
      }
      out.push_back(']');
      return;
    }
    default:
      out += json::serialize(v);
  }
}

std::optional<storage::Bytes> base64url_decode(std::string_view in) {
  storage::Bytes out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;
  return out;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::uint64_t as_u64(const json::value& v) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64()) return v.get_int64() < 0 ? 0 : static_cast<std::uint64_t>(v.get_int64());
  return 0;
}

std::string iso_time(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
}

json::value parse_or(const std::string& text, json::value fallback) {
  if (text.empty()) return fallback;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? fallback : v;
}

json::object error_json(const storage::OpError& e) {
  json::value details = parse_or(e.details_json, json::array{});
  if (!details.is_array()) details = json::array{};
  return json::object{{"code", e.code}, {"message", e.message}, {"details", std::move(details)}};
}

json::object result_json(const storage::OpResult& r) {
  json::object o{{"id", r.id}, {"seq", r.seq}, {"status", storage::to_string(r.status)}};
  const bool was_applied = r.status == storage::OpStatus::kApplied ||
                           (r.status == storage::OpStatus::kDuplicate && r.original == storage::OpStatus::kApplied);
  if (r.status == storage::OpStatus::kDuplicate) o["originalStatus"] = storage::to_string(r.original);
  if (was_applied) {
    o["result"] = parse_or(r.result_json, json::object{});
    if (r.checkpoint != 0) o["checkpoint"] = r.checkpoint;
  } else {
    o["error"] = error_json(r.error);
  }
  return o;
}

bool valid_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : std::isxdigit(static_cast<unsigned char>(s[i])) == 0) return false;
  }
  return true;
}

}  // namespace

struct OpService::Waiter {
  std::shared_ptr<RequestContext> rctx;
  std::uint64_t since = 0;
  asio::steady_timer timer;
  std::atomic<bool> done{false};
  Waiter(std::shared_ptr<RequestContext> r, std::uint64_t s, asio::io_context& ioc)
      : rctx(std::move(r)), since(s), timer(ioc) {}
};

Result<std::shared_ptr<OpService>> OpService::open(ServerContext& ctx) {
  storage::OpStoreOptions opts;
  opts.data_dir = ctx.config.data_dir;
  auto store = storage::open_sqlite_op_store(std::move(opts));
  if (!store) return store.error();
  auto service = std::make_shared<OpService>(ctx, std::move(*store));
  if (auto r = register_builtin_op_types(*service); !r) return r.error();
  service->schedule_role_outbox();
  return service;
}

OpService::OpService(ServerContext& ctx, std::unique_ptr<storage::OpStore> store)
    : ctx_(ctx), store_(std::move(store)) {}

OpService::~OpService() { close(); }

void OpService::close() {
  if (closed_.exchange(true)) return;
  if (auto r = store_->close(); !r) spdlog::error("op store close: {}", r.error().message);
  std::vector<std::shared_ptr<Waiter>> held;
  {
    std::lock_guard lock(waiters_mutex_);
    for (auto& w : waiters_) {
      if (auto p = w.lock()) held.push_back(std::move(p));
    }
    waiters_.clear();
  }
  for (auto& w : held) {
    if (!w->done.exchange(true)) answer_event(*w->rctx, store_->checkpoint(), false);
  }
}

Result<void> OpService::register_type(OpType type) {
  const auto bad = [&](std::string why) {
    return fail(ErrorCode::kInvalidArgument, "op type '" + type.name + "': " + why);
  };
  if (type.name.empty() || type.name.size() > 64 || type.name.find('.') == std::string::npos) {
    return bad("name must be dotted, 1..64 characters");
  }
  if (!type.handler) return bad("no handler");
  if (!type.schema.empty() && !contract_schemas().has(type.schema)) {
    return bad("schema " + type.schema + " is not in contracts/schemas");
  }
  {
    std::lock_guard lock(types_mutex_);
    if (types_.count(type.name) != 0) return bad("registered twice");
  }
  if (type.setup) {
    if (auto r = store_->setup(type.setup); !r) return r.error();
  }
  if (type.payload_version > 1) payload_adapters().set_canonical(type.name, type.payload_version);
  std::lock_guard lock(types_mutex_);
  const std::string name = type.name;
  types_.emplace(name, std::make_shared<const OpType>(std::move(type)));
  return {};
}

const OpType* OpService::find_type(std::string_view name) const {
  std::lock_guard lock(types_mutex_);
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second.get();
}

std::vector<std::string> OpService::type_names() const {
  std::lock_guard lock(types_mutex_);
  std::vector<std::string> out;
  for (const auto& [name, t] : types_) out.push_back(name);
  return out;
}

void OpService::push(const std::shared_ptr<RequestContext>& rctx) {
  RequestContext& r = *rctx;
  requests_.fetch_add(1, std::memory_order_relaxed);
  if (closed_.load() || ctx_.stopping.load()) {
    return r.error(503, "SHUTTING_DOWN", "the server is shutting down");
  }
  if (!r.body || !r.body->is_object()) return r.error(400, "BAD_REQUEST", "expected a JSON object");
  const json::object& body = r.body->get_object();
  const json::array& ops = body.at("ops").as_array();
  if (ops.size() > ctx_.config.ops_max_batch) {
    return r.error(413, "BATCH_TOO_LARGE",
                   fmt::format("a batch holds at most {} ops (got {})", ctx_.config.ops_max_batch, ops.size()),
                   json::array{json::object{{"maxOps", ctx_.config.ops_max_batch}}});
  }
  storage::OpBatch batch;
  batch.client_id = lower(body.at("clientId").as_string());
  batch.user_id = r.principal.user_id;
  batch.ops.reserve(ops.size());
  std::vector<std::size_t> order(ops.size());
  {
    // Ops apply in seq order whatever order they came in (stable for equal seqs).
    for (std::size_t i = 0; i < ops.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return as_u64(ops[a].at("seq")) < as_u64(ops[b].at("seq"));
    });
  }
  const SchemaRegistry& schemas = contract_schemas();
  for (std::size_t k = 0; k < order.size(); ++k) {
    const std::size_t i = order[k];
    const json::object& op = ops[i].as_object();
    storage::OpSubmission s;
    s.id = lower(op.at("id").as_string());
    s.seq = as_u64(op.at("seq"));
    s.type = std::string(op.at("type").as_string());
    s.hlc = std::string(op.at("hlc").as_string());
    const int version = static_cast<int>(as_u64(op.at("payloadVersion")));
    const json::value& payload = op.at("payload");
    std::string canon;
    canonical(payload, canon);
    s.fingerprint = s.type + '\n' + std::to_string(version) + '\n' + canon;
    s.payload_json = canon;
    const OpType* type = find_type(s.type);
    if (type == nullptr) {
      s.reject = storage::OpError{"UNKNOWN_OP_TYPE", "no op type named " + s.type, "[]"};
      batch.ops.push_back(std::move(s));
      continue;
    }
    auto adapted = adapt(s.type, version, payload);
    if (!adapted) {
      json::array details{json::object{{"payloadVersion", version}}};
      s.reject = storage::OpError{adapted.error().code, adapted.error().message, json::serialize(details)};
      batch.ops.push_back(std::move(s));
      continue;
    }
    if (!type->schema.empty()) {
      auto violations = schemas.validate(type->schema, *adapted);
      if (!violations.empty()) {
        for (auto& v : violations) v.pointer = "/ops/" + std::to_string(i) + "/payload" + v.pointer;
        s.reject = storage::OpError{"VALIDATION_FAILED", "payload does not match " + type->schema,
                                    json::serialize(violations_to_details(violations))};
        batch.ops.push_back(std::move(s));
        continue;
      }
    }
    auto octx = std::make_shared<OpContext>();
    if (auto sv = op.if_contains("stateVector")) {
      auto bytes = base64url_decode(sv->as_string());
      if (!bytes || !crdt::decode_state_vector(*bytes)) {
        s.reject = storage::OpError{"INVALID_STATE_VECTOR", "stateVector is not a base64url Yjs state vector", "[]"};
        batch.ops.push_back(std::move(s));
        continue;
      }
      octx->state_vector = std::move(*bytes);
    }
    if (type->authorize && !type->authorize(ctx_, r.principal, *adapted)) {
      s.reject = storage::OpError{"FORBIDDEN", "you may not apply " + s.type + " here", "[]"};
      batch.ops.push_back(std::move(s));
      continue;
    }
    s.payload_json = json::serialize(*adapted);
    octx->principal = r.principal;
    octx->client_id = batch.client_id;
    octx->op_id = s.id;
    octx->seq = s.seq;
    octx->hlc = s.hlc;
    octx->payload = std::move(*adapted);
    std::shared_ptr<const OpType> held;
    {
      std::lock_guard lock(types_mutex_);
      held = types_.find(s.type)->second;
    }
    s.handler = [held, octx](storage::OpSql& sql) -> storage::OpHandlerResult {
      try {
        return held->handler(sql, *octx);
      } catch (const std::exception& e) {
        // A throwing handler is a bug; its op is refused, the batch goes on.
        return storage::OpError{"INTERNAL", std::string("op handler failed: ") + e.what(), "[]"};
      }
    };
    batch.ops.push_back(std::move(s));
  }

  const bool shares = std::any_of(batch.ops.begin(), batch.ops.end(), [](const storage::OpSubmission& s) {
    return !s.reject && (s.type == "doc.share" || s.type == "doc.unshare");
  });
  auto self = shared_from_this();
  auto submitted = store_->submit(
      std::move(batch), [self, rctx, shares, order = std::move(order)](Result<storage::BatchOutcome> outcome) mutable {
        if (shares && outcome) self->schedule_role_outbox();
        // Off the op store's syncer thread: building the answer is not its job.
        asio::post(self->ctx_.ioc, [self, rctx, order = std::move(order), outcome = std::move(outcome)]() mutable {
          RequestContext& req = *rctx;
          if (!outcome) {
            self->requests_failed_.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("ops batch not committed: {} request_id={}", outcome.error().message, req.request_id);
            req.extra_headers.emplace_back("Retry-After", "1");
            return req.error(503, "UNAVAILABLE", "storage failed; nothing of this batch was applied, send it again");
          }
          storage::BatchOutcome& out = *outcome;
          if (out.refused) return req.error(409, out.refused->code, out.refused->message);
          self->notify(out.checkpoint);
          std::vector<json::value> by_index(out.results.size());
          for (std::size_t k = 0; k < out.results.size() && k < order.size(); ++k) {
            by_index[order[k]] = result_json(out.results[k]);
          }
          json::array results;
          results.reserve(by_index.size());
          for (auto& v : by_index) results.push_back(std::move(v));
          if (out.stopped) {
            self->requests_failed_.fetch_add(1, std::memory_order_relaxed);
            spdlog::warn("ops batch stopped: {} request_id={}", out.stopped->message, req.request_id);
            std::uint64_t through = 0;
            for (const auto& x : out.results) {
              if (x.status != storage::OpStatus::kRetry) through = std::max(through, x.seq);
            }
            req.extra_headers.emplace_back("Retry-After", "1");
            json::array details{json::object{{"processedThroughSeq", through}, {"checkpoint", out.checkpoint}}};
            return req.error(503, "OPS_INTERRUPTED",
                             "a temporary failure stopped the batch; ops up to processedThroughSeq are committed, "
                             "send the rest again",
                             std::move(details));
          }
          req.reply_json(200, json::object{{"checkpoint", out.checkpoint}, {"results", std::move(results)}});
        });
      });
  if (!submitted) {
    requests_failed_.fetch_add(1, std::memory_order_relaxed);
    r.extra_headers.emplace_back("Retry-After", "1");
    if (submitted.error().code == ErrorCode::kBusy) {
      return r.error(503, "BUSY", "the op queue is full, try again later");
    }
    return r.error(503, "UNAVAILABLE", "the op queue is closed");
  }
}

namespace {

bool visible(ServerContext& ctx, const Principal& who, const storage::ChangeRecord& c) {
  if (ctx.auth == nullptr) return true;
  if (who.authenticated && c.user_id == who.user_id) return true;
  std::string_view scope = c.scope;
  if (scope == "public") return true;
  if (scope.substr(0, 5) == "user:") return who.authenticated && scope.substr(5) == who.user_id;
  if (scope.substr(0, 4) == "doc:") return doc_role(ctx, who, scope.substr(4)) >= Role::kViewer;
  return false;
}

}  // namespace

void OpService::pull(const std::shared_ptr<RequestContext>& rctx) {
  RequestContext& r = *rctx;
  std::uint64_t since = 0;
  if (auto s = r.query_param("since")) {
    auto v = parse_u64(*s);
    if (!v) return r.error(400, "INVALID_CHECKPOINT", "since must be a checkpoint (an integer >= 0)");
    since = *v;
  }
  std::size_t limit = kDefaultPullLimit;
  if (auto s = r.query_param("limit")) {
    auto v = parse_u64(*s);
    if (!v || *v == 0 || *v > kMaxPullLimit) return r.error(400, "BAD_REQUEST", "limit must be 1..1000");
    limit = static_cast<std::size_t>(*v);
  }
  // Invisible changes are skipped, but never more than this many per call.
  const std::size_t scan = std::min<std::size_t>(10000, limit * 4 + 64);
  auto rows = store_->read_changes(since, scan);
  if (!rows) return r.error_from(rows.error());
  json::array changes;
  std::uint64_t next = since;
  bool more = rows->size() == scan;
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const auto& c = (*rows)[i];
    if (visible(ctx_, r.principal, c)) {
      if (changes.size() == limit) {
        more = true;
        break;
      }
      changes.push_back(json::object{{"checkpoint", c.checkpoint},
                                     {"id", c.op_id},
                                     {"clientId", c.client_id},
                                     {"seq", c.seq},
                                     {"type", c.type},
                                     {"payload", parse_or(c.payload_json, json::object{})},
                                     {"result", parse_or(c.result_json, json::object{})},
                                     {"hlc", c.hlc},
                                     {"userId", c.user_id},
                                     {"appliedAt", iso_time(c.created_ms)}});
    }
    next = c.checkpoint;
  }
  r.reply_json(200, json::object{{"changes", std::move(changes)}, {"checkpoint", next}, {"hasMore", more}});
}

void OpService::answer_event(RequestContext& rctx, std::uint64_t checkpoint, bool news) {
  HttpResponse res{http::status::ok, rctx.req.version()};
  res.set(http::field::content_type, "text/event-stream");
  res.set(http::field::cache_control, "no-cache");
  // The stream ends after one event (or after the hold time with none);
  // EventSource reconnects after `retry` ms, sending Last-Event-ID.
  if (news) {
    res.body() = fmt::format("retry: 250\nid: {0}\nevent: checkpoint\ndata: {{\"checkpoint\":{0}}}\n\n", checkpoint);
  } else {
    res.body() = "retry: 250\n: no change\n\n";
  }
  rctx.reply(std::move(res));
}

void OpService::events(const std::shared_ptr<RequestContext>& rctx) {
  RequestContext& r = *rctx;
  std::optional<std::string> since_text = r.query_param("since");
  if (!since_text) {
    if (auto it = r.req.find("Last-Event-ID"); it != r.req.end()) since_text = std::string(it->value());
  }
  const std::uint64_t now = store_->checkpoint();
  if (!since_text || since_text->empty()) return answer_event(r, now, true);
  auto since = parse_u64(*since_text);
  if (!since) return r.error(400, "INVALID_CHECKPOINT", "since / Last-Event-ID must be a checkpoint");
  if (now > *since) return answer_event(r, now, true);
  if (closed_.load()) return answer_event(r, now, false);
  auto waiter = std::make_shared<Waiter>(rctx, *since, ctx_.ioc);
  {
    std::lock_guard lock(waiters_mutex_);
    std::erase_if(waiters_, [](const std::weak_ptr<Waiter>& w) { return w.expired(); });
    if (waiters_.size() >= kMaxWaiters) {
      r.extra_headers.emplace_back("Retry-After", "5");
      return r.error(503, "BUSY", "too many open event streams");
    }
    waiters_.push_back(waiter);
  }
  // The timer's handler owns the waiter; the list only points at it.
  waiter->timer.expires_after(ctx_.config.ops_events_hold);
  auto self = shared_from_this();
  waiter->timer.async_wait([self, waiter](boost::system::error_code) {
    if (!waiter->done.exchange(true)) self->answer_event(*waiter->rctx, self->store_->checkpoint(), false);
  });
  // A commit between the first look and the registration is not missed.
  const std::uint64_t again = store_->checkpoint();
  if (again > *since && !waiter->done.exchange(true)) {
    answer_event(r, again, true);
    waiter->timer.cancel();
  }
}

void OpService::notify(std::uint64_t checkpoint) {
  std::vector<std::shared_ptr<Waiter>> due;
  {
    std::lock_guard lock(waiters_mutex_);
    std::erase_if(waiters_, [&](const std::weak_ptr<Waiter>& w) {
      auto p = w.lock();
      if (!p) return true;
      if (p->since >= checkpoint) return false;
      due.push_back(std::move(p));
      return true;
    });
  }
  for (auto& w : due) {
    if (w->done.exchange(true)) continue;
    answer_event(*w->rctx, checkpoint, true);
    asio::post(ctx_.ioc, [w] { w->timer.cancel(); });
  }
}

void OpService::client_records(const std::shared_ptr<RequestContext>& rctx) {
  RequestContext& r = *rctx;
  auto it = r.params.find("clientId");
  if (it == r.params.end() || !valid_uuid(it->second)) {
    return r.error(400, "BAD_REQUEST", "clientId must be a UUID");
  }
  const std::string client = lower(it->second);
  std::uint64_t after = 0;
  if (auto s = r.query_param("afterSeq")) {
    auto v = parse_u64(*s);
    if (!v) return r.error(400, "BAD_REQUEST", "afterSeq must be an integer >= 0");
    after = *v;
  }
  std::size_t limit = 1000;
  if (auto s = r.query_param("limit")) {
    auto v = parse_u64(*s);
    if (!v || *v == 0 || *v > kMaxRecordsLimit) return r.error(400, "BAD_REQUEST", "limit must be 1..10000");
    limit = static_cast<std::size_t>(*v);
  }
  auto state = store_->client_state(client);
  if (!state) return r.error_from(state.error());
  if (state->exists && state->user_id != r.principal.user_id) {
    return r.error(403, "FORBIDDEN", "this clientId belongs to another user");
  }
  json::array records;
  if (state->exists) {
    auto rows = store_->read_records(client, after, limit);
    if (!rows) return r.error_from(rows.error());
    for (const auto& rec : *rows) {
      json::object o{{"seq", rec.seq}, {"id", rec.op_id}, {"status", storage::to_string(rec.status)}};
      if (rec.status == storage::OpStatus::kApplied) {
        o["result"] = parse_or(rec.result_json, json::object{});
        if (rec.checkpoint != 0) o["checkpoint"] = rec.checkpoint;
      } else {
        o["error"] = error_json(rec.error);
      }
      records.push_back(std::move(o));
    }
  }
  r.reply_json(200, json::object{{"clientId", client}, {"lastSeq", state->last_seq}, {"records", std::move(records)}});
}

void OpService::schedule_role_outbox() {
  if (!ctx_.auth) return;
  auto self = shared_from_this();
  ctx_.auth->post([self] { self->apply_role_outbox(); });
}

void OpService::apply_role_outbox() {
  if (!ctx_.auth) return;
  std::lock_guard lock(outbox_mutex_);
  auto rows = store_->read("SELECT id, doc, user_id, role FROM role_outbox ORDER BY id LIMIT 1000");
  if (!rows) {
    spdlog::error("role outbox: {}", rows.error().message);
    return;
  }
  std::int64_t done = 0;
  for (const auto& row : *rows) {
    const auto id = std::get<std::int64_t>(row[0]);
    const auto& doc = std::get<std::string>(row[1]);
    const auto& user = std::get<std::string>(row[2]);
    const auto role = storage::parse_doc_role(std::get<std::string>(row[3]));
    if (auto r = ctx_.auth->store().set_doc_role(doc, user, role.value_or(storage::DocRole::kNone)); !r) {
      // Left in the outbox: the next batch that shares, or the next start, retries.
      spdlog::error("role outbox: set_doc_role {} {}: {}", doc, user, r.error().message);
      break;
    }
    ctx_.auth->apply_role_change(doc, user);
    done = id;
  }
  if (done == 0) return;
  auto r = store_->setup([done](storage::OpSql& sql) -> Result<void> {
    auto q = sql.query("DELETE FROM role_outbox WHERE id <= ?1", {storage::SqlValue(done)});
    if (!q) return q.error();
    return {};
  });
  if (!r) spdlog::error("role outbox: delete: {}", r.error().message);
}

std::string OpService::render_prometheus() const {
  const auto s = store_->stats();
  return fmt::format(
      "# TYPE corates_ops_applied_total counter\ncorates_ops_applied_total {}\n"
      "# TYPE corates_ops_duplicate_total counter\ncorates_ops_duplicate_total {}\n"
      "# TYPE corates_ops_rejected_total counter\ncorates_ops_rejected_total {}\n"
      "# TYPE corates_ops_groups_committed_total counter\ncorates_ops_groups_committed_total {}\n"
      "# TYPE corates_ops_groups_failed_total counter\ncorates_ops_groups_failed_total {}\n"
      "# TYPE corates_ops_queue_depth gauge\ncorates_ops_queue_depth {}\n"
      "# TYPE corates_ops_checkpoint gauge\ncorates_ops_checkpoint {}\n"
      "# TYPE corates_ops_push_failed_total counter\ncorates_ops_push_failed_total {}\n",
      s.ops_applied, s.ops_duplicate, s.ops_rejected, s.groups_committed, s.groups_failed, s.queue_depth,
      store_->checkpoint(), requests_failed_.load());
}

}  // namespace corates::server
