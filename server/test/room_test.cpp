// Room logic with fake peers, on a real io_context and a real SQLite store:
// viewers refused, awareness bound to its connection and expiring, the ack
// and epoch extensions, delete and reconcile. (Open mode cannot make a viewer,
// so this is where the role rule is tested.)
#include "net/connection_info.hpp"
#include "rooms/room.hpp"
#include "server_context.hpp"

#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/text.hpp"
#include "corates/protocol/awareness.hpp"
#include "corates/protocol/extensions.hpp"
#include "corates/protocol/message.hpp"
#include "corates/storage/sqlite_store.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

namespace {

namespace asio = boost::asio;
namespace srv = corates::server;
namespace proto = corates::protocol;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

// A connection as the room sees it: records what is sent and how it closed.
class FakePeer : public srv::Peer {
 public:
  explicit FakePeer(std::uint64_t id) : id_(id) {}
  std::uint64_t id() const override { return id_; }
  void send(srv::SharedBytes frame, srv::FrameKind) override {
    std::lock_guard lock(mutex_);
    frames_.push_back(*frame);
    cv_.notify_all();
  }
  void close(std::uint16_t code, std::string reason) override {
    std::lock_guard lock(mutex_);
    close_code_ = code;
    close_reason_ = std::move(reason);
    cv_.notify_all();
  }
  const srv::ConnectionInfo& info() const override { return info_; }
  srv::ConnectionInfo& info() { return info_; }

  // Waits (bounded) for a frame after the first `from` that satisfies `pred`.
  std::optional<Bytes> wait_for(const std::function<bool(const Bytes&)>& pred, std::size_t from = 0,
                                std::chrono::milliseconds timeout = 3000ms) {
    std::unique_lock lock(mutex_);
    std::optional<Bytes> found;
    cv_.wait_for(lock, timeout, [&] {
      for (std::size_t i = from; i < frames_.size(); ++i) {
        if (pred(frames_[i])) {
          found = frames_[i];
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // Waits (bounded) until `pred` holds for all frames so far.
  bool wait_all(const std::function<bool(const std::vector<Bytes>&)>& pred, std::chrono::milliseconds timeout = 3000ms) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return pred(frames_); });
  }
  std::optional<std::uint16_t> wait_closed(std::chrono::milliseconds timeout = 3000ms) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return close_code_.has_value(); });
    return close_code_;
  }
  std::vector<Bytes> frames() {
    std::lock_guard lock(mutex_);
    return frames_;
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return frames_.size();
  }

 private:
  std::uint64_t id_;
  srv::ConnectionInfo info_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Bytes> frames_;
  std::optional<std::uint16_t> close_code_;
  std::string close_reason_;
};

bool is_type(const Bytes& m, std::uint8_t type) { return !m.empty() && m[0] == type; }
bool is_sync(const Bytes& m, std::uint8_t sub) { return m.size() >= 2 && m[0] == 0 && m[1] == sub; }

// A Yjs update from the C++ core: client `client` inserts `text` into "t".
Bytes text_update(std::uint64_t client, std::string_view text, const Bytes& base = {}) {
  corates::crdt::Doc d;
  d.set_client_id(client);
  if (!base.empty()) {
    EXPECT_TRUE(corates::crdt::apply_update(d, base).has_value());
  }
  d.get<corates::crdt::Text>("t").insert(0, text);
  return corates::crdt::encode_state_as_update(d);
}

std::string text_of(const Bytes& update) {
  corates::crdt::Doc d;
  EXPECT_TRUE(corates::crdt::apply_update(d, update).has_value());
  return d.get<corates::crdt::Text>("t").to_string();
}

Bytes awareness_frame(std::uint64_t client, std::uint64_t clock, std::string state) {
  return proto::encode_awareness(proto::encode_awareness_update({{client, clock, std::move(state)}}));
}

std::vector<proto::AwarenessEntry> awareness_entries(const Bytes& frame) {
  auto msg = proto::decode_message(frame);
  if (!msg) return {};
  auto* a = std::get_if<proto::AwarenessMessage>(&*msg);
  if (a == nullptr) return {};
  auto e = proto::decode_awareness_update(a->update);
  return e ? *e : std::vector<proto::AwarenessEntry>{};
}

class RoomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("corates-room-test-" + std::to_string(rd()));
    corates::storage::SqliteOptions opts;
    opts.data_dir = dir_;
    auto store = corates::storage::open_sqlite_store(opts);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    config_.awareness_timeout = 300ms;
    config_.room_idle_unload = 60s;
    ctx_ = std::make_unique<srv::ServerContext>(config_, ioc_, *store_);
    rooms_ = std::make_unique<srv::RoomRegistry>(*ctx_);
    ctx_->rooms = rooms_.get();
    work_.emplace(ioc_.get_executor());
    thread_ = std::thread([this] { ioc_.run(); });
  }
  void TearDown() override {
    work_.reset();
    ioc_.stop();
    thread_.join();
    // Handlers still queued (a room's release(), steps) hold rooms whose
    // destructors use ctx_: run them now, while ctx_ and the store live.
    // Timers hold rooms weakly, so what stays queued holds none.
    ioc_.restart();
    ioc_.poll();
    (void)store_->close();
    rooms_.reset();
    ctx_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<FakePeer> join(const std::string& doc, std::uint64_t id,
                                 const std::function<void(srv::ConnectionInfo&)>& setup = {}) {
    auto p = std::make_shared<FakePeer>(id);
    if (setup) setup(p->info());
    rooms_->acquire(doc)->join(p);
    EXPECT_TRUE(p->wait_for([](const Bytes& m) { return is_sync(m, 0); }));  // the greeting
    return p;
  }
  void send(const std::string& doc, const std::shared_ptr<FakePeer>& p, Bytes frame) {
    auto room = rooms_->acquire(doc);
    room->message(p->id(), std::make_shared<const Bytes>(std::move(frame)));
    room->release();
  }
  // The stored state through the HTTP path (waits for durability).
  corates::Result<Bytes> state(const std::string& doc) {
    std::promise<corates::Result<Bytes>> p;
    rooms_->acquire(doc)->get_update({}, false, [&](corates::Result<Bytes> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }

  std::filesystem::path dir_;
  srv::ServerConfig config_;
  asio::io_context ioc_;
  std::unique_ptr<corates::storage::DocumentStore> store_;
  std::unique_ptr<srv::ServerContext> ctx_;
  std::unique_ptr<srv::RoomRegistry> rooms_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

TEST_F(RoomTest, ViewerUpdatesAreRefusedAndNeverApplied) {
  auto editor = join("v", 1);
  auto viewer = join("v", 2, [](srv::ConnectionInfo& i) { i.role = srv::Role::kViewer; });
  // The empty step 2 every client sends on connect is not worth a refusal.
  send("v", viewer, proto::encode_sync_step2(Bytes{0, 0}));
  const Bytes u = text_update(7, "viewer");
  send("v", viewer, proto::encode_sync_update(u));
  send("v", viewer, proto::encode_sync_step2(u));
  auto denied = viewer->wait_for([](const Bytes& m) { return is_type(m, 2); });
  ASSERT_TRUE(denied);
  auto msg = proto::decode_message(*denied);
  ASSERT_TRUE(msg && std::holds_alternative<proto::AuthPermissionDenied>(*msg));
  // Exactly two refusals (the update and the step 2), none for the empty step 2.
  auto count_refusals = [](const std::vector<Bytes>& frames) {
    int n = 0;
    for (const auto& f : frames) n += is_type(f, 2) ? 1 : 0;
    return n;
  };
  auto refusals = [&] { return count_refusals(viewer->frames()); };
  ASSERT_TRUE(viewer->wait_all([&](const std::vector<Bytes>& f) { return count_refusals(f) >= 2; }));
  auto s = state("v");
  ASSERT_FALSE(s.has_value());  // nothing was stored: the document does not exist
  EXPECT_EQ(s.error().code, corates::ErrorCode::kNotFound);
  EXPECT_FALSE(editor->wait_for([](const Bytes& m) { return is_sync(m, 2); }, 0, 200ms));
  EXPECT_EQ(refusals(), 2);

  // A role change applies to the live connection at once.
  viewer->info().role = srv::Role::kEditor;
  send("v", viewer, proto::encode_sync_update(u));
  ASSERT_TRUE(editor->wait_for([](const Bytes& m) { return is_sync(m, 2); }));
  auto after = state("v");
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(text_of(*after), "viewer");

  // Back to viewer: a step 2 holding only what the server has is silent, new content is refused.
  viewer->info().role = srv::Role::kViewer;
  const std::size_t before = viewer->count();
  send("v", viewer, proto::encode_sync_step2(u));
  send("v", viewer, proto::encode_sync_update(text_update(8, "more", u)));
  ASSERT_TRUE(viewer->wait_for([](const Bytes& m) { return is_type(m, 2); }, before));
  EXPECT_EQ(refusals(), 3);
  EXPECT_EQ(text_of(*state("v")), "viewer");
}

TEST_F(RoomTest, AwarenessStatesAreBoundToTheirConnection) {
  auto a = join("aw", 1);
  auto b = join("aw", 2);
  send("aw", a, awareness_frame(100, 1, R"({"user":"a"})"));
  ASSERT_TRUE(b->wait_for([](const Bytes& m) { return is_type(m, 1); }));
  // b tries to move and then remove a's cursor: both dropped.
  const std::size_t a_before = a->count();
  send("aw", b, awareness_frame(100, 5, R"({"user":"mallory"})"));
  send("aw", b, awareness_frame(100, 6, "null"));
  // b's own state in the same frame as a forged one: only its own goes through.
  send("aw", b,
       proto::encode_awareness(proto::encode_awareness_update({{100, 7, R"({"x":1})"}, {200, 1, R"({"user":"b"})"}})));
  auto relayed = a->wait_for([](const Bytes& m) { return is_type(m, 1); }, a_before);
  ASSERT_TRUE(relayed);
  auto entries = awareness_entries(*relayed);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].client_id, 200u);

  // A newcomer sees a's state untouched.
  auto c = join("aw", 3);
  auto greeting = c->wait_for([](const Bytes& m) { return is_type(m, 1); });
  ASSERT_TRUE(greeting);
  bool saw_a = false;
  for (const auto& e : awareness_entries(*greeting)) {
    if (e.client_id == 100) {
      saw_a = true;
      EXPECT_EQ(e.state_json, R"({"user":"a"})");
      EXPECT_EQ(e.clock, 1u);
    }
  }
  EXPECT_TRUE(saw_a);

  // When a leaves, its state is removed and the removal announced.
  const std::size_t b_before = b->count();
  auto room = rooms_->acquire("aw");
  room->leave(a->id());
  room->release();
  auto removal = b->wait_for(
      [](const Bytes& m) {
        auto e = awareness_entries(m);
        return e.size() == 1 && e[0].client_id == 100 && e[0].state_json == "null";
      },
      b_before);
  EXPECT_TRUE(removal);
  // The id is free again: another connection may use it now.
  const std::size_t c_before = c->count();
  send("aw", b, awareness_frame(100, 9, R"({"user":"b2"})"));
  EXPECT_TRUE(c->wait_for([](const Bytes& m) { return !awareness_entries(m).empty(); }, c_before));
}

TEST_F(RoomTest, SilentAwarenessStatesExpire) {
  auto a = join("exp", 1);
  auto b = join("exp", 2);
  const auto t0 = std::chrono::steady_clock::now();
  send("exp", a, awareness_frame(100, 1, R"({"user":"a"})"));
  auto removal = b->wait_for(
      [](const Bytes& m) {
        auto e = awareness_entries(m);
        return e.size() == 1 && e[0].client_id == 100 && e[0].state_json == "null";
      },
      0, 3000ms);
  ASSERT_TRUE(removal);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);
  // A renewed state keeps living: renew every 100 ms for 600 ms, no removal.
  send("exp", a, awareness_frame(100, 2, R"({"user":"a"})"));
  const std::size_t from = b->count();
  for (int i = 3; i < 9; ++i) {
    std::this_thread::sleep_for(100ms);
    send("exp", a, awareness_frame(100, static_cast<std::uint64_t>(i), R"({"user":"a"})"));
  }
  EXPECT_FALSE(b->wait_for(
      [](const Bytes& m) {
        auto e = awareness_entries(m);
        return !e.empty() && e[0].state_json == "null";
      },
      from, 50ms));
}

