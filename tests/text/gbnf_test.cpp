// GBNF parsing: realistic grammars (JSON, arithmetic, lists) checked by what they accept
// through the reference recognizer, the escape and class syntax, and errors with line:column.
#include "text/grammar/gbnf.h"

#include <gtest/gtest.h>

#include <random>

#include "text/grammar_reference.h"

namespace wick {
namespace {

using testing::ReferenceAccepts;
using text::Grammar;
using text::ParseGbnf;

Grammar MustParse(std::string_view source, std::string_view root = "root") {
  Result<Grammar> grammar = ParseGbnf(source, root);
  EXPECT_TRUE(grammar.ok()) << grammar.error().message();
  return grammar.ok() ? std::move(grammar).value() : Grammar();
}

std::string ParseError(std::string_view source) {
  Result<Grammar> grammar = ParseGbnf(source);
  return grammar.ok() ? "(parsed)" : grammar.error().message();
}

// llama.cpp's grammars/json.gbnf, as people write it.
constexpr std::string_view kJsonGbnf = R"(
root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

# Optional space: by convention, applied in this grammar after literal chars when allowed
ws ::= | " " | "\n" [ \t]{0,20}
)";

TEST(GbnfTest, JsonGrammar) {
  const Grammar g = MustParse(kJsonGbnf);
  for (const char* ok : {
           "{}",
           "{\"a\": 1}",
           "{\"a\": [1, 2.5, -3e7, true, null], \"b\": {\"c\": \"d\\n\\u00e9\"}}",
           "{\"k\": \"caf\xc3\xa9 \xf0\x9f\x98\x80\"} ",
           "{\n  \"x\": {}\n}",
       }) {
    EXPECT_TRUE(ReferenceAccepts(g, ok)) << ok;
  }
  for (const char* bad : {
           "",
           "[]",
           "{\"a\" 1}",
           "{\"a\": 1,}",
           "{\"a\": 01x}",
           "{\"a\": \"\\q\"}",
           "{\"a\": \"\x01\"}",
           "{\"a\": \"\xff\"}",
           "{'a': 1}",
           " {}",
       }) {
    EXPECT_FALSE(ReferenceAccepts(g, bad)) << bad;
  }
  EXPECT_TRUE(testing::ReferenceAcceptsPrefix(g, "{\"a\": [1, "));
}

TEST(GbnfTest, ArithmeticWithRightRecursionAndGroups) {
  const Grammar g = MustParse(R"gbnf(
    root   ::= expr
    expr   ::= term (("+" | "-") term)*
    term   ::= factor (("*" | "/") factor)*
    factor ::= number | "(" expr ")" | "-" factor
    number ::= [0-9]+ ("." [0-9]+)?
  )gbnf");
  for (const char* ok : {"1", "1+2", "(1+2)*3", "-(4.5/2)-7*8", "((((1))))", "1*2*3*4+5"}) {
    EXPECT_TRUE(ReferenceAccepts(g, ok)) << ok;
  }
  for (const char* bad : {"", "+1", "1+", "(1", "1)", "1..2", "1 + 2"}) {
    EXPECT_FALSE(ReferenceAccepts(g, bad)) << bad;
  }
}

TEST(GbnfTest, ListGrammarWithContinuationLinesAndComments) {
  const Grammar g = MustParse(
      "# a markdown list of 1 to 3 items\n"
      "root ::= item{1,3}   # at most three\n"
      "item ::= \"- \" [^\\n]+ \"\\n\"\n"
      "  | \"* \" word (\" \" word)* \"\\n\" # starred items are plain words\n"
      "word ::= [a-zA-Z_]+\n");
  EXPECT_TRUE(ReferenceAccepts(g, "- one\n"));
  EXPECT_TRUE(ReferenceAccepts(g, "- caf\xc3\xa9 # not a comment\n* two words\n- x\n"));
  EXPECT_FALSE(ReferenceAccepts(g, ""));
  EXPECT_FALSE(ReferenceAccepts(g, "- a\n- b\n- c\n- d\n"));
  EXPECT_FALSE(ReferenceAccepts(g, "* two  spaces\n"));
  EXPECT_FALSE(ReferenceAccepts(g, "- \n"));
}

TEST(GbnfTest, EscapesClassesAndAnyCharacter) {
  const Grammar g = MustParse(
      R"(root ::= "\x41\u00e9\U0001F600\n\t\\\"\r" [\]\-\\^a] [^\x00-\x7F] . "é" [α-ω]{2})");
  EXPECT_TRUE(ReferenceAccepts(
      g, "A\xc3\xa9\xf0\x9f\x98\x80\n\t\\\"\r]\xe4\xb8\xadz\xc3\xa9\xce\xb1\xcf\x89"));
  EXPECT_TRUE(ReferenceAccepts(
      g, "A\xc3\xa9\xf0\x9f\x98\x80\n\t\\\"\r-\xc3\xbf\xf0\x9f\x98\x80\xc3\xa9\xce\xb2\xce\xb3"));
  EXPECT_TRUE(ReferenceAccepts(
      g, "A\xc3\xa9\xf0\x9f\x98\x80\n\t\\\"\r^\xc2\x80\n\xc3\xa9\xce\xb1\xce\xb1"));
  // 'b' is not in the first class, 'z' not above U+007F, a lone continuation byte not a char.
  EXPECT_FALSE(
      ReferenceAccepts(g, "A\xc3\xa9\xf0\x9f\x98\x80\n\t\\\"\rb\xc2\x80z\xc3\xa9\xce\xb1\xce\xb1"));
  EXPECT_FALSE(
      ReferenceAccepts(g, "A\xc3\xa9\xf0\x9f\x98\x80\n\t\\\"\ra z\xc3\xa9\xce\xb1\xce\xb1"));
  EXPECT_FALSE(ReferenceAccepts(
      g, "A\xc3\xa9\xf0\x9f\x98\x80\n\t\\\"\ra\xc2\x80\x80\xc3\xa9\xce\xb1\xce\xb1"));
}

