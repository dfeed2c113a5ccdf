// Vocabulary loading: what metadata is accepted and what each error names.
#include "text/vocab.h"

#include <gtest/gtest.h>

#include "io/gguf_writer.h"
#include "text/tokenizer.h"

namespace wick {
namespace {

// A tiny in-memory vocabulary file; `edit` changes keys before it is written.
class TinyVocab {
 public:
  explicit TinyVocab(const std::string& model) {
    Set("tokenizer.ggml.model", GgufValue::String(model));
    Set("tokenizer.ggml.tokens", GgufValue::StringArray({"<unk>", "<s>", "</s>", "a", "b", "ab"}));
    Set("tokenizer.ggml.merges", GgufValue::StringArray({"a b"}));
  }
  void Set(std::string_view key, GgufValue value) { ASSERT_TRUE(writer_.Set(key, value).ok()); }
  Result<GgufFile> Parse() {
    bytes_ = writer_.WriteToBuffer();
    return GgufFile::Parse(bytes_, "tiny.gguf");
  }

 private:
  GgufWriter writer_;
  std::vector<uint8_t> bytes_;
};

std::string LoadError(TinyVocab& tiny) {
  Result<GgufFile> file = tiny.Parse();
  if (!file.ok()) return "parse: " + file.error().message();
  Result<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromGguf(*file);
  return tokenizer.ok() ? "" : tokenizer.error().message();
}

TEST(VocabTest, UnknownModelListsSupportedOnes) {
  TinyVocab tiny("rwkv");
  const std::string error = LoadError(tiny);
  EXPECT_NE(error.find("tokenizer.ggml.model"), std::string::npos) << error;
  EXPECT_NE(error.find("llama, gpt2, bert"), std::string::npos) << error;
}

TEST(VocabTest, UnknownPreTokenizerIsNamed) {
  TinyVocab tiny("gpt2");
  tiny.Set("tokenizer.ggml.pre", GgufValue::String("martian"));
  const std::string error = LoadError(tiny);
  EXPECT_NE(error.find("martian"), std::string::npos) << error;
}

TEST(VocabTest, IdOutsideTheVocabularyIsAnError) {
  TinyVocab tiny("llama");
  tiny.Set("tokenizer.ggml.eos_token_id", GgufValue::Scalar<uint32_t>(99));
  const std::string error = LoadError(tiny);
  EXPECT_NE(error.find("tokenizer.ggml.eos_token_id"), std::string::npos) << error;
  EXPECT_NE(error.find("99"), std::string::npos) << error;
}

TEST(VocabTest, MissingTokensKeyIsNamed) {
  GgufWriter writer;
  ASSERT_TRUE(writer.Set("tokenizer.ggml.model", GgufValue::String("llama")).ok());
  std::vector<uint8_t> bytes = writer.WriteToBuffer();
  Result<GgufFile> file = GgufFile::Parse(bytes, "empty.gguf");
  ASSERT_TRUE(file.ok());
  Result<Vocab> vocab = LoadVocab(*file);
  ASSERT_FALSE(vocab.ok());
  EXPECT_NE(vocab.error().message().find("tokenizer.ggml.tokens"), std::string::npos)
      << vocab.error().message();
}

TEST(VocabTest, ScoresOfTheWrongLengthAreAnError) {
  TinyVocab tiny("llama");
  tiny.Set("tokenizer.ggml.scores", GgufValue::Array<float>({1.0f, 2.0f}));
  EXPECT_NE(LoadError(tiny).find("tokenizer.ggml.scores"), std::string::npos);
}

TEST(VocabTest, GptMergesApplyInOrder) {
  TinyVocab tiny("gpt2");
  tiny.Set("tokenizer.ggml.pre", GgufValue::String("gpt-2"));
  Result<GgufFile> file = tiny.Parse();
  ASSERT_TRUE(file.ok());
  Result<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromGguf(*file);
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message();
  EXPECT_EQ((*tokenizer)->Encode("abab", {.add_special = false}), (std::vector<int32_t>{5, 5}));
  EXPECT_EQ((*tokenizer)->Encode("ba", {.add_special = false}), (std::vector<int32_t>{4, 3}));
}

TEST(VocabTest, ControlTokensWithEndTextAreEog) {
  TinyVocab tiny("llama");
  tiny.Set("tokenizer.ggml.tokens",
           GgufValue::StringArray({"<unk>", "<s>", "</s>", "<|im_end|>", "x"}));
  tiny.Set("tokenizer.ggml.token_type", GgufValue::Array<int32_t>({2, 3, 3, 3, 1}));
  Result<GgufFile> file = tiny.Parse();
  ASSERT_TRUE(file.ok());
  Result<Vocab> vocab = LoadVocab(*file);
  ASSERT_TRUE(vocab.ok()) << vocab.error().message();
  EXPECT_EQ(vocab->eog, (std::vector<int32_t>{2, 3}));
}

}  // namespace
}  // namespace wick
