// The XML shared types (yjs/src/types/YXmlFragment.js, YXmlElement.js,
// YXmlText.js, YXmlHook.js).
#include "corates/crdt/xml.hpp"

#include "corates/crdt/doc.hpp"
#include "corates/crdt/transaction.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

namespace corates::crdt {

namespace {

// UTF-16 code units of a UTF-8 string (input is valid UTF-8).
std::u16string to_utf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    char32_t cp = 0;
    std::size_t n = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 0x6 && i + 1 < s.size()) {
      cp = (c & 0x1Fu) << 6 | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      n = 2;
    } else if ((c >> 4) == 0xE && i + 2 < s.size()) {
      cp = (c & 0x0Fu) << 12 | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6 |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      n = 3;
    } else if ((c >> 3) == 0x1E && i + 3 < s.size()) {
      cp = (c & 0x07u) << 18 | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12 |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6 |
           (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
      n = 4;
    } else {
      cp = 0xFFFD;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += n;
  }
  return out;
}

// JS's `a < b` on strings (UTF-16 code unit order).
bool js_less(std::string_view a, std::string_view b) { return to_utf16(a) < to_utf16(b); }

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// toLocaleLowerCase for the scripts node names use in practice.
std::string lower_case(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const std::u16string u = to_utf16(s);
  for (std::size_t i = 0; i < u.size(); ++i) {
    char32_t c = u[i];
    if (c >= 0xD800 && c <= 0xDBFF && i + 1 < u.size()) {
      c = 0x10000 + ((c - 0xD800) << 10) + (u[i + 1] - 0xDC00);
      ++i;
    } else if (c >= 'A' && c <= 'Z') {
      c += 32;
    } else if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) ||
               (c >= 0x410 && c <= 0x42F)) {
      c += 32;
    } else if (c >= 0x400 && c <= 0x40F) {
      c += 80;
    }
    append_utf8(out, c);
  }
  return out;
}

std::string js_number(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return lib0::to_json(lib0::Any(d));
}

// A JS string's `for (key in s)`: one entry per UTF-16 code unit; a lone
// surrogate half prints as U+FFFD once encoded.
std::vector<std::pair<std::string, std::string>> string_members(std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::u16string u = to_utf16(s);
  for (std::size_t i = 0; i < u.size(); ++i) {
    std::string v;
    const char16_t c = u[i];
    append_utf8(v, (c >= 0xD800 && c <= 0xDFFF) ? char32_t{0xFFFD} : char32_t{c});
    out.emplace_back(std::to_string(i), std::move(v));
  }
  return out;
}

// `for (key in value)` with value[key] printed by String().
std::vector<std::pair<std::string, std::string>> js_members(const lib0::Any& v) {
  std::vector<std::pair<std::string, std::string>> out;
  if (const auto* o = v.get_if<lib0::AnyObject>()) {
    for (const auto& [k, m] : *o) out.emplace_back(k, js_string(m));
  } else if (const auto* a = v.get_if<lib0::AnyArray>()) {
    for (std::size_t i = 0; i < a->size(); ++i) out.emplace_back(std::to_string(i), js_string((*a)[i]));
  } else if (const auto* b = v.get_if<lib0::Bytes>()) {
    for (std::size_t i = 0; i < b->size(); ++i) out.emplace_back(std::to_string(i), std::to_string((*b)[i]));
  } else if (const auto* s = v.get_if<std::string>()) {
    out = string_members(*s);
  }
  return out;
}

XmlNode::Kind kind_of(const XmlNode& n) { return n.kind; }

NewType new_type_for(const XmlNode& n) {
  switch (kind_of(n)) {
    case XmlNode::Kind::kElement:
      return NewType{XmlElement::kTypeRef, n.name};
    case XmlNode::Kind::kText:
      return NewType{XmlText::kTypeRef, {}};
    case XmlNode::Kind::kHook:
      return NewType{XmlHook::kTypeRef, n.name};
  }
  return NewType{};
}

void fill_node(Transaction& tr, AbstractType* t, const XmlNode& n);

// Yjs's typeListInsertGenericsAfter for prelim nodes: each node is created
// and filled before the next one gets its ID.
std::vector<AbstractType*> insert_nodes_after(Transaction& tr, AbstractType& parent, Item* left,
                                              std::span<const XmlNode> nodes) {
  std::vector<AbstractType*> created;
  created.reserve(nodes.size());
  for (const XmlNode& n : nodes) {
    const ID id = tr.next_id();
    const InsertValue v{new_type_for(n)};
    type_list_insert_generics_after(tr, parent, left, std::span<const InsertValue>(&v, 1));
    auto* item = static_cast<Item*>(tr.doc().store().find(id));
    AbstractType* t = std::get<ContentType>(item->content).type;
    fill_node(tr, t, n);
    created.push_back(t);
    left = item;
  }
  return created;
}

