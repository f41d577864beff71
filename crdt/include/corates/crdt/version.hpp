#pragma once
namespace corates::crdt {
// The Yjs release whose encodings this core reproduces byte for byte.
const char* yjs_compat_version() noexcept;
}  // namespace corates::crdt
