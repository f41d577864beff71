#include "corates/client/doc_provider.hpp"

#include "corates/crdt/encoding.hpp"
#include "corates/protocol/extensions.hpp"
#include "corates/protocol/message.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include <sqlite3.h>

#include <optional>
#include <thread>
#include <type_traits>
#include <variant>

namespace corates::client {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Bytes = std::vector<std::uint8_t>;

// ---- SQLite: the cache ------------------------------------------------------------

struct DocProvider::Store {
  sqlite3* db = nullptr;
  ~Store() {
    if (db != nullptr) sqlite3_close_v2(db);
  }
  Error error(std::string_view what) const {
    return Error{ErrorCode::kIo, std::string(what) + ": " + sqlite3_errmsg(db)};
  }
  Result<void> exec(const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return error(sql);
    return {};
  }
  // Runs `sql` with text/blob/int parameters; `row` sees each result row.
  using Param = std::variant<std::string_view, const Bytes*, std::int64_t>;
  Result<void> run(const char* sql, std::initializer_list<Param> params,
                   const std::function<void(sqlite3_stmt*)>& row = {}) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) != SQLITE_OK) return error(sql);
    int i = 1;
    for (const Param& p : params) {
      if (auto* s = std::get_if<std::string_view>(&p)) {
        sqlite3_bind_text(st, i, s->data(), static_cast<int>(s->size()), SQLITE_TRANSIENT);
      } else if (auto* b = std::get_if<const Bytes*>(&p)) {
        sqlite3_bind_blob(st, i, (*b)->data(), static_cast<int>((*b)->size()), SQLITE_TRANSIENT);
      } else {
        sqlite3_bind_int64(st, i, std::get<std::int64_t>(p));
      }
      ++i;
    }
    int rc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (row) row(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return error(sql);
    return {};
  }
};

namespace {

Bytes column_blob(sqlite3_stmt* st, int i) {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st, i));
  return p == nullptr ? Bytes{} : Bytes(p, p + sqlite3_column_bytes(st, i));
}

std::string column_text(sqlite3_stmt* st, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
  return p == nullptr ? std::string{} : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// What a close code from the server means for the caller (docs/server.md).
Error closed_error(const websocket::close_reason& cr) {
  const std::string why = std::to_string(cr.code) + (cr.reason.empty() ? std::string() : " " + std::string(cr.reason.data(), cr.reason.size()));
  switch (cr.code) {
    case 4401: return Error{ErrorCode::kInvalidArgument, "not authenticated (close " + why + ")"};
    case 4403: return Error{ErrorCode::kInvalidArgument, "forbidden (close " + why + ")"};
    case 4426: return Error{ErrorCode::kInvalidArgument, "upgrade required: this client is too old (close " + why + ")"};
    case 4404: return Error{ErrorCode::kEpochMismatch, "the document was deleted on the server (close " + why + ")"};
    default: return Error{ErrorCode::kIo, "connection closed by the server (close " + why + ")"};
  }
}

}  // namespace

// ---- Opening and local edits ----------------------------------------------------

DocProvider::DocProvider(Endpoint endpoint, std::string name, std::unique_ptr<Store> store)
    : endpoint_(std::move(endpoint)), name_(std::move(name)), store_(std::move(store)),
      doc_(std::make_unique<crdt::Doc>()) {}

DocProvider::~DocProvider() = default;

Result<std::unique_ptr<DocProvider>> DocProvider::open(Endpoint endpoint, const std::filesystem::path& dir,
                                                       std::string name) {
  if (name.empty() || name.size() > 512) return fail(ErrorCode::kInvalidArgument, "document name must be 1..512 bytes");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::kIo, "create " + dir.string() + ": " + ec.message());
  auto store = std::make_unique<Store>();
  const std::string file = (dir / "docs.sqlite3").string();
  if (sqlite3_open_v2(file.c_str(), &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return store->error("open " + file);
  }
  sqlite3_busy_timeout(store->db, 10'000);
  // synchronous=FULL: an edit that returned is on disk.
  if (auto r = store->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                           "CREATE TABLE IF NOT EXISTS docs (name TEXT PRIMARY KEY, state BLOB NOT NULL,"
                           " epoch TEXT NOT NULL);"
                           "CREATE TABLE IF NOT EXISTS unsent (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                           " name TEXT NOT NULL, data BLOB NOT NULL);"
                           "CREATE INDEX IF NOT EXISTS unsent_by_doc ON unsent (name, id);");
      !r) {
    return r.error();
  }
  std::unique_ptr<DocProvider> p(new DocProvider(std::move(endpoint), std::move(name), std::move(store)));
  if (auto r = p->load(); !r) return r.error();
  return p;
}

