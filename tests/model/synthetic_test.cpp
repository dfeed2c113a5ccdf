// Synthetic models: preset shapes and parameter counts, block scales, vocabularies, and that
// the written file loads and runs.
#include "model/synthetic.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "model/llama.h"
#include "test_support.h"
#include "text/tokenizer.h"

namespace wick::model {
namespace {

TEST(SynthPresetTest, ShapesAndParameterCountsMatchTheRealModels) {
  Result<const SynthPreset*> l1b = FindSynthPreset("llama-1b");
  ASSERT_TRUE(l1b.ok());
  EXPECT_EQ((*l1b)->n_embd, 2048);
  EXPECT_EQ((*l1b)->n_head_kv, 8);
  EXPECT_NEAR(static_cast<double>(SynthParameterCount(**l1b, 32000)), 1.10e9, 0.01e9);
  Result<const SynthPreset*> l7b = FindSynthPreset("llama2-7b");
  ASSERT_TRUE(l7b.ok());
  EXPECT_NEAR(static_cast<double>(SynthParameterCount(**l7b, 32000)), 6.74e9, 0.01e9);
  Result<const SynthPreset*> l8b = FindSynthPreset("llama3-8b");
  ASSERT_TRUE(l8b.ok());
  EXPECT_EQ((*l8b)->n_ff, 14336);
  EXPECT_EQ((*l8b)->rope_base, 500000.0f);
  Result<const SynthPreset*> unknown = FindSynthPreset("llama-70b");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("tiny, llama-1b, llama2-7b, llama3-8b"),
            std::string::npos);
}

struct Written {
  testing::TempDir dir;
  std::filesystem::path path = dir.File("model.gguf");
};

void Write(const SynthOptions& options, const std::filesystem::path& path) {
  Result<GgufWriter> writer = BuildSyntheticModel(options);
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  ASSERT_TRUE(writer->WriteFile(path.string()).ok());
}

TEST(SynthModelTest, TinyLoadsRunsAndHasTheShapesAndScales) {
  const SynthPreset* tiny = *FindSynthPreset("tiny");
  for (DType type : {DType::kQ4_0, DType::kQ4_K, DType::kQ8_0, DType::kF16}) {
    SCOPED_TRACE(std::string(NameOf(type)));
    Written w;
    Write({.preset = tiny, .type = type, .output_type = {}, .vocab_from = nullptr, .seed = 3},
          w.path);
    Result<GgufFile> file = GgufFile::Open(w.path);
    ASSERT_TRUE(file.ok()) << file.error().message();
    const GgufTensorInfo* q = file->FindTensor("blk.3.attn_q.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->type, type);
    EXPECT_EQ(q->shape, (std::vector<int64_t>{256, 256}));
    const GgufTensorInfo* out = file->FindTensor("output.weight");
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->type, type == DType::kQ4_K ? DType::kQ6_K : type);  // as llama-quantize
    if (type == DType::kQ4_0) {
      const auto* blocks = reinterpret_cast<const Q4_0Block*>(q->data.data());
      for (int b = 0; b < 16; ++b) EXPECT_NEAR(F16ToF32(blocks[b].d), 0.004f, 1e-5f);
    }
    Result<LlamaModel> model = LlamaModel::Load(*file);
    ASSERT_TRUE(model.ok()) << model.error().message();
    EXPECT_EQ(model->hparams().n_vocab, kSynthVocabSize);
    EXPECT_EQ(model->hparams().n_layer, 4);
    Result<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromGguf(*file);
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.error().message();
    std::vector<int32_t> tokens = (*tokenizer)->Encode("hello world", {.add_special = true});
    ASSERT_GT(tokens.size(), 1u);
    EXPECT_EQ((*tokenizer)->Decode(tokens), "hello world");
    Result<KvCache> cache = KvCache::Create(model->hparams(), 64);
    ASSERT_TRUE(cache.ok());
    CpuBackend backend(2);
    std::vector<float> logits(static_cast<size_t>(kSynthVocabSize));
    ASSERT_TRUE(model->Forward(tokens, *cache, backend, logits.data(), true).ok());
    for (float l : logits) ASSERT_TRUE(std::isfinite(l));
  }
}

TEST(SynthModelTest, VocabularyComesFromAnotherFile) {
  WICK_REQUIRE_SHARED(shared);
  Result<GgufFile> vocab = GgufFile::Open(shared / "vocab/ggml-vocab-llama-spm.gguf");
  ASSERT_TRUE(vocab.ok());
  Written w;
  Write({.preset = *FindSynthPreset("tiny"),
         .type = DType::kQ8_0,
         .output_type = DType::kF16,
         .vocab_from = &*vocab,
         .seed = 1},
        w.path);
  Result<GgufFile> file = GgufFile::Open(w.path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(file->FindTensor("output.weight")->type, DType::kF16);
  Result<std::unique_ptr<Tokenizer>> mine = Tokenizer::FromGguf(*file);
  Result<std::unique_ptr<Tokenizer>> theirs = Tokenizer::FromGguf(*vocab);
  ASSERT_TRUE(mine.ok() && theirs.ok());
  const std::string text = "The quick brown fox, 1234 times!";
  EXPECT_EQ((*mine)->Encode(text, {}), (*theirs)->Encode(text, {}));
  Result<LlamaModel> model = LlamaModel::Load(*file);
  ASSERT_TRUE(model.ok()) << model.error().message();
  EXPECT_EQ(model->hparams().n_vocab, static_cast<int64_t>((*theirs)->size()));
}

TEST(SynthModelTest, TypesWickCannotRunAreErrors) {
  Result<GgufWriter> w = BuildSyntheticModel({.preset = *FindSynthPreset("tiny"),
                                              .type = DType::kIQ2_XXS,
                                              .output_type = {},
                                              .vocab_from = nullptr,
                                              .seed = 1});
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message().find("IQ2_XXS"), std::string::npos);
}

}  // namespace
}  // namespace wick::model
