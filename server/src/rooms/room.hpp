#pragma once
// A room: one loaded document and its connections, an actor on its own strand
// (STYLE principle 7). Public methods are thread-safe and post; do_* / on_*
// run on the strand and own doc_, awareness_ and peers_.
//
// Durability: every change to doc_ is appended to storage, and nothing that
// depends on it leaves the room (broadcast, a sync step 2 answer, an HTTP
// answer) before the storage says it is durable. Appends are numbered in
// submission order; storage calls back in that order, so a barrier "durable_
// >= n" is enough to hold back anything computed after the n-th submission.

#include "rooms/peer.hpp"
#include "server_context.hpp"

#include "corates/common/result.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/protocol/awareness.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace corates::server {

struct PostResult {
  bool changed = false;  // the update added something
  std::uint64_t seq = 0; // storage seq of the last append it caused (0 if none)
  std::string epoch;
};

// The answer to a reconcile (POST /api/reconcile/doc/{id}).
struct ReconcileResult {
  bool changed = false;    // the client's state added something to the server's
  std::uint64_t seq = 0;   // storage seq after it (0 if the document does not exist)
  std::string epoch;       // "" if the document does not exist (client sent nothing new)
  Bytes update;            // v1 update with what the client lacks
  Bytes state_vector;      // the server's state vector after the merge
};

// The answer to a delete (DELETE /api/docs/{id}).
struct RemoveResult {
  bool existed = false;             // storage held the document
  std::size_t connections_closed = 0;
};

// Close code of the connections of a deleted document (docs/protocol-extensions.md).
inline constexpr std::uint16_t kCloseDocumentDeleted = 4404;

class Room : public std::enable_shared_from_this<Room> {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  Room(ServerContext& ctx, std::string name);
  ~Room();

  const std::string& name() const { return name_; }

  // ---- Thread-safe; each posts to the strand. join and the HTTP calls must
  // hold a pin taken by RoomRegistry::acquire and give it back when done.
  // message needs none: a joined peer keeps the room loaded until its leave
  // (posted after its last message) has run.
  //
  // Every posted step waits while the document loads (the load runs on the
  // registry's loader threads, off the I/O threads) or while a delete is
  // removing it from storage; steps run in the order they were posted.
  void join(std::shared_ptr<Peer> peer);
  void message(std::uint64_t peer_id, SharedBytes frame);
  void leave(std::uint64_t peer_id);  // no pin needed
  // A peer's send queue overflowed: send it the whole state once (kResync).
  void resync(std::uint64_t peer_id);  // no pin needed

  // HTTP. Callbacks run on the room's strand.
  void get_update(Bytes state_vector, bool v2, std::function<void(Result<Bytes>)> cb);
  void get_state_vector(std::function<void(Result<Bytes>)> cb);
  void post_update(Bytes update, std::function<void(Result<PostResult>)> cb);
  void get_json(std::function<void(Result<std::string>)> cb);
  // Applies the client's whole state (v1 update) like post_update and answers,
  // once durable, with what the client lacks. `expected_epoch` non-empty: fails
  // with kEpochMismatch (nothing applied) unless it is the document's epoch.
  void reconcile(Bytes client_state, std::string expected_epoch, std::function<void(Result<ReconcileResult>)> cb);
  // Closes every connection with kCloseDocumentDeleted, removes the document
  // from storage and starts the room over empty (a later append creates a new
  // epoch). Steps posted meanwhile wait for the removal.
  void remove_document(std::function<void(Result<RemoveResult>)> cb);

  // Gives back a pin that will not be used (posts).
  void release();

  // Called by the registry under its lock.
  void pin() { pins_.fetch_add(1, std::memory_order_relaxed); }
  bool unloadable_locked() const;

 private:
  struct PeerState {
    std::shared_ptr<Peer> peer;
    std::set<std::uint64_t> awareness_clients;  // client ids this connection owns
    std::uint64_t updates_received = 0;          // sync step 2 + update messages (ext ack)
    std::uint64_t ack_ready = 0;                 // highest count known handled and durable
    std::uint64_t acked = 0;                     // highest count sent in an ack
    Bytes declared_sv;  // the state vector of the client's last sync step 1: it has at least this
  };

  // Posts `fn` to the strand; it runs once the document is loaded and no
  // delete is in progress (in posting order).
  void post_step(std::function<void()> fn);
  void run_deferred();
  void start_load();
  void on_loaded(Result<storage::LoadedDocument> loaded, std::shared_ptr<crdt::Doc> doc);
  void adopt_doc(std::unique_ptr<crdt::Doc> doc);
  SharedBytes full_state_step2();
  bool ready() const { return loaded_ && !deleting_; }
  // Stored, or about to be: an append in flight makes the document exist.
  bool exists_or_pending() const { return exists_ || submitted_ != durable_; }

