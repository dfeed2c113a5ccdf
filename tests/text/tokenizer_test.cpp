// The reference test vectors of every vocabulary in ../shared/vocab, plus edge cases.
#include "text/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "test_support.h"

namespace wick {
namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> SplitTests(const std::string& inp) {
  constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> tests;
  size_t start = 0;
  for (size_t at; (at = inp.find(kSeparator, start)) != std::string::npos;) {
    tests.push_back(inp.substr(start, at - start));
    start = at + kSeparator.size();
  }
  return tests;
}

std::vector<std::vector<int32_t>> ReadExpected(const std::filesystem::path& path) {
  std::vector<std::vector<int32_t>> expected;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<int32_t> ids;
    for (int32_t id; words >> id;) ids.push_back(id);
    expected.push_back(std::move(ids));
  }
  return expected;
}

std::string Join(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) out += " " + std::to_string(id);
  return out;
}

class VocabVectorsTest : public ::testing::TestWithParam<const char*> {};

TEST_P(VocabVectorsTest, MatchesReference) {
  WICK_REQUIRE_SHARED(shared);
  const std::filesystem::path gguf = shared / "vocab" / GetParam();
  Result<GgufFile> file = GgufFile::Open(gguf.string());
  ASSERT_TRUE(file.ok()) << file.error().message();
  Result<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromGguf(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message();

  const std::vector<std::string> tests = SplitTests(ReadText(gguf.string() + ".inp"));
  const auto expected = ReadExpected(gguf.string() + ".out");
  ASSERT_EQ(tests.size(), expected.size());
  size_t passed = 0;
  for (size_t i = 0; i < tests.size(); ++i) {
    const std::vector<int32_t> ids =
        (*tokenizer)->Encode(tests[i], {.add_special = false, .parse_special = false});
    if (ids == expected[i]) {
      ++passed;
    } else {
      ADD_FAILURE() << GetParam() << " case " << i << " " << Quote(tests[i]) << "\n  want"
                    << Join(expected[i]) << "\n  got " << Join(ids);
    }
  }
  std::cout << "[ vectors  ] " << GetParam() << ": " << passed << "/" << tests.size()
            << " cases pass\n";
}

INSTANTIATE_TEST_SUITE_P(SharedVocabs, VocabVectorsTest,
                         ::testing::Values("ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
                                           "ggml-vocab-gpt-2.gguf",
                                           "ggml-vocab-deepseek-coder.gguf",
                                           "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-falcon.gguf",
                                           "ggml-vocab-starcoder.gguf", "ggml-vocab-bert-bge.gguf"),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           std::string name = param.param;
                           name = name.substr(
                               11, name.size() - 16);  // between "ggml-vocab-" and ".gguf"
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

class LoadedTokenizer : public ::testing::Test {
 protected:
  std::unique_ptr<Tokenizer> Load(const char* name) {
    auto dir = testing::SharedDir();
    if (!dir) return nullptr;
    auto file = GgufFile::Open((*dir / "vocab" / name).string());
    if (!file.ok()) return nullptr;
    auto tokenizer = Tokenizer::FromGguf(*file);
    return tokenizer.ok() ? std::move(tokenizer).value() : nullptr;
  }
};

#define WICK_LOAD_OR_SKIP(var, name)                                       \
  std::unique_ptr<Tokenizer> var = Load(name);                             \
  if (!testing::SharedDir()) GTEST_SKIP() << "shared test data not found"; \
  ASSERT_NE(var, nullptr)

TEST_F(LoadedTokenizer, EmptyStringGivesNoTokensOrJustBos) {
  WICK_LOAD_OR_SKIP(spm, "ggml-vocab-llama-spm.gguf");
  EXPECT_TRUE(spm->Encode("", {.add_special = false}).empty());
  EXPECT_EQ(spm->Encode("", {.add_special = true}), std::vector<int32_t>{spm->vocab().bos});
  WICK_LOAD_OR_SKIP(gpt2, "ggml-vocab-gpt-2.gguf");
  EXPECT_TRUE(gpt2->Encode("", {.add_special = false}).empty());
}

TEST_F(LoadedTokenizer, AddSpecialPutsBosFirstOnLlama) {
  WICK_LOAD_OR_SKIP(spm, "ggml-vocab-llama-spm.gguf");
  const auto ids = spm->Encode("Hello world", {.add_special = true});
  ASSERT_GE(ids.size(), 2u);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[0], spm->vocab().bos);
  const auto plain = spm->Encode("Hello world", {.add_special = false});
  EXPECT_EQ(std::vector<int32_t>(ids.begin() + 1, ids.end()), plain);
}

TEST_F(LoadedTokenizer, ParseSpecialTurnsTextIntoControlTokens) {
  WICK_LOAD_OR_SKIP(spm, "ggml-vocab-llama-spm.gguf");
  const auto parsed = spm->Encode("<s>Hi", {.add_special = false, .parse_special = true});
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed[0], spm->vocab().bos);
  EXPECT_EQ(std::vector<int32_t>(parsed.begin() + 1, parsed.end()),
            spm->Encode("Hi", {.add_special = false}));
  const auto literal = spm->Encode("<s>Hi", {.add_special = false, .parse_special = false});
  EXPECT_EQ(std::count(literal.begin(), literal.end(), spm->vocab().bos), 0);
  EXPECT_GT(literal.size(), parsed.size());
}

