// parse_json (JSON.parse for ContentJSON / v1 embeds) over arbitrary text:
// accepted text must stringify to a fixed point.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/lib0/decoding.hpp"

using namespace corates::crdt::lib0;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = parse_json(text);
  if (!parsed) return 0;
  const std::string s = json_stringify(*parsed);
  (void)to_json(*parsed);
  if (!is_valid_utf8(text) || !is_valid_utf8(s)) std::abort();
  const auto again = parse_json(s);
  if (!again || json_stringify(*again) != s) std::abort();
  return 0;
}
