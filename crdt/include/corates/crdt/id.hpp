#pragma once
// Yjs ID: (client, clock). Client ids are chosen at random (32 bits by Yjs) but
// the wire allows up to 53 bits; clocks count inserted units per client.

#include <compare>
#include <cstdint>
#include <functional>

namespace corates::crdt {

using ClientID = std::uint64_t;
using Clock = std::uint64_t;

struct ID {
  ClientID client = 0;
  Clock clock = 0;
  friend constexpr bool operator==(const ID&, const ID&) = default;
  friend constexpr auto operator<=>(const ID&, const ID&) = default;
};

}  // namespace corates::crdt

template <>
struct std::hash<corates::crdt::ID> {
  std::size_t operator()(const corates::crdt::ID& id) const noexcept {
    return std::hash<std::uint64_t>{}(id.client * 0x9E3779B97F4A7C15ULL ^ id.clock);
  }
};
