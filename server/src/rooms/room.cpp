#include "rooms/room.hpp"

#include "net/connection_info.hpp"
#include "corates/server/doc_json.hpp"

#include "corates/crdt/delete_set.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/updates.hpp"
#include "corates/protocol/extensions.hpp"
#include "corates/protocol/message.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <type_traits>
#include <utility>
#include <variant>

namespace corates::server {
namespace asio = boost::asio;

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

SharedBytes share(Bytes b) { return std::make_shared<const Bytes>(std::move(b)); }

// Close codes (DESIGN.md).
constexpr std::uint16_t kCloseMalformed = 4400;
constexpr std::uint16_t kCloseInternal = 1011;

// Whether the merged ranges of one client cover [clock, clock + len).
bool covered(const std::vector<crdt::DeleteItem>& ranges, std::uint64_t clock, std::uint64_t len) {
  auto it = std::upper_bound(ranges.begin(), ranges.end(), clock,
                             [](std::uint64_t c, const crdt::DeleteItem& d) { return c < d.clock; });
  if (it == ranges.begin()) return false;
  --it;
  return it->clock <= clock && clock + len <= it->clock + it->len;
}

// What a load produces on a loader thread: the document rebuilt from storage.
struct LoadOutcome {
  storage::LoadedDocument stored;  // without the payloads (moved into the Doc)
  std::unique_ptr<crdt::Doc> doc;
  std::uint64_t tail_bytes = 0;
  std::size_t tail_updates = 0;
  std::size_t snapshot_bytes = 0;
};

Result<LoadOutcome> load_document(storage::DocumentStore& store, const std::string& name) {
  auto stored = store.load(name);
  if (!stored) return stored.error();
  LoadOutcome out;
  out.doc = std::make_unique<crdt::Doc>();
  // Stored bytes were accepted once; if they no longer apply, refuse the
  // document rather than serve half of it.
  if (!stored->snapshot.empty()) {
    if (auto r = crdt::apply_update(*out.doc, stored->snapshot); !r) return r.error();
  }
  for (const storage::StoredUpdate& u : stored->updates) {
    out.tail_bytes += u.data.size();
    if (u.data.empty()) continue;
    if (auto r = crdt::apply_update(*out.doc, u.data); !r) return r.error();
  }
  out.tail_updates = stored->updates.size();
  out.snapshot_bytes = stored->snapshot.size();
  stored->snapshot.clear();
  stored->updates.clear();
  out.stored = std::move(*stored);
  return out;
}

}  // namespace

Room::Room(ServerContext& ctx, std::string name)
    : ctx_(ctx),
      name_(std::move(name)),
      strand_(asio::make_strand(ctx.ioc)),
      idle_timer_(strand_),
      awareness_timer_(strand_) {
  ctx_.metrics.rooms_loaded.fetch_add(1, std::memory_order_relaxed);
}

Room::~Room() {
  ctx_.metrics.rooms_loaded.fetch_sub(1, std::memory_order_relaxed);
}

bool Room::unloadable_locked() const {
  return pins_.load(std::memory_order_relaxed) == 0 && !has_peers_ && !busy_;
}

void Room::unpin() {
  if (pins_.fetch_sub(1, std::memory_order_acq_rel) == 1 && peers_.empty()) schedule_idle_check();
}

void Room::release() {
  asio::post(strand_, [self = shared_from_this()] { self->unpin(); });
}

// ---- Loading and the step queue ---------------------------------------------------

void Room::post_step(std::function<void()> fn) {
  asio::post(strand_, [self = shared_from_this(), fn = std::move(fn)]() mutable {
    auto& r = *self;
    if (r.ready() && r.deferred_.empty()) return fn();
    // A failed room answers at once: nothing will load it again.
    if (r.failed_ && !r.deleting_) return fn();
    r.deferred_.push_back(std::move(fn));
    if (!r.loaded_) r.start_load();
  });
}

void Room::run_deferred() {
  while (!deferred_.empty() && (ready() || (failed_ && !deleting_))) {
    auto fn = std::move(deferred_.front());
    deferred_.pop_front();
    fn();
  }
}

