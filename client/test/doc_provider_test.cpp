// The document provider against a real server in the same process (loopback,
// port 0, auth off): offline edits kept in SQLite and delivered later, two
// providers converging, unsent updates dropped only once acknowledged, a
// crash right after an edit losing nothing, and an epoch change (DELETE of
// the document) reported instead of merged. Live mode: remote and local edits
// flowing without sync(), convergence across a server restart, awareness,
// an epoch change while connected, and a bounded stop_live().
#include "corates/client/doc_provider.hpp"
#include "corates/client/http_client.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/text.hpp"
#include "corates/server/config.hpp"
#include "corates/server/server.hpp"
#include "temp_dir.hpp"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

namespace corates::client {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Bytes = std::vector<std::uint8_t>;

class DocProviderTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (server_) server_->stop();
  }
  void start_server() {
    server::ServerConfig c;
    c.port = port_;  // the same port across restarts, so endpoints stay valid
    c.threads = 2;
    c.data_dir = (dir_ / "server").string();
    c.auth_required = false;
    c.log_level = "off";
    server::configure_logging(c);
    auto s = server::Server::create(c);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    server_ = std::move(*s);
    server_->start();
    port_ = server_->port();
  }
  Endpoint endpoint() const {
    Endpoint e;
    e.host = "127.0.0.1";
    e.port = port_ == 0 ? 1 : port_;  // port 1: nothing listens (offline)
    e.timeout = 5s;
    return e;
  }
  std::unique_ptr<DocProvider> open(const std::string& who, const std::string& doc) {
    auto p = DocProvider::open(endpoint(), dir_ / who, doc);
    EXPECT_TRUE(p.has_value()) << p.error().message;
    return p ? std::move(*p) : nullptr;
  }
  static std::string text(DocProvider& p) { return p.doc().get<crdt::Text>("t").to_string(); }
  static Result<void> insert(DocProvider& p, std::size_t at, std::string s) {
    return p.edit([&](crdt::Doc& d) { d.get<crdt::Text>("t").insert(at, s); });
  }

  // Polls `pred` (with the provider's mutex taken by with_doc where needed)
  // for up to 15 s.
  static bool eventually(const std::function<bool()>& pred) {
    const auto until = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(20ms);
    }
    return pred();
  }
  static std::string live_text(const DocProvider& p) {
    std::string out;
    p.with_doc([&](crdt::Doc& d) { out = d.get<crdt::Text>("t").to_string(); });
    return out;
  }
  static Bytes live_sv(const DocProvider& p) {
    Bytes out;
    p.with_doc([&](crdt::Doc& d) { out = crdt::encode_state_vector(d); });
    return out;
  }
  static LiveOptions fast_retries() {
    LiveOptions o;
    o.backoff = Backoff{50ms, 500ms};
    return o;
  }
  void stop_server() {
    server_->stop();
    server_.reset();
  }

  test::TempDir tmp_;
  const fs::path dir_ = tmp_.path();
  std::uint16_t port_ = 0;
  std::unique_ptr<server::Server> server_;
};

TEST_F(DocProviderTest, OfflineEditsSurviveRestartAndArriveLater) {
  {
    auto a = open("alice", "notes");
    ASSERT_TRUE(insert(*a, 0, "written offline").has_value());
    auto r = a->sync(1s);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kIo) << r.error().message;
    EXPECT_EQ(a->unsent_updates().value(), 1u);
  }
  start_server();
  auto a = open("alice", "notes");  // a new process would see the same
  EXPECT_EQ(text(*a), "written offline");
  auto r = a->sync(5s);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r->sent_updates, 1u);
  EXPECT_FALSE(r->epoch.empty());
  EXPECT_EQ(a->unsent_updates().value(), 0u);

  auto b = open("bob", "notes");
  auto rb = b->sync(5s);
  ASSERT_TRUE(rb.has_value()) << rb.error().message;
  EXPECT_TRUE(rb->received_changes);
  EXPECT_EQ(text(*b), "written offline");
  EXPECT_EQ(rb->epoch, r->epoch);
}