TEST_F(LoadedTokenizer, ByteFallbackForCharactersOutsideTheVocabulary) {
  WICK_LOAD_OR_SKIP(spm, "ggml-vocab-llama-spm.gguf");
  // U+1F9CA (ice cube) is no token in Llama 2's vocabulary: four byte tokens.
  const std::string ice = "\xF0\x9F\xA7\x8A";
  const auto ids = spm->Encode(ice, {.add_special = false});
  ASSERT_GE(ids.size(), 4u);
  std::string bytes;
  for (size_t i = ids.size() - 4; i < ids.size(); ++i) {
    EXPECT_EQ(spm->vocab().types[ids[i]], TokenType::kByte);
    bytes += spm->TokenPiece(ids[i]);
  }
  EXPECT_EQ(bytes, ice);
  EXPECT_EQ(spm->Decode(ids), ice);
}

TEST_F(LoadedTokenizer, TokenPieceUndoesEscaping) {
  WICK_LOAD_OR_SKIP(spm, "ggml-vocab-llama-spm.gguf");
  EXPECT_EQ(spm->TokenPiece(spm->vocab().Find("\xE2\x96\x81the")), " the");
  EXPECT_EQ(spm->TokenPiece(spm->vocab().Find("<0x0A>")), "\n");
  EXPECT_EQ(spm->TokenPiece(-1), "");
  WICK_LOAD_OR_SKIP(gpt2, "ggml-vocab-gpt-2.gguf");
  EXPECT_EQ(gpt2->TokenPiece(gpt2->vocab().Find("\xC4\xA0the")), " the");  // "Ġthe"
}

TEST_F(LoadedTokenizer, RoundTripsText) {
  const std::string text = "Hello, world! Ça va? 你好 🦙\n\tend";
  for (const char* name : {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf",
                           "ggml-vocab-deepseek-coder.gguf", "ggml-vocab-phi-3.gguf"}) {
    WICK_LOAD_OR_SKIP(tokenizer, name);
    EXPECT_EQ(tokenizer->Decode(tokenizer->Encode(text, {.add_special = true})), text) << name;
  }
}

TEST_F(LoadedTokenizer, DetokenizerHoldsSplitCharacters) {
  WICK_LOAD_OR_SKIP(spm, "ggml-vocab-llama-spm.gguf");
  const std::string ice = "a\xF0\x9F\xA7\x8A";
  const auto ids = spm->Encode(ice, {.add_special = false});
  ASSERT_GE(ids.size(), 5u);
  Detokenizer detokenizer(*spm);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string part = detokenizer.Push(id);
    // Every part is complete UTF-8 by itself.
    if (!part.empty()) {
      EXPECT_TRUE(part == "a" || part == "\xF0\x9F\xA7\x8A") << Quote(part);
    }
    streamed += part;
  }
  EXPECT_EQ(detokenizer.Flush(), "");
  EXPECT_EQ(streamed, ice);

  WICK_LOAD_OR_SKIP(gpt2, "ggml-vocab-gpt-2.gguf");
  Detokenizer gpt2_stream(*gpt2);
  std::vector<std::string> parts;
  for (int32_t id : gpt2->Encode("\xF0\x9F\xA7\x8A", {.add_special = false})) {
    parts.push_back(gpt2_stream.Push(id));
  }
  ASSERT_GE(parts.size(), 2u);  // the emoji spans several byte-level tokens
  EXPECT_EQ(parts.back(), "\xF0\x9F\xA7\x8A");
  for (size_t i = 0; i + 1 < parts.size(); ++i) EXPECT_EQ(parts[i], "");
}

TEST_F(LoadedTokenizer, InvalidUtf8DoesNotCrash) {
  const std::string bad = std::string("ok \xFF\xC3 \xE2\x82 x\xF0\x9F", 12) + std::string(1, '\0');
  for (const char* name :
       {"ggml-vocab-llama-spm.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-bert-bge.gguf",
        "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-falcon.gguf"}) {
    WICK_LOAD_OR_SKIP(tokenizer, name);
    const auto ids = tokenizer->Encode(bad, {.add_special = true, .parse_special = true});
    EXPECT_FALSE(ids.empty()) << name;
    for (int32_t id : ids) EXPECT_TRUE(tokenizer->vocab().Valid(id)) << name;
    Detokenizer detokenizer(*tokenizer);
    for (int32_t id : ids) detokenizer.Push(id);
    detokenizer.Flush();
  }
}

TEST_F(LoadedTokenizer, BertAddsClsAndSep) {
  WICK_LOAD_OR_SKIP(bert, "ggml-vocab-bert-bge.gguf");
  const auto ids = bert->Encode("Hello World", {.add_special = true});
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids.front(), bert->vocab().cls);
  EXPECT_EQ(ids.back(), bert->vocab().sep);
  EXPECT_EQ(bert->Decode(ids), "hello world");
}

TEST_F(LoadedTokenizer, EndOfGenerationTokens) {
  WICK_LOAD_OR_SKIP(spm, "ggml-vocab-llama-spm.gguf");
  EXPECT_TRUE(spm->IsEog(spm->vocab().eos));
  EXPECT_FALSE(spm->IsEog(spm->vocab().bos));
  WICK_LOAD_OR_SKIP(phi3, "ggml-vocab-phi-3.gguf");
  const int32_t end = phi3->vocab().Find("<|end|>");
  ASSERT_NE(end, kNoToken);
  EXPECT_TRUE(phi3->IsEog(end));
}

}  // namespace
}  // namespace wick
