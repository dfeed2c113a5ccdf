// ForwardBatch: a sequence's logits do not depend on the other sequences in the batch, on how
// its prompt is cut into chunks, or on the order of the batch; they match a lone Forward where
// both take the same path. For a Llama model, for GPT-2, whose learned positions are looked
// up for each sequence's own rows, and for Gemma 2, whose sliding-window layers' caches keep
// only their window.
#include <gtest/gtest.h>

#include <random>

#include "io/gguf_file.h"
#include "model/backend.h"
#include "model/llama.h"
#include "model/synthetic.h"
#include "test_support.h"

namespace wick::model {
namespace {

class BatchForwardTest : public ::testing::TestWithParam<std::string_view> {
 protected:
  void SetUp() override {
    // `tiny`, or GPT-2 at tiny's size (256 learned positions: as many as the caches hold).
    preset_ = **FindSynthPreset("tiny");
    if (GetParam() == "gpt2") {
      preset_.arch = "gpt2";
      preset_.n_head_kv = preset_.n_head;
      preset_.n_ctx = 256;
    } else if (GetParam() == "gemma2") {
      // A window of 8 on layer 0 (Gemma 2 slides every other layer), softcapped.
      preset_ = **FindSynthPreset("gemma2-2b");
      preset_.n_embd = 256;
      preset_.n_layer = 2;
      preset_.n_head = 4;
      preset_.n_head_kv = 2;
      preset_.head_dim = 64;
      preset_.n_ff = 512;
      preset_.n_vocab = 0;
      preset_.window = 8;
    }
    SynthOptions options;
    options.preset = &preset_;
    options.type = DType::kQ4_0;
    Result<GgufWriter> writer = BuildSyntheticModel(options);
    ASSERT_TRUE(writer.ok()) << writer.error().message();
    ASSERT_TRUE(writer->WriteFile(dir_.File("tiny.gguf").string()).ok());
    Result<GgufFile> file = GgufFile::Open(dir_.File("tiny.gguf").string());
    ASSERT_TRUE(file.ok()) << file.error().message();
    file_ = std::make_unique<GgufFile>(std::move(*file));
    Result<LlamaModel> model = LlamaModel::Load(*file_);
    ASSERT_TRUE(model.ok()) << model.error().message();
    model_ = std::make_unique<LlamaModel>(std::move(*model));
    n_vocab_ = model_->hparams().n_vocab;
  }

  KvCache NewCache(const KvCacheOptions& options = {}) {
    return *KvCache::Create(model_->hparams(), 256, DType::kF16, options);
  }

  std::vector<int32_t> Tokens(size_t n, uint32_t seed) const {
    std::mt19937 rng(seed);
    std::vector<int32_t> t(n);
    for (int32_t& id : t) id = static_cast<int32_t>(rng() % static_cast<uint32_t>(n_vocab_));
    return t;
  }

  // Logits after `prompt` (in chunks of `chunk`) and then each of `decode`, alone.
  std::vector<std::vector<float>> Alone(const std::vector<int32_t>& prompt, size_t chunk,
                                        const std::vector<int32_t>& decode) {
    KvCache cache = NewCache();
    std::vector<std::vector<float>> out;
    std::vector<float> logits(static_cast<size_t>(n_vocab_));
    for (size_t i = 0; i < prompt.size(); i += chunk) {
      const size_t len = std::min(chunk, prompt.size() - i);
      const BatchSequence s{.tokens = std::span(prompt).subspan(i, len),
                            .cache = &cache,
                            .logits = i + len == prompt.size(),
                            .prompt = true};
      EXPECT_TRUE(model_->ForwardBatch({&s, 1}, backend_, logits.data()).ok());
    }
    out.push_back(logits);
    for (int32_t t : decode) {
      const BatchSequence s{.tokens = {&t, 1}, .cache = &cache, .logits = true, .prompt = false};
      EXPECT_TRUE(model_->ForwardBatch({&s, 1}, backend_, logits.data()).ok());
      out.push_back(logits);
    }
    return out;
  }