TEST_F(RoomTest, AckCountsUpdateMessagesOnceDurable) {
  auto a = join("ack", 1, [](srv::ConnectionInfo& i) { i.ext_ack = true; });
  auto plain = join("ack", 2);
  const Bytes u1 = text_update(5, "a");
  const Bytes u2 = text_update(5, "b", u1);
  send("ack", a, proto::encode_sync_update(u1));
  send("ack", a, proto::encode_sync_update(u1));  // a duplicate: changes nothing, acked too
  send("ack", a, proto::encode_sync_step2(u2));
  auto ack3 = a->wait_for([](const Bytes& m) {
    auto c = proto::decode_ack(m);
    return c && *c == 3;
  });
  ASSERT_TRUE(ack3);
  // Acks are cumulative and increasing.
  std::uint64_t last = 0;
  for (const auto& f : a->frames()) {
    if (auto c = proto::decode_ack(f)) {
      EXPECT_GT(*c, last);
      last = *c;
    }
  }
  // Acked means durable: a fresh registry (no memory) reads it back.
  auto s = store_->load("ack");
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->exists);
  // A connection that did not ask gets no ack.
  send("ack", plain, proto::encode_sync_update(text_update(6, "c")));
  EXPECT_FALSE(plain->wait_for([](const Bytes& m) { return is_type(m, proto::kMessageAck); }, 0, 300ms));
  for (const auto& f : plain->frames()) EXPECT_FALSE(is_type(f, proto::kMessageEpoch));
}

