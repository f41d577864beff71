// Content kinds: the pure-data operations (Yjs's Content*.js).
#include "corates/crdt/content.hpp"
#include "corates/crdt/lib0/encoding.hpp"
#include "corates/crdt/structs.hpp"

#include <cmath>

namespace corates::crdt {

namespace {

inline std::size_t utf8_seq_len(unsigned char c) noexcept {
  if (c < 0x80) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  return 4;
}

const std::string kReplacement = "\xEF\xBF\xBD";

}  // namespace

ContentString::ContentString(std::string s) : str(std::move(s)) {
  utf16_len = lib0::utf16_length(str);
}

std::size_t ContentString::byte_offset(std::uint64_t off, bool* inside_pair) const noexcept {
  if (inside_pair) *inside_pair = false;
  if (utf16_len == str.size()) return static_cast<std::size_t>(std::min<std::uint64_t>(off, str.size()));
  std::size_t b = 0;
  std::uint64_t u = 0;
  while (b < str.size() && u < off) {
    const std::size_t n = utf8_seq_len(static_cast<unsigned char>(str[b]));
    if (n == 4) {
      if (u + 1 == off) {
        if (inside_pair) *inside_pair = true;
        return b;
      }
      u += 2;
    } else {
      u += 1;
    }
    b += n;
  }
  return std::min(b, str.size());
}

std::uint64_t content_length(const ItemContent& c) noexcept {
  switch (content_ref(c)) {
    case ContentRef::kDeleted: return std::get<ContentDeleted>(c).len;
    case ContentRef::kJSON: return std::get<ContentJSON>(c).arr.size();
    case ContentRef::kString: return std::get<ContentString>(c).utf16_len;
    case ContentRef::kAny: return std::get<ContentAny>(c).arr.size();
    default: return 1;
  }
}

bool content_countable(const ItemContent& c) noexcept {
  const ContentRef r = content_ref(c);
  return r != ContentRef::kDeleted && r != ContentRef::kFormat;
}

ItemContent content_splice(ItemContent& c, std::uint64_t offset) {
  switch (content_ref(c)) {
    case ContentRef::kDeleted: {
      auto& d = std::get<ContentDeleted>(c);
      ContentDeleted r{d.len - offset};
      d.len = offset;
      return r;
    }
    case ContentRef::kJSON: {
      auto& a = std::get<ContentJSON>(c).arr;
      ContentJSON r;
      r.arr.assign(std::make_move_iterator(a.begin() + static_cast<std::ptrdiff_t>(offset)),
                   std::make_move_iterator(a.end()));
      a.resize(offset);
      return r;
    }
    case ContentRef::kAny: {
      auto& a = std::get<ContentAny>(c).arr;
      ContentAny r;
      r.arr.assign(std::make_move_iterator(a.begin() + static_cast<std::ptrdiff_t>(offset)),
                   std::make_move_iterator(a.end()));
      a.resize(offset);
      return r;
    }
    case ContentRef::kString: {
      auto& s = std::get<ContentString>(c);
      bool inside = false;
      const std::size_t b = s.byte_offset(offset, &inside);
      ContentString r;
      r.utf16_len = s.utf16_len - offset;
      if (inside) {
        // Splitting a surrogate pair: both halves become U+FFFD (yjs issue #248).
        r.str = kReplacement;
        r.str.append(s.str, b + 4, std::string::npos);
        s.str.resize(b);
        s.str += kReplacement;
      } else {
        r.str.assign(s.str, b, std::string::npos);
        s.str.resize(b);
      }
      s.utf16_len = offset;
      return r;
    }
    default:
      return ContentDeleted{0};
  }
}

bool content_merge(ItemContent& left, const ItemContent& right) {
  if (left.index() != right.index()) return false;
  switch (content_ref(left)) {
    case ContentRef::kDeleted:
      std::get<ContentDeleted>(left).len += std::get<ContentDeleted>(right).len;
      return true;
    case ContentRef::kJSON: {
      auto& a = std::get<ContentJSON>(left).arr;
      const auto& b = std::get<ContentJSON>(right).arr;
      a.insert(a.end(), b.begin(), b.end());
      return true;
    }
    case ContentRef::kAny: {
      auto& a = std::get<ContentAny>(left).arr;
      const auto& b = std::get<ContentAny>(right).arr;
      a.insert(a.end(), b.begin(), b.end());
      return true;
    }
    case ContentRef::kString: {
      auto& a = std::get<ContentString>(left);
      const auto& b = std::get<ContentString>(right);
      a.str += b.str;
      a.utf16_len += b.utf16_len;
      return true;
    }
    default:
      return false;
  }
}

bool any_truthy(const lib0::Any& v) noexcept {
  const auto& val = v.value();
  if (std::holds_alternative<lib0::Undefined>(val) || std::holds_alternative<lib0::Null>(val)) return false;
  if (const bool* b = std::get_if<bool>(&val)) return *b;
  if (const double* d = std::get_if<double>(&val)) return *d != 0 && !std::isnan(*d);
  if (const auto* bi = std::get_if<lib0::BigInt>(&val)) return bi->value != 0;
  if (const auto* s = std::get_if<std::string>(&val)) return !s->empty();
  return true;
}

ContentDoc make_content_doc(std::string guid, const lib0::Any& opts) {
  ContentDoc d;
  d.guid = std::move(guid);
  const lib0::Any* gc = nullptr;
  const lib0::Any* auto_load = nullptr;
  const lib0::Any* meta = nullptr;
  const lib0::Any* should_load = nullptr;
  if (const auto* obj = opts.get_if<lib0::AnyObject>()) {
    for (const auto& [k, v] : *obj) {
      if (k == "gc") gc = &v;
      else if (k == "autoLoad") auto_load = &v;
      else if (k == "meta") meta = &v;
      else if (k == "shouldLoad") should_load = &v;
    }
  }
  lib0::AnyObject out;
  // Destructuring defaults apply to undefined values, as in Yjs's Doc constructor.
  const bool gc_on = (gc == nullptr || gc->is<lib0::Undefined>()) ? true : any_truthy(*gc);
  if (!gc_on) out.emplace_back("gc", false);
  const bool al = auto_load != nullptr && any_truthy(*auto_load);
  if (al) out.emplace_back("autoLoad", true);
  if (meta != nullptr && !meta->is<lib0::Undefined>() && !meta->is<lib0::Null>()) {
    out.emplace_back("meta", *meta);
  }
  d.should_load = (should_load != nullptr && any_truthy(*should_load)) || al;
  d.opts = lib0::Any(std::move(out));
  return d;
}

StructRef StructRef::slice(std::uint64_t diff) const {
  StructRef r;
  r.kind = kind;
  r.id = ID{id.client, id.clock + diff};
  r.length = length - diff;
  if (kind != Kind::kItem) return r;
  r.origin = diff > 0 ? std::optional<ID>(ID{id.client, id.clock + diff - 1}) : origin;
  r.right_origin = right_origin;
  r.parent_kind = parent_kind;
  r.parent_ykey = parent_ykey;
  r.parent_id = parent_id;
  r.parent_sub = parent_sub;
  r.content = content;
  if (diff > 0) r.content = content_splice(r.content, diff);
  return r;
}

std::vector<StructRef>* ClientStructRefs::find(ClientID c) {
  for (auto& [client, refs] : clients) {
    if (client == c) return &refs;
  }
  return nullptr;
}

}  // namespace corates::crdt
