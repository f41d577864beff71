// Y.Text against real Yjs: the vectors of vectors/make_text_vectors.mjs
// (run `node crdt/test/vectors/make_text_vectors.mjs > crdt/test/vectors/text_vectors.inc`
// from the repository root to regenerate them).
#include "corates/crdt/text.hpp"

#include "corates/crdt/doc.hpp"
#include "corates/crdt/encoding.hpp"
#include "text_vector_runner.hpp"

#include <gtest/gtest.h>

namespace corates::crdt {
namespace {

using test::TextVectorRunner;

class TextVectors : public ::testing::TestWithParam<std::size_t> {};

TEST_P(TextVectors, MatchesYjs) {
  const lib0::Any& c = test::text_vectors()[GetParam()];
  TextVectorRunner runner(c);
  runner.run();
}

std::vector<std::size_t> text_cases() {
  std::vector<std::size_t> out;
  const auto& all = test::text_vectors();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (test::vector_name(all[i]).rfind("xml_", 0) != 0) out.push_back(i);
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Yjs, TextVectors, ::testing::ValuesIn(text_cases()),
                         [](const ::testing::TestParamInfo<std::size_t>& p) {
                           return test::vector_name(test::text_vectors()[p.param]);
                         });

TEST(Text, InvalidUtf8BecomesReplacementCharacter) {
  DocOptions opts;
  opts.client_id = 1;
  Doc doc(opts);
  Text& t = doc.get<Text>("t");
  t.insert(0, std::string("a\xff" "b"));
  EXPECT_EQ(t.to_string(), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(t.length(), 3u);
}

TEST(Text, EmptyEditsChangeNothing) {
  DocOptions opts;
  opts.client_id = 1;
  Doc doc(opts);
  Text& t = doc.get<Text>("t");
  int updates = 0;
  doc.on_update([&](std::span<const std::uint8_t>, const Origin&, Transaction&) { ++updates; });
  t.insert(0, "");
  t.remove(0, 0);
  t.remove(0, 5);  // nothing to delete
  t.format(0, 3, {{"bold", true}});  // nothing to format
  EXPECT_EQ(updates, 0);
  EXPECT_EQ(t.length(), 0u);
}

TEST(Text, DeltaFromJsonRejectsBadOps) {
  EXPECT_FALSE(delta_from_json(lib0::Any(1.0)).has_value());
  EXPECT_FALSE(delta_from_json(lib0::AnyArray{lib0::AnyObject{{"retain", -1.0}}}).has_value());
  EXPECT_FALSE(delta_from_json(lib0::AnyArray{lib0::AnyObject{{"foo", 1.0}}}).has_value());
  auto ok = delta_from_json(lib0::AnyArray{lib0::AnyObject{{"insert", "x"}},
                                           lib0::AnyObject{{"retain", 2.0}},
                                           lib0::AnyObject{{"delete", 1.0}}});
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->size(), 3u);
}

}  // namespace
}  // namespace corates::crdt
