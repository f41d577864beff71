#pragma once
// Runs the vectors of vectors/make_text_vectors.mjs: the same operations as
// Yjs ran, through our API, with the same client ids; then compares every
// result Yjs recorded (check ops, update logs, whole state v1/v2, observed
// text deltas, and the state loaded / replayed into a fresh Doc).
#include "corates/crdt/array.hpp"
#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "corates/crdt/lib0/any.hpp"
#include "corates/crdt/snapshot.hpp"
#include "corates/crdt/text.hpp"
#include "corates/crdt/xml.hpp"
#include "test_hex.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace corates::crdt::test {

inline const char* const kTextVectors[] = {
#include "vectors/text_vectors.inc"
};

class TextVectorRunner {
 public:
  explicit TextVectorRunner(const lib0::Any& c) : case_(c) {}

  static const lib0::Any* field(const lib0::Any& o, std::string_view key) {
    const auto* obj = o.get_if<lib0::AnyObject>();
    if (obj == nullptr) return nullptr;
    for (const auto& [k, v] : *obj) {
      if (k == key) return &v;
    }
    return nullptr;
  }
  static std::string str(const lib0::Any& o, std::string_view key) {
    const lib0::Any* v = field(o, key);
    return v != nullptr && v->is<std::string>() ? v->as<std::string>() : std::string();
  }
  static std::uint64_t num(const lib0::Any& o, std::string_view key) {
    const lib0::Any* v = field(o, key);
    return v != nullptr && v->is<double>() ? static_cast<std::uint64_t>(v->as<double>()) : 0;
  }
  static std::optional<lib0::AnyObject> attrs(const lib0::Any& o, std::string_view key) {
    const lib0::Any* v = field(o, key);
    if (v == nullptr || !v->is<lib0::AnyObject>()) return std::nullopt;
    return v->as<lib0::AnyObject>();
  }

  void run() {
    for (const lib0::Any& d : field(case_, "docs")->as<lib0::AnyArray>()) {
      const lib0::Any* gc = field(d, "gc");
      DocOptions opts;
      opts.client_id = num(d, "client");
      opts.gc = !(gc != nullptr && gc->is<bool>() && !gc->as<bool>());
      docs_.push_back(std::make_unique<Doc>(opts));
      logs_.emplace_back();
      events_.emplace_back();
      snaps_.emplace_back();
    }
    const lib0::Any* log = field(case_, "log");
    const bool logging = !(log != nullptr && log->is<bool>() && !log->as<bool>());
    if (logging) {
      for (std::size_t i = 0; i < docs_.size(); ++i) {
        docs_[i]->on_update([this, i](std::span<const std::uint8_t> u, const Origin&, Transaction&) {
          logs_[i].push_back(to_hex(u));
        });
      }
    }
    std::size_t n = 0;
    for (const lib0::Any& op : field(case_, "ops")->as<lib0::AnyArray>()) {
      SCOPED_TRACE("op #" + std::to_string(n++) + " " + lib0::json_stringify(op));
      if (str(op, "op") == "sync") {
        Doc& from = *docs_[num(op, "from")];
        Doc& to = *docs_[num(op, "to")];
        const lib0::Any* v2 = field(op, "v2");
        if (v2 != nullptr && v2->is<bool>() && v2->as<bool>()) {
          auto r = apply_update_v2(to, encode_state_as_update_v2(from, to.store().get_state_vector()));
          ASSERT_TRUE(r.has_value()) << r.error().message;
        } else {
          auto r = apply_update(to, encode_state_as_update(from, to.store().get_state_vector()));
          ASSERT_TRUE(r.has_value()) << r.error().message;
        }
      } else {
        exec(num(op, "d"), op, nullptr);
      }
    }
    const auto& results = field(case_, "result")->as<lib0::AnyArray>();
    const auto& roots = field(case_, "roots")->as<lib0::AnyArray>();
    for (std::size_t i = 0; i < docs_.size(); ++i) {
      SCOPED_TRACE("doc " + std::to_string(i));
      const lib0::Any& r = results[i];
      Doc& doc = *docs_[i];
      EXPECT_EQ(to_hex(encode_state_as_update(doc)), str(r, "v1"));
      EXPECT_EQ(to_hex(encode_state_as_update_v2(doc)), str(r, "v2"));
      expect_content(doc, roots, *field(r, "content"));
      if (const lib0::Any* l = field(r, "log"); l != nullptr && l->is<lib0::AnyArray>()) {
        std::vector<std::string> expected;
        for (const lib0::Any& u : l->as<lib0::AnyArray>()) expected.push_back(u.as<std::string>());
        EXPECT_EQ(logs_[i], expected) << "update log";
      }
      std::vector<std::string> expected_events;
      for (const lib0::Any& e : field(r, "events")->as<lib0::AnyArray>()) {
        expected_events.push_back(e.as<std::string>());
      }
      EXPECT_EQ(events_[i], expected_events) << "observed text deltas";

      // Yjs's whole state loaded into a fresh Doc of ours.
      {
        SCOPED_TRACE("reload");
        const lib0::Any& rl = *field(r, "reload");
        auto fresh = fresh_doc(999, doc.gc(), roots);
        auto res = apply_update(*fresh, from_hex(str(r, "v1")));
        ASSERT_TRUE(res.has_value()) << res.error().message;
        EXPECT_EQ(to_hex(encode_state_as_update(*fresh)), str(rl, "v1"));
        EXPECT_EQ(to_hex(encode_state_as_update_v2(*fresh)), str(rl, "v2"));
        expect_content(*fresh, roots, *field(rl, "content"));
      }
      // Yjs's update log replayed into a fresh Doc of ours.
      if (const lib0::Any* rp = field(r, "replay"); rp != nullptr && rp->is<lib0::AnyObject>()) {
        SCOPED_TRACE("replay");
        auto fresh = fresh_doc(998, doc.gc(), roots);
        for (const lib0::Any& u : field(r, "log")->as<lib0::AnyArray>()) {
          auto res = apply_update(*fresh, from_hex(u.as<std::string>()));
          ASSERT_TRUE(res.has_value()) << res.error().message;
        }
        EXPECT_EQ(to_hex(encode_state_as_update(*fresh)), str(*rp, "v1"));
        expect_content(*fresh, roots, *field(*rp, "content"));
      }
    }
  }

