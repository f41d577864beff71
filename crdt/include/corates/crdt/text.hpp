#pragma once
// Y.Text (yjs/src/types/YText.js): rich text as a sequence of strings, embeds
// and nested types, with formatting attributes stored as format items.
//
// Positions and lengths count UTF-16 code units, as Yjs does. Strings go in
// and out as UTF-8; an edit that splits a surrogate pair turns both halves
// into U+FFFD, as Yjs does. Invalid UTF-8 passed in is replaced by U+FFFD
// (what TextEncoder does with a lone surrogate in JS).
//
// Formatting follows Yjs exactly, including which format items are inserted,
// negated and cleaned up (locally after each edit, and after remote
// transactions on formatted text), so encodings stay byte-identical to Yjs's.
// Attribute values are JS values (lib0::Any); a null value removes an
// attribute. Attribute objects are read in JS property order (integer-like
// keys first). Object values compare as Yjs does: by identity, with a flat
// member comparison for equalAttrs.
//
// Mutations take the open Transaction; the overloads without one open their
// own. Like Yjs, edits never fail: an index beyond the end is clamped
// (insert appends, delete removes what exists, format past the end adds
// newlines as Yjs does for Quill).
//
// Cost: insert/remove without attributes use search markers (close to O(1)
// for edits near recent positions); format, attributed inserts and delta
// application walk from the start (O(items)), as Yjs does. to_string and
// to_delta are O(items).
// Thread-safety: none (see doc.hpp).

#include "corates/crdt/abstract_type.hpp"
#include "corates/crdt/lib0/any.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace corates::crdt {

struct Snapshot;
namespace detail {
struct TextAccess;
}

// Formatting attributes: a JS object (name -> value; null removes).
using TextAttributes = lib0::AnyObject;

// One Quill delta operation. Output of to_delta / TextEvent::text_delta and
// input of apply_delta.
struct TextDeltaOp {
  enum class Kind : std::uint8_t { kInsert, kRetain, kDelete };
  Kind kind = Kind::kInsert;
  // kInsert: a string, an embed (JSON value) or a nested type. apply_delta
  // also accepts NewType (creates an empty nested type).
  std::variant<std::string, lib0::Any, AbstractType*, NewType> insert;
  std::uint64_t count = 0;  // kRetain / kDelete: UTF-16 code units
  std::optional<TextAttributes> attributes;

  static TextDeltaOp text(std::string s, std::optional<TextAttributes> attrs = std::nullopt);
  static TextDeltaOp embed(lib0::Any e, std::optional<TextAttributes> attrs = std::nullopt);
  static TextDeltaOp retain(std::uint64_t n, std::optional<TextAttributes> attrs = std::nullopt);
  static TextDeltaOp remove(std::uint64_t n);
};
using TextDelta = std::vector<TextDeltaOp>;

// The delta as JSON, as JSON.stringify(ytext.toDelta()) would see it (nested
// types as their to_json()).
lib0::Any delta_to_json(const TextDelta& delta);
// Reads a delta from its JSON form ([{insert|retain|delete, attributes?}]).
// kInvalidValue if an op is not one of the three forms.
Result<TextDelta> delta_from_json(const lib0::Any& json);

// Yjs's computeYChange for to_delta with snapshots: the value of the
// `ychange` attribute for an item that was removed (true) or added (false).
using YChangeFn = std::function<lib0::Any(bool removed, ID id)>;

class Text : public AbstractType {
 public:
  static constexpr std::uint8_t kTypeRef = static_cast<std::uint8_t>(TypeRef::kText);
  Text();

  std::uint8_t type_ref() const noexcept override { return kTypeRef; }
  std::unique_ptr<AbstractType> copy_empty() const override { return std::make_unique<Text>(); }
  lib0::Any to_json() const override;  // the string, as Yjs
  void call_observer(Transaction& tr, const std::set<const std::string*>& subs) override;