// (Re)builds the in-memory document from the cache.
Result<void> DocProvider::load() {
  auto doc = std::make_unique<crdt::Doc>();
  Bytes state;
  std::string epoch;
  auto r = store_->run("SELECT state, epoch FROM docs WHERE name = ?1", {std::string_view(name_)},
                       [&](sqlite3_stmt* st) {
                         state = column_blob(st, 0);
                         epoch = column_text(st, 1);
                       });
  if (!r) return r;
  if (!state.empty()) {
    if (auto a = crdt::apply_update(*doc, state); !a) {
      return fail(ErrorCode::kInvalidValue, "cached document '" + name_ + "' is unreadable: " + a.error().message);
    }
  }
  // Local changes become unsent updates; what the server sends does not.
  doc->on_update([this](std::span<const std::uint8_t> u, const crdt::Origin&, crdt::Transaction&) {
    if (!applying_remote_) captured_.emplace_back(u.begin(), u.end());
  });
  doc_ = std::move(doc);
  epoch_ = std::move(epoch);
  captured_.clear();
  return {};
}

Result<std::uint64_t> DocProvider::unsent_updates() {
  std::uint64_t n = 0;
  auto r = store_->run("SELECT count(*) FROM unsent WHERE name = ?1", {std::string_view(name_)},
                       [&](sqlite3_stmt* st) { n = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)); });
  if (!r) return r.error();
  return n;
}

// Stores the whole state (and the captured local updates) in one transaction.
Result<void> DocProvider::save_state() {
  if (auto r = store_->exec("BEGIN IMMEDIATE"); !r) return r;
  auto rollback = [&](Error e) -> Result<void> {
    (void)store_->exec("ROLLBACK");
    return e;
  };
  for (const Bytes& u : captured_) {
    if (auto r = store_->run("INSERT INTO unsent (name, data) VALUES (?1, ?2)", {std::string_view(name_), &u}); !r) {
      return rollback(r.error());
    }
  }
  const Bytes state = crdt::encode_state_as_update(*doc_);
  if (auto r = store_->run("INSERT INTO docs (name, state, epoch) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE "
                           "SET state = excluded.state, epoch = excluded.epoch",
                           {std::string_view(name_), &state, std::string_view(epoch_)});
      !r) {
    return rollback(r.error());
  }
  if (auto r = store_->exec("COMMIT"); !r) return rollback(r.error());
  captured_.clear();
  return {};
}

Result<void> DocProvider::edit(const std::function<void(crdt::Doc&)>& fn) {
  captured_.clear();
  doc_->transact([&](crdt::Transaction&) { fn(*doc_); });
  if (captured_.empty()) return {};  // nothing changed
  if (auto r = save_state(); !r) {
    // Not stored: the in-memory document must not claim it either.
    (void)load();
    return r;
  }
  return {};
}

Result<void> DocProvider::reset_to_server() {
  if (auto r = store_->exec("BEGIN IMMEDIATE"); !r) return r;
  auto a = store_->run("DELETE FROM unsent WHERE name = ?1", {std::string_view(name_)});
  auto b = a ? store_->run("DELETE FROM docs WHERE name = ?1", {std::string_view(name_)}) : a;
  if (!b || !store_->exec("COMMIT")) {
    (void)store_->exec("ROLLBACK");
    return b ? Result<void>(fail(ErrorCode::kIo, "reset: commit failed")) : b;
  }
  return load();
}

Result<void> DocProvider::republish_local() {
  // The whole local state becomes one unsent update, for whatever generation
  // the server has now.
  captured_.clear();
  captured_.push_back(crdt::encode_state_as_update(*doc_));
  if (auto r = store_->exec("BEGIN IMMEDIATE"); !r) return r;
  if (auto r = store_->run("DELETE FROM unsent WHERE name = ?1", {std::string_view(name_)}); !r) {
    (void)store_->exec("ROLLBACK");
    return r;
  }
  if (auto r = store_->exec("COMMIT"); !r) return r;
  epoch_.clear();
  return save_state();
}

