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
// Live mode (start_live): a background thread keeps a y-websocket connection
// open, like the y-websocket provider: remote edits are applied and stored
// as they arrive, each edit() is stored and then sent at once, awareness is
// exchanged, and a lost connection is retried with exponential backoff and
// jitter (resending every unsent update). An epoch change or a refusal stops
// the retries until the app acts (see LiveState).
//
// Threading: every public method takes the provider's mutex, so any thread
// may call them, one or several. While live, the background thread changes
// the Doc: read it through with_doc(); doc() is only safe while not live.
// sync() blocks for at most its timeout and may run while live (it is not
// needed then). LiveOptions::on_event runs on the background thread without
// the mutex held; it may call with_doc(), awareness_states(), edit() and the
// like, but never stop_live() or the destructor (they join that thread).
#include "corates/client/endpoint.hpp"
#include "corates/client/sync_util.hpp"
#include "corates/common/result.hpp"
#include "corates/crdt/doc.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corates::client {

namespace sql {
class Db;
}

struct DocSyncReport {
  std::uint64_t sent_updates = 0;   // unsent local updates delivered and acknowledged
  bool received_changes = false;    // the server had something we lacked
  std::string epoch;                // the server's epoch ("" while the document does not exist there)
};

// Where a live connection stands (DocProvider::live_state()).
enum class LiveState {
  kStopped,        // not live (never started, or stop_live())
  kConnecting,     // connecting or waiting for the server's answer
  kSynced,         // connected, the server's state merged; edits go out at once
  kOffline,        // connection lost or unreachable; retrying with backoff
  kEpochMismatch,  // the server's copy is another generation (deleted/reset):
                   // nothing merged, no retries until reset_to_server() or
                   // republish_local()
  kRefused,        // 4401/4403/4426 or HTTP 401/403/426 (or an update refused
                   // as read-only): no retries until start_live() again
};
const char* to_string(LiveState s);

struct LiveEvent {
  enum class Kind {
    kState,         // live_state() changed to `state` (`message`: why, for
                    // kOffline / kEpochMismatch / kRefused)
    kRemoteChange,  // a change from the server was applied and is stored
    kAwareness,     // awareness_states() changed
  };
  Kind kind = Kind::kState;
  LiveState state = LiveState::kStopped;  // the state when the event was raised
  std::string message;
};

struct LiveOptions {
  // Called on the background thread, without the provider's mutex held;
  // whatever it refers to must outlive stop_live() (or the provider).
  std::function<void(const LiveEvent&)> on_event;
  // Reconnect delays (attempt n waits in [d/2, d], d = min(max, base * 2^n));
  // the attempt count restarts once a connection syncs.
  Backoff backoff{std::chrono::milliseconds(250), std::chrono::milliseconds(10'000)};
  // The WebSocket pings after half of this without traffic and drops the
  // connection (then reconnects) after the whole of it.
  std::chrono::milliseconds idle_timeout{20'000};
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
  // Only while not live (the background thread changes the Doc): use
  // with_doc() otherwise. Changes made here bypass edit() and are not stored.
  crdt::Doc& doc() { return *doc_; }
  // Runs `fn` on the document under the provider's mutex (any time, live or
  // not), to read it. The Doc is not const because looking up a root type
  // (get<Text>("t"), as Yjs's getText) may create it; that is not a change.
  // Real changes go through edit(): made here they would be neither stored
  // nor sent. `fn` must not call back into this provider.
  void with_doc(const std::function<void(crdt::Doc&)>& fn) const;
  // The epoch the cached state belongs to ("" = never synced).
  std::string epoch() const;
  // Local updates not yet acknowledged by the server.
  Result<std::uint64_t> unsent_updates();

  // Runs `fn` in one transaction; its update is stored before this returns
  // (and, while live and connected, sent right after).
  Result<void> edit(const std::function<void(crdt::Doc&)>& fn);

  // One round trip with the server, bounded by `timeout` (see above). Errors:
  // kIo/kBusy (unreachable, timed out, closed by the server for a transient
  // reason: unsent updates stay), kEpochMismatch (message names the server's
  // epoch), kInvalidArgument (refused: auth 4401, forbidden 4403, too old
  // 4426; the message says which).
  Result<DocSyncReport> sync(std::chrono::milliseconds timeout);

  // After an epoch change: forget the local copy and its unsent updates; the
  // next sync() (or, live, the reconnect this triggers) takes the server's
  // document. The document gets a new client id.
  Result<void> reset_to_server();
  // After an epoch change: keep the local copy and send it whole into the
  // server's new generation at the next sync() (live: reconnects now).
  Result<void> republish_local();

  // ---- Live mode ----
  // Starts the background connection (see the top of this file). Fails with
  // kInvalidArgument if already live. Returns at once; progress comes as
  // events and live_state().
  Result<void> start_live(LiveOptions options);
  // Closes the connection (a graceful close, bounded to about a second) and
  // joins the background thread. Unsent updates stay stored. No-op when not
  // live. Not from on_event.
  void stop_live();
  LiveState live_state() const { return live_state_.load(); }

  // Awareness (y-protocols awareness.js), with the doc's client id. `json`
  // is any JSON value (an object usually); nullopt clears the local state
  // (others see the client removed). Kept across reconnects, renewed every
  // 15 s while live, and usable before start_live(). kInvalidArgument if
  // `json` is not JSON.
  Result<void> set_local_awareness(std::optional<std::string> json);
  // The other clients' states (client id -> JSON text) as last heard over
  // the live connection; emptied when the connection is lost, and a state
  // not renewed within 30 s is dropped, as y-protocols does.
  std::map<std::uint64_t, std::string> awareness_states() const;

 private:
  class Live;
  struct RemoteAwareness {
    std::uint64_t clock = 0;
    std::optional<std::string> state;  // nullopt: removed (the clock is kept)
    std::chrono::steady_clock::time_point updated;
  };

  DocProvider(Endpoint endpoint, std::string name, std::unique_ptr<sql::Db> db);
  // The callers hold mu_.
  Result<void> load();
  Result<void> store_state();  // docs row := the whole in-memory state + epoch_

  Endpoint endpoint_;
  std::string name_;
  std::unique_ptr<sql::Db> db_;
  std::unique_ptr<crdt::Doc> doc_;
  std::string epoch_;
  bool applying_remote_ = false;
  bool remote_changed_ = false;
  std::vector<std::vector<std::uint8_t>> captured_;
  std::optional<std::string> local_awareness_;
  std::uint64_t awareness_clock_ = 0;
  std::map<std::uint64_t, RemoteAwareness> remote_awareness_;
  // Guards everything above (and the Doc). Never held while calling out
  // (on_event) or while joining the background thread.
  mutable std::mutex mu_;

  std::atomic<LiveState> live_state_{LiveState::kStopped};
  std::mutex live_mu_;          // serializes start_live/stop_live
  std::unique_ptr<Live> live_;  // set under both live_mu_ and mu_
};

}  // namespace corates::client