  // Inserts `text` with the formatting found at `index` (Yjs: attributes omitted).
  void insert(Transaction& tr, std::uint64_t index, std::string_view text);
  // Inserts `text` with exactly `attributes` (other formatting at the
  // position is negated; {} inserts unformatted text).
  void insert(Transaction& tr, std::uint64_t index, std::string_view text,
              const TextAttributes& attributes);
  void insert(std::uint64_t index, std::string_view text);
  void insert(std::uint64_t index, std::string_view text, const TextAttributes& attributes);
  // Inserts an embed (length 1). Embeds never inherit formatting.
  void insert_embed(Transaction& tr, std::uint64_t index, const lib0::Any& embed,
                    const std::optional<TextAttributes>& attributes = std::nullopt);
  void insert_embed(std::uint64_t index, const lib0::Any& embed,
                    const std::optional<TextAttributes>& attributes = std::nullopt);
  // Inserts a new empty nested type as an embed and returns it.
  AbstractType* insert_embed_type(Transaction& tr, std::uint64_t index, NewType type,
                                  const std::optional<TextAttributes>& attributes = std::nullopt);
  template <class T>
  T* insert_embed_type(Transaction& tr, std::uint64_t index, std::string name = {},
                       const std::optional<TextAttributes>& attributes = std::nullopt) {
    return dynamic_cast<T*>(
        insert_embed_type(tr, index, NewType{T::kTypeRef, std::move(name)}, attributes));
  }
  // Yjs's delete(index, length).
  void remove(Transaction& tr, std::uint64_t index, std::uint64_t length);
  void remove(std::uint64_t index, std::uint64_t length);
  // Sets (or, with null values, removes) attributes on a range.
  void format(Transaction& tr, std::uint64_t index, std::uint64_t length,
              const TextAttributes& attributes);
  void format(std::uint64_t index, std::uint64_t length, const TextAttributes& attributes);
  // Yjs's applyDelta (sanitize as Yjs: only with sanitize=false is a final
  // "\n" of the last insert dropped when it lands at the end).
  void apply_delta(Transaction& tr, const TextDelta& delta, bool sanitize = true);
  void apply_delta(const TextDelta& delta, bool sanitize = true);

  // The text without formatting (strings only; embeds are left out).
  // XmlText overrides it (formatting as tags), as in Yjs.
  virtual std::string to_string() const;
  // The content as a Quill delta of inserts.
  TextDelta to_delta() const;
  // Yjs's toDelta(snapshot, prevSnapshot, computeYChange): content visible in
  // `snapshot` (or the current state if null), marking with a `ychange`
  // attribute what `prev_snapshot` lacks / what `snapshot` removed. Splits
  // structs at the snapshots' boundaries inside a transaction, as Yjs does.
  TextDelta to_delta(const Snapshot* snapshot, const Snapshot* prev_snapshot = nullptr,
                     const YChangeFn& compute_ychange = nullptr);

  // Attributes of the whole text (Yjs's setAttribute etc.: map entries).
  void set_attribute(Transaction& tr, std::string_view name, const lib0::Any& value);
  void set_attribute(std::string_view name, const lib0::Any& value);
  void remove_attribute(Transaction& tr, std::string_view name);
  void remove_attribute(std::string_view name);
  std::optional<Value> get_attribute(std::string_view name) const;
  std::vector<std::pair<std::string, Value>> get_attributes() const;

 private:
  friend struct detail::TextAccess;
  // JS object identity of format values (see src/types/text_attrs.hpp): a
  // format item created from another item's value shares its identity.
  std::unordered_map<ID, ID> format_identity_;
  std::uint64_t next_user_identity_ = 0;
};

// Yjs's YTextEvent: adds the text delta of the change.
class TextEvent : public YEvent {
 public:
  TextEvent(Text* target, Transaction& tr, std::set<const std::string*> subs);
  // Yjs's event.delta for text (computed on first use). Like Yjs, computing it
  // deletes redundant format items of this transaction (in a new transaction).
  const TextDelta& text_delta() const;

 private:
  mutable std::optional<TextDelta> text_delta_;
};

// Yjs's cleanupYTextFormatting: removes redundant format items of `text` in
// one transaction; returns how many were removed.
std::uint64_t cleanup_text_formatting(Text& text);

// Registers Text with the type registry (type ref 2).
void register_text_types();

}  // namespace corates::crdt
