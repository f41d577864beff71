#include "corates/client/doc_provider.hpp"

#include "corates/crdt/encoding.hpp"
#include "corates/protocol/extensions.hpp"
#include "corates/protocol/message.hpp"
#include "sqlite_db.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>


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

namespace {

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
//
// docs.sqlite3 holds, per document, the state as of the last sync with its
// epoch, and the local updates not yet acknowledged (`unsent`). The document
// is that state plus every unsent update, so an edit stores only its own
// update, not the whole document.

DocProvider::DocProvider(Endpoint endpoint, std::string name, std::unique_ptr<sql::Db> db)
    : endpoint_(std::move(endpoint)), name_(std::move(name)), db_(std::move(db)),
      doc_(std::make_unique<crdt::Doc>()) {}

DocProvider::~DocProvider() = default;

Result<std::unique_ptr<DocProvider>> DocProvider::open(Endpoint endpoint, const std::filesystem::path& dir,
                                                       std::string name) {
  if (name.empty() || name.size() > 512) return fail(ErrorCode::kInvalidArgument, "document name must be 1..512 bytes");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(ErrorCode::kIo, "create " + dir.string() + ": " + ec.message());
  auto db = std::make_unique<sql::Db>();
  // WAL with synchronous=FULL: an edit that returned is on disk.
  if (auto r = db->open(dir / "docs.sqlite3"); !r) return r.error();
  if (auto r = db->exec("CREATE TABLE IF NOT EXISTS docs (name TEXT PRIMARY KEY, state BLOB NOT NULL,"
                        " epoch TEXT NOT NULL);"
                        "CREATE TABLE IF NOT EXISTS unsent (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                        " name TEXT NOT NULL, data BLOB NOT NULL);"
                        "CREATE INDEX IF NOT EXISTS unsent_by_doc ON unsent (name, id);");
      !r) {
    return r.error();
  }
  std::unique_ptr<DocProvider> p(new DocProvider(std::move(endpoint), std::move(name), std::move(db)));
  if (auto r = p->load(); !r) return r.error();
  return p;
}

// (Re)builds the in-memory document from the cache.
Result<void> DocProvider::load() {
  auto doc = std::make_unique<crdt::Doc>();
  auto base = db_->query("SELECT state, epoch FROM docs WHERE name = ?1", {name_});
  if (!base) return base.error();
  auto unsent = db_->query("SELECT data FROM unsent WHERE name = ?1 ORDER BY id", {name_});
  if (!unsent) return unsent.error();
  std::vector<sql::Blob> parts;
  if (!base->empty()) parts.push_back(sql::as_blob((*base)[0][0]));
  for (const sql::Row& row : *unsent) parts.push_back(sql::as_blob(row[0]));
  for (const sql::Blob& u : parts) {
    if (u.empty()) continue;
    if (auto a = crdt::apply_update(*doc, u); !a) {
      return fail(ErrorCode::kInvalidValue, "cached document '" + name_ + "' is unreadable: " + a.error().message);
    }
  }
  // Local changes become unsent updates; what the server sends does not.
  doc->on_update([this](std::span<const std::uint8_t> u, const crdt::Origin&, crdt::Transaction&) {
    if (!applying_remote_) captured_.emplace_back(u.begin(), u.end());
  });
  doc_ = std::move(doc);
  epoch_ = base->empty() ? std::string() : sql::as_text((*base)[0][1]);
  captured_.clear();
  return {};
}

Result<std::uint64_t> DocProvider::unsent_updates() {
  auto rows = db_->query("SELECT count(*) FROM unsent WHERE name = ?1", {name_});
  if (!rows) return rows.error();
  return static_cast<std::uint64_t>(sql::as_int((*rows)[0][0]));
}

