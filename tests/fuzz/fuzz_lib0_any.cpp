// lib0 readAny over arbitrary bytes, then everything that consumes an Any:
// writeAny (must re-read to the same bytes), to_json, json_stringify (whose
// text must parse and reach a fixed point). Also checks the UTF-8 helpers on the raw input.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "corates/crdt/lib0/decoding.hpp"
#include "corates/crdt/lib0/encoding.hpp"

using namespace corates::crdt::lib0;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::string lossy = utf8_decode_lossy(text);
  if (!is_valid_utf8(lossy)) std::abort();
  if (is_valid_utf8(text) && lossy != text) std::abort();
  (void)utf16_length(text);

  Decoder d(std::span(data, size));
  for (int i = 0; i < 64 && d.has_content(); ++i) {
    const Any v = d.read_any();
    if (!d.ok()) break;
    Encoder e;
    e.write_any(v);
    Decoder again(e.bytes());
    const Any back = again.read_any();
    if (!again.ok() || again.has_content()) std::abort();
    Encoder e2;
    e2.write_any(back);
    if (e2.bytes() != e.bytes()) std::abort();

    (void)to_json(v);
    const std::string s = json_stringify(v);
    const auto parsed = parse_json(s);
    if (!parsed) {
      // A Uint8Array at the deepest level stringifies as one more object level.
      if (parsed.error().code != corates::ErrorCode::kTooLarge) std::abort();
      continue;
    }
    // A BigInt prints as digits and parses back as a double, so require the
    // fixed point from the first re-parse on.
    const std::string s1 = json_stringify(*parsed);
    const auto reparsed = parse_json(s1);
    if (!reparsed || json_stringify(*reparsed) != s1) std::abort();
  }
  return 0;
}