void Room::start_load() {
  if (loading_ || loaded_ || failed_) return;
  loading_ = true;
  busy_ = true;
  const auto started = std::chrono::steady_clock::now();
  // The SQLite read and the rebuilding of the Doc run on a loader thread;
  // the result hops back onto the strand.
  asio::post(ctx_.rooms->loader(), [self = shared_from_this(), started] {
    auto outcome = std::make_shared<Result<LoadOutcome>>(load_document(self->ctx_.store, self->name_));
    asio::post(self->strand_, [self, outcome, started] {
      auto& r = *self;
      r.loading_ = false;
      r.busy_ = r.submitted_ != r.durable_ || r.compacting_;
      if (!*outcome) {
        spdlog::error("room '{}': cannot load: {}", r.name_, outcome->error().message);
        r.fail(outcome->error());
      } else {
        LoadOutcome& o = **outcome;
        r.adopt_doc(std::move(o.doc));
        r.exists_ = o.stored.exists;
        r.epoch_ = o.stored.epoch;
        r.last_seq_ = o.stored.last_seq;
        r.tail_updates_ = o.tail_updates;
        r.tail_bytes_ = o.tail_bytes;
        r.loaded_ = true;
        spdlog::debug("room '{}' loaded: snapshot {} bytes, {} log updates, {:.1f} ms", r.name_, o.snapshot_bytes,
                      o.tail_updates,
                      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
        r.maybe_compact();
      }
      r.run_deferred();
      if (r.peers_.empty()) r.schedule_idle_check();
    });
  });
}

void Room::adopt_doc(std::unique_ptr<crdt::Doc> doc) {
  doc_ = std::move(doc);
  full_step2_.reset();
  // The update the Doc emits is exactly what an applied update added (nothing
  // for a duplicate); that is what gets stored and broadcast.
  doc_->on_update([this](std::span<const std::uint8_t> u, const crdt::Origin&, crdt::Transaction&) {
    full_step2_.reset();
    if (capture_ != nullptr) capture_->emplace_back(u.begin(), u.end());
  });
}

// New clients (empty state vector) all get the same answer: it is encoded
// once per document version, so a crowd joining a large document costs one
// encoding, not one per joiner.
SharedBytes Room::full_state_step2() {
  if (!full_step2_) full_step2_ = share(protocol::encode_sync_step2(crdt::encode_state_as_update(*doc_)));
  return full_step2_;
}

// ---- Connections -----------------------------------------------------------

void Room::join(std::shared_ptr<Peer> peer) {
  post_step([this, self = shared_from_this(), peer = std::move(peer)] {
    do_join(peer);
    unpin();
  });
}

void Room::do_join(const std::shared_ptr<Peer>& peer) {
  if (failed_) {
    peer->close(kCloseInternal, "document unavailable");
    return;
  }
  const std::uint64_t id = peer->id();
  idle_timer_.cancel();
  has_peers_ = true;
  peers_[id] = PeerState{peer, {}, 0, 0, 0, {}};
  // The epoch first, so an opted-in client knows the generation before it
  // merges anything.
  if (peer->info().ext_epoch) peer->send(share(protocol::encode_epoch(epoch_)), FrameKind::kControl);
  // y-websocket's server greets with its sync step 1 and the known
  // awareness states; the state vector reveals nothing undurable.
  peer->send(share(protocol::encode_sync_step1(crdt::encode_state_vector(*doc_))), FrameKind::kControl);
  if (awareness_.size() > 0) {
    peer->send(share(protocol::encode_awareness(protocol::encode_awareness_update(awareness_.snapshot()))),
               FrameKind::kAwareness);
  }
}

void Room::message(std::uint64_t peer_id, SharedBytes frame) {
  post_step([this, self = shared_from_this(), peer_id, frame = std::move(frame)] { do_message(peer_id, frame); });
}

void Room::leave(std::uint64_t peer_id) {
  post_step([this, self = shared_from_this(), peer_id] { remove_peer(peer_id, true); });
}

void Room::resync(std::uint64_t peer_id) {
  post_step([this, self = shared_from_this(), peer_id] {
    if (failed_) return;
    auto it = peers_.find(peer_id);
    if (it == peers_.end()) return;
    std::weak_ptr<Peer> weak = it->second.peer;
    // Only what the client lacks beyond the state it declared in its step 1
    // (a raw consumer that never sent one gets the whole state).
    const Bytes& known = it->second.declared_sv;
    auto diff = known.empty() ? Result<Bytes>(crdt::encode_state_as_update(*doc_))
                              : crdt::encode_state_as_update(*doc_, std::span<const std::uint8_t>(known));
    SharedBytes state = share(protocol::encode_sync_update(diff ? *diff : crdt::encode_state_as_update(*doc_)));
    SharedBytes aw = awareness_.size() > 0
                         ? share(protocol::encode_awareness(protocol::encode_awareness_update(awareness_.snapshot())))
                         : nullptr;
    after_durable([weak, state, aw] {
      if (auto p = weak.lock()) {
        p->send(state, FrameKind::kResync);
        if (aw) p->send(aw, FrameKind::kAwareness);
      }
    });
  });
}

void Room::do_message(std::uint64_t peer_id, const SharedBytes& frame) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end() || failed_) return;
  PeerState& st = it->second;
  std::shared_ptr<Peer> peer = st.peer;
  auto reject = [&](ProtocolError kind, const std::string& why) {
    ctx_.metrics.protocol_error(kind);
    spdlog::info("room '{}' conn {}: closing with 4400: {}", name_, peer_id, why);
    std::string reason = why.substr(0, 120);  // a close reason holds at most 123 bytes
    remove_peer(peer_id, true);
    peer->close(kCloseMalformed, reason);
  };
  auto msg = protocol::decode_message(*frame);
  if (!msg) {
    reject(ProtocolError::kMalformedMessage, msg.error().message);
    return;
  }
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::SyncStep1>) {
          SharedBytes reply;
          if (m.state_vector.size() == 1 && m.state_vector[0] == 0) {  // a client with nothing yet
            reply = full_state_step2();
          } else {
            auto diff = crdt::encode_state_as_update(*doc_, std::span<const std::uint8_t>(m.state_vector));
            if (!diff) {
              reject(ProtocolError::kMalformedMessage, "bad state vector: " + diff.error().message);
              return;
            }
            reply = share(protocol::encode_sync_step2(*diff));
          }
          st.declared_sv = std::move(m.state_vector);
          std::weak_ptr<Peer> weak = peer;
          after_durable([weak, reply] {
            if (auto p = weak.lock()) p->send(reply, FrameKind::kControl);
          });
        } else if constexpr (std::is_same_v<T, protocol::SyncStep2> || std::is_same_v<T, protocol::SyncUpdate>) {
          ctx_.metrics.updates_received.fetch_add(1, std::memory_order_relaxed);
          const std::uint64_t count = ++st.updates_received;
          // The role is read on every message: a change applies at once.
          if (peer->info().role.load() < Role::kEditor) {
            // Never applied. A step 2 that adds nothing (every client sends
            // one on connect) needs no refusal.
            if (!is_redundant(m.update)) {
              peer->send(share(protocol::encode_permission_denied("read-only access: updates are not accepted")),
                         FrameKind::kControl);
            }
          } else if (auto r = apply_and_persist(m.update, peer_id); !r) {
            reject(ProtocolError::kBadUpdate, "undecodable update: " + r.error().message);
            return;
          }
          if (peer->info().ext_ack) ack_after_durable(peer_id, count);
        } else if constexpr (std::is_same_v<T, protocol::AwarenessMessage>) {
          auto entries = protocol::decode_awareness_update(m.update);
          if (!entries) {
            reject(ProtocolError::kBadAwareness, "bad awareness update: " + entries.error().message);
            return;
          }
          on_awareness_message(peer_id, st, frame, std::move(*entries));
        } else if constexpr (std::is_same_v<T, protocol::QueryAwareness>) {
          peer->send(share(protocol::encode_awareness(protocol::encode_awareness_update(awareness_.snapshot()))),
                     FrameKind::kAwareness);
        } else {
          // Auth messages from a client carry nothing for the server.
        }
      },
      *msg);
}

