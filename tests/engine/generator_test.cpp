// The generation loop: prefix reuse across turns gives the same text as a fresh start, and
// stepping a generation a token at a time gives what Generate gives.
#include "engine/generator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/test_model.h"
#include "test_support.h"

namespace wick::engine {
namespace {

std::string Complete(Generator& g, const std::string& prompt, bool reuse, GenerateStats* stats) {
  std::string out;
  GenerateParams params;
  params.prompt = prompt;
  params.max_tokens = 12;
  params.reuse_prefix = reuse;
  params.sampling.temperature = 0;
  Result<GenerateStats> s = g.Generate(params, [&](std::string_view t) {
    out += t;
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.error().message();
  if (s.ok() && stats != nullptr) *stats = *s;
  return out;
}

TEST(GeneratorTest, ReusedPrefixGivesTheSameTextAsAFreshStart) {
  WICK_REQUIRE_SHARED(shared);
  std::unique_ptr<TestModel> m = LoadTestModel(shared / "models/stories260K.gguf");
  ASSERT_NE(m, nullptr);
  model::CpuBackend backend(2);
  Result<model::KvCache> cache = model::KvCache::Create(m->model->hparams(), 256);
  ASSERT_TRUE(cache.ok());
  Generator chat(*m->model, *m->tokenizer, backend, *cache);

  GenerateStats first, second;
  const std::string turn1 = "Once upon a time";
  const std::string reply = Complete(chat, turn1, true, &first);
  EXPECT_EQ(first.reused_tokens, 0);
  const std::string turn2 = turn1 + reply + " Then the dog said";
  const std::string continued = Complete(chat, turn2, true, &second);
  // Everything before the reply's own tokens was already in the cache.
  EXPECT_GE(second.reused_tokens, first.prompt_tokens);
  EXPECT_LT(second.reused_tokens, second.prompt_tokens);

  Result<model::KvCache> fresh_cache = model::KvCache::Create(m->model->hparams(), 256);
  ASSERT_TRUE(fresh_cache.ok());
  Generator fresh(*m->model, *m->tokenizer, backend, *fresh_cache);
  GenerateStats fresh_stats;
  EXPECT_EQ(Complete(fresh, turn2, true, &fresh_stats), continued);
  EXPECT_EQ(fresh_stats.reused_tokens, 0);

  // A shorter, different prompt keeps only the common prefix.
  GenerateStats third;
  const std::string other = Complete(chat, "Once upon a midnight", true, &third);
  EXPECT_GT(third.reused_tokens, 0);
  EXPECT_LT(third.reused_tokens, third.prompt_tokens);
  Result<model::KvCache> cache3 = model::KvCache::Create(m->model->hparams(), 256);
  ASSERT_TRUE(cache3.ok());
  Generator fresh3(*m->model, *m->tokenizer, backend, *cache3);
  EXPECT_EQ(Complete(fresh3, "Once upon a midnight", true, nullptr), other);
}

// Start + Step to the end, collecting text and tokens.
struct Stepped {
  std::string text;
  std::vector<int32_t> tokens;
  GenerateStats stats;
};

Stepped StepToEnd(Generator& g, const GenerateParams& params) {
  Stepped out;
  Status started = g.Start(params);
  EXPECT_TRUE(started.ok()) << started.error().message();
  if (!started.ok()) return out;
  for (int i = 0; i < 10000; ++i) {
    Result<GenerateStep> step = g.Step();
    EXPECT_TRUE(step.ok()) << step.error().message();
    if (!step.ok()) break;
    out.text += step->text;
    if (step->token >= 0) out.tokens.push_back(step->token);
    if (step->done) break;
  }
  EXPECT_FALSE(g.running());
  out.stats = g.stats();
  return out;
}

TEST(GeneratorTest, StepsGiveWhatGenerateGives) {
  WICK_REQUIRE_SHARED(shared);
  std::unique_ptr<TestModel> m = LoadTestModel(shared / "models/stories260K.gguf");
  ASSERT_NE(m, nullptr);
  model::CpuBackend backend(2);
  for (const std::vector<std::string>& stop : {std::vector<std::string>{}, {"girl"}}) {
    Result<model::KvCache> c1 = model::KvCache::Create(m->model->hparams(), 256);
    Result<model::KvCache> c2 = model::KvCache::Create(m->model->hparams(), 256);
    ASSERT_TRUE(c1.ok() && c2.ok());
    Generator whole(*m->model, *m->tokenizer, backend, *c1);
    Generator stepped(*m->model, *m->tokenizer, backend, *c2);
    GenerateParams params;
    params.prompt = "Once upon a time";
    params.max_tokens = 40;
    params.stop = stop;
    // Sampled without a stop string; greedy with one ("...a little girl named Lily").
    params.sampling.temperature = stop.empty() ? 0.9f : 0.0f;
    params.sampling.seed = 1234;
    std::string expected;
    Result<GenerateStats> s = whole.Generate(params, [&](std::string_view t) {
      expected += t;
      return true;
    });
    ASSERT_TRUE(s.ok()) << s.error().message();
    const Stepped got = StepToEnd(stepped, params);
    EXPECT_EQ(got.text, expected);
    EXPECT_EQ(got.stats.stop, s->stop);
    EXPECT_EQ(got.stats.generated_tokens, s->generated_tokens);
    EXPECT_EQ(static_cast<int64_t>(got.tokens.size()), got.stats.generated_tokens);
    if (!stop.empty()) {
      EXPECT_EQ(got.stats.stop, StopReason::kStopString);
    }
  }
}

TEST(GeneratorTest, CancelEndsAStepwiseGenerationAndAStepNeedsAStart) {
  WICK_REQUIRE_SHARED(shared);
  std::unique_ptr<TestModel> m = LoadTestModel(shared / "models/stories260K.gguf");
  ASSERT_NE(m, nullptr);
  model::CpuBackend backend(1);
  Result<model::KvCache> cache = model::KvCache::Create(m->model->hparams(), 256);
  ASSERT_TRUE(cache.ok());
  Generator g(*m->model, *m->tokenizer, backend, *cache);
  EXPECT_FALSE(g.Step().ok());  // nothing started

  GenerateParams params;
  params.prompt = "Once upon a time";
  params.sampling.temperature = 0;
  ASSERT_TRUE(g.Start(params).ok());
  EXPECT_TRUE(g.running());
  Result<GenerateStep> first = g.Step();
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->done);
  EXPECT_GE(first->token, 0);
  g.Cancel();
  Result<GenerateStep> last = g.Step();
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->done);
  EXPECT_EQ(last->token, -1);
  EXPECT_EQ(g.stats().stop, StopReason::kCancelled);
  EXPECT_EQ(g.stats().generated_tokens, 1);
  EXPECT_FALSE(g.running());
  EXPECT_FALSE(g.Step().ok());

  // max_tokens 0 ends at the first step with nothing sampled.
  params.max_tokens = 0;
  cache->Clear();
  ASSERT_TRUE(g.Start(params).ok());
  Result<GenerateStep> none = g.Step();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->done);
  EXPECT_EQ(g.stats().stop, StopReason::kMaxTokens);
  EXPECT_EQ(g.stats().generated_tokens, 0);
}

TEST(GeneratorTest, IgnoreEosGeneratesPastTheEndOfGenerationToken) {
  WICK_REQUIRE_SHARED(shared);
  std::unique_ptr<TestModel> m = LoadTestModel(shared / "models/stories260K.gguf");
  ASSERT_NE(m, nullptr);
  model::CpuBackend backend(1);
  GenerateParams params;
  params.prompt = "Once upon a time";
  params.max_tokens = 400;
  params.sampling.temperature = 0;
  // This model seldom ends a story by itself: a bias makes every end-of-generation token the
  // greedy choice, which ignore_eos must still overrule.
  for (int32_t id = 0; id < m->tokenizer->size(); ++id) {
    if (m->tokenizer->IsEog(id)) params.sampling.logit_bias[id] = 100.0f;
  }
  ASSERT_FALSE(params.sampling.logit_bias.empty());
  for (bool ignore : {false, true}) {
    Result<model::KvCache> cache = model::KvCache::Create(m->model->hparams(), 512);
    ASSERT_TRUE(cache.ok());
    Generator g(*m->model, *m->tokenizer, backend, *cache);
    params.ignore_eos = ignore;
    const Stepped got = StepToEnd(g, params);
    if (ignore) {
      EXPECT_EQ(got.stats.stop, StopReason::kMaxTokens);
      EXPECT_EQ(got.stats.generated_tokens, 400);
      for (int32_t t : got.tokens) EXPECT_FALSE(m->tokenizer->IsEog(t));
    } else {
      EXPECT_EQ(got.stats.stop, StopReason::kEog);
      EXPECT_EQ(got.stats.generated_tokens, 0);
    }
  }
}

}  // namespace
}  // namespace wick::engine