  SynthPreset preset_;
  testing::TempDir dir_;
  std::unique_ptr<GgufFile> file_;
  std::unique_ptr<LlamaModel> model_;
  CpuBackend backend_{3};
  int64_t n_vocab_ = 0;
};

TEST_P(BatchForwardTest, SequencesDoNotDependOnTheirNeighboursOrChunking) {
  ASSERT_EQ(model_->hparams().arch->name, GetParam());
  const std::vector<int32_t> p0 = Tokens(40, 1), p1 = Tokens(7, 2), p2 = Tokens(23, 3);
  const std::vector<int32_t> d0 = Tokens(3, 4), d1 = Tokens(3, 5);
  const auto want0 = Alone(p0, p0.size(), d0);
  EXPECT_EQ(Alone(p0, 16, d0), want0);  // chunked prompt
  EXPECT_EQ(Alone(p0, 1, d0), want0);   // token by token, still on the prompt path
  const auto want1 = Alone(p1, p1.size(), d1);

  // Sequence 0 prefills while sequence 1 prefills, then both decode while a third prefills.
  KvCache c0 = NewCache(), c1 = NewCache(), c2 = NewCache();
  std::vector<float> logits(static_cast<size_t>(3 * n_vocab_));
  auto row = [&](int i) {
    return std::vector<float>(logits.begin() + i * n_vocab_, logits.begin() + (i + 1) * n_vocab_);
  };
  std::vector<BatchSequence> batch{
      {.tokens = p1, .cache = &c1, .logits = true, .prompt = true},
      {.tokens = std::span(p0).first(25), .cache = &c0, .logits = false, .prompt = true}};
  ASSERT_TRUE(model_->ForwardBatch(batch, backend_, logits.data()).ok());
  EXPECT_EQ(row(0), want1[0]);
  batch = {{.tokens = std::span(p0).subspan(25), .cache = &c0, .logits = true, .prompt = true},
           {.tokens = {&d1[0], 1}, .cache = &c1, .logits = true, .prompt = false}};
  ASSERT_TRUE(model_->ForwardBatch(batch, backend_, logits.data()).ok());
  EXPECT_EQ(row(0), want0[0]);
  EXPECT_EQ(row(1), want1[1]);
  for (size_t i = 0; i < 2; ++i) {
    batch = {{.tokens = {&d1[i + 1], 1}, .cache = &c1, .logits = true, .prompt = false},
             {.tokens = {&d0[i], 1}, .cache = &c0, .logits = true, .prompt = false},
             {.tokens = std::span(p2).subspan(i * 10, 10),
              .cache = &c2,
              .logits = false,
              .prompt = true}};
    ASSERT_TRUE(model_->ForwardBatch(batch, backend_, logits.data()).ok());
    EXPECT_EQ(row(0), want1[i + 2]);
    EXPECT_EQ(row(1), want0[i + 1]);
  }
  EXPECT_EQ(c0.n_past(), 42);
  EXPECT_EQ(c2.n_past(), 20);
}

TEST_P(BatchForwardTest, BadBatchesAreErrors) {
  KvCache c0 = NewCache();
  const std::vector<int32_t> p = Tokens(4, 1);
  std::vector<float> logits(static_cast<size_t>(2 * n_vocab_));
  std::vector<BatchSequence> same{{.tokens = p, .cache = &c0, .logits = true, .prompt = true},
                                  {.tokens = p, .cache = &c0, .logits = true, .prompt = true}};
  EXPECT_FALSE(model_->ForwardBatch(same, backend_, logits.data()).ok());
  const std::vector<int32_t> long_prompt = Tokens(300, 2);
  const BatchSequence too_long{.tokens = long_prompt, .cache = &c0, .logits = true, .prompt = true};
  Status st = model_->ForwardBatch({&too_long, 1}, backend_, logits.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("exceed the context"), std::string::npos);
  EXPECT_EQ(c0.n_past(), 0);
}

// A sliding-window layer's cache keeps its window and a step's room, its rows moving to the
// front as the context passes them: the same attention, so the same bits as a cache of every
// position, through prompt chunks, decode steps, a batch, a long Forward cut into steps, and a
// truncated prefix.
class SlidingWindowForwardTest : public BatchForwardTest {};

TEST_P(SlidingWindowForwardTest, SmallCacheGivesTheFullCachesBits) {
  ASSERT_GT(model_->hparams().n_swa, 0);
  const KvCacheOptions ring{.max_step = 4};
  KvCache full = NewCache({.swa_full = true}), small = NewCache(ring);
  ASSERT_EQ(small.rows(0), 12);
  ASSERT_EQ(small.rows(1), 256);
  const std::vector<int32_t> prompt = Tokens(41, 1), decode = Tokens(30, 2);
  std::vector<float> a(static_cast<size_t>(2 * n_vocab_)), b(a.size());
  auto step = [&](std::span<const int32_t> tokens, bool prompt_kind) {
    const BatchSequence sa{.tokens = tokens, .cache = &full, .logits = true, .prompt = prompt_kind};
    const BatchSequence sb{
        .tokens = tokens, .cache = &small, .logits = true, .prompt = prompt_kind};
    ASSERT_TRUE(model_->ForwardBatch({&sa, 1}, backend_, a.data()).ok());
    ASSERT_TRUE(model_->ForwardBatch({&sb, 1}, backend_, b.data()).ok());
    ASSERT_EQ(a, b) << "after " << full.n_past() << " positions";
  };
  for (size_t i = 0; i < prompt.size(); i += 5) {
    step(std::span(prompt).subspan(i, std::min<size_t>(5, prompt.size() - i)), true);
  }
  for (size_t i = 0; i < 20; ++i) step({&decode[i], 1}, false);
  EXPECT_GT(small.first_position(0), 40);
  EXPECT_EQ(small.first_position(1), 0);

  // Back one position (a re-rendered turn), then on: still held, still the same.
  ASSERT_EQ(full.Truncate(full.n_past() - 1), small.Truncate(small.n_past() - 1));
  ASSERT_EQ(small.n_past(), 60);
  for (size_t i = 20; i < 25; ++i) step({&decode[i], 1}, false);

  // Two sequences in one batch, one of them on the small cache.
  KvCache other = NewCache(ring);
  const BatchSequence both_small[] = {
      {.tokens = {&decode[25], 1}, .cache = &small, .logits = true, .prompt = false},
      {.tokens = std::span(prompt).first(5), .cache = &other, .logits = true, .prompt = true}};
  const BatchSequence alone{.tokens = {&decode[25], 1}, .cache = &full, .logits = true};
  ASSERT_TRUE(model_->ForwardBatch(both_small, backend_, b.data()).ok());
  ASSERT_TRUE(model_->ForwardBatch({&alone, 1}, backend_, a.data()).ok());
  EXPECT_TRUE(std::equal(a.begin(), a.begin() + n_vocab_, b.begin()));

  // More than a step's room in one sequence of a batch is an error that changes nothing.
  const BatchSequence too_long{.tokens = std::span(prompt).first(6), .cache = &other};
  Status st = model_->ForwardBatch({&too_long, 1}, backend_, b.data());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("sliding-window KV cache takes 5"), std::string::npos);
  EXPECT_EQ(other.n_past(), 5);