TEST_F(RoomTest, EpochIsSentOnJoinAndOnEveryChange) {
  auto a = join("ep", 1, [](srv::ConnectionInfo& i) { i.ext_epoch = true; });
  auto first = proto::decode_epoch(a->frames().at(0));
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, "");  // the document does not exist yet
  send("ep", a, proto::encode_sync_update(text_update(5, "x")));
  auto created = a->wait_for([](const Bytes& m) {
    auto e = proto::decode_epoch(m);
    return e && e->size() == 32;
  });
  ASSERT_TRUE(created);
  const std::string epoch1 = *proto::decode_epoch(*created);

  // Delete: the connection is closed with 4404, storage forgets the document.
  std::promise<corates::Result<srv::RemoveResult>> removed;
  rooms_->acquire("ep")->remove_document([&](auto r) { removed.set_value(std::move(r)); });
  auto r = removed.get_future().get();
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->existed);
  EXPECT_EQ(r->connections_closed, 1u);
  EXPECT_EQ(a->wait_closed(), srv::kCloseDocumentDeleted);
  EXPECT_FALSE(store_->load("ep")->exists);
  EXPECT_EQ(state("ep").error().code, corates::ErrorCode::kNotFound);

  // A new connection starts empty; the first update creates a new generation.
  auto b = join("ep", 2, [](srv::ConnectionInfo& i) { i.ext_epoch = true; });
  EXPECT_EQ(*proto::decode_epoch(b->frames().at(0)), "");
  EXPECT_EQ(b->frames().at(1), proto::encode_sync_step1(Bytes{0}));
  send("ep", b, proto::encode_sync_update(text_update(6, "y")));
  auto recreated = b->wait_for([](const Bytes& m) {
    auto e = proto::decode_epoch(m);
    return e && e->size() == 32;
  });
  ASSERT_TRUE(recreated);
  EXPECT_NE(*proto::decode_epoch(*recreated), epoch1);
  EXPECT_EQ(text_of(*state("ep")), "y");
}

TEST_F(RoomTest, StepsPostedDuringADeleteWaitForIt) {
  auto first = join("d", 1);
  send("d", first, proto::encode_sync_update(text_update(5, "old")));
  ASSERT_TRUE(state("d").has_value());
  auto room = rooms_->acquire("d");
  std::promise<void> deleted;
  room->remove_document([&](auto) { deleted.set_value(); });
  // Posted right behind the delete: applies to the new generation only.
  std::promise<corates::Result<srv::PostResult>> posted;
  rooms_->acquire("d")->post_update(text_update(6, "new"),
                                    [&](corates::Result<srv::PostResult> r) { posted.set_value(std::move(r)); });
  deleted.get_future().get();
  auto p = posted.get_future().get();
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->changed);
  EXPECT_EQ(p->seq, 1u);
  EXPECT_EQ(text_of(*state("d")), "new");
}

TEST_F(RoomTest, ReconcileMergesBothWays) {
  const Bytes server_part = text_update(5, "server");
  std::promise<void> posted;
  rooms_->acquire("rec")->post_update(server_part, [&](auto) { posted.set_value(); });
  posted.get_future().get();
  auto watcher = join("rec", 1);
  const Bytes client_state = text_update(9, "client");
  std::promise<corates::Result<srv::ReconcileResult>> done;
  rooms_->acquire("rec")->reconcile(client_state, "", [&](auto r) { done.set_value(std::move(r)); });
  auto r = done.get_future().get();
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->changed);
  EXPECT_EQ(r->epoch.size(), 32u);
  // The client applies the answer and has everything the server has.
  corates::crdt::Doc client;
  ASSERT_TRUE(corates::crdt::apply_update(client, client_state).has_value());
  ASSERT_TRUE(corates::crdt::apply_update(client, r->update).has_value());
  EXPECT_EQ(corates::crdt::encode_state_vector(client), r->state_vector);
  EXPECT_EQ(client.get<corates::crdt::Text>("t").to_string(), text_of(*state("rec")));
  // The server's part is not sent back... only what the client lacked.
  EXPECT_EQ(text_of(r->update), "server");
  // Others in the room got the client's part like any update.
  EXPECT_TRUE(watcher->wait_for([](const Bytes& m) { return is_sync(m, 2); }));

  // A stale epoch is refused and nothing is applied.
  std::promise<corates::Result<srv::ReconcileResult>> stale;
  rooms_->acquire("rec")->reconcile(text_update(10, "zzz"), std::string(32, '0'),
                                    [&](auto x) { stale.set_value(std::move(x)); });
  auto s = stale.get_future().get();
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, corates::ErrorCode::kEpochMismatch);
  EXPECT_EQ(text_of(*state("rec")).find("zzz"), std::string::npos);
}

}  // namespace

