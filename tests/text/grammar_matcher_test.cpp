// GrammarMatcher: the token mask must be exactly the set of tokens whose bytes keep the output
// a prefix of a sentence, checked token by token against a plain byte walk and against the
// Earley reference recognizer, on toy vocabularies and on a real 100k-token one.
#include "text/grammar/grammar_matcher.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "io/gguf_file.h"
#include "test_support.h"
#include "text/grammar/gbnf.h"
#include "text/grammar/json_schema.h"
#include "text/grammar_reference.h"

namespace wick::text {
namespace {

bool Bit(const std::vector<uint64_t>& mask, int32_t t) {
  return (mask[static_cast<size_t>(t) / 64] >> (t % 64)) & 1;
}

Grammar Gbnf(std::string_view source) {
  Result<Grammar> g = ParseGbnf(source);
  EXPECT_TRUE(g.ok()) << g.error().message();
  return g.ok() ? std::move(*g) : Grammar();
}

std::shared_ptr<CompiledGrammar> Compile(Grammar g, std::shared_ptr<const VocabTrie> trie) {
  auto compiled = CompiledGrammar::Create(std::move(g), std::move(trie));
  EXPECT_TRUE(compiled.ok()) << compiled.error().message();
  return compiled.ok() ? *compiled : nullptr;
}

// Every token of the mask, checked against the reference on output + piece.
void ExpectMaskMatchesReference(const Grammar& g, const VocabTrie& trie, GrammarMatcher& m,
                                const std::string& output) {
  std::vector<uint64_t> mask;
  m.FillMask(mask);
  const bool can_end = wick::testing::ReferenceAccepts(g, output);
  EXPECT_EQ(m.CanEnd(), can_end) << "after '" << output << "'";
  for (int32_t t = 0; t < trie.n_vocab(); ++t) {
    bool expected = false;
    if (trie.is_text(t)) {
      expected = wick::testing::ReferenceAcceptsPrefix(g, output + trie.piece(t));
    } else {
      const auto& eog = trie.eog();
      expected = can_end && std::find(eog.begin(), eog.end(), t) != eog.end();
    }
    ASSERT_EQ(Bit(mask, t), expected)
        << "token " << t << " '" << trie.piece(t) << "' after '" << output << "'";
    ASSERT_EQ(m.Accepts(t), expected) << "token " << t << " after '" << output << "'";
  }
}

std::vector<std::string> ToyPieces() {
  return {"</s>", "{",    "}",   "\"",   "\",",  "\":",  "a",     "ab", "abc", "b",     " ",
          "  ",   "\n",   ",",   ":",    "1",    "12",   "-",     ".",  "e",   "true",  "tr",
          "ue",   "null", "\"}", "\"a",  "{\"",  "}}",   "[",     "]",  "[]",  "\\",    "\\\"",
          "\\u",  "00",   "é",   "\xC3", "\xA9", "x\"y", "\",\"", "1,", "}]",  "\"b\":"};
}

TEST(GrammarMatcherTest, MaskEqualsReferenceAlongRandomPaths) {
  auto trie = VocabTrie::FromPieces(ToyPieces(), {0});
  const char* sources[] = {
      R"(root ::= "{" ws ( pair ( "," ws pair )* )? "}"
         pair ::= str ws ":" ws value ws
         value ::= str | num | "true" | "null" | root | "[" ws ( value ( "," ws value )* )? "]"
         str ::= "\"" ( [^"\\] | "\\" ["\\u] )* "\""
         num ::= "-"? [0-9]+ ( "." [0-9]+ )? ( "e" [0-9]+ )?
         ws ::= [ \n]?)",
      R"(root ::= ( "ab" | "a" "b"+ | "abc" ) ( "," root )?)",
      R"(root ::= [a-c]{2,5} "\"" [^a]* "\"")",
  };
  std::mt19937 rng(7);
  for (const char* source : sources) {
    Grammar g = Gbnf(source);
    auto compiled = Compile(g, trie);
    ASSERT_NE(compiled, nullptr);
    for (int run = 0; run < 20; ++run) {
      GrammarMatcher m(compiled);
      std::string output;
      for (int step = 0; step < 24; ++step) {
        ExpectMaskMatchesReference(g, *trie, m, output);
        if (HasFatalFailure()) return;
        std::vector<uint64_t> mask;
        m.FillMask(mask);
        std::vector<int32_t> allowed;
        for (int32_t t = 0; t < trie->n_vocab(); ++t) {
          if (Bit(mask, t) && trie->is_text(t)) allowed.push_back(t);
        }
        if (allowed.empty()) break;
        const int32_t t = allowed[rng() % allowed.size()];
        ASSERT_TRUE(m.Advance(t).ok());
        output += trie->piece(t);
      }
    }
  }
}

TEST(GrammarMatcherTest, CompleteAndEndOfGeneration) {
  auto trie = VocabTrie::FromPieces({"</s>", "yes", "no", "y", "es"}, {0});
  auto compiled = Compile(Gbnf(R"(root ::= "yes" | "no")"), trie);
  GrammarMatcher m(compiled);
  EXPECT_FALSE(m.Accepts(0));  // end of generation before a whole answer
  EXPECT_FALSE(m.CanEnd());
  ASSERT_TRUE(m.Advance(3).ok());
  EXPECT_FALSE(m.IsComplete());
  EXPECT_FALSE(m.Advance(2).ok());  // "yno": refused, state unchanged
  ASSERT_TRUE(m.Advance(4).ok());
  EXPECT_TRUE(m.IsComplete());
  EXPECT_TRUE(m.Accepts(0));
  m.Reset();
  EXPECT_TRUE(m.Accepts(2));
  EXPECT_TRUE(m.AdvanceBytes("n"));
  EXPECT_FALSE(m.AdvanceBytes("x"));
  EXPECT_TRUE(m.AdvanceBytes("o"));
  EXPECT_TRUE(m.CanEnd());
}

