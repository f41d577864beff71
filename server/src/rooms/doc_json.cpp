#include "corates/server/doc_json.hpp"

#include "corates/crdt/array.hpp"
#include "corates/crdt/content.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/map.hpp"
#include "corates/crdt/structs.hpp"
#include "corates/crdt/text.hpp"
#include "corates/crdt/xml.hpp"

#include <optional>
#include <vector>

namespace corates::server {
namespace {

enum class Kind { kText, kArray, kMap, kXml };

// Map if only keyed items; text if only strings/formats/embeds (or nothing
// readable is left); xml if only xml children; array otherwise.
std::optional<Kind> infer(const crdt::AbstractType& t) {
  bool any_item = false, readable = false, text_only = true, xml_only = true;
  for (const crdt::Item* i = t.start_; i != nullptr; i = i->right) {
    any_item = true;
    const auto ref = crdt::content_ref(i->content);
    if (ref == crdt::ContentRef::kDeleted) continue;
    readable = true;
    if (ref == crdt::ContentRef::kString || ref == crdt::ContentRef::kFormat || ref == crdt::ContentRef::kEmbed) {
      xml_only = false;
    } else if (ref == crdt::ContentRef::kType) {
      text_only = false;
      const auto tr = static_cast<crdt::TypeRef>(std::get<crdt::ContentType>(i->content).type_ref);
      if (tr != crdt::TypeRef::kXmlElement && tr != crdt::TypeRef::kXmlText) xml_only = false;
    } else {
      text_only = false;
      xml_only = false;
    }
  }
  if (!any_item) return t.map_.empty() ? std::nullopt : std::optional<Kind>(Kind::kMap);
  if (!readable || text_only) return Kind::kText;
  if (xml_only) return Kind::kXml;
  return Kind::kArray;
}

}  // namespace

Result<std::string> doc_to_json(const crdt::Doc& live) {
  crdt::Doc doc;
  if (auto r = crdt::apply_update(doc, crdt::encode_state_as_update(live)); !r) return r.error();
  std::vector<std::string> names;
  for (const auto& [name, type] : doc.shares()) names.push_back(*name);
  crdt::lib0::AnyObject out;
  for (const std::string& name : names) {
    const crdt::AbstractType* t = doc.find_share(name);
    auto kind = t ? infer(*t) : std::nullopt;
    if (!kind) continue;
    crdt::lib0::Any value;
    switch (*kind) {
      case Kind::kMap:
        if (auto* m = doc.try_get<crdt::Map>(name)) value = m->to_json();
        break;
      case Kind::kArray:
        if (auto* a = doc.try_get<crdt::Array>(name)) value = a->to_json();
        break;
      case Kind::kText:
        if (auto* x = doc.try_get<crdt::Text>(name)) value = crdt::lib0::Any(x->to_string());
        break;
      case Kind::kXml:
        if (auto* x = doc.try_get<crdt::XmlFragment>(name)) value = crdt::lib0::Any(x->to_string());
        break;
    }
    out.emplace_back(name, std::move(value));
  }
  return crdt::lib0::to_json(crdt::lib0::Any(std::move(out)));
}

}  // namespace corates::server