// Yjs's prelim Map semantics: a repeated key keeps its first position and
// takes the last value.
std::vector<std::pair<std::string_view, const lib0::Any*>> map_order(const lib0::AnyObject& o) {
  std::vector<std::pair<std::string_view, const lib0::Any*>> out;
  for (const auto& entry : o) {
    const std::string& key = entry.first;
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == key; });
    if (it == out.end()) {
      out.emplace_back(key, &entry.second);
    } else {
      it->second = &entry.second;
    }
  }
  return out;
}

void fill_node(Transaction& tr, AbstractType* t, const XmlNode& n) {
  switch (n.kind) {
    case XmlNode::Kind::kElement: {
      // Yjs's YXmlElement._integrate: children first, then attributes.
      if (!n.children.empty()) insert_nodes_after(tr, *t, nullptr, n.children);
      for (const auto& [k, v] : map_order(n.attributes)) type_map_set(tr, *t, k, InsertValue{*v});
      break;
    }
    case XmlNode::Kind::kText: {
      auto* text = static_cast<Text*>(t);
      if (!n.text.empty()) text->insert(tr, 0, n.text);
      if (!n.delta.empty()) text->apply_delta(tr, n.delta);
      break;
    }
    case XmlNode::Kind::kHook:
      for (const auto& [k, v] : map_order(n.entries)) type_map_set(tr, *t, k, InsertValue{*v});
      break;
  }
}

AbstractType* sibling(const AbstractType& t, bool next) {
  const Item* item = t.item();
  if (item == nullptr) return nullptr;
  const Item* n = next ? item->next() : item->prev();
  if (n == nullptr) return nullptr;
  const auto* c = std::get_if<ContentType>(&n->content);
  return c != nullptr ? c->type : nullptr;
}

void collect_elements(const AbstractType& t, std::string_view lower_name,
                      std::vector<XmlElement*>& out, bool first_only) {
  for (const Item* n = t.start_; n != nullptr; n = n->right) {
    if (n->deleted()) continue;
    const auto* c = std::get_if<ContentType>(&n->content);
    if (c == nullptr || c->type == nullptr) continue;
    if (auto* e = dynamic_cast<XmlElement*>(c->type)) {
      if (lower_case(e->node_name()) == lower_name) {
        out.push_back(e);
        if (first_only) return;
      }
    }
    if (dynamic_cast<XmlFragment*>(c->type) != nullptr) {
      collect_elements(*c->type, lower_name, out, first_only);
      if (first_only && !out.empty()) return;
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------

XmlNode XmlNode::element(std::string name, lib0::AnyObject attributes, std::vector<XmlNode> children) {
  XmlNode n;
  n.kind = Kind::kElement;
  n.name = std::move(name);
  n.attributes = std::move(attributes);
  n.children = std::move(children);
  return n;
}

XmlNode XmlNode::text_node(std::string text, TextDelta delta) {
  XmlNode n;
  n.kind = Kind::kText;
  n.text = std::move(text);
  n.delta = std::move(delta);
  return n;
}

XmlNode XmlNode::hook(std::string name, lib0::AnyObject entries) {
  XmlNode n;
  n.kind = Kind::kHook;
  n.name = std::move(name);
  n.entries = std::move(entries);
  return n;
}

std::string js_string(const lib0::Any& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, lib0::Undefined>) {
          return "undefined";
        } else if constexpr (std::is_same_v<T, lib0::Null>) {
          return "null";
        } else if constexpr (std::is_same_v<T, bool>) {
          return x ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          return js_number(x);
        } else if constexpr (std::is_same_v<T, lib0::BigInt>) {
          return std::to_string(x.value);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return x;
        } else if constexpr (std::is_same_v<T, lib0::Bytes>) {
          std::string s;
          for (std::size_t i = 0; i < x.size(); ++i) {
            if (i > 0) s += ',';
            s += std::to_string(x[i]);
          }
          return s;
        } else if constexpr (std::is_same_v<T, lib0::AnyArray>) {
          // Array.prototype.join: null and undefined print as "".
          std::string s;
          for (std::size_t i = 0; i < x.size(); ++i) {
            if (i > 0) s += ',';
            if (!x[i].template is<lib0::Null>() && !x[i].template is<lib0::Undefined>()) {
              s += js_string(x[i]);
            }
          }
          return s;
        } else {
          return "[object Object]";
        }
      },
      v.value());
}

