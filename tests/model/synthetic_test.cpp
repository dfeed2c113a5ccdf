// Synthetic models: preset shapes and parameter counts, block scales, vocabularies, and that
// the written file loads and runs.
#include "model/synthetic.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

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
  EXPECT_NE(unknown.error().message().find("tiny, llama-1b, llama2-7b, llama3-8b, qwen2-1.5b"),
            std::string::npos);
}

TEST(SynthPresetTest, Qwen2HasTheRealShapeAndParameterCount) {
  Result<const SynthPreset*> found = FindSynthPreset("qwen2-1.5b");
  ASSERT_TRUE(found.ok());
  const SynthPreset& q = **found;
  EXPECT_EQ(q.arch, "qwen2");
  EXPECT_EQ(q.n_embd, 1536);
  EXPECT_EQ(q.n_layer, 28);
  EXPECT_EQ(q.n_head, 12);
  EXPECT_EQ(q.n_head_kv, 2);
  EXPECT_EQ(q.n_ff, 8960);
  EXPECT_EQ(q.n_ctx, 32768);
  EXPECT_EQ(q.rope_base, 1e6f);
  EXPECT_EQ(q.norm_eps, 1e-6f);
  EXPECT_EQ(q.n_vocab, 151936);
  EXPECT_TRUE(q.tied_embeddings);
  // Qwen2-1.5B: 1.54B parameters, the tied embedding counted once.
  EXPECT_NEAR(static_cast<double>(SynthParameterCount(q, 151936)), 1.544e9, 0.002e9);
}