TEST_F(DocProviderTest, ConcurrentEditsConverge) {
  start_server();
  auto a = open("alice", "shared");
  auto b = open("bob", "shared");
  ASSERT_TRUE(insert(*a, 0, "alpha ").has_value());
  ASSERT_TRUE(insert(*b, 0, "beta ").has_value());
  ASSERT_TRUE(a->sync(5s).has_value());
  ASSERT_TRUE(b->sync(5s).has_value());
  ASSERT_TRUE(a->sync(5s).has_value());
  EXPECT_EQ(text(*a), text(*b));
  EXPECT_EQ(crdt::encode_state_vector(a->doc()), crdt::encode_state_vector(b->doc()));
  EXPECT_EQ(text(*a).size(), std::string("alpha beta ").size());
}

TEST_F(DocProviderTest, AnEditIsDurableWhenItReturns) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto p = DocProvider::open(endpoint(), dir_ / "alice", "crash");
    if (!p) _exit(2);
    if (!insert(**p, 0, "kept").has_value()) _exit(3);
    kill(getpid(), SIGKILL);  // no destructor, no close
    _exit(4);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);
  auto p = open("alice", "crash");
  EXPECT_EQ(text(*p), "kept");
  EXPECT_EQ(p->unsent_updates().value(), 1u);
}

TEST_F(DocProviderTest, AnEpochChangeIsReportedNotMerged) {
  start_server();
  auto a = open("alice", "reset-me");
  ASSERT_TRUE(insert(*a, 0, "old generation").has_value());
  auto first = a->sync(5s);
  ASSERT_TRUE(first.has_value()) << first.error().message;

  // The server's copy goes away and someone starts a new one.
  HttpClient http(endpoint());
  auto del = http.request("DELETE", "/api/docs/reset-me");
  ASSERT_TRUE(del.has_value()) << del.error().message;
  ASSERT_EQ(del->status, 200);
  auto b = open("bob", "reset-me");
  ASSERT_TRUE(insert(*b, 0, "new generation").has_value());
  ASSERT_TRUE(b->sync(5s).has_value());

  ASSERT_TRUE(insert(*a, 0, "offline ").has_value());
  auto r = a->sync(5s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kEpochMismatch) << r.error().message;
  EXPECT_EQ(text(*a), "offline old generation");  // nothing of the new generation merged
  EXPECT_EQ(a->unsent_updates().value(), 1u);       // nor anything lost

  // The server's copy was not touched by the refused sync.
  ASSERT_TRUE(b->sync(5s).has_value());
  EXPECT_EQ(text(*b), "new generation");

  // Choice 1: republish the local copy into the new generation.
  ASSERT_TRUE(a->republish_local().has_value());
  auto again = a->sync(5s);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  ASSERT_TRUE(b->sync(5s).has_value());
  EXPECT_EQ(text(*a), text(*b));
  EXPECT_NE(text(*b).find("old generation"), std::string::npos);

  // Choice 2 (for someone else): take the server's copy.
  auto c = open("carol", "reset-me");
  ASSERT_TRUE(insert(*c, 0, "carol's").has_value());
  ASSERT_TRUE(c->reset_to_server().has_value());
  EXPECT_EQ(text(*c), "");
  EXPECT_EQ(c->unsent_updates().value(), 0u);
  ASSERT_TRUE(c->sync(5s).has_value());
  EXPECT_EQ(text(*c), text(*b));
}

// What on_event delivered, for the tests to wait on.
struct Events {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<LiveEvent> seen;
  std::function<void(const LiveEvent&)> on_event_hook;