// A collapsed queue is replaced by one diff from the state vector the client
// declared in its step 1, not by the whole document.
TEST_F(RoomTest, ResyncSendsOnlyWhatTheDeclaredStateLacks) {
  auto writer = join("r", 1);
  const Bytes base = text_update(7, std::string(4000, 'a'));
  send("r", writer, proto::encode_sync_update(base));
  ASSERT_TRUE(state("r").has_value());

  // The reader holds `base` and says so in its step 1.
  auto reader = join("r", 2);
  corates::crdt::Doc mirror;
  ASSERT_TRUE(corates::crdt::apply_update(mirror, base).has_value());
  send("r", reader, proto::encode_sync_step1(corates::crdt::encode_state_vector(mirror)));
  ASSERT_TRUE(reader->wait_for([](const Bytes& m) { return is_sync(m, 1); }));

  const Bytes more = text_update(8, "tail", base);
  send("r", writer, proto::encode_sync_update(more));
  ASSERT_TRUE(state("r").has_value());

  const std::size_t before = reader->count();
  auto room = rooms_->acquire("r");
  room->resync(reader->id());
  room->release();
  auto resync = reader->wait_for(
      [](const Bytes& m) {
        auto msg = proto::decode_message(m);
        return msg && std::holds_alternative<proto::SyncUpdate>(*msg) &&
               std::get<proto::SyncUpdate>(*msg).update.size() < 1000;
      },
      before);
  ASSERT_TRUE(resync.has_value()) << "no small resync frame after " << before;
  auto decoded = proto::decode_message(*resync);
  ASSERT_TRUE(corates::crdt::apply_update(mirror, std::get<proto::SyncUpdate>(*decoded).update).has_value());
  EXPECT_EQ(mirror.get<corates::crdt::Text>("t").to_string(), "tail" + std::string(4000, 'a'));

  // A reader that never declared anything gets the whole state.
  auto raw = join("r", 3);
  const std::size_t raw_before = raw->count();
  room = rooms_->acquire("r");
  room->resync(raw->id());
  room->release();
  auto full = raw->wait_for(
      [](const Bytes& m) {
        auto msg = proto::decode_message(m);
        return msg && std::holds_alternative<proto::SyncUpdate>(*msg);
      },
      raw_before);
  ASSERT_TRUE(full.has_value());
  EXPECT_EQ(text_of(std::get<proto::SyncUpdate>(*proto::decode_message(*full)).update), "tail" + std::string(4000, 'a'));
}

// New clients share one cached answer to an empty step 1; every change
// replaces it, so nobody is answered with an old state.
TEST_F(RoomTest, EmptyStateVectorAnswerFollowsEveryChange) {
  auto writer = join("c", 1);
  const Bytes empty_sv{0};
  auto step2_text = [&](const std::shared_ptr<FakePeer>& p) -> std::string {
    const std::size_t before = p->count();
    send("c", p, proto::encode_sync_step1(empty_sv));
    auto reply = p->wait_for([](const Bytes& m) { return is_sync(m, 1); }, before);
    if (!reply) return "<no step 2>";
    return text_of(std::get<proto::SyncStep2>(*proto::decode_message(*reply)).update);
  };
  Bytes state;
  std::string expected;
  for (int i = 0; i < 3; ++i) {
    const std::string piece = "v" + std::to_string(i);
    state = text_update(10 + static_cast<std::uint64_t>(i), piece, state);
    expected = piece + expected;
    send("c", writer, proto::encode_sync_update(state));
    ASSERT_TRUE(this->state("c").has_value());
    auto a = join("c", 100 + static_cast<std::uint64_t>(2 * i));
    auto b = join("c", 101 + static_cast<std::uint64_t>(2 * i));
    EXPECT_EQ(step2_text(a), expected);
    EXPECT_EQ(step2_text(b), expected);
  }
}