bool Room::is_redundant(std::span<const std::uint8_t> update) const {
  auto meta = crdt::parse_update_meta(update);
  if (!meta) return false;
  const crdt::StructStore& store = doc_->store();
  for (const auto& [client, to] : meta->to) {
    if (to > store.get_state(client)) return false;
  }
  auto ds = crdt::read_update_delete_set(update);
  if (!ds) return false;
  if (ds->empty()) return true;
  // The server's own delete set: the delete set of an update that carries
  // no structs (diff against its own state vector).
  auto own = crdt::read_update_delete_set(crdt::encode_state_as_update(*doc_, store.get_state_vector()));
  if (!own) return false;
  own->sort_and_merge();
  for (const auto& [client, ranges] : ds->clients) {
    auto it = own->clients.find(client);
    for (const crdt::DeleteItem& d : ranges) {
      if (d.len == 0) continue;
      if (it == own->clients.end() || !covered(it->second, d.clock, d.len)) return false;
    }
  }
  return true;
}

// Awareness states are bound to the connection that announced them first:
// entries for a client id another connection owns are dropped, so nobody
// moves or removes someone else's cursor. A connection of the same
// authenticated user may take an id over (a reconnect racing the old socket).
void Room::on_awareness_message(std::uint64_t peer_id, PeerState& st, const SharedBytes& frame,
                                std::vector<protocol::AwarenessEntry> entries) {
  const std::int64_t now = now_ms();
  const Principal& me = st.peer->info().principal;
  std::vector<protocol::AwarenessEntry> changed;
  bool dropped = false;
  for (auto& e : entries) {
    auto owner = awareness_owner_.find(e.client_id);
    if (owner != awareness_owner_.end() && owner->second != peer_id) {
      auto other = peers_.find(owner->second);
      const bool same_user = other != peers_.end() && me.authenticated && !me.user_id.empty() &&
                             other->second.peer->info().principal.user_id == me.user_id;
      if (!same_user) {
        dropped = true;
        continue;
      }
      if (other != peers_.end()) other->second.awareness_clients.erase(e.client_id);
      awareness_owner_.erase(owner);
    }
    auto changes = awareness_.apply({e}, now);
    if (changes.empty()) continue;
    if (!changes.removed.empty() || (changes.added.empty() && changes.updated.empty())) {
      // The owner removed its own state: the id is free again.
      awareness_owner_.erase(e.client_id);
      st.awareness_clients.erase(e.client_id);
    } else {
      awareness_owner_[e.client_id] = peer_id;
      st.awareness_clients.insert(e.client_id);
    }
    changed.push_back(std::move(e));
  }
  if (dropped) spdlog::debug("room '{}' conn {}: dropped awareness entries of other connections", name_, peer_id);
  if (changed.empty()) return;
  // Relay the frame as it came when every entry was taken, else only what was.
  SharedBytes out = !dropped && changed.size() == entries.size()
                        ? frame
                        : share(protocol::encode_awareness(protocol::encode_awareness_update(changed)));
  broadcast(out, FrameKind::kAwareness, peer_id);
  arm_awareness_timer();
}

