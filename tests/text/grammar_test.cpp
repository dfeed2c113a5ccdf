// The Grammar builder: UTF-8 class expansion checked exhaustively against every code point,
// repetition bounds, Validate()'s refusals, and the reference recognizer the other grammar
// tests lean on.
#include "text/grammar/grammar.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "text/grammar_reference.h"

namespace wick {
namespace {

using testing::ReferenceAccepts;
using testing::ReferenceAcceptsPrefix;
using text::CodepointRange;
using text::Grammar;
using text::GrammarElement;
using text::GrammarSequence;

std::string Utf8(uint32_t cp) {
  // Surrogates too (as the 3-byte form a lax encoder writes), so they can be tested as refused.
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// A grammar whose root is `element`.
Grammar RootOf(Grammar g, GrammarElement element) {
  const uint32_t root = g.AddRule("root");
  g.AddAlternative(root, {element});
  g.set_root(root);
  return g;
}

struct ClassCase {
  std::vector<CodepointRange> ranges;
  bool negated = false;
};

bool InClass(const ClassCase& c, uint32_t cp) {
  if (cp >= 0xD800 && cp <= 0xDFFF) return false;
  bool in = false;
  for (const CodepointRange& r : c.ranges) in = in || (cp >= r.lo && cp <= r.hi);
  return in != c.negated;
}

// Every code point: its encoding is accepted exactly when it is in the class. Every string of
// one or two bytes: accepted exactly when it is the encoding of a member (no overlongs, no
// stray continuation bytes). The reference recognizer checks a sample of code points, a flat
// match of the class rule's alternatives (which also must not overlap) checks them all.
void CheckClassExhaustively(const ClassCase& c) {
  Grammar g;
  const GrammarElement element = g.CodepointClass(c.ranges, c.negated);
  const Grammar grammar = RootOf(g, element);
  ASSERT_TRUE(grammar.Validate().ok());
  std::vector<GrammarSequence> alts;
  if (element.kind == GrammarElement::Kind::kBytes) {
    alts.push_back({element});
  } else {
    alts = grammar.rules()[element.index].alternatives;
  }
  auto flat_matches = [&](const std::string& s) {
    int matches = 0;
    for (const GrammarSequence& alt : alts) {
      if (alt.size() != s.size()) continue;
      bool ok = true;
      for (size_t i = 0; i < s.size() && ok; ++i) {
        EXPECT_EQ(alt[i].kind, GrammarElement::Kind::kBytes);
        ok = grammar.byte_sets()[alt[i].index].Has(static_cast<uint8_t>(s[i]));
      }
      matches += ok;
    }
    EXPECT_LE(matches, 1) << "overlapping alternatives for " << ::testing::PrintToString(s);
    return matches == 1;
  };
  testing::ReferenceRecognizer reference(grammar);
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string s = Utf8(cp);
    const bool expected = InClass(c, cp);
    if (flat_matches(s) != expected) {
      ADD_FAILURE() << "code point " << cp << " expected " << expected;
      return;
    }
    if ((cp % 61 == 0 || cp < 0x100) && reference.Run(s, false) != expected) {
      ADD_FAILURE() << "reference disagrees at code point " << cp;
      return;
    }
  }
  for (int a = 0; a < 256; ++a) {
    const std::string one(1, static_cast<char>(a));
    EXPECT_EQ(flat_matches(one), a < 0x80 && InClass(c, static_cast<uint32_t>(a))) << a;
    for (int b = 0; b < 256; ++b) {
      const std::string two = {static_cast<char>(a), static_cast<char>(b)};
      const bool valid = a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF;
      const uint32_t cp = static_cast<uint32_t>(((a & 0x1F) << 6) | (b & 0x3F));
      if (flat_matches(two) != (valid && InClass(c, cp))) {
        ADD_FAILURE() << "bytes " << a << " " << b;
        return;
      }
    }
  }
}

TEST(GrammarTest, CodepointClassesMatchExactlyTheirCodePoints) {
  const std::vector<ClassCase> cases = {
      {{{'"', '"'}, {'\\', '\\'}, {0, 0x1F}}, true},  // a JSON string character
      {{{'a', 'z'}, {'A', 'Z'}, {'0', '9'}}, false},
      {{{0x80, 0xFFFF}}, false},
      {{{0, 0x7F}}, true},
      {{{0xE9, 0xE9}, {0x4E2D, 0x4E8C}, {0x1F600, 0x1F64F}, {0x7FF, 0x800}}, false},
      {{{'a', 'z'}, {0x100, 0x17F}, {0x10000, 0x10FFFF}}, true},
      {{{0xD000, 0xE000}, {0xFFFF, 0x10000}}, false},  // across the surrogates and plane 1
      {{{0x10FFFF, 0x10FFFF}, {0, 0}, {0x3F, 0x41}, {0x40, 0x45}}, false},  // overlapping
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    CheckClassExhaustively(cases[i]);
  }
}

TEST(GrammarTest, AsciiClassIsOneByteSetAndSetsAreInterned) {
  Grammar g;
  const GrammarElement digits = g.CodepointClass({{'0', '9'}}, false);
  EXPECT_EQ(digits.kind, GrammarElement::Kind::kBytes);
  EXPECT_EQ(g.Bytes(text::ByteSet::Range('0', '9')), digits);
  EXPECT_EQ(g.Byte('x'), g.Byte('x'));
  EXPECT_NE(g.Byte('x'), g.Byte('y'));
  EXPECT_EQ(g.byte_sets().size(), 3u);
  EXPECT_TRUE(g.rules().empty());
}

TEST(GrammarTest, EmptyClassIsRefusedByValidate) {
  Grammar g;
  const GrammarElement nothing = g.CodepointClass({{0, 0x10FFFF}}, true);
  const Status status = RootOf(g, nothing).Validate();
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find("no alternatives"), std::string::npos);
}

std::string Copies(std::string_view unit, int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) out += unit;
  return out;
}

