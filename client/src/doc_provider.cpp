#include "corates/client/doc_provider.hpp"

#include "corates/crdt/encoding.hpp"
#include "corates/protocol/awareness.hpp"
#include "corates/protocol/extensions.hpp"
#include "corates/protocol/message.hpp"
#include "sqlite_db.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <deque>
#include <future>
#include <optional>
#include <random>
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

const char* to_string(LiveState s) {
  switch (s) {
    case LiveState::kStopped: return "stopped";
    case LiveState::kConnecting: return "connecting";
    case LiveState::kSynced: return "synced";
    case LiveState::kOffline: return "offline";
    case LiveState::kEpochMismatch: return "epoch-mismatch";
    case LiveState::kRefused: return "refused";
  }
  return "unknown";
}

// ---- Live mode -------------------------------------------------------------------
//
// One thread runs an io_context with at most one connection at a time. Every
// handler runs on that thread; the provider's state (Doc, cache, awareness)
// is touched under mu_, and events are raised after mu_ is released. A
// handler of a connection that was replaced or closed returns at once.

namespace {

// y-protocols awareness.js: a state lives 30 s unless renewed; the owner
// renews after 15 s; the check runs every 3 s.
constexpr auto kAwarenessTimeout = std::chrono::seconds(30);
constexpr auto kAwarenessRenew = std::chrono::seconds(15);
constexpr auto kAwarenessCheck = std::chrono::seconds(3);
// How long stop_live() lets a graceful close take before cutting the socket,
// and the hard bound after which the io_context is stopped.
constexpr auto kCloseGrace = std::chrono::milliseconds(500);
constexpr auto kStopBound = std::chrono::milliseconds(1500);

}  // namespace

class DocProvider::Live {
 public:
  Live(DocProvider& p, LiveOptions options)
      : p_(p), opt_(std::move(options)), work_(asio::make_work_guard(ioc_)), retry_timer_(ioc_),
        awareness_timer_(ioc_), rng_(std::random_device{}()) {}

  void start() {
    asio::post(ioc_, [this] {
      emit(LiveEvent::Kind::kState);  // kConnecting, set by start_live()
      connect();
      arm_awareness_timer();
    });
    thread_ = std::thread([this] {
      ioc_.run();
      done_.set_value();
    });
  }

  // Bounded: a graceful close for kCloseGrace, then the socket is cut; the
  // io_context is stopped after kStopBound in any case. A handler that holds
  // mu_ finishes its SQLite transaction first (stop() never interrupts one).
  void stop() {
    auto finished = done_.get_future();
    asio::post(ioc_, [this] { shutdown(); });
    if (finished.wait_for(kStopBound) != std::future_status::ready) ioc_.stop();
    thread_.join();
  }

  bool on_live_thread() const { return std::this_thread::get_id() == thread_.get_id(); }

  // From any thread (edit(), under mu_): new unsent rows to send.
  void send_unsent_soon() {
    asio::post(ioc_, [this] {
      if (conn_ && conn_->ready) send_unsent(conn_);
    });
  }
  void send_awareness_soon() {
    asio::post(ioc_, [this] {
      if (conn_ && conn_->ready) send_local_awareness(conn_);
    });
  }
  // After reset_to_server()/republish_local(): a fresh connection now, even
  // when halted by an epoch mismatch.
  void restart() {
    asio::post(ioc_, [this] {
      if (stopping_) return;
      halted_ = false;
      attempt_ = 0;
      retry_timer_.cancel();
      if (conn_) drop(conn_);
      connect();
    });
  }

 private:
  struct Conn {
    explicit Conn(asio::io_context& ioc) : resolver(ioc), ws(ioc) {}
    tcp::resolver resolver;
    websocket::stream<beast::tcp_stream> ws;
    websocket::response_type res;
    beast::flat_buffer buf;
    std::deque<std::shared_ptr<const Bytes>> out;
    bool writing = false;
    bool open = false;   // handshake done
    bool ready = false;  // epoch checked: our updates may go out
    bool dead = false;
    bool synced = false;
    std::string server_epoch;
    std::uint64_t counted = 0;  // update messages sent (sync step 2 + update), for acks
    // (count, highest unsent row id that message covers)
    std::deque<std::pair<std::uint64_t, std::int64_t>> covers;
    std::int64_t last_sent_id = 0;
  };
  using ConnPtr = std::shared_ptr<Conn>;