Result<void> DocProvider::edit(const std::function<void(crdt::Doc&)>& fn) {
  captured_.clear();
  doc_->transact([&](crdt::Transaction&) { fn(*doc_); });
  if (captured_.empty()) return {};  // nothing changed
  auto stored = [&]() -> Result<void> {
    sql::Txn txn(*db_);
    if (auto r = txn.begin(); !r) return r;
    for (sql::Blob& u : captured_) {
      if (auto r = db_->query("INSERT INTO unsent (name, data) VALUES (?1, ?2)", {name_, std::move(u)}); !r) {
        return r.error();
      }
    }
    return txn.commit();
  }();
  captured_.clear();
  // Not stored: the in-memory document must not claim it either.
  if (!stored) (void)load();
  return stored;
}

Result<void> DocProvider::reset_to_server() {
  {
    sql::Txn txn(*db_);
    if (auto r = txn.begin(); !r) return r;
    if (auto r = db_->query("DELETE FROM unsent WHERE name = ?1", {name_}); !r) return r.error();
    if (auto r = db_->query("DELETE FROM docs WHERE name = ?1", {name_}); !r) return r.error();
    if (auto r = txn.commit(); !r) return r;
  }
  return load();
}

Result<void> DocProvider::republish_local() {
  // The whole local state becomes the one unsent update, for whatever
  // generation the server has now; the cache no longer claims an epoch.
  sql::Txn txn(*db_);
  if (auto r = txn.begin(); !r) return r;
  if (auto r = db_->query("DELETE FROM unsent WHERE name = ?1", {name_}); !r) return r.error();
  if (auto r = db_->query("INSERT INTO unsent (name, data) VALUES (?1, ?2)",
                          {name_, sql::Blob(crdt::encode_state_as_update(*doc_))});
      !r) {
    return r.error();
  }
  if (auto r = db_->query("UPDATE docs SET epoch = '' WHERE name = ?1", {name_}); !r) return r.error();
  if (auto r = txn.commit(); !r) return r;
  epoch_.clear();
  return {};
}

// ---- Sync ----------------------------------------------------------------------

namespace {

struct Unsent {
  std::int64_t id;
  Bytes data;
};

}  // namespace

Result<DocSyncReport> DocProvider::sync(std::chrono::milliseconds timeout) {
  auto rows = db_->query("SELECT id, data FROM unsent WHERE name = ?1 ORDER BY id", {name_});
  if (!rows) return rows.error();
  std::vector<Unsent> unsent;
  for (sql::Row& row : *rows) unsent.push_back({sql::as_int(row[0]), sql::as_blob(row[1])});
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
  // Merge what the server had, then store the state with the epoch and
  // forget the unsent updates the server acknowledged, in one transaction.
  const Bytes before = crdt::encode_state_vector(*doc_);
  applying_remote_ = true;
  for (const Bytes& u : received) {
    if (auto a = crdt::apply_update(*doc_, u); !a) {
      applying_remote_ = false;
      return fail(ErrorCode::kInvalidValue, "the server sent an undecodable update: " + a.error().message);
    }
  }
  applying_remote_ = false;
  (*outcome)->received_changes = crdt::encode_state_vector(*doc_) != before;
  sql::Txn txn(*db_);
  if (auto r = txn.begin(); !r) return r.error();
  if (acked_unsent > 0) {
    // Acks count in sending order, so the acknowledged ones are a prefix.
    if (auto r = db_->query("DELETE FROM unsent WHERE name = ?1 AND id <= ?2", {name_, unsent[acked_unsent - 1].id});
        !r) {
      return r.error();
    }
  }
  if (auto r = db_->query("INSERT INTO docs (name, state, epoch) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE "
                          "SET state = excluded.state, epoch = excluded.epoch",
                          {name_, sql::Blob(crdt::encode_state_as_update(*doc_)), (*outcome)->epoch});
      !r) {
    return r.error();
  }
  if (auto r = txn.commit(); !r) return r.error();
  epoch_ = (*outcome)->epoch;
  return *outcome;
}

}  // namespace corates::client