std::string js_string(const Value& v) {
  if (const auto* a = std::get_if<lib0::Any>(&v)) return js_string(*a);
  if (const auto* tp = std::get_if<AbstractType*>(&v)) {
    const AbstractType* t = *tp;
    if (const auto* xt = dynamic_cast<const XmlText*>(t)) return xt->to_string();
    if (const auto* tx = dynamic_cast<const Text*>(t)) return tx->to_string();
    if (const auto* e = dynamic_cast<const XmlElement*>(t)) return e->to_string();
    if (const auto* f = dynamic_cast<const XmlFragment*>(t)) return f->to_string();
  }
  return "[object Object]";
}

// --- XmlFragment -----------------------------------------------------------------

Result<std::vector<AbstractType*>> XmlFragment::insert(Transaction& tr, std::uint64_t index,
                                                       std::span<const XmlNode> nodes) {
  if (index > length_) return Error{ErrorCode::kInvalidArgument, "xml insert: index beyond length"};
  if (nodes.empty()) return std::vector<AbstractType*>{};
  // The first node goes where Yjs's typeListInsertGenerics puts it; the others follow it.
  const ID id = tr.next_id();
  const InsertValue v{new_type_for(nodes[0])};
  auto r = type_list_insert_generics(tr, *this, index, std::span<const InsertValue>(&v, 1));
  if (!r) return r.error();
  auto* item = static_cast<Item*>(tr.doc().store().find(id));
  AbstractType* first = std::get<ContentType>(item->content).type;
  fill_node(tr, first, nodes[0]);
  std::vector<AbstractType*> created{first};
  auto rest = insert_nodes_after(tr, *this, item, nodes.subspan(1));
  created.insert(created.end(), rest.begin(), rest.end());
  return created;
}

Result<std::vector<AbstractType*>> XmlFragment::insert(std::uint64_t index,
                                                       std::initializer_list<XmlNode> nodes) {
  Result<std::vector<AbstractType*>> out = std::vector<AbstractType*>{};
  doc_->transact([&](Transaction& tr) {
    out = insert(tr, index, std::span<const XmlNode>(nodes.begin(), nodes.size()));
  });
  return out;
}

Result<std::vector<AbstractType*>> XmlFragment::insert_after(Transaction& tr, const AbstractType* ref,
                                                             std::span<const XmlNode> nodes) {
  Item* left = nullptr;
  if (ref != nullptr) {
    left = ref->item();
    if (left == nullptr || left->parent != this) {
      return Error{ErrorCode::kInvalidArgument, "xml insert_after: reference is not a child"};
    }
  }
  return insert_nodes_after(tr, *this, left, nodes);
}

Result<std::vector<AbstractType*>> XmlFragment::insert_after(const AbstractType* ref,
                                                             std::initializer_list<XmlNode> nodes) {
  Result<std::vector<AbstractType*>> out = std::vector<AbstractType*>{};
  doc_->transact([&](Transaction& tr) {
    out = insert_after(tr, ref, std::span<const XmlNode>(nodes.begin(), nodes.size()));
  });
  return out;
}

XmlElement* XmlFragment::insert_element(Transaction& tr, std::uint64_t index, std::string node_name) {
  const XmlNode n = XmlNode::element(std::move(node_name));
  auto r = insert(tr, index, std::span<const XmlNode>(&n, 1));
  return r && !r->empty() ? static_cast<XmlElement*>(r->front()) : nullptr;
}

XmlText* XmlFragment::insert_text(Transaction& tr, std::uint64_t index) {
  const XmlNode n = XmlNode::text_node({});
  auto r = insert(tr, index, std::span<const XmlNode>(&n, 1));
  return r && !r->empty() ? static_cast<XmlText*>(r->front()) : nullptr;
}

void XmlFragment::push(Transaction& tr, std::span<const XmlNode> nodes) {
  (void)insert(tr, length_, nodes);
}

Result<void> XmlFragment::remove(Transaction& tr, std::uint64_t index, std::uint64_t length) {
  return type_list_delete(tr, *this, index, length);
}

Result<void> XmlFragment::remove(std::uint64_t index, std::uint64_t length) {
  Result<void> out;
  doc_->transact([&](Transaction& tr) { out = remove(tr, index, length); });
  return out;
}

std::optional<Value> XmlFragment::get(std::uint64_t index) { return type_list_get(*this, index); }

std::optional<Value> XmlFragment::first_child() const {
  const Item* f = first();
  if (f == nullptr) return std::nullopt;
  std::vector<Value> values;
  item_values(*f, values);
  if (values.empty()) return std::nullopt;
  return values.front();
}