// GPT-2 small: 124,439,808 parameters (tied embeddings, 1024 learned positions, every bias and
// LayerNorm counted), as Hugging Face reports for `gpt2`; and the file loads as the architecture.
TEST(SynthPresetTest, Gpt2HasTheRealParameterCountAndLoads) {
  const SynthPreset& g = **FindSynthPreset("gpt2");
  EXPECT_EQ(SynthParameterCount(g, 50257), 124439808);
  // Phi-2: 2,779,683,840 (untied, q/k/v and output biases).
  EXPECT_EQ(SynthParameterCount(**FindSynthPreset("phi2"), 51200), 2779683840);
  SynthPreset small = g;
  small.n_embd = 64;
  small.n_layer = 1;
  small.n_head = 2;
  small.n_head_kv = 2;
  small.n_ff = 256;
  small.n_ctx = 32;
  small.n_vocab = 0;
  Result<GgufWriter> writer = BuildSyntheticModel({.preset = &small,
                                                   .type = DType::kQ8_0,
                                                   .output_type = {},
                                                   .vocab_from = nullptr,
                                                   .seed = 1});
  ASSERT_TRUE(writer.ok()) << writer.error().message();
  Result<std::vector<uint8_t>> bytes = writer->WriteToBuffer();
  ASSERT_TRUE(bytes.ok());
  Result<GgufFile> file = GgufFile::Parse(*bytes, "gpt2-small.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_NE(file->FindTensor("position_embd.weight"), nullptr);
  EXPECT_NE(file->FindTensor("blk.0.attn_qkv.bias"), nullptr);
  EXPECT_EQ(file->FindTensor("blk.0.ffn_gate.weight"), nullptr);
  Result<LlamaModel> model = LlamaModel::Load(*file);
  ASSERT_TRUE(model.ok()) << model.error().message();
  EXPECT_EQ(model->hparams().arch->name, std::string_view("gpt2"));
  EXPECT_EQ(model->hparams().n_ctx_train, 32);
  CpuBackend cpu(1);
  Result<KvCache> cache = model->NewCache(32);
  ASSERT_TRUE(cache.ok());
  std::vector<float> logits(static_cast<size_t>(model->hparams().n_vocab));
  const std::vector<int32_t> tokens = {1, 300, 301};
  ASSERT_TRUE(model->Forward(tokens, *cache, cpu, logits.data(), true).ok());
  for (float l : logits) ASSERT_TRUE(std::isfinite(l));
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

// The qwen2-1.5b preset narrowed to one small layer: the same architecture, vocabulary size and
// tensor set, written in memory in well under a second.
SynthPreset SmallQwen2() {
  SynthPreset p = **FindSynthPreset("qwen2-1.5b");
  p.n_embd = 64;
  p.n_layer = 2;
  p.n_head = 4;
  p.n_head_kv = 2;
  p.n_ff = 128;
  return p;
}

struct InMemory {
  std::vector<uint8_t> bytes;
  Result<GgufFile> file = Error(ErrorCode::kNotFound, "not written");
};

std::unique_ptr<InMemory> WriteInMemory(const SynthOptions& options) {
  Result<GgufWriter> writer = BuildSyntheticModel(options);
  EXPECT_TRUE(writer.ok()) << writer.error().message();
  if (!writer.ok()) return nullptr;
  auto m = std::make_unique<InMemory>();
  m->bytes = writer->WriteToBuffer();
  m->file = GgufFile::Parse(m->bytes, "synthetic.gguf");
  EXPECT_TRUE(m->file.ok()) << m->file.error().message();
  return m->file.ok() ? std::move(m) : nullptr;
}

TEST(SynthModelTest, Qwen2PadsTheVocabularyAndLoadsWithBiasesAndTiedEmbeddings) {
  WICK_REQUIRE_SHARED(shared);
  const SynthPreset preset = SmallQwen2();
  // gpt-2: a byte-level BPE vocabulary without scores; llama-spm: SentencePiece, with scores.
  for (const char* name : {"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"}) {
    SCOPED_TRACE(name);
    Result<GgufFile> vocab = GgufFile::Open(shared / "vocab" / name);
    ASSERT_TRUE(vocab.ok()) << vocab.error().message();
    Result<std::span<const std::string_view>> theirs_tokens =
        vocab->GetStrings("tokenizer.ggml.tokens");
    ASSERT_TRUE(theirs_tokens.ok());
    const auto n_real = static_cast<int64_t>(theirs_tokens->size());
    ASSERT_LT(n_real, preset.n_vocab);
    std::unique_ptr<InMemory> m = WriteInMemory({.preset = &preset,
                                                 .type = DType::kQ8_0,
                                                 .output_type = {},
                                                 .vocab_from = &*vocab,
                                                 .seed = 1});
    ASSERT_NE(m, nullptr);
    const GgufFile& file = *m->file;
    EXPECT_EQ(*file.Get<std::string_view>("general.architecture"), "qwen2");
    EXPECT_EQ(*file.Get<uint32_t>("qwen2.vocab_size"), 151936u);
    EXPECT_EQ(*file.Get<float>("qwen2.attention.layer_norm_rms_epsilon"), 1e-6f);
    EXPECT_EQ(*file.Get<float>("qwen2.rope.freq_base"), 1e6f);

    Result<std::span<const std::string_view>> tokens = file.GetStrings("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok());
    ASSERT_EQ(static_cast<int64_t>(tokens->size()), preset.n_vocab);
    for (int64_t i = 0; i < n_real; i += 997) EXPECT_EQ((*tokens)[i], (*theirs_tokens)[i]);
    EXPECT_EQ((*tokens)[n_real], fmt::format("[PAD{}]", n_real));
    EXPECT_EQ((*tokens)[preset.n_vocab - 1], fmt::format("[PAD{}]", preset.n_vocab - 1));
    Result<std::vector<int32_t>> types = file.GetArray<int32_t>("tokenizer.ggml.token_type");
    ASSERT_TRUE(types.ok());
    ASSERT_EQ(static_cast<int64_t>(types->size()), preset.n_vocab);
    EXPECT_EQ((*types)[n_real], 5);  // unused
    EXPECT_EQ(types->back(), 5);
    if (vocab->Find("tokenizer.ggml.scores") != nullptr) {
      Result<std::vector<float>> scores = file.GetArray<float>("tokenizer.ggml.scores");
      ASSERT_TRUE(scores.ok());
      ASSERT_EQ(static_cast<int64_t>(scores->size()), preset.n_vocab);
      EXPECT_EQ(scores->back(), 0.0f);
    } else {
      EXPECT_EQ(file.Find("tokenizer.ggml.scores"), nullptr);
    }

    const GgufTensorInfo* embd = file.FindTensor("token_embd.weight");
    ASSERT_NE(embd, nullptr);
    EXPECT_EQ(embd->shape, (std::vector<int64_t>{64, 151936}));
    EXPECT_EQ(file.FindTensor("output.weight"), nullptr);  // tied
    const GgufTensorInfo* bq = file.FindTensor("blk.1.attn_q.bias");
    const GgufTensorInfo* bk = file.FindTensor("blk.1.attn_k.bias");
    const GgufTensorInfo* bv = file.FindTensor("blk.1.attn_v.bias");
    ASSERT_TRUE(bq != nullptr && bk != nullptr && bv != nullptr);
    EXPECT_EQ(bq->type, DType::kF32);
    EXPECT_EQ(bq->shape, (std::vector<int64_t>{64}));
    EXPECT_EQ(bk->shape, (std::vector<int64_t>{32}));  // 2 KV heads of 16
    EXPECT_EQ(bv->shape, (std::vector<int64_t>{32}));

    // The padded tokenizer encodes like the original, and the model loads and runs.
    Result<std::unique_ptr<Tokenizer>> mine = Tokenizer::FromGguf(file);
    Result<std::unique_ptr<Tokenizer>> theirs = Tokenizer::FromGguf(*vocab);
    ASSERT_TRUE(mine.ok()) << mine.error().message();
    ASSERT_TRUE(theirs.ok());
    const std::string text = "The quick brown fox, 1234 times!";
    const std::vector<int32_t> ids = (*mine)->Encode(text, {});
    EXPECT_EQ(ids, (*theirs)->Encode(text, {}));
    Result<LlamaModel> model = LlamaModel::Load(file);
    ASSERT_TRUE(model.ok()) << model.error().message();
    EXPECT_EQ(model->hparams().n_vocab, 151936);
    EXPECT_EQ(model->hparams().arch->name, std::string_view("qwen2"));
    EXPECT_EQ(model->hparams().norm_eps, 1e-6f);
    Result<KvCache> cache = KvCache::Create(model->hparams(), 32);
    ASSERT_TRUE(cache.ok());
    CpuBackend backend(2);
    std::vector<float> logits(151936);
    ASSERT_TRUE(model->Forward(ids, *cache, backend, logits.data(), true).ok());
    for (float l : logits) ASSERT_TRUE(std::isfinite(l));
  }
}

TEST(SynthModelTest, GeneratedVocabularyIsPaddedAndALargerOneKeptWhole) {
  SynthPreset preset = SmallQwen2();
  std::unique_ptr<InMemory> padded = WriteInMemory({.preset = &preset,
                                                    .type = DType::kQ8_0,
                                                    .output_type = {},
                                                    .vocab_from = nullptr,
                                                    .seed = 1});
  ASSERT_NE(padded, nullptr);
  Result<std::span<const std::string_view>> tokens =
      padded->file->GetStrings("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok());
  ASSERT_EQ(static_cast<int64_t>(tokens->size()), 151936);
  EXPECT_EQ((*tokens)[kSynthVocabSize], fmt::format("[PAD{}]", kSynthVocabSize));
  Result<std::vector<float>> scores = padded->file->GetArray<float>("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok());
  EXPECT_EQ(scores->size(), 151936u);

  preset.n_vocab = 1000;  // smaller than the generated vocabulary: no padding, no truncation
  std::unique_ptr<InMemory> whole = WriteInMemory({.preset = &preset,
                                                   .type = DType::kQ8_0,
                                                   .output_type = {},
                                                   .vocab_from = nullptr,
                                                   .seed = 1});
  ASSERT_NE(whole, nullptr);
  EXPECT_EQ(whole->file->GetStrings("tokenizer.ggml.tokens")->size(),
            static_cast<size_t>(kSynthVocabSize));
  EXPECT_EQ(whole->file->FindTensor("token_embd.weight")->shape,
            (std::vector<int64_t>{64, kSynthVocabSize}));
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
