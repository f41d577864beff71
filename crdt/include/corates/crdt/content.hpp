#pragma once
// Item content kinds (yjs/src/structs/Content*.js) as plain data, with the
// wire tags Yjs uses. Reading and writing are templates over the update
// decoders/encoders (V1 and V2), so the Doc-less `updates` module (merge,
// diff) and the Doc share one implementation (STYLE.md principle 3).
//
// The behaviour that needs a Doc (integrate, delete, gc of ContentType and
// ContentDoc) lives with Item in the Doc code; here are only the operations
// that are pure data: length, countable, splice, merge, read, write.
//
// Lengths and offsets are in UTF-16 code units for strings (as Yjs counts),
// in elements for JSON/Any, 1 for the single-value kinds.
//
// Thread-safety: plain values; no shared state.

#include "corates/common/result.hpp"
#include "corates/crdt/lib0/any.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace corates::crdt {

class AbstractType;
class Doc;

// Wire tags (info & 0x1f). 0 is GC and 10 is Skip: structs, not contents.
enum class ContentRef : std::uint8_t {
  kDeleted = 1,
  kJSON = 2,
  kBinary = 3,
  kString = 4,
  kEmbed = 5,
  kFormat = 6,
  kType = 7,
  kAny = 8,
  kDoc = 9,
};

// Type refs written by ContentType (yjs/src/structs/ContentType.js).
enum class TypeRef : std::uint8_t {
  kArray = 0,
  kMap = 1,
  kText = 2,
  kXmlElement = 3,
  kXmlFragment = 4,
  kXmlHook = 5,
  kXmlText = 6,
};
inline constexpr std::uint8_t kMaxTypeRef = 6;

struct ContentDeleted {
  std::uint64_t len = 0;
};

// Values parsed from JSON text (legacy kind; Yjs only reads it now).
struct ContentJSON {
  std::vector<lib0::Any> arr;
};

struct ContentBinary {
  lib0::Bytes content;
};

// UTF-8 text; utf16_len caches the length in UTF-16 code units.
struct ContentString {
  std::string str;
  std::uint64_t utf16_len = 0;

  ContentString() = default;
  explicit ContentString(std::string s);
  // `s` whose length in UTF-16 code units is already known to be `units`.
  ContentString(std::string s, std::uint64_t units) : str(std::move(s)), utf16_len(units) {}
  // Byte offset in `str` of the UTF-16 offset `off`. When `off` falls between
  // the two halves of a surrogate pair, returns the start of that 4-byte
  // sequence and sets *inside_pair.
  std::size_t byte_offset(std::uint64_t off, bool* inside_pair = nullptr) const noexcept;
};

struct ContentEmbed {
  lib0::Any embed;
};

struct ContentFormat {
  std::string key;
  lib0::Any value;
};

// A nested shared type. Without a Doc only the type ref and the XmlElement
// node name / XmlHook hook name exist; in a Doc `type` points at the type,
// owned by the Doc. Copying a ContentType copies the pointer (the Doc code
// creates a fresh type where Yjs's copy() would).
// The node name of a ContentType: 8 bytes instead of a std::string's 32, as
// only XmlElement and XmlHook have one.
class TypeName {
 public:
  TypeName() = default;
  TypeName(std::string s)  // NOLINT: implicit, assigned like a std::string
      : p_(s.empty() ? nullptr : std::make_unique<std::string>(std::move(s))) {}
  TypeName(const TypeName& o) : p_(o.p_ ? std::make_unique<std::string>(*o.p_) : nullptr) {}
  TypeName(TypeName&&) noexcept = default;
  TypeName& operator=(const TypeName& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<std::string>(*o.p_) : nullptr;
    return *this;
  }
  TypeName& operator=(TypeName&&) noexcept = default;
  ~TypeName() = default;
  bool empty() const noexcept { return p_ == nullptr; }
  std::string_view view() const noexcept { return p_ ? std::string_view(*p_) : std::string_view(); }
  operator std::string_view() const noexcept { return view(); }  // NOLINT

 private:
  std::unique_ptr<std::string> p_;
};

struct ContentType {
  std::uint8_t type_ref = 0;
  TypeName name;
  AbstractType* type = nullptr;
};

// A subdocument. `opts` is normalised as Yjs's ContentDoc constructor does:
// an object with, in this order, gc:false (if gc was falsy), autoLoad:true
// (if truthy) and meta (if present and not null/undefined). `should_load` is
// what Yjs's createDocFromOpts computes (shouldLoad || autoLoad).
struct ContentDoc {
  std::string guid;
  lib0::Any opts = lib0::AnyObject{};
  bool should_load = false;
  Doc* doc = nullptr;  // in a Doc: the subdocument, owned by the parent Doc
};