  void unpin();
  void do_join(const std::shared_ptr<Peer>& peer);
  void do_message(std::uint64_t peer_id, const SharedBytes& frame);
  void on_update_message(PeerState& st, std::span<const std::uint8_t> update);
  void on_awareness_message(std::uint64_t peer_id, PeerState& st, const SharedBytes& frame,
                            std::vector<protocol::AwarenessEntry> entries);
  // True when applying `update` would change nothing (a viewer's harmless
  // sync step 2 needs no refusal).
  bool is_redundant(std::span<const std::uint8_t> update) const;
  // Applies an update; returns the number of appends submitted (0 if it
  // changed nothing) or an error (malformed: nothing applied).
  Result<std::size_t> apply_and_persist(std::span<const std::uint8_t> update, std::uint64_t origin_peer);
  void on_durable(Result<storage::AppendAck> ack, const SharedBytes& broadcast, std::uint64_t origin_peer);
  // Runs `fn` once everything submitted so far is durable.
  void after_durable(std::function<void()> fn);
  void run_waiting();
  // Acknowledges `count` update messages of `peer_id` once durable (ext ack).
  void ack_after_durable(std::uint64_t peer_id, std::uint64_t count);
  void flush_acks();
  void set_epoch(const std::string& epoch);
  void broadcast(const SharedBytes& frame, FrameKind kind, std::uint64_t except_peer);
  void remove_peer(std::uint64_t peer_id, bool announce);
  void remove_awareness(const std::vector<std::uint64_t>& clients);
  void arm_awareness_timer();
  void on_awareness_timer();
  void maybe_compact();
  void fail(const Error& e);
  void on_removed(Result<bool> removed, std::size_t closed, std::function<void(Result<RemoveResult>)> cb);
  void schedule_idle_check();
  void on_idle_timer();

  ServerContext& ctx_;
  std::string name_;
  Strand strand_;
  boost::asio::steady_timer idle_timer_;
  boost::asio::steady_timer awareness_timer_;
  std::atomic<std::int64_t> pins_{0};
  // Strand-only, like everything below; try_unload reads them from the strand.
  bool has_peers_ = false;
  bool busy_ = false;  // a load, appends, a compaction or a removal in flight

  std::unique_ptr<crdt::Doc> doc_;
  protocol::Awareness awareness_;
  std::map<std::uint64_t, PeerState> peers_;
  std::map<std::uint64_t, std::uint64_t> awareness_owner_;  // awareness client id -> peer id
  bool awareness_timer_armed_ = false;
  bool loaded_ = false;
  bool loading_ = false;
  bool deleting_ = false;
  bool failed_ = false;
  bool exists_ = false;  // in storage, or made to exist by an append
  std::deque<std::function<void()>> deferred_;  // steps waiting for the load or a removal

  std::vector<Bytes>* capture_ = nullptr;  // set while applying a remote update
  SharedBytes full_step2_;                  // cached step 2 for an empty state vector; reset on change

  std::uint64_t submitted_ = 0;  // appends submitted
  std::uint64_t durable_ = 0;    // appends called back (in order)
  std::deque<std::pair<std::uint64_t, std::function<void()>>> waiting_;
  std::set<std::uint64_t> ack_dirty_;  // peers with ack_ready > acked
  std::string epoch_;
  std::uint64_t last_seq_ = 0;
  std::uint64_t tail_updates_ = 0;
  std::uint64_t tail_bytes_ = 0;
  bool compacting_ = false;
  std::uint64_t last_post_seq_ = 0;
};

// Loaded rooms by name. acquire() returns a pinned room (creating it); a
// room leaves the registry only from its own strand, when it has no peers,
// no pins and nothing in flight.
class RoomRegistry {
 public:
  // `loader_threads` run the blocking document loads (SQLite reads, applying
  // the stored updates) so that the I/O threads never wait for storage.
  explicit RoomRegistry(ServerContext& ctx, std::size_t loader_threads = 2);
  ~RoomRegistry();
  std::shared_ptr<Room> acquire(const std::string& name);
  // From the room's strand: erases it if still unloadable. True if erased.
  bool try_unload(Room& room);
  // Erases a failed room now (its pins and peers see a failed room).
  void forget(Room& room);
  std::size_t size() const;

  template <class Fn>
  void locked(Fn&& fn) {
    std::lock_guard lock(mutex_);
    fn();
  }

 // For Room: the pool of loader threads.
  boost::asio::thread_pool& loader() { return loader_; }

 private:
  ServerContext& ctx_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Room>> rooms_;
  boost::asio::thread_pool loader_;
};

}  // namespace corates::server