void Room::remove_peer(std::uint64_t peer_id, bool announce) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) return;
  std::vector<std::uint64_t> clients(it->second.awareness_clients.begin(), it->second.awareness_clients.end());
  peers_.erase(it);
  ack_dirty_.erase(peer_id);
  for (std::uint64_t c : clients) awareness_owner_.erase(c);
  if (peers_.empty()) has_peers_ = false;
  if (announce) remove_awareness(clients);
  if (peers_.empty()) schedule_idle_check();
}

void Room::remove_awareness(const std::vector<std::uint64_t>& clients) {
  if (clients.empty()) return;
  auto removed = awareness_.remove(clients);
  if (!removed.empty()) {
    broadcast(share(protocol::encode_awareness(protocol::encode_awareness_update(removed))), FrameKind::kAwareness, 0);
  }
}

// As y-protocols' Awareness: a state not renewed within the timeout is
// removed and the removal announced. Checked every tenth of the timeout.
void Room::arm_awareness_timer() {
  if (awareness_timer_armed_ || awareness_.size() == 0 || failed_) return;
  awareness_timer_armed_ = true;
  const auto period = std::max(std::chrono::milliseconds(10), ctx_.config.awareness_timeout / 10);
  awareness_timer_.expires_after(period);
  awareness_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_awareness_timer();
  });
}

