#pragma once
// The awareness protocol (y-protocols/awareness.js) as a server keeps it: the
// latest state of every client in a room, with its clock. States are kept as
// the JSON text the client sent ("null" means the client left), so relaying
// never re-serialises them. Time is passed in by the caller (no timers here).
// Not thread-safe: owned by one room, used on its strand.

#include "corates/common/result.hpp"

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace corates::protocol {

// One entry of an awareness update as it travels on the wire.
struct AwarenessEntry {
  std::uint64_t client_id = 0;
  std::uint64_t clock = 0;
  std::string state_json;  // JSON text; "null" removes the client
};

// Decodes an awareness update (not the outer message frame). Fails on
// truncation or trailing bytes; the JSON text itself is not parsed here.
Result<std::vector<AwarenessEntry>> decode_awareness_update(std::span<const std::uint8_t> update);
std::vector<std::uint8_t> encode_awareness_update(const std::vector<AwarenessEntry>& entries);

struct AwarenessChanges {
  std::vector<std::uint64_t> added;
  std::vector<std::uint64_t> updated;  // clock advanced (state may be equal)
  std::vector<std::uint64_t> removed;
  bool empty() const { return added.empty() && updated.empty() && removed.empty(); }
};

class Awareness {
 public:
  // How long a remote state lives without renewal (awareness.js outdatedTimeout).
  static constexpr std::int64_t kOutdatedTimeoutMs = 30000;

  // Applies entries with awareness.js's rules: a newer clock wins; an equal
  // clock with a null state removes an existing state. Returns what changed.
  AwarenessChanges apply(const std::vector<AwarenessEntry>& entries, std::int64_t now_ms);

  // Removes the given clients (for example those of a closed connection) and
  // returns entries announcing their removal (same clock, "null") to broadcast.
  std::vector<AwarenessEntry> remove(const std::vector<std::uint64_t>& clients);

  // Clients whose state was not renewed within `timeout_ms`.
  std::vector<std::uint64_t> outdated(std::int64_t now_ms, std::int64_t timeout_ms = kOutdatedTimeoutMs) const;

  // Entries for every client with a state (the answer to a query-awareness and
  // the greeting for a joining connection).
  std::vector<AwarenessEntry> snapshot() const;
  std::vector<AwarenessEntry> entries_for(const std::vector<std::uint64_t>& clients) const;

  std::size_t size() const { return states_.size(); }
  bool has(std::uint64_t client) const { return states_.count(client) != 0; }

 private:
  struct Meta {
    std::uint64_t clock = 0;
    std::int64_t last_updated_ms = 0;
  };
  std::map<std::uint64_t, std::string> states_;
  std::map<std::uint64_t, Meta> meta_;
};

}  // namespace corates::protocol