 private:
  static std::unique_ptr<Doc> fresh_doc(ClientID client, bool gc, const lib0::AnyArray& roots) {
    DocOptions opts;
    opts.client_id = client;
    opts.gc = gc;
    auto doc = std::make_unique<Doc>(opts);
    for (const lib0::Any& root : roots) {
      const auto& rr = root.as<lib0::AnyArray>();
      if (rr[1].as<std::string>() == "text") {
        doc->get<Text>(rr[0].as<std::string>());
      } else {
        doc->get<XmlFragment>(rr[0].as<std::string>());
      }
    }
    return doc;
  }

  static void expect_content(Doc& doc, const lib0::AnyArray& roots, const lib0::Any& expected) {
    const auto& exp = expected.as<lib0::AnyArray>();
    for (std::size_t k = 0; k < roots.size(); ++k) {
      const auto& rr = roots[k].as<lib0::AnyArray>();
      const std::string& name = rr[0].as<std::string>();
      if (rr[1].as<std::string>() == "text") {
        EXPECT_EQ(lib0::json_stringify(delta_to_json(doc.get<Text>(name).to_delta())),
                  exp[k].as<std::string>())
            << "content of " << name;
      } else {
        EXPECT_EQ(doc.get<XmlFragment>(name).to_string(), exp[k].as<std::string>())
            << "content of " << name;
      }
    }
  }

  static AbstractType* resolve(Doc& doc, const lib0::Any& path) {
    const auto& p = path.as<lib0::AnyArray>();
    AbstractType* t = nullptr;
    if (p[1].as<std::string>() == "text") {
      t = &doc.get<Text>(p[0].as<std::string>());
    } else {
      t = &doc.get<XmlFragment>(p[0].as<std::string>());
    }
    for (std::size_t i = 2; i < p.size(); ++i) {
      auto* f = dynamic_cast<XmlFragment*>(t);
      if (f == nullptr) return nullptr;
      auto v = f->get(static_cast<std::uint64_t>(p[i].as<double>()));
      if (!v || !std::holds_alternative<AbstractType*>(*v)) return nullptr;
      t = std::get<AbstractType*>(*v);
    }
    return t;
  }