void Room::on_awareness_timer() {
  awareness_timer_armed_ = false;
  if (failed_ || deleting_) return;
  auto outdated = awareness_.outdated(now_ms(), ctx_.config.awareness_timeout.count());
  if (!outdated.empty()) {
    spdlog::debug("room '{}': {} awareness states timed out", name_, outdated.size());
    remove_awareness(outdated);
  }
  arm_awareness_timer();
}

void Room::broadcast(const SharedBytes& frame, FrameKind kind, std::uint64_t except_peer) {
  for (auto& [id, st] : peers_) {
    if (id == except_peer) continue;
    st.peer->send(frame, kind);
    if (kind == FrameKind::kDocument) ctx_.metrics.updates_broadcast.fetch_add(1, std::memory_order_relaxed);
  }
}

// ---- Updates and durability ----------------------------------------------------

Result<std::size_t> Room::apply_and_persist(std::span<const std::uint8_t> update, std::uint64_t origin_peer) {
  std::vector<Bytes> produced;
  capture_ = &produced;
  auto applied = crdt::apply_update(*doc_, update);
  capture_ = nullptr;
  if (!applied) return applied.error();
  for (Bytes& u : produced) {
    SharedBytes frame = share(protocol::encode_sync_update(u));
    std::weak_ptr<Room> weak = weak_from_this();
    auto submitted = ctx_.store.append(
        name_, u,
        [weak, frame, origin_peer](Result<storage::AppendAck> ack) {
          // Storage writer thread: hop onto the strand.
          if (auto self = weak.lock()) {
            asio::post(self->strand_, [self, ack = std::move(ack), frame, origin_peer]() mutable {
              self->on_durable(std::move(ack), frame, origin_peer);
            });
          }
        },
        epoch_);
    if (!submitted) {
      fail(submitted.error());
      return std::size_t{0};  // the update was fine; the room is gone
    }
    ++submitted_;
    busy_ = true;
  }
  return produced.size();
}

void Room::on_durable(Result<storage::AppendAck> ack, const SharedBytes& frame, std::uint64_t origin_peer) {
  ++durable_;
  if (failed_) return;
  if (!ack) {
    ctx_.metrics.persist_failures.fetch_add(1, std::memory_order_relaxed);
    fail(ack.error());
    return;
  }
  exists_ = true;
  set_epoch(ack->epoch);
  last_seq_ = ack->seq;
  last_post_seq_ = ack->seq;
  ++tail_updates_;
  tail_bytes_ += frame->size();
  broadcast(frame, FrameKind::kDocument, origin_peer);
  run_waiting();
  if (durable_ == submitted_ && !compacting_ && !loading_ && !deleting_) busy_ = false;
  maybe_compact();
  if (peers_.empty()) schedule_idle_check();
}

// Opted-in connections hear every change of generation (creation, delete).
void Room::set_epoch(const std::string& epoch) {
  if (epoch == epoch_) return;
  epoch_ = epoch;
  SharedBytes frame = share(protocol::encode_epoch(epoch_));
  for (auto& [id, st] : peers_) {
    if (st.peer->info().ext_epoch) st.peer->send(frame, FrameKind::kControl);
  }
}

void Room::run_waiting() {
  while (!waiting_.empty() && waiting_.front().first <= durable_) {
    auto fn = std::move(waiting_.front().second);
    waiting_.pop_front();
    fn();
  }
  flush_acks();
}

void Room::after_durable(std::function<void()> fn) {
  if (durable_ >= submitted_) {
    fn();
  } else {
    waiting_.emplace_back(submitted_, std::move(fn));
  }
}

// Acks are coalesced: all that became durable together go out as one frame
// per connection, carrying the highest count.
void Room::ack_after_durable(std::uint64_t peer_id, std::uint64_t count) {
  after_durable([this, peer_id, count] {
    auto it = peers_.find(peer_id);
    if (it == peers_.end()) return;
    it->second.ack_ready = std::max(it->second.ack_ready, count);
    ack_dirty_.insert(peer_id);
  });
  flush_acks();
}

