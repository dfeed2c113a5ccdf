#include "sampling/sampler_chain.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sampling/pick.h"

namespace wick::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

std::vector<float> RandomLogits(std::mt19937& rng, size_t n) {
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> logits(n);
  for (float& l : logits) l = normal(rng);
  return logits;
}

int32_t ArgMax(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

SamplerChain MustCreate(const SamplingParams& params) {
  Result<SamplerChain> chain = SamplerChain::Create(params);
  EXPECT_TRUE(chain.ok()) << chain.error().message();
  return std::move(chain).value();
}

int32_t MustSample(SamplerChain& chain, const std::vector<float>& logits) {
  Result<int32_t> token = chain.Sample(logits);
  EXPECT_TRUE(token.ok()) << token.error().message();
  return token.value_or(kNoToken);
}

void ExpectInvalid(const SamplingParams& params, const std::string& fragment) {
  Result<SamplerChain> chain = SamplerChain::Create(params);
  ASSERT_FALSE(chain.ok()) << fragment;
  EXPECT_EQ(chain.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(chain.error().message().find(fragment), std::string::npos) << chain.error().message();
}

TEST(SamplingParamsTest, DefaultsMatchLlamaCpp) {
  const SamplingParams p;
  EXPECT_EQ(p.temperature, 0.8f);
  EXPECT_EQ(p.top_k, 40);
  EXPECT_EQ(p.top_p, 0.95f);
  EXPECT_EQ(p.min_p, 0.05f);
  EXPECT_EQ(p.repeat_penalty, 1.0f);
  EXPECT_EQ(p.repeat_last_n, 64);
  EXPECT_EQ(p.frequency_penalty, 0.0f);
  EXPECT_EQ(p.presence_penalty, 0.0f);
  EXPECT_TRUE(Validate(p).ok());
}

TEST(SamplingParamsTest, RejectsUnusableValues) {
  ExpectInvalid({.temperature = kNaN}, "temperature");
  ExpectInvalid({.top_k = -1}, "top_k is -1");
  ExpectInvalid({.top_p = 0.0f}, "top_p is 0");
  ExpectInvalid({.top_p = 1.5f}, "top_p is 1.5");
  ExpectInvalid({.top_p = kNaN}, "top_p");
  ExpectInvalid({.min_p = -0.1f}, "min_p");
  ExpectInvalid({.min_p = 1.5f}, "min_p");
  ExpectInvalid({.repeat_penalty = 0.0f}, "repeat_penalty");
  ExpectInvalid({.repeat_last_n = -1}, "repeat_last_n");
  ExpectInvalid({.frequency_penalty = kInf}, "frequency_penalty");
  ExpectInvalid({.presence_penalty = kNaN}, "presence_penalty");
  ExpectInvalid({.logit_bias = {{-2, 1.0f}}}, "logit_bias");
  ExpectInvalid({.logit_bias = {{2, kInf}}}, "logit_bias");
  ExpectInvalid({.logit_bias = {{2, kNaN}}}, "logit_bias");
  ExpectInvalid({.min_keep = 0}, "min_keep");
}

TEST(SamplerChainTest, DefaultOrderLeavesOutNoOps) {
  EXPECT_EQ(MustCreate({}).Describe(), "top-k -> top-p -> min-p -> temperature -> dist");
  EXPECT_EQ(MustCreate({.temperature = 0.5f, .repeat_penalty = 1.1f, .logit_bias = {{3, -kInf}}})
                .Describe(),
            "penalties -> logit-bias -> top-k -> top-p -> min-p -> temperature -> dist");
  EXPECT_EQ(MustCreate({.temperature = 0.0f, .presence_penalty = 0.5f}).Describe(),
            "penalties -> greedy");
  EXPECT_EQ(MustCreate({.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f}).Describe(),
            "dist");
}

TEST(SamplerChainTest, GreedyIsArgmaxAndTinyTemperatureAndTopKOneAgree) {
  std::mt19937 rng(5);
  SamplerChain greedy = MustCreate({.temperature = 0.0f});
  // Random logits can sit within 1e-3 of each other, so "close to 0" must be far closer than
  // any gap between distinct floats of this size (about 1e-6) for the draw to be certain.
  SamplerChain cold = MustCreate({.temperature = 1e-20f, .seed = 1});
  SamplerChain top1 = MustCreate({.temperature = 1.5f, .top_k = 1, .seed = 2});
  for (int i = 0; i < 200; ++i) {
    const std::vector<float> logits = RandomLogits(rng, 1000);
    const int32_t best = ArgMax(logits);
    EXPECT_EQ(MustSample(greedy, logits), best);
    EXPECT_EQ(MustSample(cold, logits), best);
    EXPECT_EQ(MustSample(top1, logits), best);
  }
}

// Greedy (with or without logit bias) takes a one-pass shortcut; it must agree with the full
// chain: ties to the lower id, bias applied, bad logits and all-banned rejected.
TEST(SamplerChainTest, GreedyShortcutMatchesTheFullChain) {
  std::mt19937 rng(9);
  SamplerChain fast = MustCreate({.temperature = 0.0f, .logit_bias = {{2, -kInf}, {7, 0.5f}}});
  SamplerChain full = MustCreate({.temperature = 0.0f, .logit_bias = {{2, -kInf}, {7, 0.5f}}});
  full.Add(std::make_unique<GreedySampler>());  // any Add turns the shortcut off
  for (size_t n : {1u, 7u, 8u, 9u, 17u, 1000u}) {
    for (int i = 0; i < 50; ++i) {
      std::vector<float> logits = RandomLogits(rng, n);
      if (n > 9 && i % 3 == 0) logits[9] = logits[3] = 50.0f;  // a tie: 3 wins
      if (n > 2 && i % 5 == 0) logits[2] = 99.0f;              // banned by the bias
      EXPECT_EQ(MustSample(fast, logits), MustSample(full, logits)) << n << " " << i;
    }
  }
  SamplerChain plain = MustCreate({.temperature = 0.0f});
  EXPECT_EQ(MustSample(plain, {1.0f, 3.0f, 3.0f, -kInf, 2.0f, 0.0f, 1.0f, 3.0f, 3.0f}), 1);
  std::vector<float> nan(20, 0.0f);
  nan[13] = std::nanf("");
  Result<int32_t> bad = plain.Sample(nan);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("token 13"), std::string::npos);
  EXPECT_FALSE(plain.Sample(std::vector<float>(10, kInf)).ok());
  EXPECT_FALSE(plain.Sample(std::vector<float>(10, -kInf)).ok());
  SamplerChain only_banned = MustCreate({.temperature = 0.0f, .logit_bias = {{0, -kInf}}});
  EXPECT_FALSE(only_banned.Sample(std::vector<float>{1.0f}).ok());
}

TEST(SamplerChainTest, SeedsReproduceAndDiffer) {
  std::mt19937 rng(11);
  std::vector<std::vector<float>> steps;
  for (int i = 0; i < 100; ++i) steps.push_back(RandomLogits(rng, 500));
  const auto run = [&](uint64_t seed) {
    SamplerChain chain = MustCreate({.temperature = 1.5f, .top_k = 0, .seed = seed});
    std::vector<int32_t> tokens;
    for (const auto& logits : steps) {
      tokens.push_back(MustSample(chain, logits));
      chain.Accept(tokens.back());
    }
    return tokens;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(SamplerChainTest, ResetRestartsTheDrawAndForgetsPenalties) {
  const std::vector<float> logits(64, 0.0f);
  SamplerChain chain = MustCreate({.repeat_penalty = 1.3f, .seed = 9});
  std::vector<int32_t> first;
  for (int i = 0; i < 20; ++i) {
    first.push_back(MustSample(chain, logits));
    chain.Accept(first.back());
  }
  chain.Reset();
  for (int i = 0; i < 20; ++i) {
    const int32_t token = MustSample(chain, logits);
    EXPECT_EQ(token, first[static_cast<size_t>(i)]);
    chain.Accept(token);
  }
}

TEST(SamplerChainTest, PenaltiesOnlyReachTheWindow) {
  const std::vector<float> logits = {3.0f, 2.9f, 1.0f};
  SamplerChain chain =
      MustCreate({.temperature = 0.0f, .repeat_penalty = 2.0f, .repeat_last_n = 1});
  EXPECT_EQ(MustSample(chain, logits), 0);
  chain.Accept(0);
  EXPECT_EQ(MustSample(chain, logits), 1);  // 3 / 2 < 2.9
  chain.Accept(2);                          // token 0 leaves the one-token window
  EXPECT_EQ(MustSample(chain, logits), 0);
}

TEST(SamplerChainTest, BannedTokensAreNeverSampled) {
  const std::vector<float> logits = {9.0f, 0.0f, 9.0f, 0.0f};
  SamplerChain chain = MustCreate({.temperature = 2.0f,
                                   .top_k = 0,
                                   .top_p = 1.0f,
                                   .min_p = 0.0f,
                                   .logit_bias = {{0, -kInf}, {2, -kInf}}});
  for (int i = 0; i < 2000; ++i) {
    const int32_t token = MustSample(chain, logits);
    ASSERT_TRUE(token == 1 || token == 3) << token;
  }
}

TEST(SamplerChainTest, OneFiniteLogitAndVocabOfOne) {
  SamplerChain chain = MustCreate({.temperature = 1.0f, .seed = 3});
  for (int i = 0; i < 50; ++i) EXPECT_EQ(MustSample(chain, {-kInf, -kInf, 0.5f, -kInf}), 2);
  EXPECT_EQ(MustSample(chain, {-4.0f}), 0);
  SamplerChain greedy = MustCreate({.temperature = 0.0f});
  EXPECT_EQ(MustSample(greedy, {-4.0f}), 0);
}

// Policy: NaN or +inf anywhere means the forward pass is broken, so Sample() fails rather than
// guess; -inf is a legitimate ban, but a step where everything is banned also fails.
TEST(SamplerChainTest, UnusableLogitsAreErrors) {
  SamplerChain chain = MustCreate({});
  const std::vector<std::vector<float>> bad = {
      {}, {1.0f, kNaN, 2.0f}, {1.0f, kInf}, {-kInf, -kInf}};
  for (const auto& logits : bad) {
    Result<int32_t> token = chain.Sample(logits);
    ASSERT_FALSE(token.ok());
    EXPECT_EQ(token.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_NE(chain.Sample(std::vector<float>{1.0f, kNaN}).error().message().find("token 1"),
            std::string::npos);
  SamplerChain ban_all = MustCreate({.logit_bias = {{0, -kInf}, {1, -kInf}}});
  EXPECT_FALSE(ban_all.Sample(std::vector<float>{1.0f, 2.0f}).ok());
}

TEST(SamplerChainTest, CandidatesShowTheSurvivors) {
  SamplerChain chain = MustCreate({.top_k = 2, .top_p = 1.0f, .min_p = 0.0f});
  const int32_t token = MustSample(chain, {0.0f, 5.0f, 1.0f, 4.0f});
  ASSERT_EQ(chain.candidates().size(), 2u);
  EXPECT_EQ(chain.candidates()[0].id, 1);
  EXPECT_EQ(chain.candidates()[1].id, 3);
  EXPECT_TRUE(token == 1 || token == 3);
}

TEST(SamplerChainTest, EmptyChainIsAnError) {
  SamplerChain chain;
  EXPECT_FALSE(chain.Sample(std::vector<float>{1.0f}).ok());
}

}  // namespace
}  // namespace wick::sampling