  bool stale(const ConnPtr& c) const { return c != conn_ || c->dead || stopping_; }

  void emit(LiveEvent::Kind kind, std::string message = {}) {
    if (!opt_.on_event) return;
    LiveEvent e;
    e.kind = kind;
    e.state = p_.live_state_.load();
    e.message = std::move(message);
    opt_.on_event(e);
  }
  void set_state(LiveState s, std::string message = {}) {
    if (p_.live_state_.exchange(s) == s && s != LiveState::kOffline) return;
    emit(LiveEvent::Kind::kState, std::move(message));
  }

  void connect() {
    if (stopping_ || halted_) return;
    set_state(LiveState::kConnecting);
    awareness_announced_ = false;  // a new connection knows nothing of us
    auto c = std::make_shared<Conn>(ioc_);
    conn_ = c;
    const Endpoint& ep = p_.endpoint_;
    c->resolver.async_resolve(ep.host, std::to_string(ep.port),
                              [this, c](beast::error_code ec, tcp::resolver::results_type hosts) {
                                if (stale(c)) return;
                                if (ec) return lost(c, "resolve " + p_.endpoint_.host + ": " + ec.message());
                                beast::get_lowest_layer(c->ws).expires_after(p_.endpoint_.timeout);
                                beast::get_lowest_layer(c->ws).async_connect(
                                    hosts, [this, c](beast::error_code ec2, const tcp::endpoint&) { on_connect(c, ec2); });
                              });
  }

  void on_connect(const ConnPtr& c, beast::error_code ec) {
    if (stale(c)) return;
    if (ec) return lost(c, "connect " + p_.endpoint_.url() + ": " + ec.message());
    const Endpoint& ep = p_.endpoint_;
    beast::get_lowest_layer(c->ws).expires_never();
    websocket::stream_base::timeout t;
    t.handshake_timeout = ep.timeout;
    t.idle_timeout = opt_.idle_timeout;
    t.keep_alive_pings = true;
    c->ws.set_option(t);
    c->ws.read_message_max(64ull << 20);
    std::string target = ep.target("/ws/" + percent_encode(p_.name_)) + "?ext=ack,epoch&clientVersion=" +
                         percent_encode(ep.client_version);
    if (!ep.token.empty()) target += "&token=" + percent_encode(ep.token);
    c->ws.async_handshake(c->res, ep.host + ":" + std::to_string(ep.port), target,
                          [this, c](beast::error_code ec2) { on_handshake(c, ec2); });
  }

  void on_handshake(const ConnPtr& c, beast::error_code ec) {
    if (stale(c)) return;
    if (ec) {
      const unsigned status = c->res.result_int();
      if (status == 401 || status == 403 || status == 426 || status == 400) {
        return halt(c, LiveState::kRefused,
                    "the server refused the connection with HTTP " + std::to_string(status) + ": " + c->res.body());
      }
      if (status != 0) return lost(c, "the server answered HTTP " + std::to_string(status));
      return lost(c, "websocket handshake: " + ec.message());
    }
    c->open = true;
    c->ws.binary(true);
    Bytes sv;
    {
      std::lock_guard lock(p_.mu_);
      sv = crdt::encode_state_vector(*p_.doc_);
    }
    // Our state vector is harmless whatever the epoch; updates wait for it.
    queue(c, protocol::encode_sync_step1(sv));
    read(c);
  }

  void read(const ConnPtr& c) {
    c->buf.clear();
    c->ws.async_read(c->buf, [this, c](beast::error_code ec, std::size_t) {
      if (stale(c)) return;
      if (ec == websocket::error::closed) return on_closed(c, c->ws.reason());
      if (ec) return lost(c, "receive: " + ec.message());
      const auto* d = static_cast<const std::uint8_t*>(c->buf.cdata().data());
      on_frame(c, std::span<const std::uint8_t>(d, c->buf.size()));
      if (!stale(c)) read(c);
    });
  }