void Room::flush_acks() {
  for (std::uint64_t id : ack_dirty_) {
    auto it = peers_.find(id);
    if (it == peers_.end() || it->second.ack_ready <= it->second.acked) continue;
    it->second.acked = it->second.ack_ready;
    it->second.peer->send(share(protocol::encode_ack(it->second.acked)), FrameKind::kControl);
  }
  ack_dirty_.clear();
}

void Room::maybe_compact() {
  if (compacting_ || failed_ || deleting_ || !exists_ || epoch_.empty() || last_seq_ == 0) return;
  if (tail_updates_ < ctx_.config.compact_after_updates && tail_bytes_ < ctx_.config.compact_after_bytes) return;
  // The snapshot may hold updates not yet durable (seq > last_seq_); the tail
  // after last_seq_ re-applies on load, which Yjs makes idempotent.
  Bytes snapshot = crdt::encode_state_as_update(*doc_);
  const std::uint64_t up_to = last_seq_;
  const std::uint64_t tail_at_submit = tail_updates_;
  std::weak_ptr<Room> weak = weak_from_this();
  auto r = ctx_.store.compact_async(name_, snapshot, up_to, epoch_, [weak, tail_at_submit](Result<storage::CompactAck> ack) {
    if (auto self = weak.lock()) {
      asio::post(self->strand_, [self, ack = std::move(ack), tail_at_submit] {
        self->compacting_ = false;
        if (ack) {
          self->tail_updates_ -= std::min(self->tail_updates_, tail_at_submit);
          self->tail_bytes_ = 0;
        } else {
          spdlog::warn("room '{}': compaction failed: {}", self->name_, ack.error().message);
        }
        if (self->durable_ == self->submitted_ && !self->loading_ && !self->deleting_) self->busy_ = false;
        if (self->peers_.empty()) self->schedule_idle_check();
      });
    }
  });
  if (!r) {
    spdlog::warn("room '{}': compaction not submitted: {}", name_, r.error().message);
    return;
  }
  compacting_ = true;
  busy_ = true;
  ctx_.metrics.compactions_started.fetch_add(1, std::memory_order_relaxed);
}

void Room::fail(const Error& e) {
  if (failed_) return;
  failed_ = true;
  spdlog::error("room '{}': storage failure, closing its connections: {}", name_, e.message);
  ctx_.rooms->forget(*this);
  auto peers = std::move(peers_);
  peers_.clear();
  has_peers_ = false;
  awareness_owner_.clear();
  awareness_timer_.cancel();
  awareness_timer_armed_ = false;
  for (auto& [id, st] : peers) st.peer->close(kCloseInternal, "storage failure");
  // Waiting HTTP answers learn about it through their callbacks.
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) w.second();
}

// ---- Deletion --------------------------------------------------------------------

void Room::remove_document(std::function<void(Result<RemoveResult>)> cb) {
  post_step([this, self = shared_from_this(), cb = std::move(cb)]() mutable {
    if (failed_) {
      cb(corates::fail(ErrorCode::kClosed, "document unavailable after a storage failure"));
      return unpin();
    }
    // Nothing more enters the old generation: connections go first (their
    // later messages find no peer), then storage forgets the document. The
    // removal is queued behind every append already submitted.
    deleting_ = true;
    busy_ = true;
    auto peers = std::move(peers_);
    peers_.clear();
    has_peers_ = false;
    ack_dirty_.clear();
    awareness_owner_.clear();
    for (auto& [id, st] : peers) st.peer->close(kCloseDocumentDeleted, "document deleted");
    const std::size_t closed = peers.size();
    std::weak_ptr<Room> weak = weak_from_this();
    auto cb_shared = std::make_shared<std::function<void(Result<RemoveResult>)>>(std::move(cb));
    auto submitted = ctx_.store.remove_async(name_, [weak, closed, cb_shared](Result<bool> removed) {
      if (auto s = weak.lock()) {
        asio::post(s->strand_, [s, removed = std::move(removed), closed, cb_shared]() mutable {
          s->on_removed(std::move(removed), closed, std::move(*cb_shared));
        });
      }
    });
    if (!submitted) on_removed(submitted.error(), closed, std::move(*cb_shared));
  });
}

