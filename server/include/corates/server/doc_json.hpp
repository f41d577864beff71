#pragma once
// The JSON content of a Doc, as `corates-sync update to-json` prints it: one
// key per root type, in the order the Doc met them; a root's kind (which the
// wire does not carry) is inferred from its items.

#include "corates/common/result.hpp"
#include "corates/crdt/doc.hpp"

#include <string>

namespace corates::server {

// Works on a copy of `doc` (reading a root as a kind converts it), so the
// live document is untouched. Cost: O(document). Fails only if a root holds
// a kind this build cannot read.
Result<std::string> doc_to_json(const crdt::Doc& doc);

}  // namespace corates::server