  void on_closed(const ConnPtr& c, const websocket::close_reason& cr) {
    Error e = closed_error(cr);
    if (cr.code == 4404) return halt(c, LiveState::kEpochMismatch, e.message);
    if (e.code == ErrorCode::kInvalidArgument) return halt(c, LiveState::kRefused, e.message);
    lost(c, e.message);
  }

  void on_frame(const ConnPtr& c, std::span<const std::uint8_t> frame) {
    if (frame.empty()) return lost(c, "empty message from the server");
    if (frame[0] == protocol::kMessageAck) {
      auto n = protocol::decode_ack(frame);
      if (!n) return lost(c, "bad ack from the server: " + n.error().message);
      return on_ack(c, *n);
    }
    if (frame[0] == protocol::kMessageEpoch) {
      auto e = protocol::decode_epoch(frame);
      if (!e) return lost(c, "bad epoch from the server: " + e.error().message);
      return on_epoch(c, *e);
    }
    auto msg = protocol::decode_message(frame);
    if (!msg) return lost(c, "bad message from the server: " + msg.error().message);
    if (!c->ready) {
      // The server announces the epoch first; one that does not (epochs
      // switched off) gets nothing of ours either.
      return halt(c, LiveState::kEpochMismatch, "the server did not announce the document's epoch");
    }
    if (auto* s1 = std::get_if<protocol::SyncStep1>(&*msg)) {
      Result<Bytes> diff = Bytes{};
      std::int64_t covered = 0;
      {
        std::lock_guard lock(p_.mu_);
        diff = crdt::encode_state_as_update(*p_.doc_, std::span<const std::uint8_t>(s1->state_vector));
        // The diff holds every stored unsent update (they are in the Doc).
        auto top = p_.db_->query("SELECT max(id) FROM unsent WHERE name = ?1", {p_.name_});
        if (top && !top->empty()) covered = sql::as_int((*top)[0][0]);
      }
      if (!diff) return lost(c, "bad state vector from the server");
      queue_update(c, protocol::encode_sync_step2(*diff), covered);
    } else if (auto* s2 = std::get_if<protocol::SyncStep2>(&*msg)) {
      apply_remote(c, s2->update, true);
    } else if (auto* up = std::get_if<protocol::SyncUpdate>(&*msg)) {
      apply_remote(c, up->update, false);
    } else if (auto* aw = std::get_if<protocol::AwarenessMessage>(&*msg)) {
      on_awareness(c, aw->update);
    } else if (std::holds_alternative<protocol::QueryAwareness>(*msg)) {
      send_local_awareness(c);
    } else if (auto* denied = std::get_if<protocol::AuthPermissionDenied>(&*msg)) {
      // A read-only user's edit: stop before its ack would drop it.
      halt(c, LiveState::kRefused, "the server refused our changes: " + denied->reason);
    }
  }

  void on_epoch(const ConnPtr& c, const std::string& e) {
    std::string mismatch;
    {
      std::lock_guard lock(p_.mu_);
      if (!c->ready) {
        if (!p_.epoch_.empty() && e != p_.epoch_) {
          mismatch = "the server's copy is another generation (epoch '" + e + "', ours '" + p_.epoch_ +
                     "'): reset or republish";
        }
      } else if (!c->server_epoch.empty() && e != c->server_epoch) {
        mismatch = "the document was reset on the server";
      }
      if (mismatch.empty() && !e.empty() && p_.epoch_ != e) {
        // From "" to an epoch: the document came into existence.
        p_.epoch_ = e;
        (void)p_.store_state();
      }
    }
    if (!mismatch.empty()) return halt(c, LiveState::kEpochMismatch, mismatch);
    c->server_epoch = e;
    if (!c->ready) {
      c->ready = true;
      send_local_awareness(c);
      send_unsent(c);
    }
  }

