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

  // Gives back a pin that will not be used (posts).
  void release();

  // Called by the registry under its lock.
  void pin() { pins_.fetch_add(1, std::memory_order_relaxed); }
  bool unloadable_locked() const;

 private:
  struct PeerState {
    std::shared_ptr<Peer> peer;
    std::set<std::uint64_t> awareness_clients;  // client ids this connection announced
  };

  void unpin();
  Result<void> ensure_loaded();
  void do_message(std::uint64_t peer_id, const SharedBytes& frame);
  // Applies an update; returns the number of appends submitted (0 if it
  // changed nothing) or an error (malformed: nothing applied).
  Result<std::size_t> apply_and_persist(std::span<const std::uint8_t> update, std::uint64_t origin_peer);
  void on_durable(Result<storage::AppendAck> ack, const SharedBytes& broadcast, std::uint64_t origin_peer);
  // Runs `fn` once everything submitted so far is durable.
  void after_durable(std::function<void()> fn);
  void broadcast(const SharedBytes& frame, FrameKind kind, std::uint64_t except_peer);
  void remove_peer(std::uint64_t peer_id, bool announce);
  void maybe_compact();
  void fail(const Error& e);
  void schedule_idle_check();
  void on_idle_timer();

  ServerContext& ctx_;
  std::string name_;
  Strand strand_;
  boost::asio::steady_timer idle_timer_;
  std::atomic<std::int64_t> pins_{0};
  // Strand-only, like everything below; try_unload reads them from the strand.
  bool has_peers_ = false;
  bool busy_ = false;  // appends or a compaction in flight

  crdt::Doc doc_;
  protocol::Awareness awareness_;
  std::map<std::uint64_t, PeerState> peers_;
  bool loaded_ = false;
  bool failed_ = false;
  bool exists_ = false;  // in storage, or made to exist by an append

  std::vector<Bytes>* capture_ = nullptr;  // set while applying a remote update
  crdt::SubscriptionId update_sub_{};

  std::uint64_t submitted_ = 0;  // appends submitted
  std::uint64_t durable_ = 0;    // appends called back (in order)
  std::deque<std::pair<std::uint64_t, std::function<void()>>> waiting_;
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
  explicit RoomRegistry(ServerContext& ctx) : ctx_(ctx) {}
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

 private:
  ServerContext& ctx_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<Room>> rooms_;
};

}  // namespace corates::server