struct ContentAny {
  std::vector<lib0::Any> arr;
};

// A rare content kind kept on the heap, so that it does not set the size of
// every Item's content (ContentFormat is 72 bytes, ContentDoc 88; the common
// ContentString 40). Copies are deep, as for an inline value.
template <class T>
class Boxed {
 public:
  Boxed(T v) : p_(std::make_unique<T>(std::move(v))) {}  // NOLINT: implicit, as an inline alternative
  Boxed(const Boxed& o) : p_(std::make_unique<T>(*o.p_)) {}
  Boxed(Boxed&&) noexcept = default;
  Boxed& operator=(const Boxed& o) {
    if (this != &o) p_ = std::make_unique<T>(*o.p_);
    return *this;
  }
  Boxed& operator=(Boxed&&) noexcept = default;
  ~Boxed() = default;
  T& get() noexcept { return *p_; }
  const T& get() const noexcept { return *p_; }

 private:
  std::unique_ptr<T> p_;
};

// Alternative index + 1 == ContentRef. Read alternatives with content_get /
// content_get_if, which see through Boxed.
using ItemContent =
    std::variant<ContentDeleted, ContentJSON, ContentBinary, ContentString, ContentEmbed,
                 Boxed<ContentFormat>, ContentType, ContentAny, Boxed<ContentDoc>>;

namespace detail {
template <class T>
struct ContentSlot {
  using type = T;
};
template <>
struct ContentSlot<ContentFormat> {
  using type = Boxed<ContentFormat>;
};
template <>
struct ContentSlot<ContentDoc> {
  using type = Boxed<ContentDoc>;
};
template <class T>
T& unbox(T& v) noexcept {
  return v;
}
template <class T>
const T& unbox(const T& v) noexcept {
  return v;
}
template <class T>
T& unbox(Boxed<T>& v) noexcept {
  return v.get();
}
template <class T>
const T& unbox(const Boxed<T>& v) noexcept {
  return v.get();
}
}  // namespace detail

// std::get / std::get_if for a content kind, boxed or not.
template <class T>
T& content_get(ItemContent& c) {
  return detail::unbox(std::get<typename detail::ContentSlot<T>::type>(c));
}
template <class T>
const T& content_get(const ItemContent& c) {
  return detail::unbox(std::get<typename detail::ContentSlot<T>::type>(c));
}
template <class T>
T* content_get_if(ItemContent* c) noexcept {
  auto* v = std::get_if<typename detail::ContentSlot<T>::type>(c);
  return v == nullptr ? nullptr : &detail::unbox(*v);
}
template <class T>
const T* content_get_if(const ItemContent* c) noexcept {
  const auto* v = std::get_if<typename detail::ContentSlot<T>::type>(c);
  return v == nullptr ? nullptr : &detail::unbox(*v);
}

inline ContentRef content_ref(const ItemContent& c) noexcept {
  return static_cast<ContentRef>(c.index() + 1);
}
std::uint64_t content_length(const ItemContent& c) noexcept;
bool content_countable(const ItemContent& c) noexcept;
// Splits `c` at `offset` (0 < offset < length) and returns the right part,
// as Yjs's splice. Only Deleted, JSON, String and Any can be split; for the
// others it returns ContentDeleted{0} and leaves `c` alone (Yjs throws).
ItemContent content_splice(ItemContent& c, std::uint64_t offset);
// Appends `right` to `left` if both are of a mergeable kind (same kind;
// Deleted, JSON, String, Any). Returns whether it merged.
bool content_merge(ItemContent& left, const ItemContent& right);

// Truthiness of a JS value (for ContentDoc options).
bool any_truthy(const lib0::Any& v) noexcept;
// Yjs's createDocFromOpts + ContentDoc constructor applied to read options.
ContentDoc make_content_doc(std::string guid, const lib0::Any& opts);

// Reads one content of kind `info & 0x1f`. Unknown kinds (0, 10..31) set a
// kUnknownTag error on the decoder; check dec.ok() after the call.
template <class Decoder>
ItemContent read_item_content(Decoder& dec, std::uint8_t info);

// Writes `c` from `offset` on (Yjs's content.write(encoder, offset)).
template <class Encoder>
void write_item_content(Encoder& enc, const ItemContent& c, std::uint64_t offset);

// ---------------------------------------------------------------------------
// Template definitions.

