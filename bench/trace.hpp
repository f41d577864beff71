#pragma once
// Editing traces (../shared/traces, format in SOURCE.md): gzip'd JSON with
// startContent, endContent and txns[].patches[] = [position, deleteCount, text].
// Positions and counts are in Unicode code points; load_trace converts them
// to UTF-16 code units, the unit of Yjs-style text positions.

#include <cstdint>
#include <string>
#include <vector>

namespace corates::bench {

struct Patch {
  std::uint64_t pos = 0;  // UTF-16 units
  std::uint64_t del = 0;  // UTF-16 units
  std::string ins;        // UTF-8
};

struct Trace {
  std::string name;
  std::string start_content;  // UTF-8
  std::string end_content;    // UTF-8
  std::vector<std::vector<Patch>> txns;
  std::size_t edits = 0;  // patches in all transactions
};

// Throws std::runtime_error on unreadable or malformed files (bench tool only).
Trace load_trace(const std::string& path);

}  // namespace corates::bench