  void apply_remote(const ConnPtr& c, const Bytes& update, bool step2) {
    bool changed = false;
    std::string problem;
    {
      std::lock_guard lock(p_.mu_);
      p_.applying_remote_ = true;
      p_.remote_changed_ = false;
      auto a = crdt::apply_update(*p_.doc_, update);
      p_.applying_remote_ = false;
      changed = p_.remote_changed_;
      if (!a) {
        problem = "the server sent an undecodable update: " + a.error().message;
      } else if (changed || step2) {
        // Stored before anyone hears about it.
        if (auto r = p_.store_state(); !r) problem = "store the document: " + r.error().message;
      }
    }
    if (!problem.empty()) return lost(c, problem);
    if (step2 && !c->synced) {
      c->synced = true;
      attempt_ = 0;
      set_state(LiveState::kSynced);
    }
    if (changed) emit(LiveEvent::Kind::kRemoteChange);
  }

  void on_ack(const ConnPtr& c, std::uint64_t n) {
    std::int64_t up_to = 0;
    while (!c->covers.empty() && c->covers.front().first <= n) {
      up_to = std::max(up_to, c->covers.front().second);
      c->covers.pop_front();
    }
    if (up_to == 0) return;
    std::string problem;
    {
      std::lock_guard lock(p_.mu_);
      // The cached state takes the acknowledged updates in before they go.
      sql::Txn txn(*p_.db_);
      auto r = txn.begin();
      if (r) r = p_.store_state();
      if (r) {
        auto d = p_.db_->query("DELETE FROM unsent WHERE name = ?1 AND id <= ?2", {p_.name_, up_to});
        if (!d) r = d.error();
      }
      if (r) r = txn.commit();
      if (!r) problem = "store the acknowledged state: " + r.error().message;
    }
    if (!problem.empty()) lost(c, problem);
  }

  // ---- Awareness ----

  void send_local_awareness(const ConnPtr& c) {
    Bytes frame;
    {
      std::lock_guard lock(p_.mu_);
      if (!p_.local_awareness_ && !awareness_announced_) return;  // nothing to tell or take back
      frame = protocol::encode_awareness(protocol::encode_awareness_update(
          {{p_.doc_->client_id(), p_.awareness_clock_, p_.local_awareness_.value_or("null")}}));
      awareness_announced_ = p_.local_awareness_.has_value();
    }
    awareness_sent_at_ = std::chrono::steady_clock::now();
    queue(c, std::move(frame));
  }