TEST(GrammarTest, RepeatAllowsExactlyMinToMaxCopies) {
  struct Case {
    int64_t min;
    int64_t max;
  };
  for (const Case c : {Case{0, -1}, Case{1, -1}, Case{3, -1}, Case{0, 0}, Case{1, 1}, Case{2, 2},
                       Case{0, 1}, Case{0, 5}, Case{3, 7}, Case{17, 17}, Case{18, 40}, Case{0, 129},
                       Case{5, 300}, Case{40, 41}}) {
    SCOPED_TRACE(::testing::Message() << c.min << ".." << c.max);
    Grammar g;
    const GrammarElement rep = g.Repeat("rep", g.Literal("ab"), c.min, c.max);
    const Grammar grammar = RootOf(g, rep);
    ASSERT_TRUE(grammar.Validate().ok());
    const int64_t top = c.max < 0 ? c.min + 6 : c.max + 2;
    for (int64_t n = 0; n <= top; ++n) {
      if (top > 60 && n > 20 && n < top - 20 && n % 17 != 0) continue;
      const bool expected = n >= c.min && (c.max < 0 || n <= c.max);
      EXPECT_EQ(ReferenceAccepts(grammar, Copies("ab", n)), expected) << n;
      EXPECT_FALSE(ReferenceAccepts(grammar, Copies("ab", n) + "a")) << n;
      EXPECT_EQ(ReferenceAcceptsPrefix(grammar, Copies("ab", n) + "a"), c.max < 0 || n < c.max)
          << n;
    }
  }
}

TEST(GrammarTest, HugeRepeatStaysSmallAndExact) {
  Grammar g;
  const GrammarElement rep = g.Repeat("rep", {g.Byte('x')}, 3, 1'000'000);
  const Grammar grammar = RootOf(g, rep);
  ASSERT_TRUE(grammar.Validate().ok());
  EXPECT_LT(grammar.rules().size(), 400u);
  for (int64_t n : {0, 2, 3, 4, 200, 257, 1000, 4097}) {
    EXPECT_EQ(ReferenceAccepts(grammar, std::string(static_cast<size_t>(n), 'x')), n >= 3) << n;
  }

  Grammar h;
  const GrammarElement many = h.Repeat("many", {h.Byte('y')}, 1000, 1000);
  const Grammar exact = RootOf(h, many);
  ASSERT_TRUE(exact.Validate().ok());
  EXPECT_LT(exact.rules().size(), 30u);
  EXPECT_TRUE(ReferenceAccepts(exact, std::string(1000, 'y')));
  EXPECT_FALSE(ReferenceAccepts(exact, std::string(999, 'y')));
  EXPECT_FALSE(ReferenceAccepts(exact, std::string(1001, 'y')));
}

