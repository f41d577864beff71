#pragma once
// The SDK's entry point (docs/client-sdk.md): one signed-in user's op queue,
// caches and sync loop, kept apart from every other user's on disk:
//
//   <state_root>/accounts.sqlite3            token (SHA-256) -> user, so a
//                                            known token also opens offline
//   <state_root>/users/<safe name>/queue.sqlite3   ops, pulled changes,
//                                            app cache, clientId, checkpoint
//   <state_root>/users/<safe name>/docs/     the document provider's files
//
// Who the user is: GET /api/session with the token. Offline (or refused as
// too old), a token seen before maps to its user; otherwise `user_hint`
// names the user (unverified); otherwise open() fails. With no token, or a
// server running without auth (404 AUTH_DISABLED), the user is the hint or
// the shared anonymous profile.
//
// Threading: open/close/sign_out/switch_user/start/stop from one owning
// thread; queue() and the query methods from any thread.
#include "corates/client/doc_provider.hpp"
#include "corates/client/endpoint.hpp"
#include "corates/client/op_queue.hpp"
#include "corates/client/sync_engine.hpp"
#include "corates/common/result.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace corates::client {

struct ClientOptions {
  Endpoint endpoint;
  std::filesystem::path state_root;
  std::string user_hint;  // user name to use when the server cannot be asked
  SyncOptions sync;
};

struct UserIdentity {
  std::string id;          // "u_..." when known from the server, else ""
  std::string name;        // server user name, the hint, or "" for anonymous
  bool verified = false;   // learned from the server (now or before, for this token)
  bool anonymous = false;  // no token, or auth off
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> open(ClientOptions options);
  ~Client();  // stop()
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool signed_in() const { return queue_ != nullptr; }
  const UserIdentity& user() const { return user_; }
  // <state_root>/users/<safe name> of the current user.
  const std::filesystem::path& user_dir() const { return user_dir_; }
  const Endpoint& endpoint() const { return options_.endpoint; }

  // nullptr after sign_out().
  OpQueue* queue() { return queue_.get(); }
  SyncEngine* sync() { return engine_.get(); }

  // Queues an op for the current user (see OpQueue::enqueue) and wakes the loop.
  Result<std::string> enqueue(std::string_view type, std::string_view payload_json, int payload_version = 1,
                              std::optional<std::string> state_vector = std::nullopt);
  // One sync pass (see SyncEngine::sync_once).
  Result<SyncReport> sync_once();
  void start();
  void stop();

  // Stops this user's loop and connections and closes their files. With
  // end_server_session, also DELETE /api/session (best effort) and forgets
  // the token locally. The user's queued ops stay on disk for their next
  // sign-in; nothing of theirs is reachable through this Client any more.
  Result<void> sign_out(bool end_server_session = true);
  // sign_out(false), then the same as open() with another token; the loop
  // runs again if it ran before.
  Result<void> switch_user(std::string token, std::string user_hint = {});

  // The directory name for a user: [A-Za-z0-9_-] kept, other bytes as %XX;
  // the anonymous profile is "~anonymous" (never produced by a name).
  static std::string safe_name(std::string_view user_name);

  // ---- Documents ----
  // The current user's offline document cache for `name`
  // (<user_dir>/docs/, see doc_provider.hpp), with this client's endpoint
  // and token. kClosed after sign_out(). The provider is the caller's: close
  // it before switch_user()/sign_out() so no connection of one user outlives
  // the switch.
  Result<std::unique_ptr<DocProvider>> open_doc(std::string name);

 private:
  explicit Client(ClientOptions options) : options_(std::move(options)) {}
  Result<void> open_user();
  void close_user();

  ClientOptions options_;
  UserIdentity user_;
  std::filesystem::path user_dir_;
  std::unique_ptr<OpQueue> queue_;
  std::unique_ptr<SyncEngine> engine_;
  bool started_ = false;
};

}  // namespace corates::client