  LiveOptions options(LiveOptions o) {
    o.on_event = [this](const LiveEvent& e) {
      if (on_event_hook) on_event_hook(e);
      std::lock_guard lock(mu);
      seen.push_back(e);
      cv.notify_all();
    };
    return o;
  }
  bool wait_state(LiveState s) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 15s, [&] {
      for (const LiveEvent& e : seen) {
        if (e.kind == LiveEvent::Kind::kState && e.state == s) return true;
      }
      return false;
    });
  }
  std::size_t count(LiveEvent::Kind k) {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (const LiveEvent& e : seen) n += e.kind == k ? 1 : 0;
    return n;
  }
  std::string message_of(LiveState s) {
    std::lock_guard lock(mu);
    for (const LiveEvent& e : seen) {
      if (e.kind == LiveEvent::Kind::kState && e.state == s) return e.message;
    }
    return {};
  }
};

TEST_F(DocProviderTest, LiveEditsFlowBothWaysWithoutSync) {
  // Declared before the providers: their threads call into these.
  Events ea, eb;
  std::string stored_when_reported;
  start_server();
  auto a = open("alice", "live");
  auto b = open("bob", "live");
  ASSERT_TRUE(insert(*a, 0, "cached ").has_value());  // unsent before going live
  // A remote change is stored before it is reported: a second provider on
  // bob's cache sees it from inside the event.
  eb.on_event_hook = [&](const LiveEvent& e) {
    if (e.kind != LiveEvent::Kind::kRemoteChange) return;
    auto peek = DocProvider::open(endpoint(), dir_ / "bob", "live");
    if (peek) stored_when_reported = text(**peek);
  };
  ASSERT_TRUE(a->start_live(ea.options(fast_retries())).has_value());
  ASSERT_TRUE(b->start_live(eb.options(fast_retries())).has_value());
  EXPECT_FALSE(a->start_live(LiveOptions{}).has_value());  // already live
  ASSERT_TRUE(ea.wait_state(LiveState::kSynced));
  ASSERT_TRUE(eb.wait_state(LiveState::kSynced));
  EXPECT_TRUE(eventually([&] { return live_text(*b) == "cached "; })) << live_text(*b);
  EXPECT_TRUE(eventually([&] { return a->unsent_updates().value() == 0; }));

  ASSERT_TRUE(insert(*a, 7, "from alice").has_value());
  EXPECT_TRUE(eventually([&] { return live_text(*b) == "cached from alice"; })) << live_text(*b);
  ASSERT_TRUE(b->edit([](crdt::Doc& d) { d.get<crdt::Text>("t").insert(0, ">> "); }).has_value());
  EXPECT_TRUE(eventually([&] { return live_text(*a) == ">> cached from alice"; })) << live_text(*a);
  EXPECT_TRUE(eventually([&] { return a->unsent_updates().value() == 0 && b->unsent_updates().value() == 0; }));
  EXPECT_GE(eb.count(LiveEvent::Kind::kRemoteChange), 1u);
  EXPECT_NE(stored_when_reported.find("cached"), std::string::npos) << stored_when_reported;
  EXPECT_EQ(a->live_state(), LiveState::kSynced);

  // Deletions (no state vector change) arrive too.
  ASSERT_TRUE(a->edit([](crdt::Doc& d) { d.get<crdt::Text>("t").remove(0, 3); }).has_value());
  EXPECT_TRUE(eventually([&] { return live_text(*b) == "cached from alice"; })) << live_text(*b);

  a->stop_live();
  b->stop_live();
  EXPECT_EQ(a->live_state(), LiveState::kStopped);
  // What live mode stored is the cache a restart opens.
  auto b2 = open("bob", "live");
  b.reset();
  EXPECT_EQ(text(*b2), "cached from alice");
  EXPECT_EQ(b2->unsent_updates().value(), 0u);
}