  void on_awareness(const ConnPtr& c, const Bytes& update) {
    auto entries = protocol::decode_awareness_update(update);
    if (!entries) return lost(c, "bad awareness update from the server: " + entries.error().message);
    bool changed = false;
    bool renew = false;
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(p_.mu_);
      for (const protocol::AwarenessEntry& e : *entries) {
        const bool is_null = e.state_json == "null";
        if (e.client_id == p_.doc_->client_id()) {
          // Someone (the server's timeout) says we left while we are here:
          // announce ourselves again with a newer clock, as awareness.js does.
          if (is_null && p_.local_awareness_ && e.clock >= p_.awareness_clock_) {
            p_.awareness_clock_ = e.clock + 1;
            renew = true;
          }
          continue;
        }
        auto it = p_.remote_awareness_.find(e.client_id);
        const std::uint64_t curr = it == p_.remote_awareness_.end() ? 0 : it->second.clock;
        const bool has = it != p_.remote_awareness_.end() && it->second.state.has_value();
        if (!(curr < e.clock || (curr == e.clock && is_null && has))) continue;
        RemoteAwareness& r = p_.remote_awareness_[e.client_id];
        std::optional<std::string> next = is_null ? std::nullopt : std::optional<std::string>(e.state_json);
        if (next != r.state) changed = true;
        r.clock = e.clock;
        r.state = std::move(next);
        r.updated = now;
      }
    }
    if (renew) send_local_awareness(c);
    if (changed) emit(LiveEvent::Kind::kAwareness);
  }

  // The connection is gone: others' states are unknown now (y-websocket
  // removes them too).
  void forget_remote_awareness() {
    bool changed = false;
    {
      std::lock_guard lock(p_.mu_);
      for (auto& [id, r] : p_.remote_awareness_) {
        if (r.state) changed = true;
        r.state.reset();
      }
    }
    if (changed) emit(LiveEvent::Kind::kAwareness);
  }

  void arm_awareness_timer() {
    awareness_timer_.expires_after(kAwarenessCheck);
    awareness_timer_.async_wait([this](beast::error_code ec) {
      if (ec || stopping_) return;
      on_awareness_timer();
      arm_awareness_timer();
    });
  }

  void on_awareness_timer() {
    const auto now = std::chrono::steady_clock::now();
    bool changed = false;
    bool renew = false;
    {
      std::lock_guard lock(p_.mu_);
      for (auto& [id, r] : p_.remote_awareness_) {
        if (r.state && now - r.updated >= kAwarenessTimeout) {
          r.state.reset();
          changed = true;
        }
      }
      if (p_.local_awareness_ && conn_ && conn_->ready && now - awareness_sent_at_ >= kAwarenessRenew) {
        ++p_.awareness_clock_;
        renew = true;
      }
    }
    if (renew) send_local_awareness(conn_);
    if (changed) emit(LiveEvent::Kind::kAwareness);
  }

  // ---- Sending ----

  void send_unsent(const ConnPtr& c) {
    std::vector<std::pair<std::int64_t, Bytes>> rows;
    {
      std::lock_guard lock(p_.mu_);
      auto r = p_.db_->query("SELECT id, data FROM unsent WHERE name = ?1 AND id > ?2 ORDER BY id",
                             {p_.name_, c->last_sent_id});
      if (!r) return lost(c, "read unsent updates: " + r.error().message);
      for (sql::Row& row : *r) rows.emplace_back(sql::as_int(row[0]), sql::as_blob(row[1]));
    }
    for (auto& [id, data] : rows) {
      c->last_sent_id = id;
      queue_update(c, protocol::encode_sync_update(data), id);
    }
  }

  // A message the server counts toward its ack, covering unsent rows <= `covers`.
  void queue_update(const ConnPtr& c, Bytes frame, std::int64_t covers) {
    ++c->counted;
    if (covers > 0) c->covers.emplace_back(c->counted, covers);
    queue(c, std::move(frame));
  }

  void queue(const ConnPtr& c, Bytes frame) {
    c->out.push_back(std::make_shared<const Bytes>(std::move(frame)));
    if (!c->writing) write_next(c);
  }

  void write_next(const ConnPtr& c) {
    if (c->out.empty() || stale(c)) {
      c->writing = false;
      return;
    }
    c->writing = true;
    auto frame = c->out.front();
    c->ws.async_write(asio::buffer(*frame), [this, c, frame](beast::error_code ec, std::size_t) {
      c->writing = false;
      if (stale(c)) return;
      if (ec) return lost(c, "send: " + ec.message());
      c->out.pop_front();
      write_next(c);
    });
  }

  // ---- Ending a connection ----

  void drop(const ConnPtr& c) {
    c->dead = true;
    if (c == conn_) conn_.reset();
    beast::error_code ignored;
    c->resolver.cancel();
    beast::get_lowest_layer(c->ws).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(c->ws).socket().close(ignored);
  }

  // Lost or unreachable: retry with backoff.
  void lost(const ConnPtr& c, std::string why) {
    if (c->dead) return;
    drop(c);
    forget_remote_awareness();
    set_state(LiveState::kOffline, std::move(why));
    if (stopping_ || halted_) return;
    retry_timer_.expires_after(opt_.backoff.delay(attempt_, rng_));
    if (attempt_ < 30) ++attempt_;
    retry_timer_.async_wait([this](beast::error_code ec) {
      if (!ec) connect();
    });
  }

  // Epoch mismatch or refusal: no retries until restart() / start_live().
  void halt(const ConnPtr& c, LiveState s, std::string why) {
    if (c->dead) return;
    halted_ = true;
    drop(c);
    forget_remote_awareness();
    set_state(s, std::move(why));
  }

  void shutdown() {
    stopping_ = true;
    retry_timer_.cancel();
    awareness_timer_.cancel();
    work_.reset();
    ConnPtr c = conn_;
    if (!c) return;
    conn_.reset();
    if (!c->open || c->writing) {
      drop(c);
      return;
    }
    // Graceful close (the server drops our awareness at once), bounded.
    auto grace = std::make_shared<asio::steady_timer>(ioc_, kCloseGrace);
    grace->async_wait([this, c](beast::error_code) { drop(c); });
    c->ws.async_close(websocket::close_code::normal, [this, c, grace](beast::error_code) {
      grace->cancel();
      drop(c);
    });
  }

  DocProvider& p_;
  LiveOptions opt_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::promise<void> done_;
  // The rest only on the live thread.
  ConnPtr conn_;
  asio::steady_timer retry_timer_;
  asio::steady_timer awareness_timer_;
  std::mt19937_64 rng_;
  unsigned attempt_ = 0;
  bool stopping_ = false;
  bool halted_ = false;
  bool awareness_announced_ = false;
  std::chrono::steady_clock::time_point awareness_sent_at_{};
};

