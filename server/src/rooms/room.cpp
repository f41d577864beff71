#include "rooms/room.hpp"

#include "rooms/doc_json.hpp"

#include "corates/crdt/encoding.hpp"
#include "corates/protocol/message.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

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

}  // namespace

Room::Room(ServerContext& ctx, std::string name)
    : ctx_(ctx), name_(std::move(name)), strand_(asio::make_strand(ctx.ioc)), idle_timer_(strand_) {
  ctx_.metrics.rooms_loaded.fetch_add(1, std::memory_order_relaxed);
  // The update the Doc emits is exactly what an applied update added (nothing
  // for a duplicate); that is what gets stored and broadcast.
  update_sub_ = doc_.on_update([this](std::span<const std::uint8_t> u, const crdt::Origin&, crdt::Transaction&) {
    if (capture_ != nullptr) capture_->emplace_back(u.begin(), u.end());
  });
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

Result<void> Room::ensure_loaded() {
  if (failed_) return corates::fail(ErrorCode::kClosed, "document unavailable after a storage failure");
  if (loaded_) return {};
  const auto started = std::chrono::steady_clock::now();
  auto doc = ctx_.store.load(name_);
  if (!doc) {
    fail(doc.error());
    return doc.error();
  }
  // Stored bytes were accepted once; if they no longer apply, refuse the
  // document rather than serve half of it.
  auto apply_stored = [&](const Bytes& u) -> Result<void> {
    if (u.empty()) return {};
    return crdt::apply_update(doc_, u);
  };
  if (auto r = apply_stored(doc->snapshot); !r) {
    fail(r.error());
    return r.error();
  }
  for (const storage::StoredUpdate& u : doc->updates) {
    if (auto r = apply_stored(u.data); !r) {
      fail(r.error());
      return r.error();
    }
  }
  exists_ = doc->exists;
  epoch_ = doc->epoch;
  last_seq_ = doc->last_seq;
  tail_updates_ = doc->updates.size();
  tail_bytes_ = 0;
  for (const auto& u : doc->updates) tail_bytes_ += u.data.size();
  loaded_ = true;
  spdlog::debug("room '{}' loaded: snapshot {} bytes, {} log updates, {:.1f} ms", name_, doc->snapshot.size(),
                doc->updates.size(),
                std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
  maybe_compact();
  return {};
}

// ---- Connections -----------------------------------------------------------

void Room::join(std::shared_ptr<Peer> peer) {
  asio::post(strand_, [self = shared_from_this(), peer = std::move(peer)]() mutable {
    auto& r = *self;
    if (auto ok = r.ensure_loaded(); !ok) {
      peer->close(kCloseInternal, "document unavailable");
      r.unpin();
      return;
    }
    const std::uint64_t id = peer->id();
    r.idle_timer_.cancel();
    r.has_peers_ = true;
    r.peers_[id] = PeerState{peer, {}};
    // y-websocket's server greets with its sync step 1 and the known
    // awareness states; the state vector reveals nothing undurable.
    peer->send(share(protocol::encode_sync_step1(crdt::encode_state_vector(r.doc_))), FrameKind::kControl);
    if (r.awareness_.size() > 0) {
      peer->send(share(protocol::encode_awareness(protocol::encode_awareness_update(r.awareness_.snapshot()))),
                 FrameKind::kAwareness);
    }
    r.unpin();
  });
}

void Room::message(std::uint64_t peer_id, SharedBytes frame) {
  asio::post(strand_, [self = shared_from_this(), peer_id, frame = std::move(frame)] {
    self->do_message(peer_id, frame);
  });
}

void Room::leave(std::uint64_t peer_id) {
  asio::post(strand_, [self = shared_from_this(), peer_id] { self->remove_peer(peer_id, true); });
}

void Room::resync(std::uint64_t peer_id) {
  asio::post(strand_, [self = shared_from_this(), peer_id] {
    auto& r = *self;
    if (!r.loaded_ || r.failed_) return;
    auto it = r.peers_.find(peer_id);
    if (it == r.peers_.end()) return;
    std::weak_ptr<Peer> weak = it->second.peer;
    SharedBytes state = share(protocol::encode_sync_update(crdt::encode_state_as_update(r.doc_)));
    SharedBytes aw = r.awareness_.size() > 0
                         ? share(protocol::encode_awareness(protocol::encode_awareness_update(r.awareness_.snapshot())))
                         : nullptr;
    r.after_durable([weak, state, aw] {
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
  std::shared_ptr<Peer> peer = it->second.peer;
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
          auto diff = crdt::encode_state_as_update(doc_, std::span<const std::uint8_t>(m.state_vector));
          if (!diff) {
            reject(ProtocolError::kMalformedMessage, "bad state vector: " + diff.error().message);
            return;
          }
          SharedBytes reply = share(protocol::encode_sync_step2(*diff));
          std::weak_ptr<Peer> weak = peer;
          after_durable([weak, reply] {
            if (auto p = weak.lock()) p->send(reply, FrameKind::kControl);
          });
        } else if constexpr (std::is_same_v<T, protocol::SyncStep2> || std::is_same_v<T, protocol::SyncUpdate>) {
          ctx_.metrics.updates_received.fetch_add(1, std::memory_order_relaxed);
          if (auto r = apply_and_persist(m.update, peer_id); !r) {
            reject(ProtocolError::kBadUpdate, "undecodable update: " + r.error().message);
          }
        } else if constexpr (std::is_same_v<T, protocol::AwarenessMessage>) {
          auto entries = protocol::decode_awareness_update(m.update);
          if (!entries) {
            reject(ProtocolError::kBadAwareness, "bad awareness update: " + entries.error().message);
            return;
          }
          auto changes = awareness_.apply(*entries, now_ms());
          auto& mine = it->second.awareness_clients;
          for (const auto& e : *entries) {
            if (e.state_json == "null") {
              mine.erase(e.client_id);
            } else {
              mine.insert(e.client_id);
            }
          }
          if (!changes.empty()) broadcast(frame, FrameKind::kAwareness, peer_id);
        } else if constexpr (std::is_same_v<T, protocol::QueryAwareness>) {
          peer->send(share(protocol::encode_awareness(protocol::encode_awareness_update(awareness_.snapshot()))),
                     FrameKind::kAwareness);
        } else {
          // Auth messages from a client carry nothing for the server.
        }
      },
      *msg);
}

void Room::remove_peer(std::uint64_t peer_id, bool announce) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end()) return;
  std::vector<std::uint64_t> clients(it->second.awareness_clients.begin(), it->second.awareness_clients.end());
  peers_.erase(it);
  if (peers_.empty()) has_peers_ = false;
  if (announce && !clients.empty()) {
    auto removed = awareness_.remove(clients);
    if (!removed.empty()) {
      broadcast(share(protocol::encode_awareness(protocol::encode_awareness_update(removed))), FrameKind::kAwareness,
                0);
    }
  }
  if (peers_.empty()) schedule_idle_check();
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
  auto applied = crdt::apply_update(doc_, update);
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
  epoch_ = ack->epoch;
  last_seq_ = ack->seq;
  last_post_seq_ = ack->seq;
  ++tail_updates_;
  tail_bytes_ += frame->size();
  broadcast(frame, FrameKind::kDocument, origin_peer);
  while (!waiting_.empty() && waiting_.front().first <= durable_) {
    auto fn = std::move(waiting_.front().second);
    waiting_.pop_front();
    fn();
  }
  if (durable_ == submitted_ && !compacting_) busy_ = false;
  maybe_compact();
  if (peers_.empty()) schedule_idle_check();
}

void Room::after_durable(std::function<void()> fn) {
  if (durable_ >= submitted_) {
    fn();
  } else {
    waiting_.emplace_back(submitted_, std::move(fn));
  }
}

void Room::maybe_compact() {
  if (compacting_ || failed_ || !exists_ || epoch_.empty() || last_seq_ == 0) return;
  if (tail_updates_ < ctx_.config.compact_after_updates && tail_bytes_ < ctx_.config.compact_after_bytes) return;
  // The snapshot may hold updates not yet durable (seq > last_seq_); the tail
  // after last_seq_ re-applies on load, which Yjs makes idempotent.
  Bytes snapshot = crdt::encode_state_as_update(doc_);
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
        if (self->durable_ == self->submitted_) self->busy_ = false;
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
  for (auto& [id, st] : peers) st.peer->close(kCloseInternal, "storage failure");
  // Waiting HTTP answers learn about it through their callbacks.
  auto waiting = std::move(waiting_);
  waiting_.clear();
  for (auto& w : waiting) w.second();
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
    spdlog::debug("room '{}' unloaded", name_);
  }
}