  static XmlNode node(const lib0::Any& n) {
    if (const lib0::Any* el = field(n, "el")) {
      std::vector<XmlNode> children;
      if (const lib0::Any* c = field(n, "children")) {
        for (const lib0::Any& ch : c->as<lib0::AnyArray>()) children.push_back(node(ch));
      }
      return XmlNode::element(el->as<std::string>(), attrs(n, "attrs").value_or(lib0::AnyObject{}),
                              std::move(children));
    }
    if (const lib0::Any* t = field(n, "text")) {
      TextDelta delta;
      if (const lib0::Any* d = field(n, "delta")) delta = delta_from_json(*d).value();
      return XmlNode::text_node(t->as<std::string>(), std::move(delta));
    }
    return XmlNode::hook(str(n, "hook"), attrs(n, "map").value_or(lib0::AnyObject{}));
  }

  static NewType new_type(const std::string& kind) {
    if (kind == "text") return NewType{Text::kTypeRef, {}};
    if (kind == "map") return NewType{Map::kTypeRef, {}};
    if (kind == "array") return NewType{Array::kTypeRef, {}};
    if (kind == "xmlText") return NewType{XmlText::kTypeRef, {}};
    return NewType{XmlElement::kTypeRef, "p"};
  }

  // Fills a nested type as Yjs's prelim content does on integration.
  static void fill(Transaction& tr, AbstractType* t, const std::string& kind, const lib0::Any* init) {
    if (init == nullptr || init->is<lib0::Undefined>() || init->is<lib0::Null>()) return;
    if (kind == "text" || kind == "xmlText") {
      static_cast<Text*>(t)->insert(tr, 0, init->as<std::string>());
    } else if (kind == "map") {
      for (const auto& [k, v] : init->as<lib0::AnyObject>()) static_cast<Map*>(t)->set(tr, k, v);
    } else if (kind == "array") {
      std::vector<InsertValue> values;
      for (const lib0::Any& v : init->as<lib0::AnyArray>()) values.emplace_back(v);
      (void)static_cast<Array*>(t)->insert(tr, 0, values);
    }
  }

  void exec(std::size_t d, const lib0::Any& op, Transaction* tr) {
    Doc& doc = *docs_[d];
    const std::string kind = str(op, "op");
    if (kind == "observe") {
      auto* text = dynamic_cast<Text*>(resolve(doc, *field(op, "t")));
      ASSERT_NE(text, nullptr);
      text->observe([this, d](const YEvent& e, Transaction&) {
        const auto& te = dynamic_cast<const TextEvent&>(e);
        events_[d].push_back(lib0::json_stringify(delta_to_json(te.text_delta())));
      });
      return;
    }
    if (kind == "snapshot") {
      snaps_[d][str(op, "name")] = snapshot(doc);
      return;
    }
    if (kind == "check") {
      check(doc, d, op);
      return;
    }
    if (tr == nullptr) {
      // Yjs's no-op edits open no transaction; ours may open an empty one,
      // which emits nothing.
      doc.transact([&](Transaction& t) { exec(d, op, &t); });
      return;
    }
    if (kind == "transact") {
      for (const lib0::Any& o : field(op, "ops")->as<lib0::AnyArray>()) exec(d, o, tr);
      return;
    }
    AbstractType* target = resolve(doc, *field(op, "t"));
    ASSERT_NE(target, nullptr) << "target not found";
    auto* text = dynamic_cast<Text*>(target);
    auto* frag = dynamic_cast<XmlFragment*>(target);
    if (kind == "insert") {
      ASSERT_NE(text, nullptr);
      if (auto a = attrs(op, "a")) {
        text->insert(*tr, num(op, "i"), str(op, "s"), *a);
      } else {
        text->insert(*tr, num(op, "i"), str(op, "s"));
      }
    } else if (kind == "embed") {
      ASSERT_NE(text, nullptr);
      text->insert_embed(*tr, num(op, "i"), *field(op, "e"), attrs(op, "a"));
    } else if (kind == "embedType") {
      ASSERT_NE(text, nullptr);
      const std::string k = str(op, "kind");
      AbstractType* t = text->insert_embed_type(*tr, num(op, "i"), new_type(k), attrs(op, "a"));
      ASSERT_NE(t, nullptr);
      fill(*tr, t, k, field(op, "init"));
    } else if (kind == "delete") {
      if (text != nullptr) {
        text->remove(*tr, num(op, "i"), num(op, "n"));
      } else {
        ASSERT_NE(frag, nullptr);
        auto r = frag->remove(*tr, num(op, "i"), num(op, "n"));
        ASSERT_TRUE(r.has_value());
      }
    } else if (kind == "format") {
      ASSERT_NE(text, nullptr);
      text->format(*tr, num(op, "i"), num(op, "n"), attrs(op, "a").value_or(lib0::AnyObject{}));
    } else if (kind == "applyDelta") {
      ASSERT_NE(text, nullptr);
      auto delta = delta_from_json(*field(op, "delta"));
      ASSERT_TRUE(delta.has_value());
      text->apply_delta(*tr, *delta);
    } else if (kind == "textAttr") {
      ASSERT_NE(text, nullptr);
      const lib0::Any* v = field(op, "v");
      if (v->is<lib0::Null>()) {
        text->remove_attribute(*tr, str(op, "k"));
      } else {
        text->set_attribute(*tr, str(op, "k"), *v);
      }
    } else if (kind == "xmlInsert" || kind == "xmlInsertAfter") {
      ASSERT_NE(frag, nullptr);
      std::vector<XmlNode> nodes;
      for (const lib0::Any& n : field(op, "nodes")->as<lib0::AnyArray>()) nodes.push_back(node(n));
      if (kind == "xmlInsert") {
        auto r = frag->insert(*tr, num(op, "i"), nodes);
        ASSERT_TRUE(r.has_value());
      } else {
        const double ref = field(op, "ref")->as<double>();
        AbstractType* ref_node = nullptr;
        if (ref >= 0) {
          auto v = frag->get(static_cast<std::uint64_t>(ref));
          ASSERT_TRUE(v.has_value());
          ref_node = std::get<AbstractType*>(*v);
        }
        auto r = frag->insert_after(*tr, ref_node, nodes);
        ASSERT_TRUE(r.has_value());
      }
    } else if (kind == "setAttribute") {
      auto* el = dynamic_cast<XmlElement*>(target);
      ASSERT_NE(el, nullptr);
      el->set_attribute(*tr, str(op, "k"), *field(op, "v"));
    } else if (kind == "removeAttribute") {
      auto* el = dynamic_cast<XmlElement*>(target);
      ASSERT_NE(el, nullptr);
      el->remove_attribute(*tr, str(op, "k"));
    } else if (kind == "hookSet") {
      auto* h = dynamic_cast<XmlHook*>(target);
      ASSERT_NE(h, nullptr);
      h->set(*tr, str(op, "k"), *field(op, "v"));
    } else {
      FAIL() << "unknown op " << kind;
    }
  }

