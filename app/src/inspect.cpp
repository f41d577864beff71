// `update inspect`: the structs and delete set of one update, from the crdt
// library's inspection model (updates.hpp), as text for people or as JSON.
//
// JSON shape (stable; tests/cli/compare.mjs reads it):
//   {"format":"v1"|"v2",
//    "clients":[{"client":N,"structs":[
//        {"kind":"item"|"gc"|"skip","clock":N,"length":N,
//         items only: "origin":[client,clock]|null,"right_origin":[..]|null,
//                     "parent":"root name"|[client,clock] (only when written),
//                     "parent_sub":"key" (only when written),
//                     "content":"string"|"any"|"json"|"binary"|"embed"|"format"|
//                               "type"|"deleted"|"doc","preview":"..."}]}],
//    "delete_set":[{"client":N,"ranges":[[clock,len],...]}]}
#include "cli_io.hpp"
#include "update_tools.hpp"

#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/updates.hpp"

#include <cctype>
#include <cstdint>
#include <string>
#include <vector>

namespace corates::app {
namespace {

using crdt::InspectedStruct;
using crdt::lib0::Any;
using crdt::lib0::AnyArray;
using crdt::lib0::AnyObject;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string id_text(crdt::ID id) {
  return std::to_string(id.client) + ":" + std::to_string(id.clock);
}

Any id_json(crdt::ID id) {
  return AnyArray{Any(static_cast<double>(id.client)), Any(static_cast<double>(id.clock))};
}

const char* kind_name(InspectedStruct::Kind k) {
  switch (k) {
    case InspectedStruct::Kind::kItem: return "item";
    case InspectedStruct::Kind::kGC: return "gc";
    case InspectedStruct::Kind::kSkip: return "skip";
  }
  return "?";
}

std::size_t count_structs(const crdt::UpdateInspection& u) {
  std::size_t n = 0;
  for (const auto& c : u.clients) n += c.structs.size();
  return n;
}

std::string as_json(const crdt::UpdateInspection& u, bool v2) {
  AnyArray clients;
  clients.reserve(u.clients.size());
  for (const crdt::InspectedClient& c : u.clients) {
    AnyArray structs;
    structs.reserve(c.structs.size());
    for (const InspectedStruct& s : c.structs) {
      AnyObject o;
      o.emplace_back("kind", kind_name(s.kind));
      o.emplace_back("clock", Any(static_cast<double>(s.id.clock)));
      o.emplace_back("length", Any(static_cast<double>(s.length)));
      if (s.kind == InspectedStruct::Kind::kItem) {
        o.emplace_back("origin", s.origin ? id_json(*s.origin) : Any(crdt::lib0::Null{}));
        o.emplace_back("right_origin",
                       s.right_origin ? id_json(*s.right_origin) : Any(crdt::lib0::Null{}));
        if (s.parent_root) o.emplace_back("parent", *s.parent_root);
        if (s.parent_id) o.emplace_back("parent", id_json(*s.parent_id));
        if (s.parent_sub) o.emplace_back("parent_sub", *s.parent_sub);
        o.emplace_back("content", lower(s.content_kind));
        o.emplace_back("preview", s.content_preview);
      }
      structs.emplace_back(std::move(o));
    }
    AnyObject co;
    co.emplace_back("client", Any(static_cast<double>(c.client)));
    co.emplace_back("structs", std::move(structs));
    clients.emplace_back(std::move(co));
  }
  AnyArray ds;
  // Descending by client, the order Yjs writes delete sets in.
  for (auto it = u.delete_set.clients.rbegin(); it != u.delete_set.clients.rend(); ++it) {
    AnyArray ranges;
    for (const crdt::DeleteItem& d : it->second) {
      ranges.emplace_back(
          AnyArray{Any(static_cast<double>(d.clock)), Any(static_cast<double>(d.len))});
    }
    AnyObject o;
    o.emplace_back("client", Any(static_cast<double>(it->first)));
    o.emplace_back("ranges", std::move(ranges));
    ds.emplace_back(std::move(o));
  }
  AnyObject root;
  root.emplace_back("format", v2 ? "v2" : "v1");
  root.emplace_back("clients", std::move(clients));
  root.emplace_back("delete_set", std::move(ds));
  return crdt::lib0::to_json(Any(std::move(root))) + "\n";
}

std::string as_text(const crdt::UpdateInspection& u, bool v2) {
  std::size_t ranges = 0;
  for (const auto& [client, items] : u.delete_set.clients) ranges += items.size();
  std::string out = "update (format " + std::string(v2 ? "v2" : "v1") + "): " +
                    std::to_string(u.clients.size()) + " clients, " +
                    std::to_string(count_structs(u)) + " structs, delete set of " +
                    std::to_string(u.delete_set.clients.size()) + " clients / " +
                    std::to_string(ranges) + " ranges\n";
  for (const crdt::InspectedClient& c : u.clients) {
    std::uint64_t first = c.structs.empty() ? 0 : c.structs.front().id.clock;
    std::uint64_t end = c.structs.empty() ? 0 : c.structs.back().id.clock + c.structs.back().length;
    out += "client " + std::to_string(c.client) + ": " + std::to_string(c.structs.size()) +
           " structs, clocks [" + std::to_string(first) + ", " + std::to_string(end) + ")\n";
    for (const InspectedStruct& s : c.structs) {
      out += "  " + id_text(s.id) + " len " + std::to_string(s.length);
      if (s.kind != InspectedStruct::Kind::kItem) {
        out += s.kind == InspectedStruct::Kind::kGC ? "  GC\n" : "  Skip\n";
        continue;
      }
      out += "  " + s.content_kind;
      if (s.parent_root) out += "  parent \"" + *s.parent_root + "\"";
      if (s.parent_id) out += "  parent " + id_text(*s.parent_id);
      if (s.parent_sub) out += "  key \"" + *s.parent_sub + "\"";
      if (s.origin) out += "  origin " + id_text(*s.origin);
      if (s.right_origin) out += "  right " + id_text(*s.right_origin);
      if (!s.content_preview.empty()) out += "  " + s.content_preview;
      out += "\n";
    }
  }
  out += "delete set:";
  if (u.delete_set.clients.empty()) out += " empty";
  out += "\n";
  for (auto it = u.delete_set.clients.rbegin(); it != u.delete_set.clients.rend(); ++it) {
    out += "  " + std::to_string(it->first) + ":";
    for (const crdt::DeleteItem& d : it->second) {
      out += " [" + std::to_string(d.clock) + ", " + std::to_string(d.clock + d.len) + ")";
    }
    out += "\n";
  }
  return out;
}

}  // namespace

void run_inspect(const UpdateArgs& a) {
  const std::string& file = a.files.front();
  const std::vector<std::uint8_t> bytes = read_input(file);
  Result<crdt::UpdateInspection> r = a.v2 ? crdt::inspect_update_v2(bytes) : crdt::inspect_update(bytes);
  if (!r) bad_input(file, describe(r.error()));
  Output(a.output).write(a.json ? as_json(*r, a.v2) : as_text(*r, a.v2));
}

}  // namespace corates::app
