#pragma once
// Options of a Doc (Yjs's DocOpts), also used to insert a subdocument.

#include "corates/crdt/id.hpp"
#include "corates/crdt/lib0/any.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace corates::crdt {

struct DocOptions {
  std::optional<ClientID> client_id;  // random 32-bit if unset
  std::string guid;                   // random UUID v4 if empty
  bool gc = true;
  lib0::Any meta = lib0::Null{};      // Yjs default: null
  bool auto_load = false;
  bool should_load = true;
  std::string collection_id;
};

// The origin of a transaction (Yjs lets it be any value; ours is a small
// comparable value: nothing, a name, a number or an object address).
using Origin = std::variant<std::monostate, std::string, std::uint64_t, const void*>;

}  // namespace corates::crdt
