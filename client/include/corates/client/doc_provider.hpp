#pragma once
// A document cache that works offline and syncs on demand over the
// y-websocket protocol with the `ack` and `epoch` extensions
// (docs/protocol-extensions.md, docs/client-sdk.md "Documents").
//
//   <dir>/docs.sqlite3: per document its state at the last sync (a v1
//   update), the server epoch it belongs to, and the local updates not yet
//   acknowledged durable; the document is that state plus those updates.
//
// edit() is durable before it returns: the change is in SQLite as an unsent
// update. sync() connects, announces the stored epoch's state vector, sends
// every unsent update, merges what the server has, and drops an unsent
// update only once the server's `ack` says it is stored durably. A server
// whose epoch differs from the stored one (the document was deleted or
// reset) is reported as kEpochMismatch and nothing is merged either way;
// the caller chooses reset_to_server() or republish_local().
//
// Threading: one thread at a time (the CLI's, or the app's own); sync() blocks
// for at most its timeout.
#include "corates/client/endpoint.hpp"
#include "corates/common/result.hpp"
#include "corates/crdt/doc.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace corates::client {

namespace sql {
class Db;
}

struct DocSyncReport {
  std::uint64_t sent_updates = 0;   // unsent local updates delivered and acknowledged
  bool received_changes = false;    // the server had something we lacked
  std::string epoch;                // the server's epoch ("" while the document does not exist there)
};

class DocProvider {
 public:
  // Opens (creating) the cache under `dir` and loads `name` from it.
  static Result<std::unique_ptr<DocProvider>> open(Endpoint endpoint, const std::filesystem::path& dir,
                                                   std::string name);
  ~DocProvider();
  DocProvider(const DocProvider&) = delete;
  DocProvider& operator=(const DocProvider&) = delete;

  const std::string& name() const { return name_; }
  crdt::Doc& doc() { return *doc_; }
  // The epoch the cached state belongs to ("" = never synced).
  const std::string& epoch() const { return epoch_; }
  // Local updates not yet acknowledged by the server.
  Result<std::uint64_t> unsent_updates();

  // Runs `fn` in one transaction; its update is stored before this returns.
  Result<void> edit(const std::function<void(crdt::Doc&)>& fn);

  // One round trip with the server, bounded by `timeout` (see above). Errors:
  // kIo/kBusy (unreachable, timed out, closed by the server for a transient
  // reason: unsent updates stay), kEpochMismatch (message names the server's
  // epoch), kInvalidArgument (refused: auth 4401, forbidden 4403, too old
  // 4426; the message says which).
  Result<DocSyncReport> sync(std::chrono::milliseconds timeout);

  // After an epoch change: forget the local copy and its unsent updates; the
  // next sync() takes the server's document.
  Result<void> reset_to_server();
  // After an epoch change: keep the local copy and send it whole into the
  // server's new generation at the next sync().
  Result<void> republish_local();

 private:
  DocProvider(Endpoint endpoint, std::string name, std::unique_ptr<sql::Db> db);
  Result<void> load();

  Endpoint endpoint_;
  std::string name_;
  std::unique_ptr<sql::Db> db_;
  std::unique_ptr<crdt::Doc> doc_;
  std::string epoch_;
  bool applying_remote_ = false;
  std::vector<std::vector<std::uint8_t>> captured_;
};

}  // namespace corates::client