TEST_F(DocProviderTest, LiveReconnectsAfterTheServerRestartsAndConverges) {
  Events ea, eb;  // before the providers: their threads call into it
  start_server();
  auto a = open("alice", "restart");
  auto b = open("bob", "restart");
  ASSERT_TRUE(a->start_live(ea.options(fast_retries())).has_value());
  ASSERT_TRUE(b->start_live(eb.options(fast_retries())).has_value());
  ASSERT_TRUE(insert(*a, 0, "base").has_value());
  ASSERT_TRUE(eventually([&] { return live_text(*b) == "base"; }));

  stop_server();
  ASSERT_TRUE(ea.wait_state(LiveState::kOffline));
  ASSERT_TRUE(eb.wait_state(LiveState::kOffline));
  ASSERT_TRUE(insert(*a, 0, "A:").has_value());
  ASSERT_TRUE(b->edit([](crdt::Doc& d) {
                 auto& t = d.get<crdt::Text>("t");
                 t.insert(t.length(), ":B");
               }).has_value());
  EXPECT_GE(a->unsent_updates().value(), 1u);
  std::this_thread::sleep_for(300ms);  // a few failed reconnects
  EXPECT_EQ(live_text(*b), "base:B");

  start_server();  // same port, same data
  EXPECT_TRUE(eventually([&] { return live_text(*a) == "A:base:B" && live_text(*b) == "A:base:B"; }))
      << live_text(*a) << " / " << live_text(*b);
  EXPECT_TRUE(eventually([&] { return live_sv(*a) == live_sv(*b); }));
  EXPECT_TRUE(eventually([&] { return a->unsent_updates().value() == 0 && b->unsent_updates().value() == 0; }));
  EXPECT_EQ(a->live_state(), LiveState::kSynced);
}

TEST_F(DocProviderTest, LiveAwarenessIsSeenAndRemoved) {
  Events ea, eb;  // before the providers: their threads call into it
  start_server();
  auto a = open("alice", "aware");
  auto b = open("bob", "aware");
  EXPECT_FALSE(a->set_local_awareness(std::string("{not json")).has_value());
  ASSERT_TRUE(a->set_local_awareness(std::string(R"({"user":{"name":"alice"}})")).has_value());  // before live
  ASSERT_TRUE(a->start_live(ea.options(fast_retries())).has_value());
  ASSERT_TRUE(b->start_live(eb.options(fast_retries())).has_value());
  std::uint64_t a_id = 0;
  a->with_doc([&](crdt::Doc& d) { a_id = d.client_id(); });
  ASSERT_TRUE(eventually([&] {
    auto s = b->awareness_states();
    return s.count(a_id) == 1 && s[a_id] == R"({"user":{"name":"alice"}})";
  }));
  EXPECT_GE(eb.count(LiveEvent::Kind::kAwareness), 1u);
  EXPECT_TRUE(a->awareness_states().empty());  // b said nothing

  ASSERT_TRUE(b->set_local_awareness(std::string(R"({"cursor":3})")).has_value());  // while live
  std::uint64_t b_id = 0;
  b->with_doc([&](crdt::Doc& d) { b_id = d.client_id(); });
  ASSERT_TRUE(eventually([&] { return a->awareness_states().count(b_id) == 1; }));
  ASSERT_TRUE(a->set_local_awareness(std::string(R"({"user":{"name":"alice2"}})")).has_value());
  ASSERT_TRUE(eventually([&] { return b->awareness_states()[a_id] == R"({"user":{"name":"alice2"}})"; }));

  ASSERT_TRUE(a->set_local_awareness(std::nullopt).has_value());  // cleared
  EXPECT_TRUE(eventually([&] { return b->awareness_states().count(a_id) == 0; }));
  EXPECT_EQ(a->awareness_states().count(b_id), 1u);
  // Leaving (stop_live) removes b for a.
  b->stop_live();
  EXPECT_TRUE(eventually([&] { return a->awareness_states().empty(); }));
}

