// A readable model of an update for `corates-sync update inspect` (what
// Yjs's decodeUpdate / logUpdate show).

#include <string>
#include <string_view>
#include <variant>

#include "corates/crdt/update_decoder.hpp"
#include "corates/crdt/updates.hpp"
#include "updates/lazy_struct.hpp"

namespace corates::crdt {
namespace {

using updates_detail::LazyStructReader;

constexpr std::size_t kPreviewBytes = 80;

// Appends as much of `s` as fits in the preview, cutting at a UTF-8 boundary.
// Returns false once the preview is full.
bool append_bounded(std::string& out, std::string_view s) {
  if (out.size() >= kPreviewBytes) return false;
  const std::size_t room = kPreviewBytes - out.size();
  if (s.size() <= room) {
    out.append(s);
    return true;
  }
  std::size_t cut = room;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  out.append(s.substr(0, cut));
  out.append("...");
  return false;
}

std::string json_string(std::string_view s) { return lib0::to_json(lib0::Any(std::string(s))); }

void append_values(std::string& out, const std::vector<lib0::Any>& values) {
  out.push_back('[');
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0 && !append_bounded(out, ",")) return;
    // Bound the work too: a huge value is rendered only up to the preview size.
    if (!append_bounded(out, lib0::to_json(values[i]))) return;
  }
  append_bounded(out, "]");
}

const char* type_name(std::uint8_t ref) {
  switch (static_cast<TypeRef>(ref)) {
    case TypeRef::kArray:
      return "YArray";
    case TypeRef::kMap:
      return "YMap";
    case TypeRef::kText:
      return "YText";
    case TypeRef::kXmlElement:
      return "YXmlElement";
    case TypeRef::kXmlFragment:
      return "YXmlFragment";
    case TypeRef::kXmlHook:
      return "YXmlHook";
    case TypeRef::kXmlText:
      return "YXmlText";
  }
  return "unknown";
}

void describe_content(const ItemContent& content, InspectedStruct& out) {
  std::string& p = out.content_preview;
  std::visit(
      [&](const auto& slot) {
        const auto& c = detail::unbox(slot);
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ContentDeleted>) {
          out.content_kind = "Deleted";
        } else if constexpr (std::is_same_v<T, ContentJSON>) {
          out.content_kind = "JSON";
          append_values(p, c.arr);
        } else if constexpr (std::is_same_v<T, ContentBinary>) {
          out.content_kind = "Binary";
          append_bounded(p, std::to_string(c.content.size()) + " bytes");
        } else if constexpr (std::is_same_v<T, ContentString>) {
          out.content_kind = "String";
          // Quote only a bounded prefix so a long text costs nothing extra.
          std::string_view s(c.str);
          std::size_t cut = std::min<std::size_t>(s.size(), kPreviewBytes);
          while (cut > 0 && cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80)
            --cut;
          append_bounded(p, json_string(s.substr(0, cut)));
          if (cut < s.size()) append_bounded(p, "...");
        } else if constexpr (std::is_same_v<T, ContentEmbed>) {
          out.content_kind = "Embed";
          append_bounded(p, lib0::to_json(c.embed));
        } else if constexpr (std::is_same_v<T, ContentFormat>) {
          out.content_kind = "Format";
          append_bounded(p, json_string(c.key) + ":" + lib0::to_json(c.value));
        } else if constexpr (std::is_same_v<T, ContentType>) {
          out.content_kind = "Type";
          append_bounded(p, type_name(c.type_ref));
          if (!c.name.empty()) append_bounded(p, "(" + json_string(c.name) + ")");
        } else if constexpr (std::is_same_v<T, ContentAny>) {
          out.content_kind = "Any";
          append_values(p, c.arr);
        } else if constexpr (std::is_same_v<T, ContentDoc>) {
          out.content_kind = "Doc";
          append_bounded(p, "guid=" + json_string(c.guid) + " opts=" + lib0::to_json(c.opts));
        }
      },
      content);
}

template <class Decoder>
Result<UpdateInspection> inspect_impl(ByteView update, const DecodeLimits& limits) {
  LazyStructReader<Decoder> reader(update, false, limits);
  UpdateInspection out;
  std::uint64_t section = 0;
  for (const StructRef* s = reader.curr(); s != nullptr; s = reader.next()) {
    if (out.clients.empty() || reader.section() != section) {
      section = reader.section();
      out.clients.push_back(InspectedClient{s->id.client, {}});
    }
    InspectedStruct is;
    is.id = s->id;
    is.length = s->length;
    switch (s->kind) {
      case StructRef::Kind::kGC:
        is.kind = InspectedStruct::Kind::kGC;
        break;
      case StructRef::Kind::kSkip:
        is.kind = InspectedStruct::Kind::kSkip;
        break;
      case StructRef::Kind::kItem:
        is.kind = InspectedStruct::Kind::kItem;
        is.origin = s->origin;
        is.right_origin = s->right_origin;
        if (s->parent_kind == StructRef::ParentKind::kYKey) is.parent_root = s->parent_ykey;
        if (s->parent_kind == StructRef::ParentKind::kID) is.parent_id = s->parent_id;
        is.parent_sub = s->parent_sub;
        describe_content(s->content, is);
        break;
    }
    out.clients.back().structs.push_back(std::move(is));
  }
  if (!reader.ok()) return *reader.error();
  auto ds = reader.read_delete_set_after();
  if (!ds) return ds.error();
  out.delete_set = std::move(*ds);
  return out;
}

}  // namespace

Result<UpdateInspection> inspect_update(ByteView update, const DecodeLimits& limits) {
  return inspect_impl<UpdateDecoderV1>(update, limits);
}
Result<UpdateInspection> inspect_update_v2(ByteView update, const DecodeLimits& limits) {
  return inspect_impl<UpdateDecoderV2>(update, limits);
}

const char* to_string(InspectedStruct::Kind kind) noexcept {
  switch (kind) {
    case InspectedStruct::Kind::kItem:
      return "Item";
    case InspectedStruct::Kind::kGC:
      return "GC";
    case InspectedStruct::Kind::kSkip:
      return "Skip";
  }
  return "?";
}

}  // namespace corates::crdt