  // A long Forward is cut into steps of the cache's room: the same as those steps taken one by
  // one (with every position's logits).
  KvCache whole = NewCache(ring), pieces = NewCache({.swa_full = true});
  std::vector<float> all(prompt.size() * static_cast<size_t>(n_vocab_)), each(all.size());
  ASSERT_TRUE(model_->Forward(prompt, whole, backend_, all.data()).ok());
  for (size_t i = 0; i < prompt.size(); i += 5) {
    const size_t n = std::min<size_t>(5, prompt.size() - i);
    ASSERT_TRUE(model_
                    ->Forward(std::span(prompt).subspan(i, n), pieces, backend_,
                              each.data() + i * static_cast<size_t>(n_vocab_))
                    .ok());
  }
  EXPECT_EQ(all, each);
  EXPECT_EQ(whole.n_past(), 41);
}

INSTANTIATE_TEST_SUITE_P(Archs, BatchForwardTest,
                         ::testing::Values(std::string_view("llama"), std::string_view("gpt2"),
                                           std::string_view("gemma2")),
                         [](const auto& param_info) { return std::string(param_info.param); });
INSTANTIATE_TEST_SUITE_P(Archs, SlidingWindowForwardTest,
                         ::testing::Values(std::string_view("gemma2")),
                         [](const auto& param_info) { return std::string(param_info.param); });

}  // namespace
}  // namespace wick::model