// ---- HTTP ----------------------------------------------------------------------

void Room::get_update(Bytes state_vector, bool v2, std::function<void(Result<Bytes>)> cb) {
  asio::post(strand_, [self = shared_from_this(), sv = std::move(state_vector), v2, cb = std::move(cb)]() mutable {
    auto& r = *self;
    if (auto ok = r.ensure_loaded(); !ok) {
      cb(ok.error());
    } else {
      Result<Bytes> out = v2 ? crdt::encode_state_as_update_v2(r.doc_, std::span<const std::uint8_t>(sv))
                             : crdt::encode_state_as_update(r.doc_, std::span<const std::uint8_t>(sv));
      if (!out) {
        cb(corates::fail(ErrorCode::kInvalidArgument, "stateVector: " + out.error().message));
      } else if (!r.exists_) {
        cb(corates::fail(ErrorCode::kNotFound, "no document named '" + r.name_ + "'"));
      } else {
        auto shared = std::make_shared<Bytes>(std::move(*out));
        r.after_durable([&r, shared, cb] {
          if (r.failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
          cb(std::move(*shared));
        });
      }
    }
    r.unpin();
  });
}

void Room::get_state_vector(std::function<void(Result<Bytes>)> cb) {
  asio::post(strand_, [self = shared_from_this(), cb = std::move(cb)] {
    auto& r = *self;
    if (auto ok = r.ensure_loaded(); !ok) {
      cb(ok.error());
    } else if (!r.exists_) {
      cb(corates::fail(ErrorCode::kNotFound, "no document named '" + r.name_ + "'"));
    } else {
      auto sv = std::make_shared<Bytes>(crdt::encode_state_vector(r.doc_));
      r.after_durable([&r, sv, cb] {
        if (r.failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
        cb(std::move(*sv));
      });
    }
    r.unpin();
  });
}

void Room::post_update(Bytes update, std::function<void(Result<PostResult>)> cb) {
  asio::post(strand_, [self = shared_from_this(), update = std::move(update), cb = std::move(cb)] {
    auto& r = *self;
    if (auto ok = r.ensure_loaded(); !ok) {
      cb(ok.error());
    } else {
      r.ctx_.metrics.updates_received.fetch_add(1, std::memory_order_relaxed);
      auto n = r.apply_and_persist(update, 0);
      if (!n) {
        cb(corates::fail(ErrorCode::kInvalidValue, "undecodable update: " + n.error().message));
      } else if (r.failed_) {
        cb(corates::fail(ErrorCode::kClosed, "storage failure"));
      } else {
        const bool changed = *n > 0;
        r.after_durable([&r, changed, cb] {
          if (r.failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
          cb(PostResult{changed, r.last_post_seq_, r.epoch_});
        });
      }
    }
    r.unpin();
  });
}

void Room::get_json(std::function<void(Result<std::string>)> cb) {
  asio::post(strand_, [self = shared_from_this(), cb = std::move(cb)] {
    auto& r = *self;
    if (auto ok = r.ensure_loaded(); !ok) {
      cb(ok.error());
    } else if (!r.exists_) {
      cb(corates::fail(ErrorCode::kNotFound, "no document named '" + r.name_ + "'"));
    } else {
      auto json = std::make_shared<Result<std::string>>(doc_to_json(r.doc_));
      r.after_durable([&r, json, cb] {
        if (r.failed_) return cb(corates::fail(ErrorCode::kClosed, "storage failure"));
        cb(std::move(*json));
      });
    }
    r.unpin();
  });
}

// ---- Registry --------------------------------------------------------------------

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