TEST(GbnfTest, RepetitionForms) {
  const Grammar g = MustParse(R"(
root ::= a b c d e
a ::= "a"{2}
b ::= "b"{1,}
c ::= "c"{0,2}
d ::= ("d" | "D"){ 1 , 3 }
e ::= "xy"?
)");
  EXPECT_TRUE(ReferenceAccepts(g, "aabd"));
  EXPECT_TRUE(ReferenceAccepts(g, "aabbbccdDdxy"));
  EXPECT_FALSE(ReferenceAccepts(g, "abd"));
  EXPECT_FALSE(ReferenceAccepts(g, "aaad"));
  EXPECT_FALSE(ReferenceAccepts(g, "aabcccd"));
  EXPECT_FALSE(ReferenceAccepts(g, "aabdddd"));
  EXPECT_FALSE(ReferenceAccepts(g, "aabdx"));  // ? applies to the whole literal
}

TEST(GbnfTest, HeaderExample) {
  const Grammar g = MustParse(R"(root   ::= answer ("," ws answer)*
answer ::= "yes" | "no" | [0-9]+ | [^"\\\x00-\x1f]{1,8}
ws     ::= [ \t\n]*)");
  EXPECT_TRUE(ReferenceAccepts(g, "yes,no, 42,\t\n\xc3\xa9t\xc3\xa9"));
  EXPECT_TRUE(ReferenceAccepts(g, "12345678901234"));
  EXPECT_FALSE(ReferenceAccepts(g, "123456789x"));  // nine characters
  EXPECT_FALSE(ReferenceAccepts(g, "a\"b"));
  EXPECT_FALSE(ReferenceAccepts(g, "yes,\x01"));  // nothing valid after the comma
}

TEST(GbnfTest, OtherRootAndEmptyAlternatives) {
  const Grammar g = MustParse("start ::= \"<\" opt \">\"\nopt ::= | \"x\" | \"\"\n", "start");
  EXPECT_TRUE(ReferenceAccepts(g, "<>"));
  EXPECT_TRUE(ReferenceAccepts(g, "<x>"));
  EXPECT_FALSE(ReferenceAccepts(g, "<xx>"));
  EXPECT_NE(ParseError("start ::= \"x\"").find("no rule named 'root'"), std::string::npos);
}

TEST(GbnfTest, ErrorsGiveLineAndColumn) {
  struct Case {
    std::string source;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"root ::= item\nitem ::= \"a\" missing\n", "gbnf 2:14: undefined rule 'missing'"},
      {"root ::= \"a\"\nitem = \"b\"\n", "gbnf 2:6: expected '::='"},
      {"root ::= \"abc\n", "gbnf 1:10: unterminated string literal"},
      {"root ::= \"\\q\"", "gbnf 1:11: unknown escape"},
      {"root ::= [a-z\n", "gbnf 1:10: unterminated character class"},
      {"root ::= [z-a]", "gbnf 1:12: character range is out of order"},
      {"root ::= \"a\"{3,1}", "gbnf 1:13: repetition {3,1} has max < min"},
      {"root ::= \"a\" )", "gbnf 1:14: unexpected ')'"},
      {"root ::= ( \"a\" ", "gbnf 1:16: expected ')'"},
      {"root ::= * \"a\"", "gbnf 1:10: '*' has nothing to repeat"},
      {"root ::= \"a\"\nroot ::= \"b\"", "gbnf 2:1: rule 'root' is defined twice"},
      {"root ::=\n", "gbnf 2:1: rule 'root' has an empty body"},
      {"root ::= \"\\uD800\"", "gbnf 1:11: U+D800 is not a valid code point"},
      {"root ::= \"a\" b ::= \"c\"", "gbnf 1:16: '::=' in the middle of a rule"},
      {"root ::= []", "gbnf 1:10: empty character class"},
      {"root ::= \"a\"{9999999}", "gbnf 1:14: repetition count over"},
      {"::= \"a\"", "gbnf 1:1: expected a rule name"},
  };
  for (const Case& c : cases) {
    const std::string error = ParseError(c.source);
    EXPECT_EQ(error.rfind(c.expected, 0), 0u) << c.source << "\n -> " << error;
  }
}

TEST(GbnfTest, LeftRecursionIsRefusedNamingTheRule) {
  const std::string error =
      ParseError("root ::= expr\nexpr ::= expr \"+\" num | num\nnum ::= [0-9]+\n");
  EXPECT_NE(error.find("'expr' is left-recursive"), std::string::npos) << error;
  const std::string hidden = ParseError("root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"b\"\n");
  EXPECT_NE(hidden.find("left-recursive"), std::string::npos) << hidden;
  EXPECT_TRUE(ParseGbnf("root ::= \"x\" root | \"y\"").ok());
}

TEST(GbnfTest, RandomSentencesOfTheJsonGrammarAreAccepted) {
  const Grammar g = MustParse(kJsonGbnf);
  std::mt19937 rng(11);
  for (int i = 0; i < 100; ++i) {
    const std::string s = testing::RandomSentence(g, rng, 12, 200);
    EXPECT_TRUE(ReferenceAccepts(g, s)) << s;
  }
}

}  // namespace
}  // namespace wick
