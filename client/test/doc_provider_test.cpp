// The document provider against a real server in the same process (loopback,
// port 0, auth off): offline edits kept in SQLite and delivered later, two
// providers converging, unsent updates dropped only once acknowledged, a
// crash right after an edit losing nothing, and an epoch change (DELETE of
// the document) reported instead of merged.
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

#include <filesystem>

namespace corates::client {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

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

}  // namespace
}  // namespace corates::client