TEST_F(DocProviderTest, LiveEpochChangeHaltsUntilTheAppChooses) {
  Events ea;  // before the providers: their threads call into it
  start_server();
  auto a = open("alice", "gen");
  ASSERT_TRUE(insert(*a, 0, "old").has_value());
  ASSERT_TRUE(a->sync(5s).has_value());
  ASSERT_TRUE(a->start_live(ea.options(fast_retries())).has_value());
  ASSERT_TRUE(ea.wait_state(LiveState::kSynced));

  HttpClient http(endpoint());
  auto del = http.request("DELETE", "/api/docs/gen");
  ASSERT_TRUE(del.has_value()) << del.error().message;
  ASSERT_TRUE(ea.wait_state(LiveState::kEpochMismatch));
  auto b = open("bob", "gen");
  ASSERT_TRUE(insert(*b, 0, "new").has_value());
  ASSERT_TRUE(b->sync(5s).has_value());
  ASSERT_TRUE(insert(*a, 0, "x").has_value());  // stored, not sent
  std::this_thread::sleep_for(500ms);           // no reconnect meanwhile
  EXPECT_EQ(a->live_state(), LiveState::kEpochMismatch);
  EXPECT_EQ(live_text(*a), "xold");
  ASSERT_TRUE(b->sync(5s).has_value());
  EXPECT_EQ(text(*b), "new");

  ASSERT_TRUE(a->reset_to_server().has_value());
  EXPECT_TRUE(eventually([&] { return live_text(*a) == "new" && a->live_state() == LiveState::kSynced; }))
      << live_text(*a);
  EXPECT_EQ(a->unsent_updates().value(), 0u);
  ASSERT_TRUE(insert(*a, 3, "!").has_value());
  ASSERT_TRUE(eventually([&] { return a->unsent_updates().value() == 0; }));
  ASSERT_TRUE(b->sync(5s).has_value());
  EXPECT_EQ(text(*b), "new!");
}

TEST_F(DocProviderTest, LiveRefusalStopsRetrying) {
  Events ev;  // before the providers: their threads call into it
  server::ServerConfig c;
  c.threads = 1;
  c.data_dir = (dir_ / "server").string();
  c.auth_required = true;
  c.log_level = "off";
  auto s = server::Server::create(c);
  ASSERT_TRUE(s.has_value()) << s.error().message;
  server_ = std::move(*s);
  server_->start();
  port_ = server_->port();
  Endpoint e = endpoint();
  e.token = "not-a-valid-token";
  auto p = DocProvider::open(e, dir_ / "alice", "locked");
  ASSERT_TRUE(p.has_value());
  ASSERT_TRUE((*p)->start_live(ev.options(fast_retries())).has_value());
  ASSERT_TRUE(ev.wait_state(LiveState::kRefused));
  EXPECT_FALSE(ev.message_of(LiveState::kRefused).empty());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ((*p)->live_state(), LiveState::kRefused);
  EXPECT_EQ(ev.count(LiveEvent::Kind::kState), 2u);  // connecting, refused: no retry loop
}

TEST_F(DocProviderTest, StopLiveIsPrompt) {
  Events ea, eb;  // before the providers: their threads call into them
  // Unreachable: connects keep failing.
  auto a = open("alice", "prompt");
  ASSERT_TRUE(a->start_live(ea.options(fast_retries())).has_value());
  ASSERT_TRUE(ea.wait_state(LiveState::kOffline));
  ASSERT_TRUE(insert(*a, 0, "kept").has_value());
  auto t0 = std::chrono::steady_clock::now();
  a->stop_live();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  EXPECT_EQ(a->unsent_updates().value(), 1u);

  // Connected.
  start_server();
  auto b = open("bob", "prompt");
  ASSERT_TRUE(b->start_live(eb.options(LiveOptions{})).has_value());
  ASSERT_TRUE(eb.wait_state(LiveState::kSynced));
  t0 = std::chrono::steady_clock::now();
  b->stop_live();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  b->stop_live();  // idempotent
  // The destructor of a live provider joins too.
  ASSERT_TRUE(b->start_live(LiveOptions{}).has_value());
  t0 = std::chrono::steady_clock::now();
  b.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

}  // namespace
}  // namespace corates::client
