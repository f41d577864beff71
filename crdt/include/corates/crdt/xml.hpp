#pragma once
// The XML shared types of Yjs (yjs/src/types/YXml*.js):
//  - XmlFragment: a list of XML nodes (type ref 4);
//  - XmlElement: an XmlFragment with a node name and attributes (ref 3);
//  - XmlText: a Text rendered with its formatting as tags (ref 6);
//  - XmlHook: a Map with a hook name (ref 5).
//
// Nodes are inserted from XmlNode descriptions (Yjs's prelim types): each
// node is created and then filled, in Yjs's order (an element's children
// before its attributes), so the items and their clocks match Yjs's.
//
// to_string follows Yjs exactly: attributes sorted by name (UTF-16 order),
// values printed as JS's String() would, node names lower-cased (ASCII,
// Latin-1, Greek and Cyrillic letters; Yjs uses toLocaleLowerCase).
//
// Mutations take the open Transaction; the overloads without one open their
// own. Errors: kInvalidArgument for an index beyond the length or a
// reference node that is not a child.
// Cost: positional operations walk the children (XML types have no search
// markers in Yjs); to_string is O(size of the tree).
// Thread-safety: none (see doc.hpp).

#include "corates/crdt/abstract_type.hpp"
#include "corates/crdt/map.hpp"
#include "corates/crdt/text.hpp"

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace corates::crdt {

class XmlElement;
class XmlText;

// A node to insert, with its content.
struct XmlNode {
  enum class Kind : std::uint8_t { kElement, kText, kHook };
  Kind kind = Kind::kElement;
  std::string name;               // element node name / hook name
  lib0::AnyObject attributes;     // element attributes (set after the children)
  std::vector<XmlNode> children;  // element children
  std::string text;               // text: inserted first, inheriting no format
  TextDelta delta;                // text: applied after `text`
  lib0::AnyObject entries;        // hook: map entries

  static XmlNode element(std::string name, lib0::AnyObject attributes = {},
                         std::vector<XmlNode> children = {});
  static XmlNode text_node(std::string text, TextDelta delta = {});
  static XmlNode hook(std::string name, lib0::AnyObject entries = {});
};

class XmlFragment : public AbstractType {
 public:
  static constexpr std::uint8_t kTypeRef = static_cast<std::uint8_t>(TypeRef::kXmlFragment);

  std::uint8_t type_ref() const noexcept override { return kTypeRef; }
  std::unique_ptr<AbstractType> copy_empty() const override {
    return std::make_unique<XmlFragment>();
  }
  lib0::Any to_json() const override { return to_string(); }

  // Inserts nodes at `index`; returns the created nodes.
  Result<std::vector<AbstractType*>> insert(Transaction& tr, std::uint64_t index,
                                            std::span<const XmlNode> nodes);
  Result<std::vector<AbstractType*>> insert(std::uint64_t index, std::initializer_list<XmlNode> nodes);
  // Inserts nodes after the child `ref` (null: at the start).
  Result<std::vector<AbstractType*>> insert_after(Transaction& tr, const AbstractType* ref,
                                                  std::span<const XmlNode> nodes);
  Result<std::vector<AbstractType*>> insert_after(const AbstractType* ref,
                                                  std::initializer_list<XmlNode> nodes);
  // Convenience: one empty element / text node.
  XmlElement* insert_element(Transaction& tr, std::uint64_t index, std::string node_name);
  XmlText* insert_text(Transaction& tr, std::uint64_t index);
  void push(Transaction& tr, std::span<const XmlNode> nodes);
  // Yjs's delete(index, length).
  Result<void> remove(Transaction& tr, std::uint64_t index, std::uint64_t length = 1);
  Result<void> remove(std::uint64_t index, std::uint64_t length = 1);

  std::optional<Value> get(std::uint64_t index);
  std::vector<Value> to_array() const { return type_list_to_array(*this); }
  std::vector<Value> slice(std::uint64_t start, std::uint64_t end) const {
    return type_list_slice(*this, start, end);
  }
  std::optional<Value> first_child() const;
  // Descendant elements named `name` (case-insensitive), in document order
  // (Yjs's querySelectorAll with a node name).
  std::vector<XmlElement*> query_selector_all(std::string_view name) const;
  XmlElement* query_selector(std::string_view name) const;

  // The children's to_string, concatenated.
  virtual std::string to_string() const;
};

class XmlElement : public XmlFragment {
 public:
  static constexpr std::uint8_t kTypeRef = static_cast<std::uint8_t>(TypeRef::kXmlElement);
  explicit XmlElement(std::string node_name = "UNDEFINED") : node_name_(std::move(node_name)) {}

  std::uint8_t type_ref() const noexcept override { return kTypeRef; }
  std::string_view type_name() const noexcept override { return node_name_; }
  std::unique_ptr<AbstractType> copy_empty() const override {
    return std::make_unique<XmlElement>(node_name_);
  }
  lib0::Any to_json() const override { return to_string(); }

  const std::string& node_name() const noexcept { return node_name_; }

  void set_attribute(Transaction& tr, std::string_view name, const lib0::Any& value);
  void set_attribute(std::string_view name, const lib0::Any& value);
  void remove_attribute(Transaction& tr, std::string_view name);
  void remove_attribute(std::string_view name);
  std::optional<Value> get_attribute(std::string_view name) const;
  bool has_attribute(std::string_view name) const;
  // Live attributes in Yjs's Map order.
  std::vector<std::pair<std::string, Value>> get_attributes() const;

  // Next / previous live sibling in the parent (null if none).
  AbstractType* next_sibling() const;
  AbstractType* prev_sibling() const;

  // `<name a="1" b="2">children</name>` with attributes sorted by name.
  std::string to_string() const override;

 private:
  std::string node_name_;
};

class XmlText : public Text {
 public:
  static constexpr std::uint8_t kTypeRef = static_cast<std::uint8_t>(TypeRef::kXmlText);

  std::uint8_t type_ref() const noexcept override { return kTypeRef; }
  std::unique_ptr<AbstractType> copy_empty() const override { return std::make_unique<XmlText>(); }
  lib0::Any to_json() const override { return to_string(); }

  AbstractType* next_sibling() const;
  AbstractType* prev_sibling() const;

  // The delta with each attribute rendered as a tag (names sorted; an object
  // value's members as the tag's attributes), as Yjs's YXmlText.toString.
  std::string to_string() const override;
};

class XmlHook : public Map {
 public:
  static constexpr std::uint8_t kTypeRef = static_cast<std::uint8_t>(TypeRef::kXmlHook);
  explicit XmlHook(std::string hook_name = {}) : hook_name_(std::move(hook_name)) {}

  std::uint8_t type_ref() const noexcept override { return kTypeRef; }
  std::string_view type_name() const noexcept override { return hook_name_; }
  std::unique_ptr<AbstractType> copy_empty() const override {
    return std::make_unique<XmlHook>(hook_name_);
  }
  const std::string& hook_name() const noexcept { return hook_name_; }

 private:
  std::string hook_name_;
};

// String(value) as JS would print a value read from an XML type (nested
// types via their toString; other shared types and objects as
// "[object Object]").
std::string js_string(const Value& v);
std::string js_string(const lib0::Any& v);

// Registers the XML types with the type registry (refs 3, 4, 5, 6).
void register_xml_types();

}  // namespace corates::crdt
