#include "corates/protocol/awareness.hpp"

#include "corates/crdt/lib0/decoding.hpp"
#include "corates/crdt/lib0/encoding.hpp"

#include <string>

namespace corates::protocol {
namespace {
bool is_null_state(const std::string& json) {
  std::size_t b = json.find_first_not_of(" \t\r\n");
  std::size_t e = json.find_last_not_of(" \t\r\n");
  return b != std::string::npos && json.compare(b, e - b + 1, "null") == 0;
}
}  // namespace

Result<std::vector<AwarenessEntry>> decode_awareness_update(std::span<const std::uint8_t> update) {
  crdt::lib0::Decoder d(update);
  const std::uint64_t n = d.read_var_uint();
  // Each entry takes at least three bytes, so a larger count cannot be honest.
  if (d.ok() && n > d.remaining() / 3)
    return Error{ErrorCode::kInconsistentLength, "awareness update announces too many entries"};
  std::vector<AwarenessEntry> out;
  out.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n && d.ok(); ++i) {
    AwarenessEntry e;
    e.client_id = d.read_var_uint();
    e.clock = d.read_var_uint();
    e.state_json = d.read_var_string();
    out.push_back(std::move(e));
  }
  if (!d.ok()) return *d.error();
  if (d.remaining() != 0)
    return Error{ErrorCode::kInconsistentLength, "trailing bytes after awareness update"};
  return out;
}

std::vector<std::uint8_t> encode_awareness_update(const std::vector<AwarenessEntry>& entries) {
  crdt::lib0::Encoder e;
  e.write_var_uint(entries.size());
  for (const auto& entry : entries) {
    e.write_var_uint(entry.client_id);
    e.write_var_uint(entry.clock);
    e.write_var_string(entry.state_json);
  }
  return std::move(e).to_bytes();
}

AwarenessChanges Awareness::apply(const std::vector<AwarenessEntry>& entries, std::int64_t now_ms) {
  AwarenessChanges changes;
  for (const auto& entry : entries) {
    const bool is_null = is_null_state(entry.state_json);
    auto meta_it = meta_.find(entry.client_id);
    const bool known = meta_it != meta_.end();
    const std::uint64_t current_clock = known ? meta_it->second.clock : 0;
    const bool has_state = states_.count(entry.client_id) != 0;
    if (!(current_clock < entry.clock || (current_clock == entry.clock && is_null && has_state)))
      continue;
    if (is_null) {
      states_.erase(entry.client_id);
    } else {
      states_[entry.client_id] = entry.state_json;
    }
    meta_[entry.client_id] = Meta{entry.clock, now_ms};
    if (!known && !is_null) {
      changes.added.push_back(entry.client_id);
    } else if (known && is_null) {
      changes.removed.push_back(entry.client_id);
    } else if (!is_null) {
      changes.updated.push_back(entry.client_id);
    }
  }
  return changes;
}

std::vector<AwarenessEntry> Awareness::remove(const std::vector<std::uint64_t>& clients) {
  std::vector<AwarenessEntry> out;
  for (std::uint64_t client : clients) {
    if (states_.erase(client) == 0) continue;
    // Same clock with a null state: receivers drop the state (awareness.js
    // removeAwarenessStates only bumps the clock of its own client).
    out.push_back(AwarenessEntry{client, meta_[client].clock, "null"});
  }
  return out;
}

std::vector<std::uint64_t> Awareness::outdated(std::int64_t now_ms, std::int64_t timeout_ms) const {
  std::vector<std::uint64_t> out;
  for (const auto& [client, state] : states_) {
    auto it = meta_.find(client);
    if (it != meta_.end() && now_ms - it->second.last_updated_ms >= timeout_ms)
      out.push_back(client);
  }
  return out;
}

std::vector<AwarenessEntry> Awareness::snapshot() const {
  std::vector<AwarenessEntry> out;
  out.reserve(states_.size());
  for (const auto& [client, state] : states_) out.push_back({client, meta_.at(client).clock, state});
  return out;
}

std::vector<AwarenessEntry> Awareness::entries_for(const std::vector<std::uint64_t>& clients) const {
  std::vector<AwarenessEntry> out;
  for (std::uint64_t client : clients) {
    auto meta_it = meta_.find(client);
    if (meta_it == meta_.end()) continue;
    auto it = states_.find(client);
    out.push_back({client, meta_it->second.clock, it == states_.end() ? "null" : it->second});
  }
  return out;
}

}  // namespace corates::protocol