TEST(GrammarMatcherTest, FirstPieceMayLoseItsLeadingSpace) {
  // SentencePiece output drops the first piece's space: " {" may start a JSON object.
  auto trie = VocabTrie::FromPieces({"</s>", " {", "{", " ", "}", " }"}, {0}, true);
  auto compiled = Compile(Gbnf(R"(root ::= "{" " "? "}")"), trie);
  GrammarMatcher m(compiled);
  std::vector<uint64_t> mask;
  m.FillMask(mask);
  EXPECT_TRUE(Bit(mask, 1));
  EXPECT_TRUE(Bit(mask, 2));
  EXPECT_TRUE(Bit(mask, 3));  // becomes nothing at all
  EXPECT_FALSE(Bit(mask, 4));
  ASSERT_TRUE(m.Advance(1).ok());
  m.FillMask(mask);
  EXPECT_TRUE(Bit(mask, 5));  // later pieces keep their space
  EXPECT_FALSE(Bit(mask, 1));
}

TEST(GrammarMatcherTest, LongStringsKeepOneState) {
  auto trie = VocabTrie::FromPieces({"</s>", "\"", "a", "b"}, {0});
  auto compiled = Compile(Gbnf(R"(root ::= "\"" [ab]* "\"")"), trie);
  GrammarMatcher m(compiled);
  ASSERT_TRUE(m.Advance(1).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(m.Advance(2).ok());
  const size_t states = compiled->n_states();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(m.Advance(i % 2 == 0 ? 2 : 3).ok());
  EXPECT_EQ(compiled->n_states(), states);  // right recursion does not grow the stack
  ASSERT_TRUE(m.Advance(1).ok());
  EXPECT_TRUE(m.IsComplete());
}

// Nested repetitions multiply the parses (2^depth stacks): the matcher must give up with an
// error, not hang or exhaust memory (found by the grammar fuzzer).
TEST(GrammarMatcherTest, ExplodingAmbiguityIsAnErrorNotAHang) {
  auto trie = VocabTrie::FromPieces({"</s>", "a", "aa", "."}, {0});
  std::string source = "root ::= [a.]";
  for (int i = 0; i < 60; ++i) source += "+";
  Result<Grammar> g = ParseGbnf(source);
  ASSERT_TRUE(g.ok()) << g.error().message();
  auto compiled = CompiledGrammar::Create(std::move(*g), trie);
  if (!compiled.ok()) {
    EXPECT_NE(compiled.error().message().find("ambiguous"), std::string::npos);
    return;
  }
  GrammarMatcher m(*compiled);
  std::vector<uint64_t> mask;
  bool failed = false;
  for (int step = 0; step < 8 && !failed; ++step) {
    m.FillMask(mask);
    failed = !m.Advance(2).ok();
  }
  EXPECT_TRUE(failed);
  EXPECT_TRUE(m.overflowed());
}

// A real 100k vocabulary: random generations under a schema, the mask checked against
// walking every token, and the finished output parsed as JSON.
TEST(GrammarMatcherTest, RealVocabularySchemaGenerations) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> file = GgufFile::Open((shared / "vocab/ggml-vocab-deepseek-llm.gguf").string());
  ASSERT_TRUE(file.ok()) << file.error().message();
  auto tokenizer = Tokenizer::FromGguf(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message();
  auto trie = VocabTrie::Build(**tokenizer);
  const auto schema = nlohmann::json::parse(R"({
    "type": "object", "additionalProperties": false, "required": ["cmd", "tags", "level"],
    "properties": {
      "cmd": {"type": "string"},
      "tags": {"type": "array", "items": {"type": "string", "maxLength": 6}, "maxItems": 3},
      "level": {"enum": ["safe", "caution", "dangerous"]},
      "n": {"type": "integer"}
    }})");
  Result<Grammar> g = JsonSchemaGrammar(schema);
  ASSERT_TRUE(g.ok()) << g.error().message();
  auto compiled = Compile(*g, trie);
  std::mt19937 rng(11);
  std::vector<uint64_t> mask;
  for (int run = 0; run < 4; ++run) {
    GrammarMatcher m(compiled);
    std::string output;
    for (int step = 0; step < 400 && !m.IsComplete(); ++step) {
      m.FillMask(mask);
      std::vector<int32_t> allowed;
      for (int32_t t = 0; t < trie->n_vocab(); ++t) {
        if (step % 16 == 0 && trie->is_text(t)) {
          ASSERT_EQ(Bit(mask, t), m.Accepts(t)) << "token " << t << " after " << output;
        }
        if (Bit(mask, t) && trie->is_text(t)) allowed.push_back(t);
      }
      ASSERT_FALSE(allowed.empty()) << output;
      // Prefer short tokens now and then so strings end and the run finishes.
      int32_t t = allowed[rng() % allowed.size()];
      if (step > 40) {
        for (int32_t c : allowed) {
          if (trie->piece(c).find_first_of("\"]}") != std::string::npos && rng() % 4 == 0) {
            t = c;
            break;
          }
        }
      }
      ASSERT_TRUE(m.Advance(t).ok());
      output += trie->piece(t);
    }
    ASSERT_TRUE(m.IsComplete()) << output;
    const auto parsed = nlohmann::json::parse(output, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << output;
    EXPECT_TRUE(parsed.contains("cmd") && parsed["cmd"].is_string()) << output;
    EXPECT_LE(parsed["tags"].size(), 3u) << output;
  }
}

}  // namespace
}  // namespace wick::text
