// AuthStore over real SQLite files: users, sessions (only hashes stored),
// roles, pattern grants and the first-opener-owns policy.
#include "corates/storage/auth_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace corates::storage {
namespace {

class AuthStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("corates-auth-store-" + std::to_string(std::random_device{}()) + "-" + std::to_string(::getpid()));
    auto s = open_sqlite_auth_store({dir_});
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  UserRecord user(const std::string& name) {
    auto u = store_->create_user(name, "", "", "dev", 1000);
    EXPECT_TRUE(u) << u.error().message;
    return *u;
  }
  std::filesystem::path dir_;
  std::unique_ptr<AuthStore> store_;
};

TEST_F(AuthStoreTest, UsersHaveUniqueNames) {
  const UserRecord a = user("alice");
  EXPECT_EQ(a.id.substr(0, 2), "u_");
  EXPECT_EQ(a.display_name, "alice");
  auto again = store_->create_user("alice", "", "", "dev", 2000);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto found = store_->find_user_by_name("alice");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, a.id);
  EXPECT_EQ(store_->find_user_by_name("bob").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->create_user("", "", "", "dev", 1).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(store_->create_user(std::string("a\nb"), "", "", "dev", 1).error().code, ErrorCode::kInvalidArgument);
  ASSERT_TRUE(store_->set_password_hash(a.id, "$argon2id$x"));
  EXPECT_EQ(store_->find_user(a.id)->password_hash, "$argon2id$x");
}

TEST_F(AuthStoreTest, SessionTokenIsStoredOnlyAsHash) {
  const UserRecord a = user("alice");
  auto s = store_->create_session(a.id, "dev", 1000, 5000);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->token.size(), 43u);
  EXPECT_EQ(s->token.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  auto found = store_->find_session_by_token(s->token);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, s->session.id);
  EXPECT_EQ(found->expires_ms, 5000);
  EXPECT_EQ(store_->find_session_by_token(s->token + "x").error().code, ErrorCode::kNotFound);
  store_.reset();

  // The raw file never contains the token, only its SHA-256.
  std::ifstream in(dir_ / "auth.sqlite3", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ifstream wal(dir_ / "auth.sqlite3-wal", std::ios::binary);
  bytes.append((std::istreambuf_iterator<char>(wal)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find(s->token), std::string::npos);
  EXPECT_NE(bytes.find(hash_token(s->token)), std::string::npos);
}

TEST_F(AuthStoreTest, RefreshRotatesTokenAndRevokeSticks) {
  const UserRecord a = user("alice");
  auto s = store_->create_session(a.id, "password", 1000, 5000);
  ASSERT_TRUE(s);
  auto r = store_->refresh_session(s->session.id, 2000, 9000);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_NE(r->token, s->token);
  EXPECT_EQ(r->session.expires_ms, 9000);
  EXPECT_EQ(store_->find_session_by_token(s->token).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->find_session_by_token(r->token)->id, s->session.id);
  // Expired sessions cannot be refreshed.
  EXPECT_EQ(store_->refresh_session(s->session.id, 9000, 20000).error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store_->revoke_session(s->session.id, 3000));
  ASSERT_TRUE(store_->revoke_session(s->session.id, 4000));  // idempotent, keeps the first time
  EXPECT_EQ(store_->find_session(s->session.id)->revoked_ms, 3000);
  EXPECT_EQ(store_->refresh_session(s->session.id, 3500, 20000).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->revoke_session("s_unknown", 1).error().code, ErrorCode::kNotFound);

  auto s2 = store_->create_session(a.id, "dev", 1000, 50000);
  ASSERT_TRUE(s2);
  auto live = store_->list_sessions(a.id, 4000);
  ASSERT_TRUE(live);
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ((*live)[0].id, s2->session.id);
  auto purged = store_->purge_sessions(10000);
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1u);
  EXPECT_EQ(store_->find_session(s->session.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store_->create_session("u_nobody", "dev", 1, 2).error().code, ErrorCode::kNotFound);
}

TEST_F(AuthStoreTest, RolesAndFirstOpenerOwns) {
  const UserRecord a = user("alice");
  const UserRecord b = user("bob");
  auto claimed = store_->claim_if_unclaimed("doc1", a.id);
  ASSERT_TRUE(claimed);
  EXPECT_TRUE(*claimed);
  EXPECT_EQ(*store_->doc_role("doc1", a.id), DocRole::kOwner);
  // Someone holds a role now: bob cannot claim it.
  EXPECT_FALSE(*store_->claim_if_unclaimed("doc1", b.id));
  EXPECT_EQ(*store_->doc_role("doc1", b.id), DocRole::kNone);

  ASSERT_TRUE(store_->set_doc_role("doc1", b.id, DocRole::kViewer));
  EXPECT_EQ(*store_->doc_role("doc1", b.id), DocRole::kViewer);
  ASSERT_TRUE(store_->set_doc_role("doc1", b.id, DocRole::kEditor));
  auto list = store_->list_doc_roles("doc1");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].user_name, "alice");
  EXPECT_EQ((*list)[0].role, DocRole::kOwner);
  EXPECT_EQ((*list)[1].user_name, "bob");
  EXPECT_EQ((*list)[1].role, DocRole::kEditor);
  ASSERT_TRUE(store_->set_doc_role("doc1", b.id, DocRole::kNone));
  EXPECT_EQ(*store_->doc_role("doc1", b.id), DocRole::kNone);
  EXPECT_EQ(store_->set_doc_role("doc1", "u_nobody", DocRole::kViewer).error().code, ErrorCode::kNotFound);
}