TEST(GrammarTest, RepeatNeverBuildsLeftRecursion) {
  Grammar g;
  const uint32_t root = g.AddRule("root");
  GrammarSequence seq = {g.Repeat("a", g.Literal("a"), 0, -1), g.Repeat("b", g.Literal("b"), 2, 9),
                         g.Repeat("c", g.Literal("cd"), 0, 500)};
  g.AddAlternative(root, seq);
  g.set_root(root);
  EXPECT_TRUE(g.Validate().ok());
  EXPECT_TRUE(ReferenceAccepts(g, "aaabbcdcd"));
  EXPECT_FALSE(ReferenceAccepts(g, "aaabcdcd"));
}

Status BuildAndValidate(const std::function<void(Grammar&)>& build) {
  Grammar g;
  build(g);
  return g.Validate();
}

TEST(GrammarTest, ValidateRefusesLeftRecursionNamingTheRule) {
  // expr ::= expr "+" "1" | "1"
  Status direct = BuildAndValidate([](Grammar& g) {
    const uint32_t expr = g.AddRule("expr");
    GrammarSequence alt = {Grammar::Ref(expr), g.Byte('+'), g.Byte('1')};
    g.AddAlternative(expr, alt);
    g.AddAlternative(expr, {g.Byte('1')});
  });
  ASSERT_FALSE(direct.ok());
  EXPECT_NE(direct.error().message().find("'expr' is left-recursive"), std::string::npos)
      << direct.error().message();

  // a ::= b "x"; b ::= c a | "y"; c ::= "" | "z": a reaches itself after the nullable c.
  Status indirect = BuildAndValidate([](Grammar& g) {
    const uint32_t a = g.AddRule("a");
    const uint32_t b = g.AddRule("b");
    const uint32_t c = g.AddRule("c");
    g.AddAlternative(a, {Grammar::Ref(b), g.Byte('x')});
    g.AddAlternative(b, {Grammar::Ref(c), Grammar::Ref(a)});
    g.AddAlternative(b, {g.Byte('y')});
    g.AddAlternative(c, {});
    g.AddAlternative(c, {g.Byte('z')});
  });
  ASSERT_FALSE(indirect.ok());
  EXPECT_NE(indirect.error().message().find("left-recursive"), std::string::npos);
  EXPECT_NE(indirect.error().message().find("a -> b -> a"), std::string::npos)
      << indirect.error().message();

  // The same with c not nullable is fine: a byte comes first.
  Status guarded = BuildAndValidate([](Grammar& g) {
    const uint32_t a = g.AddRule("a");
    const uint32_t b = g.AddRule("b");
    const uint32_t c = g.AddRule("c");
    g.AddAlternative(a, {Grammar::Ref(b), g.Byte('x')});
    g.AddAlternative(b, {Grammar::Ref(c), Grammar::Ref(a)});
    g.AddAlternative(b, {g.Byte('y')});
    g.AddAlternative(c, {g.Byte('z')});
  });
  EXPECT_TRUE(guarded.ok());
}

TEST(GrammarTest, ValidateRefusesDanglingAndEmptyRules) {
  Status empty = BuildAndValidate([](Grammar& g) {
    const uint32_t root = g.AddRule("root");
    const uint32_t hollow = g.AddRule("hollow");
    g.AddAlternative(root, {Grammar::Ref(hollow)});
  });
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message().find("'hollow' has no alternatives"), std::string::npos);

  Status dangling = BuildAndValidate([](Grammar& g) {
    const uint32_t root = g.AddRule("root");
    g.AddAlternative(root, {Grammar::Ref(7)});
  });
  ASSERT_FALSE(dangling.ok());
  EXPECT_NE(dangling.error().message().find("'root'"), std::string::npos);

  Status no_root = BuildAndValidate([](Grammar& g) { g.set_root(3); });
  EXPECT_FALSE(no_root.ok());
}