Result<void> DocProvider::start_live(LiveOptions options) {
  std::lock_guard live_lock(live_mu_);
  std::lock_guard lock(mu_);
  if (live_) return fail(ErrorCode::kInvalidArgument, "already live");
  live_ = std::make_unique<Live>(*this, std::move(options));
  live_state_ = LiveState::kConnecting;
  live_->start();
  return {};
}

void DocProvider::stop_live() {
  std::lock_guard live_lock(live_mu_);
  std::unique_ptr<Live> live;
  {
    std::lock_guard lock(mu_);
    if (live_ && live_->on_live_thread()) return;  // from on_event: would join itself
    live = std::move(live_);
  }
  if (!live) return;
  live->stop();  // joins; mu_ is free meanwhile
  live_state_ = LiveState::kStopped;
  std::lock_guard lock(mu_);
  remote_awareness_.clear();
}

Result<void> DocProvider::set_local_awareness(std::optional<std::string> json) {
  if (json) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(*json, ec);
    if (ec) return fail(ErrorCode::kInvalidArgument, "awareness state is not JSON: " + ec.message());
    if (v.is_null()) {
      json.reset();
    } else {
      json = boost::json::serialize(v);
    }
  }
  std::lock_guard lock(mu_);
  if (!json && !local_awareness_) return {};
  local_awareness_ = std::move(json);
  ++awareness_clock_;
  if (live_) live_->send_awareness_soon();
  return {};
}

std::map<std::uint64_t, std::string> DocProvider::awareness_states() const {
  std::lock_guard lock(mu_);
  std::map<std::uint64_t, std::string> out;
  for (const auto& [id, r] : remote_awareness_) {
    if (r.state) out.emplace(id, *r.state);
  }
  return out;
}

// ---- Opening and local edits ----------------------------------------------------
//
// docs.sqlite3 holds, per document, the state as of the last sync with its
// epoch, and the local updates not yet acknowledged (`unsent`). The document
// is that state plus every unsent update, so an edit stores only its own
// update, not the whole document.

DocProvider::DocProvider(Endpoint endpoint, std::string name, std::unique_ptr<sql::Db> db)
    : endpoint_(std::move(endpoint)), name_(std::move(name)), db_(std::move(db)),
      doc_(std::make_unique<crdt::Doc>()) {}

DocProvider::~DocProvider() { stop_live(); }

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
    if (applying_remote_) {
      remote_changed_ = true;
    } else {
      captured_.emplace_back(u.begin(), u.end());
    }
  });
  doc_ = std::move(doc);
  epoch_ = base->empty() ? std::string() : sql::as_text((*base)[0][1]);
  captured_.clear();
  return {};
}

void DocProvider::with_doc(const std::function<void(crdt::Doc&)>& fn) const {
  std::lock_guard lock(mu_);
  fn(*doc_);
}

std::string DocProvider::epoch() const {
  std::lock_guard lock(mu_);
  return epoch_;
}

Result<void> DocProvider::store_state() {
  if (auto r = db_->query("INSERT INTO docs (name, state, epoch) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO UPDATE "
                          "SET state = excluded.state, epoch = excluded.epoch",
                          {name_, sql::Blob(crdt::encode_state_as_update(*doc_)), epoch_});
      !r) {
    return r.error();
  }
  return {};
}