TEST_F(AuthStoreTest, PatternGrants) {
  const UserRecord a = user("alice");
  const UserRecord b = user("bob");
  ASSERT_TRUE(store_->set_grant("team-*", a.id, DocRole::kViewer));
  ASSERT_TRUE(store_->set_grant("team-a?", a.id, DocRole::kEditor));
  EXPECT_EQ(*store_->granted_role("team-ab", a.id), DocRole::kEditor);
  EXPECT_EQ(*store_->granted_role("team-abc", a.id), DocRole::kViewer);
  EXPECT_EQ(*store_->granted_role("Team-ab", a.id), DocRole::kNone);  // case-sensitive
  EXPECT_EQ(*store_->granted_role("team-ab", b.id), DocRole::kNone);
  // A viewer grant does not claim the document: bob may still become owner...
  EXPECT_TRUE(*store_->claim_if_unclaimed("team-x", b.id));
  // ...but an owner grant does.
  ASSERT_TRUE(store_->set_grant("owned/*", a.id, DocRole::kOwner));
  EXPECT_FALSE(*store_->claim_if_unclaimed("owned/1", b.id));
  EXPECT_EQ(store_->list_grants(a.id)->size(), 3u);
  ASSERT_TRUE(store_->set_grant("team-*", a.id, DocRole::kNone));
  EXPECT_EQ(store_->list_grants(a.id)->size(), 2u);
}

TEST_F(AuthStoreTest, IdentitiesAndReopen) {
  const UserRecord a = user("alice");
  ASSERT_TRUE(store_->link_identity("https://idp", "sub-1", a.id));
  ASSERT_TRUE(store_->link_identity("https://idp", "sub-1", a.id));
  const UserRecord b = user("bob");
  EXPECT_EQ(store_->link_identity("https://idp", "sub-1", b.id).error().code, ErrorCode::kConflict);
  EXPECT_EQ(store_->find_identity("https://idp", "sub-1")->id, a.id);
  EXPECT_EQ(store_->find_identity("https://other", "sub-1").error().code, ErrorCode::kNotFound);
  store_.reset();
  auto again = open_sqlite_auth_store({dir_});
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->find_user_by_name("bob")->id, b.id);
}

TEST_F(AuthStoreTest, NewerSchemaIsRefused) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "auth.sqlite3").string().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO auth_schema_version(version) VALUES (99)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto s = open_sqlite_auth_store({dir_});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidValue);
}

TEST(AuthStoreHelpers, RolesAndHashes) {
  EXPECT_EQ(parse_doc_role("editor"), DocRole::kEditor);
  EXPECT_EQ(parse_doc_role("admin"), std::nullopt);
  EXPECT_EQ(to_string(DocRole::kOwner), "owner");
  // SHA-256("abc")
  EXPECT_EQ(hash_token("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(random_hex(16)->size(), 32u);
}

}  // namespace
}  // namespace corates::storage