TEST(GrammarTest, FindRuleChoiceAndToString) {
  Grammar g;
  const uint32_t root = g.AddRule("root");
  const GrammarElement yes_no = g.Choice("answer", {g.Literal("yes"), g.Literal("no"), {}});
  g.AddAlternative(root, {yes_no, g.CodepointClass({{0x80, 0x10FFFF}}, false)});
  g.set_root(root);
  EXPECT_EQ(g.FindRule("answer"), yes_no.index);
  EXPECT_EQ(g.FindRule("root"), 0);
  EXPECT_EQ(g.FindRule("missing"), -1);
  const std::string text = g.ToString();
  EXPECT_NE(text.find("answer ::= \"yes\" | \"no\" | \"\""), std::string::npos) << text;
  EXPECT_NE(text.find("root (root) ::= answer class"), std::string::npos) << text;
  EXPECT_NE(text.find("[\\xc2-\\xdf] [\\x80-\\xbf]"), std::string::npos) << text;
  EXPECT_TRUE(ReferenceAccepts(g, "yes\xc3\xa9"));
  EXPECT_TRUE(ReferenceAccepts(g, "\xf0\x9f\x98\x80"));
  EXPECT_FALSE(ReferenceAccepts(g, "yes"));
  EXPECT_FALSE(ReferenceAccepts(g, "maybe\xc3\xa9"));
}

TEST(GrammarTest, ReferenceRecognizerHandlesNullableRulesAndPrefixes) {
  // root ::= n n "x" n; n ::= "" | "y" | n2; n2 ::= "" (nullable through another rule)
  Grammar g;
  const uint32_t root = g.AddRule("root");
  const uint32_t n = g.AddRule("n");
  const uint32_t n2 = g.AddRule("n2");
  g.AddAlternative(root, {Grammar::Ref(n), Grammar::Ref(n), g.Byte('x'), Grammar::Ref(n)});
  g.AddAlternative(n, {});
  g.AddAlternative(n, {g.Byte('y')});
  g.AddAlternative(n, {Grammar::Ref(n2)});
  g.AddAlternative(n2, {});
  g.set_root(root);
  ASSERT_TRUE(g.Validate().ok());
  for (const char* ok : {"x", "yx", "yyx", "xy", "yxy", "yyxy"})
    EXPECT_TRUE(ReferenceAccepts(g, ok)) << ok;
  for (const char* bad : {"", "y", "yyyx", "xyy", "z"})
    EXPECT_FALSE(ReferenceAccepts(g, bad)) << bad;
  EXPECT_TRUE(ReferenceAcceptsPrefix(g, ""));
  EXPECT_TRUE(ReferenceAcceptsPrefix(g, "yy"));
  EXPECT_FALSE(ReferenceAcceptsPrefix(g, "yyy"));
  EXPECT_FALSE(ReferenceAcceptsPrefix(g, "xyy"));

  // A rule that never finishes: nothing is a prefix through it.
  Grammar h;
  const uint32_t top = h.AddRule("top");
  const uint32_t loop = h.AddRule("loop");
  h.AddAlternative(top, {h.Byte('a'), Grammar::Ref(loop)});
  h.AddAlternative(top, {h.Byte('b')});
  h.AddAlternative(loop, {h.Byte('a'), Grammar::Ref(loop)});
  h.set_root(top);
  EXPECT_FALSE(ReferenceAcceptsPrefix(h, "a"));
  EXPECT_TRUE(ReferenceAcceptsPrefix(h, "b"));
}

TEST(GrammarTest, RandomSentencesAreAccepted) {
  Grammar g;
  const uint32_t root = g.AddRule("root");
  const uint32_t list = g.AddRule("list");
  const GrammarElement word =
      g.Repeat("word", {g.CodepointClass({{'a', 'z'}, {0x3B1, 0x3C9}}, false)}, 1, 6);
  g.AddAlternative(root, {g.Byte('['), Grammar::Ref(list), g.Byte(']')});
  g.AddAlternative(list, {});
  g.AddAlternative(list, {word});
  g.AddAlternative(list, {word, g.Byte(','), Grammar::Ref(list)});
  g.AddAlternative(list, {g.Byte('['), Grammar::Ref(list), g.Byte(']')});
  g.set_root(root);
  ASSERT_TRUE(g.Validate().ok());
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    const std::string s = testing::RandomSentence(g, rng);
    EXPECT_TRUE(ReferenceAccepts(g, s)) << s;
    EXPECT_TRUE(ReferenceAcceptsPrefix(g, s.substr(0, s.size() / 2))) << s;
  }
}

}  // namespace
}  // namespace wick
