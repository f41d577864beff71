// The XML types against real Yjs: the xml_* vectors of
// vectors/make_text_vectors.mjs, plus decoding Yjs's bytes into our types.
#include "corates/crdt/xml.hpp"

#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "text_vector_runner.hpp"

#include <gtest/gtest.h>

namespace corates::crdt {
namespace {

using test::TextVectorRunner;

class XmlVectors : public ::testing::TestWithParam<std::size_t> {};

TEST_P(XmlVectors, MatchesYjs) {
  const lib0::Any& c = test::text_vectors()[GetParam()];
  TextVectorRunner runner(c);
  runner.run();
}

std::vector<std::size_t> xml_cases() {
  std::vector<std::size_t> out;
  const auto& all = test::text_vectors();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (test::vector_name(all[i]).rfind("xml_", 0) == 0) out.push_back(i);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Yjs, XmlVectors, ::testing::ValuesIn(xml_cases()),
                         [](const ::testing::TestParamInfo<std::size_t>& p) {
                           return test::vector_name(test::text_vectors()[p.param]);
                         });

// Expected strings below were printed by Yjs 13.6 / Node (String(v), fragment.toString()).
TEST(Xml, JsStringOfValues) {
  EXPECT_EQ(js_string(lib0::Any(1.5)), "1.5");
  EXPECT_EQ(js_string(lib0::Any(lib0::Null{})), "null");
  EXPECT_EQ(js_string(lib0::Any(lib0::AnyArray{1, lib0::Null{}, "x"})), "1,,x");
  EXPECT_EQ(js_string(lib0::Any(lib0::AnyObject{{"a", 1}})), "[object Object]");
  EXPECT_EQ(js_string(lib0::Any(lib0::Bytes{1, 2})), "1,2");
}

TEST(Xml, DecodedTypesAreXmlTypes) {
  DocOptions opts;
  opts.client_id = 5;
  Doc a(opts);
  XmlFragment& f = a.get<XmlFragment>("x");
  a.transact([&](Transaction& tr) {
    const XmlNode nodes[] = {XmlNode::element("P", {{"id", "1"}}, {XmlNode::text_node("hi")}),
                             XmlNode::hook("h", {{"k", 2}})};
    ASSERT_TRUE(f.insert(tr, 0, nodes).has_value());
  });
  Doc b;
  XmlFragment& g = b.get<XmlFragment>("x");
  ASSERT_TRUE(apply_update(b, encode_state_as_update(a)).has_value());
  ASSERT_EQ(g.length(), 2u);
  auto* el = dynamic_cast<XmlElement*>(std::get<AbstractType*>(*g.get(0)));
  ASSERT_NE(el, nullptr);
  EXPECT_EQ(el->node_name(), "P");
  EXPECT_NE(dynamic_cast<XmlHook*>(std::get<AbstractType*>(*g.get(1))), nullptr);
  EXPECT_EQ(g.to_string(), "<p id=\"1\">hi</p>[object Object]");
  EXPECT_EQ(g.query_selector("p"), el);
  EXPECT_EQ(el->next_sibling(), std::get<AbstractType*>(*g.get(1)));
}

}  // namespace
}  // namespace corates::crdt