// ---- Sync ----------------------------------------------------------------------

namespace {

struct Unsent {
  std::int64_t id;
  Bytes data;
};

}  // namespace

Result<DocSyncReport> DocProvider::sync(std::chrono::milliseconds timeout) {
  std::vector<Unsent> unsent;
  if (auto r = store_->run("SELECT id, data FROM unsent WHERE name = ?1 ORDER BY id", {std::string_view(name_)},
                           [&](sqlite3_stmt* st) { unsent.push_back({sqlite3_column_int64(st, 0), column_blob(st, 1)}); });
      !r) {
    return r.error();
  }
  asio::io_context ioc;
  std::vector<Bytes> received;  // updates from the server, applied once the round trip succeeded
  std::string server_epoch;
  std::uint64_t acked_unsent = 0;
  // The operations run on a thread of their own and are awaited through
  // futures (clang 14 cannot compile coroutines under ASan); the stream's
  // deadline bounds every one of them.
  auto work = asio::make_work_guard(ioc);
  std::thread io_thread([&ioc] { ioc.run(); });
  websocket::stream<beast::tcp_stream> ws(ioc);
  auto finish = [&](Result<DocSyncReport> r) {
    asio::post(ioc, [&ws] {
      beast::error_code ignored;
      beast::get_lowest_layer(ws).socket().close(ignored);
    });
    work.reset();
    io_thread.join();
    return r;
  };
  auto session = [&]() -> Result<DocSyncReport> {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    tcp::resolver resolver(ioc);
    beast::error_code ec;
    // Waits for an operation; a failure becomes `ec`.
    auto wait = [&ec](auto future) {
      try {
        return future.get();
      } catch (const boost::system::system_error& e) {
        ec = e.code();
        using T = decltype(future.get());
        if constexpr (!std::is_void_v<T>) return T{};
      }
    };
    auto hosts = wait(resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port), asio::use_future));
    if (ec) return fail(ErrorCode::kIo, "resolve " + endpoint_.host + ": " + ec.message());
    beast::get_lowest_layer(ws).expires_at(deadline);
    wait(beast::get_lowest_layer(ws).async_connect(hosts, asio::use_future));
    if (ec) return fail(ErrorCode::kIo, "connect " + endpoint_.url() + ": " + ec.message());
    std::string target = endpoint_.target("/ws/" + percent_encode(name_)) + "?ext=ack,epoch&clientVersion=" +
                         percent_encode(endpoint_.client_version);
    if (!endpoint_.token.empty()) target += "&token=" + percent_encode(endpoint_.token);
    websocket::response_type res;
    wait(ws.async_handshake(res, endpoint_.host + ":" + std::to_string(endpoint_.port), target, asio::use_future));
    if (ec) {
      const unsigned status = res.result_int();
      if (status == 401 || status == 403 || status == 426 || status == 400) {
        return fail(ErrorCode::kInvalidArgument,
                    "the server refused the connection with HTTP " + std::to_string(status) + ": " + res.body());
      }
      if (status != 0) return fail(ErrorCode::kBusy, "the server answered HTTP " + std::to_string(status));
      return fail(ErrorCode::kIo, "websocket handshake: " + ec.message());
    }
    ws.binary(true);
    auto send = [&](const Bytes& frame) {
      wait(ws.async_write(asio::buffer(frame), asio::use_future));
      return !ec;
    };
    // Our state vector, then every unsent update; each of those and each step
    // 2 we send counts toward the server's ack.
    std::uint64_t counted_sent = 0;
    if (!send(protocol::encode_sync_step1(crdt::encode_state_vector(*doc_)))) {
      return fail(ErrorCode::kIo, "send: " + ec.message());
    }
    for (const Unsent& u : unsent) {
      if (!send(protocol::encode_sync_update(u.data))) return fail(ErrorCode::kIo, "send: " + ec.message());
      ++counted_sent;
    }
    const std::uint64_t unsent_count = counted_sent;
    bool got_step2 = false;
    bool got_epoch = false;
    std::uint64_t acked = 0;
    beast::flat_buffer buf;
    while (!(got_step2 && got_epoch && acked >= counted_sent)) {
      buf.clear();
      wait(ws.async_read(buf, asio::use_future));
      if (ec == websocket::error::closed) return closed_error(ws.reason());
      if (ec == beast::error::timeout) return fail(ErrorCode::kBusy, "sync did not finish within the timeout");
      if (ec) return fail(ErrorCode::kIo, "receive: " + ec.message());
      const auto* p = static_cast<const std::uint8_t*>(buf.cdata().data());
      const std::span<const std::uint8_t> frame(p, buf.size());
      if (!frame.empty() && frame[0] == 100) {
        auto n = protocol::decode_ack(frame);
        if (!n) return fail(ErrorCode::kInvalidValue, "bad ack from the server: " + n.error().message);
        acked = std::max(acked, *n);
        continue;
      }
      if (!frame.empty() && frame[0] == 101) {
        auto e = protocol::decode_epoch(frame);
        if (!e) return fail(ErrorCode::kInvalidValue, "bad epoch from the server: " + e.error().message);
        if (!got_epoch) {
          // The generation our cache belongs to must still be the server's.
          if (!epoch_.empty() && *e != epoch_) {
            return fail(ErrorCode::kEpochMismatch, "the server's copy is another generation (epoch '" + *e +
                                                       "', ours '" + epoch_ + "'): reset or republish");
          }
        } else if (!server_epoch.empty() && *e != server_epoch) {
          return fail(ErrorCode::kEpochMismatch, "the document was reset on the server during the sync");
        }
        // From "" to an epoch: the document came into existence (our write).
        server_epoch = *e;
        got_epoch = true;
        continue;
      }
      auto msg = protocol::decode_message(frame);
      if (!msg) return fail(ErrorCode::kInvalidValue, "bad message from the server: " + msg.error().message);
      if (auto* s1 = std::get_if<protocol::SyncStep1>(&*msg)) {
        auto diff = crdt::encode_state_as_update(*doc_, std::span<const std::uint8_t>(s1->state_vector));
        if (!diff) return fail(ErrorCode::kInvalidValue, "bad state vector from the server");
        if (!send(protocol::encode_sync_step2(*diff))) return fail(ErrorCode::kIo, "send: " + ec.message());
        ++counted_sent;
      } else if (auto* s2 = std::get_if<protocol::SyncStep2>(&*msg)) {
        received.push_back(std::move(s2->update));
        got_step2 = true;
      } else if (auto* up = std::get_if<protocol::SyncUpdate>(&*msg)) {
        received.push_back(std::move(up->update));
      } else if (auto* denied = std::get_if<protocol::AuthPermissionDenied>(&*msg)) {
        return fail(ErrorCode::kInvalidArgument, "the server refused our changes: " + denied->reason);
      }
      // Awareness and anything else: not needed for a round trip.
    }
    acked_unsent = std::min(acked, unsent_count);
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(2));
    wait(ws.async_close(websocket::close_code::normal, asio::use_future));  // best effort
    DocSyncReport report;
    report.sent_updates = acked_unsent;
    report.epoch = server_epoch;
    return report;
  };
  std::optional<Result<DocSyncReport>> outcome(finish(session()));
  if (!*outcome) return *outcome;
  // Merge what the server had, then store it with the epoch, and forget the
  // unsent updates the server acknowledged, in one transaction.
  bool changed = false;
  applying_remote_ = true;
  for (const Bytes& u : received) {
    const Bytes before = crdt::encode_state_vector(*doc_);
    if (auto a = crdt::apply_update(*doc_, u); !a) {
      applying_remote_ = false;
      return fail(ErrorCode::kInvalidValue, "the server sent an undecodable update: " + a.error().message);
    }
    changed = changed || crdt::encode_state_vector(*doc_) != before;
  }
  applying_remote_ = false;
  epoch_ = (*outcome)->epoch;
  if (auto r = store_->exec("BEGIN IMMEDIATE"); !r) return r.error();
  for (std::uint64_t i = 0; i < acked_unsent; ++i) {
    if (auto r = store_->run("DELETE FROM unsent WHERE id = ?1", {unsent[i].id}); !r) {
      (void)store_->exec("ROLLBACK");
      return r.error();
    }
  }
  if (auto r = store_->exec("COMMIT"); !r) return r.error();
  if (auto r = save_state(); !r) return r.error();
  (*outcome)->received_changes = changed;
  return *outcome;
}

}  // namespace corates::client
