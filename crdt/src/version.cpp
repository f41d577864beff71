#include "corates/crdt/version.hpp"
namespace corates::crdt {
const char* yjs_compat_version() noexcept { return "13.6.33"; }
}  // namespace corates::crdt
