// `update to-json`: load the updates into a fresh Doc and print one JSON object
// with one key per root type, in the order the Doc first met the roots.
//
// A root first seen in an update has no kind (Yjs keeps it as a plain
// AbstractType until someone calls doc.getText(name) etc.), so its kind comes
// from --type or is inferred from its raw content: the items that hold a key
// (parent_sub) make a map, the others a sequence whose content kinds tell
// text, xml and array apart. A root with no integrated item at all (only
// named by pending structs) is left out, as JSON.stringify(doc.toJSON()) does.
#include "cli_io.hpp"
#include "update_tools.hpp"

#include "corates/crdt/abstract_type.hpp"
#include "corates/crdt/array.hpp"
#include "corates/crdt/content.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/map.hpp"

#include "corates/crdt/text.hpp"
// Xml arrives after Text in the core; until then xml roots are reported as
// not readable (exit 1) rather than guessed.
#if __has_include("corates/crdt/xml.hpp")
#include "corates/crdt/xml.hpp"
#define CORATES_CLI_HAS_XML 1
#else
#define CORATES_CLI_HAS_XML 0
#endif

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace corates::app {
namespace {

using crdt::lib0::Any;
using crdt::lib0::AnyObject;

enum class RootKind { kText, kArray, kMap, kXml };

std::optional<RootKind> parse_kind(std::string_view s) {
  if (s == "text") return RootKind::kText;
  if (s == "array") return RootKind::kArray;
  if (s == "map") return RootKind::kMap;
  if (s == "xml") return RootKind::kXml;
  return std::nullopt;
}

std::unordered_map<std::string, RootKind> parse_types(const std::vector<std::string>& specs) {
  std::unordered_map<std::string, RootKind> out;
  for (const std::string& spec : specs) {
    const std::size_t eq = spec.rfind('=');
    std::optional<RootKind> kind;
    if (eq != std::string::npos && eq > 0) kind = parse_kind(std::string_view(spec).substr(eq + 1));
    if (!kind) bad_input("--type " + spec, "expected NAME=text|array|map|xml");
    out[spec.substr(0, eq)] = *kind;
  }
  return out;
}

// nullopt: the root holds no item at all.
std::optional<RootKind> infer_kind(const crdt::AbstractType& t) {
  bool text_only = true;  // strings, formats and embeds
  bool xml_only = true;   // XML elements and XML text
  bool readable = false;  // some item whose content kind is still known
  bool sequence = false;
  for (const crdt::Item* i = t.start_; i != nullptr; i = i->right) {
    sequence = true;
    switch (crdt::content_ref(i->content)) {
      case crdt::ContentRef::kDeleted:
        continue;  // collected: the kind is gone
      case crdt::ContentRef::kString:
      case crdt::ContentRef::kFormat:
      case crdt::ContentRef::kEmbed:
        xml_only = false;
        break;
      case crdt::ContentRef::kType: {
        text_only = false;
        const auto ref = static_cast<crdt::TypeRef>(std::get<crdt::ContentType>(i->content).type_ref);
        if (ref != crdt::TypeRef::kXmlElement && ref != crdt::TypeRef::kXmlText) xml_only = false;
        break;
      }
      default:
        text_only = false;
        xml_only = false;
        break;
    }
    readable = true;
  }
  if (!sequence) {
    if (!t.map_.empty()) return RootKind::kMap;
    return std::nullopt;
  }
  if (!readable || text_only) return RootKind::kText;
  if (xml_only) return RootKind::kXml;
  return RootKind::kArray;
}

#if !CORATES_CLI_HAS_XML
[[noreturn]] void kind_unavailable(const std::string& name, const char* kind) {
  failure("update to-json: root \"" + name + "\" is " + kind +
          ", which this build cannot read yet (the Xml types are not in the CRDT core)");
}
#endif

Any root_value(crdt::Doc& doc, const std::string& name, RootKind kind, bool delta) {
  // try_get converts the kind-less root into the requested type; it returns
  // null only if the root already has another concrete kind.
  auto mismatch = [&]() -> Any {
    failure("update to-json: root \"" + name + "\" already has another kind");
  };
  switch (kind) {
    case RootKind::kMap: {
      auto* m = doc.try_get<crdt::Map>(name);
      return m ? m->to_json() : mismatch();
    }
    case RootKind::kArray: {
      auto* a = doc.try_get<crdt::Array>(name);
      return a ? a->to_json() : mismatch();
    }
    case RootKind::kText: {
      auto* t = doc.try_get<crdt::Text>(name);
      if (!t) return mismatch();
      return delta ? crdt::delta_to_json(t->to_delta()) : Any(t->to_string());
    }
    case RootKind::kXml: {
#if CORATES_CLI_HAS_XML
      auto* x = doc.try_get<crdt::XmlFragment>(name);
      return x ? Any(x->to_string()) : mismatch();
#else
      kind_unavailable(name, "xml");
#endif
    }
  }
  return Any();
}

}  // namespace

void run_to_json(const UpdateArgs& a) {
  const auto declared = parse_types(a.types);
  crdt::DocOptions opts;
  opts.gc = !a.no_gc;
  crdt::Doc doc(opts);
  load_doc(doc, a.files, a.v2);

  // Names first: reading a root as a kind replaces its object in the Doc.
  std::vector<std::string> names;
  names.reserve(doc.shares().size());
  for (const auto& [name, type] : doc.shares()) names.push_back(*name);

  AnyObject out;
  out.reserve(names.size());
  for (const std::string& name : names) {
    std::optional<RootKind> kind;
    if (auto it = declared.find(name); it != declared.end()) {
      kind = it->second;
    } else if (const crdt::AbstractType* t = doc.find_share(name)) {
      kind = infer_kind(*t);
    }
    if (!kind) continue;
    out.emplace_back(name, root_value(doc, name, *kind, a.delta));
  }
  Output(a.output).write(crdt::lib0::to_json(Any(std::move(out))) + "\n");
}

}  // namespace corates::app