void Room::on_removed(Result<bool> removed, std::size_t closed, std::function<void(Result<RemoveResult>)> cb) {
  deleting_ = false;
  if (!removed) {
    spdlog::warn("room '{}': delete failed: {}", name_, removed.error().message);
    cb(removed.error());
  } else {
    // The room starts over as a document that does not exist; the next
    // append creates it under a new epoch.
    adopt_doc(std::make_unique<crdt::Doc>());
    awareness_ = protocol::Awareness{};
    awareness_timer_.cancel();
    awareness_timer_armed_ = false;
    exists_ = false;
    epoch_.clear();
    last_seq_ = 0;
    last_post_seq_ = 0;
    tail_updates_ = 0;
    tail_bytes_ = 0;
    spdlog::info("room '{}': deleted ({} connections closed)", name_, closed);
    cb(RemoveResult{*removed, closed});
  }
  busy_ = submitted_ != durable_ || compacting_ || loading_;
  unpin();
  run_deferred();
  if (peers_.empty()) schedule_idle_check();
}

// ---- Idle unload -----------------------------------------------------------------

void Room::schedule_idle_check() {
  if (failed_ || !peers_.empty()) return;
  idle_timer_.expires_after(ctx_.config.room_idle_unload);
  idle_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->on_idle_timer();
  });
}

void Room::on_idle_timer() {
  if (!peers_.empty() || failed_) return;
  if (ctx_.rooms->try_unload(*this)) {
    ctx_.metrics.rooms_unloaded.fetch_add(1, std::memory_order_relaxed);
    awareness_timer_.cancel();
    awareness_timer_armed_ = false;
    spdlog::debug("room '{}' unloaded", name_);
  }
}

// ---- HTTP ----------------------------------------------------------------------

namespace {
Error unavailable() { return corates::fail(ErrorCode::kClosed, "document unavailable after a storage failure"); }
}  // namespace