std::vector<XmlElement*> XmlFragment::query_selector_all(std::string_view name) const {
  std::vector<XmlElement*> out;
  collect_elements(*this, lower_case(name), out, false);
  return out;
}

XmlElement* XmlFragment::query_selector(std::string_view name) const {
  std::vector<XmlElement*> out;
  collect_elements(*this, lower_case(name), out, true);
  return out.empty() ? nullptr : out.front();
}

std::string XmlFragment::to_string() const {
  std::string out;
  for (const Value& v : type_list_to_array(*this)) out += js_string(v);
  return out;
}

// --- XmlElement ------------------------------------------------------------------

void XmlElement::set_attribute(Transaction& tr, std::string_view name, const lib0::Any& value) {
  type_map_set(tr, *this, name, InsertValue{value});
}
void XmlElement::set_attribute(std::string_view name, const lib0::Any& value) {
  doc_->transact([&](Transaction& tr) { set_attribute(tr, name, value); });
}
void XmlElement::remove_attribute(Transaction& tr, std::string_view name) {
  type_map_delete(tr, *this, name);
}
void XmlElement::remove_attribute(std::string_view name) {
  doc_->transact([&](Transaction& tr) { remove_attribute(tr, name); });
}
std::optional<Value> XmlElement::get_attribute(std::string_view name) const {
  return type_map_get(*this, name);
}
bool XmlElement::has_attribute(std::string_view name) const { return type_map_has(*this, name); }
std::vector<std::pair<std::string, Value>> XmlElement::get_attributes() const {
  return type_map_get_all(*this);
}
AbstractType* XmlElement::next_sibling() const { return sibling(*this, true); }
AbstractType* XmlElement::prev_sibling() const { return sibling(*this, false); }

std::string XmlElement::to_string() const {
  auto attrs = get_attributes();
  std::sort(attrs.begin(), attrs.end(),
            [](const auto& a, const auto& b) { return js_less(a.first, b.first); });
  const std::string name = lower_case(node_name_);
  std::string out = "<" + name;
  for (const auto& [k, v] : attrs) {
    out += ' ';
    out += k;
    out += "=\"";
    out += js_string(v);
    out += '"';
  }
  out += '>';
  out += XmlFragment::to_string();
  out += "</" + name + ">";
  return out;
}

// --- XmlText -------------------------------------------------------------------

AbstractType* XmlText::next_sibling() const { return sibling(*this, true); }
AbstractType* XmlText::prev_sibling() const { return sibling(*this, false); }

std::string XmlText::to_string() const {
  std::string out;
  for (const TextDeltaOp& op : to_delta()) {
    struct Node {
      std::string name;
      std::vector<std::pair<std::string, std::string>> attrs;
    };
    std::vector<Node> nodes;
    if (op.attributes) {
      for (const auto& [name, value] : *op.attributes) {
        Node n{name, js_members(value)};
        std::sort(n.attrs.begin(), n.attrs.end(),
                  [](const auto& a, const auto& b) { return js_less(a.first, b.first); });
        nodes.push_back(std::move(n));
      }
    }
    std::sort(nodes.begin(), nodes.end(),
              [](const Node& a, const Node& b) { return js_less(a.name, b.name); });
    for (const Node& n : nodes) {
      out += '<';
      out += n.name;
      for (const auto& [k, v] : n.attrs) {
        out += ' ';
        out += k;
        out += "=\"";
        out += v;
        out += '"';
      }
      out += '>';
    }
    if (const auto* s = std::get_if<std::string>(&op.insert)) {
      out += *s;
    } else if (const auto* e = std::get_if<lib0::Any>(&op.insert)) {
      out += js_string(*e);
    } else if (auto* const* t = std::get_if<AbstractType*>(&op.insert)) {
      out += js_string(Value{*t});
    }
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
      out += "</";
      out += it->name;
      out += '>';
    }
  }
  return out;
}

// --- Registration --------------------------------------------------------------

void register_xml_types() {
  register_type_factory(XmlElement::kTypeRef, [](std::string_view name) -> std::unique_ptr<AbstractType> {
    return std::make_unique<XmlElement>(std::string(name));
  });
  register_type_factory(XmlFragment::kTypeRef, [](std::string_view) -> std::unique_ptr<AbstractType> {
    return std::make_unique<XmlFragment>();
  });
  register_type_factory(XmlHook::kTypeRef, [](std::string_view name) -> std::unique_ptr<AbstractType> {
    return std::make_unique<XmlHook>(std::string(name));
  });
  register_type_factory(XmlText::kTypeRef, [](std::string_view) -> std::unique_ptr<AbstractType> {
    return std::make_unique<XmlText>();
  });
}

}  // namespace corates::crdt
