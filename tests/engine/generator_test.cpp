// The generation loop: prefix reuse across turns gives the same text as a fresh start.
#include "engine/generator.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace wick::engine