template <class Decoder>
ItemContent read_item_content(Decoder& dec, std::uint8_t info) {
  switch (info & 0x1f) {
    case 1:
      return ContentDeleted{dec.read_len()};
    case 2: {
      const std::uint64_t len = dec.read_len();
      ContentJSON c;
      for (std::uint64_t i = 0; i < len && dec.ok(); ++i) {
        std::string s = dec.read_string();
        if (!dec.ok()) break;
        auto v = lib0::parse_json(s);
        if (!v) {
          dec.rest_decoder().set_error(v.error().code, "ContentJSON: " + v.error().message);
          break;
        }
        c.arr.push_back(std::move(*v));
      }
      return c;
    }
    case 3: {
      ContentBinary c;
      c.content = dec.read_buf();
      return c;
    }
    case 4:
      return dec.read_content_string();
    case 5:
      return ContentEmbed{dec.read_json()};
    case 6: {
      ContentFormat c;
      c.key = dec.read_key();
      c.value = dec.read_json();
      return c;
    }
    case 7: {
      ContentType c;
      c.type_ref = dec.read_type_ref();
      if (c.type_ref == static_cast<std::uint8_t>(TypeRef::kXmlElement) ||
          c.type_ref == static_cast<std::uint8_t>(TypeRef::kXmlHook)) {
        c.name = dec.read_key();
      } else if (c.type_ref > kMaxTypeRef && dec.ok()) {
        dec.rest_decoder().set_error(ErrorCode::kUnknownTag, "ContentType: unknown type ref");
      }
      return c;
    }
    case 8: {
      const std::uint64_t len = dec.read_len();
      ContentAny c;
      for (std::uint64_t i = 0; i < len && dec.ok(); ++i) c.arr.push_back(dec.read_any());
      return c;
    }
    case 9: {
      std::string guid = dec.read_string();
      lib0::Any opts = dec.read_any();
      return make_content_doc(std::move(guid), opts);
    }
    default:
      if (dec.ok()) dec.rest_decoder().set_error(ErrorCode::kUnknownTag, "unknown content kind");
      return ContentDeleted{0};
  }
}

template <class Encoder>
void write_item_content(Encoder& enc, const ItemContent& c, std::uint64_t offset) {
  switch (content_ref(c)) {
    case ContentRef::kDeleted:
      enc.write_len(std::get<ContentDeleted>(c).len - offset);
      break;
    case ContentRef::kJSON: {
      const auto& arr = std::get<ContentJSON>(c).arr;
      enc.write_len(arr.size() - offset);
      for (std::size_t i = offset; i < arr.size(); ++i) {
        enc.write_string(lib0::json_stringify(arr[i]));
      }
      break;
    }
    case ContentRef::kBinary:
      enc.write_buf(std::get<ContentBinary>(c).content);
      break;
    case ContentRef::kString: {
      const auto& s = std::get<ContentString>(c);
      if (offset == 0) {
        enc.write_string(s.str);
      } else {
        bool inside = false;
        std::size_t b = s.byte_offset(offset, &inside);
        if (inside) {
          // A lone low surrogate encodes as U+FFFD, as TextEncoder does in Yjs.
          std::string t = "\xEF\xBF\xBD";
          t.append(s.str, b + 4, std::string::npos);
          enc.write_string(t);
        } else {
          enc.write_string(std::string_view(s.str).substr(b));
        }
      }
      break;
    }
    case ContentRef::kEmbed:
      enc.write_json(std::get<ContentEmbed>(c).embed);
      break;
    case ContentRef::kFormat: {
      const auto& f = content_get<ContentFormat>(c);
      enc.write_key(f.key);
      enc.write_json(f.value);
      break;
    }
    case ContentRef::kType: {
      const auto& t = std::get<ContentType>(c);
      enc.write_type_ref(t.type_ref);
      if (t.type_ref == static_cast<std::uint8_t>(TypeRef::kXmlElement) ||
          t.type_ref == static_cast<std::uint8_t>(TypeRef::kXmlHook)) {
        enc.write_key(t.name);
      }
      break;
    }
    case ContentRef::kAny: {
      const auto& arr = std::get<ContentAny>(c).arr;
      enc.write_len(arr.size() - offset);
      for (std::size_t i = offset; i < arr.size(); ++i) enc.write_any(arr[i]);
      break;
    }
    case ContentRef::kDoc: {
      const auto& d = content_get<ContentDoc>(c);
      enc.write_string(d.guid);
      enc.write_any(d.opts);
      break;
    }
  }
}

}  // namespace corates::crdt