  void check(Doc& doc, std::size_t d, const lib0::Any& op) {
    AbstractType* target = resolve(doc, *field(op, "t"));
    ASSERT_NE(target, nullptr);
    const lib0::Any& expect = *field(op, "expect");
    EXPECT_EQ(lib0::json_stringify(target->to_json()), str(expect, "json"));
    if (auto* text = dynamic_cast<Text*>(target)) {
      EXPECT_EQ(text->to_string(), str(expect, "str"));
      const lib0::Any* snap = field(op, "snap");
      if (snap != nullptr) {
        const lib0::Any* prev = field(op, "prev");
        const Snapshot& s = snaps_[d].at(snap->as<std::string>());
        const Snapshot* p = prev != nullptr ? &snaps_[d].at(prev->as<std::string>()) : nullptr;
        EXPECT_EQ(lib0::json_stringify(delta_to_json(text->to_delta(&s, p))), str(expect, "delta"));
      } else {
        EXPECT_EQ(lib0::json_stringify(delta_to_json(text->to_delta())), str(expect, "delta"));
      }
    } else if (auto* frag = dynamic_cast<XmlFragment*>(target)) {
      EXPECT_EQ(frag->to_string(), str(expect, "str"));
    }
  }

  const lib0::Any& case_;
  std::vector<std::unique_ptr<Doc>> docs_;
  std::vector<std::vector<std::string>> logs_;
  std::vector<std::vector<std::string>> events_;
  std::vector<std::map<std::string, Snapshot>> snaps_;
};

// Parses all vectors once.
inline const std::vector<lib0::Any>& text_vectors() {
  static const std::vector<lib0::Any> cases = [] {
    std::vector<lib0::Any> out;
    for (const char* text : kTextVectors) out.push_back(lib0::parse_json(text).value());
    return out;
  }();
  return cases;
}

inline std::string vector_name(const lib0::Any& c) { return TextVectorRunner::str(c, "name"); }

}  // namespace corates::crdt::test