Result<std::uint64_t> DocProvider::unsent_updates() {
  std::lock_guard lock(mu_);
  auto rows = db_->query("SELECT count(*) FROM unsent WHERE name = ?1", {name_});
  if (!rows) return rows.error();
  return static_cast<std::uint64_t>(sql::as_int((*rows)[0][0]));
}

Result<void> DocProvider::edit(const std::function<void(crdt::Doc&)>& fn) {
  std::lock_guard lock(mu_);
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
  if (!stored) {
    (void)load();
    return stored;
  }
  if (live_) live_->send_unsent_soon();
  return stored;
}

Result<void> DocProvider::reset_to_server() {
  std::lock_guard lock(mu_);
  {
    sql::Txn txn(*db_);
    if (auto r = txn.begin(); !r) return r;
    if (auto r = db_->query("DELETE FROM unsent WHERE name = ?1", {name_}); !r) return r.error();
    if (auto r = db_->query("DELETE FROM docs WHERE name = ?1", {name_}); !r) return r.error();
    if (auto r = txn.commit(); !r) return r;
  }
  auto loaded = load();
  // Live: a new connection from scratch (the old one announced the old state).
  if (live_) live_->restart();
  return loaded;
}

Result<void> DocProvider::republish_local() {
  // The whole local state becomes the one unsent update, for whatever
  // generation the server has now; the cache no longer claims an epoch.
  std::lock_guard lock(mu_);
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
  if (live_) live_->restart();
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
  // The mutex is held for each access to the document and the cache, never
  // across the network (a live connection keeps working meanwhile).
  std::vector<Unsent> unsent;
  std::string my_epoch;
  {
    std::lock_guard lock(mu_);
    auto rows = db_->query("SELECT id, data FROM unsent WHERE name = ?1 ORDER BY id", {name_});
    if (!rows) return rows.error();
    for (sql::Row& row : *rows) unsent.push_back({sql::as_int(row[0]), sql::as_blob(row[1])});
    my_epoch = epoch_;
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
    // Our state vector; once the server's epoch is known to be ours, every
    // unsent update. Each of those and each step 2 we send counts toward the
    // server's ack.
    std::uint64_t counted_sent = 0;
    Bytes my_sv;
    {
      std::lock_guard lock(mu_);
      my_sv = crdt::encode_state_vector(*doc_);
    }
    if (!send(protocol::encode_sync_step1(my_sv))) return fail(ErrorCode::kIo, "send: " + ec.message());
    std::uint64_t unsent_count = 0;
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
          // The generation our cache belongs to must still be the server's;
          // nothing of ours goes out before that is known.
          if (!my_epoch.empty() && *e != my_epoch) {
            return fail(ErrorCode::kEpochMismatch, "the server's copy is another generation (epoch '" + *e +
                                                       "', ours '" + my_epoch + "'): reset or republish");
          }
          for (const Unsent& u : unsent) {
            if (!send(protocol::encode_sync_update(u.data))) return fail(ErrorCode::kIo, "send: " + ec.message());
            ++counted_sent;
          }
          unsent_count = counted_sent;
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
        if (!got_epoch) return fail(ErrorCode::kInvalidValue, "the server did not announce the document's epoch");
        Result<Bytes> diff = Bytes{};
        {
          std::lock_guard lock(mu_);
          diff = crdt::encode_state_as_update(*doc_, std::span<const std::uint8_t>(s1->state_vector));
        }
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
  std::lock_guard lock(mu_);
  if (epoch_ != my_epoch) return fail(ErrorCode::kBusy, "the document was reset locally during the sync");
  applying_remote_ = true;
  remote_changed_ = false;
  for (const Bytes& u : received) {
    if (auto a = crdt::apply_update(*doc_, u); !a) {
      applying_remote_ = false;
      return fail(ErrorCode::kInvalidValue, "the server sent an undecodable update: " + a.error().message);
    }
  }
  applying_remote_ = false;
  (*outcome)->received_changes = remote_changed_;
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