void Room::get_update(Bytes state_vector, bool v2, std::function<void(Result<Bytes>)> cb) {
  post_step([this, self = shared_from_this(), sv = std::move(state_vector), v2, cb = std::move(cb)] {
    if (failed_) {
      cb(unavailable());
    } else {
      Result<Bytes> out = v2 ? crdt::encode_state_as_update_v2(*doc_, std::span<const std::uint8_t>(sv))
                             : crdt::encode_state_as_update(*doc_, std::span<const std::uint8_t>(sv));
      if (!out) {
        cb(corates::fail(ErrorCode::kInvalidArgument, "stateVector: " + out.error().message));
      } else if (!exists_or_pending()) {
        cb(corates::fail(ErrorCode::kNotFound, "no document named '" + name_ + "'"));
      } else {
        auto shared = std::make_shared<Bytes>(std::move(*out));
        after_durable([this, shared, cb] {
          if (failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
          cb(std::move(*shared));
        });
      }
    }
    unpin();
  });
}

void Room::get_state_vector(std::function<void(Result<Bytes>)> cb) {
  post_step([this, self = shared_from_this(), cb = std::move(cb)] {
    if (failed_) {
      cb(unavailable());
    } else if (!exists_or_pending()) {
      cb(corates::fail(ErrorCode::kNotFound, "no document named '" + name_ + "'"));
    } else {
      auto sv = std::make_shared<Bytes>(crdt::encode_state_vector(*doc_));
      after_durable([this, sv, cb] {
        if (failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
        cb(std::move(*sv));
      });
    }
    unpin();
  });
}

void Room::post_update(Bytes update, std::function<void(Result<PostResult>)> cb) {
  post_step([this, self = shared_from_this(), update = std::move(update), cb = std::move(cb)] {
    if (failed_) {
      cb(unavailable());
    } else {
      ctx_.metrics.updates_received.fetch_add(1, std::memory_order_relaxed);
      auto n = apply_and_persist(update, 0);
      if (!n) {
        cb(corates::fail(ErrorCode::kInvalidValue, "undecodable update: " + n.error().message));
      } else if (failed_) {
        cb(corates::fail(ErrorCode::kClosed, "storage failure"));
      } else {
        const bool changed = *n > 0;
        after_durable([this, changed, cb] {
          if (failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
          cb(PostResult{changed, last_post_seq_, epoch_});
        });
      }
    }
    unpin();
  });
}

void Room::reconcile(Bytes client_state, std::string expected_epoch,
                     std::function<void(Result<ReconcileResult>)> cb) {
  post_step([this, self = shared_from_this(), state = std::move(client_state),
             expected = std::move(expected_epoch), cb = std::move(cb)] {
    if (failed_) {
      cb(unavailable());
      return unpin();
    }
    // A client whose copy belongs to another generation must not merge its
    // old history into this one.
    if (!expected.empty() && expected != epoch_) {
      cb(corates::fail(ErrorCode::kEpochMismatch,
                       "the document's epoch is '" + epoch_ + "', not '" + expected + "'"));
      return unpin();
    }
    auto client_sv = crdt::encode_state_vector_from_update(state);
    if (!client_sv) {
      cb(corates::fail(ErrorCode::kInvalidValue, "undecodable update: " + client_sv.error().message));
      return unpin();
    }
    ctx_.metrics.updates_received.fetch_add(1, std::memory_order_relaxed);
    auto n = apply_and_persist(state, 0);
    if (!n) {
      cb(corates::fail(ErrorCode::kInvalidValue, "undecodable update: " + n.error().message));
      return unpin();
    }
    if (failed_) {
      cb(corates::fail(ErrorCode::kClosed, "storage failure"));
      return unpin();
    }
    // What the client lacks: everything past its state vector (and the whole
    // delete set, as Yjs's diffs carry it).
    auto diff = crdt::encode_state_as_update(*doc_, std::span<const std::uint8_t>(*client_sv));
    if (!diff) {
      cb(corates::fail(ErrorCode::kInvalidValue, "undecodable update: " + diff.error().message));
      return unpin();
    }
    auto result = std::make_shared<ReconcileResult>();
    result->changed = *n > 0;
    result->update = std::move(*diff);
    result->state_vector = crdt::encode_state_vector(*doc_);
    after_durable([this, result, cb] {
      if (failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
      result->seq = last_seq_;
      result->epoch = epoch_;
      cb(std::move(*result));
    });
    unpin();
  });
}

void Room::get_json(std::function<void(Result<std::string>)> cb) {
  post_step([this, self = shared_from_this(), cb = std::move(cb)] {
    if (failed_) {
      cb(unavailable());
    } else if (!exists_or_pending()) {
      cb(corates::fail(ErrorCode::kNotFound, "no document named '" + name_ + "'"));
    } else {
      auto json = std::make_shared<Result<std::string>>(doc_to_json(*doc_));
      after_durable([this, json, cb] {
        if (failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
        cb(std::move(*json));
      });
    }
    unpin();
  });
}

// ---- Registry --------------------------------------------------------------------

RoomRegistry::RoomRegistry(ServerContext& ctx, std::size_t loader_threads)
    : ctx_(ctx), loader_(std::max<std::size_t>(1, loader_threads)) {}

RoomRegistry::~RoomRegistry() {
  // Loads still queued are dropped; a running one finishes first.
  loader_.stop();
  loader_.join();
}

std::shared_ptr<Room> RoomRegistry::acquire(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& slot = rooms_[name];
  if (!slot) slot = std::make_shared<Room>(ctx_, name);
  slot->pin();
  return slot;
}

bool RoomRegistry::try_unload(Room& room) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room.name());
  if (it == rooms_.end() || it->second.get() != &room || !room.unloadable_locked()) return false;
  rooms_.erase(it);  // the caller holds a shared_ptr, so the room outlives this
  return true;
}

void RoomRegistry::forget(Room& room) {
  std::lock_guard lock(mutex_);
  auto it = rooms_.find(room.name());
  if (it != rooms_.end() && it->second.get() == &room) rooms_.erase(it);
}

std::size_t RoomRegistry::size() const {
  std::lock_guard lock(mutex_);
  return rooms_.size();
}

}  // namespace corates::server
