#include "sampling/penalties.h"

#include <gtest/gtest.h>

#include <vector>

namespace wick::sampling {
namespace {

std::vector<float> Penalised(PenaltiesSampler& sampler, const std::vector<float>& logits) {
  Candidates c(logits);
  sampler.Apply(c);
  std::vector<float> out;
  for (const TokenData& t : c.tokens()) out.push_back(t.logit);
  return out;
}

TEST(PenaltiesTest, RepeatDividesPositiveAndMultipliesNegative) {
  PenaltiesSampler sampler({.last_n = 64, .repeat = 2.0f});
  sampler.Accept(0);
  sampler.Accept(1);
  sampler.Accept(1);  // a repeat penalty ignores the count
  EXPECT_EQ(Penalised(sampler, {2.0f, -2.0f, 1.0f, 0.5f}),
            (std::vector<float>{1.0f, -4.0f, 1.0f, 0.5f}));
}

TEST(PenaltiesTest, FrequencyScalesWithCountAndPresenceIsOnce) {
  PenaltiesSampler sampler({.last_n = 64, .frequency = 0.5f, .presence = 1.0f});
  sampler.Accept(2);
  sampler.Accept(2);
  sampler.Accept(3);
  // token 2: 1 - (2 * 0.5 + 1); token 3: 0.5 - (1 * 0.5 + 1)
  EXPECT_EQ(Penalised(sampler, {1.0f, 1.0f, 1.0f, 0.5f}),
            (std::vector<float>{1.0f, 1.0f, -1.0f, -1.0f}));
}

TEST(PenaltiesTest, RepeatAppliesBeforeFrequencyAndPresence) {
  PenaltiesSampler sampler({.last_n = 64, .repeat = 2.0f, .frequency = 1.0f, .presence = 0.5f});
  sampler.Accept(0);
  EXPECT_EQ(Penalised(sampler, {4.0f}), (std::vector<float>{0.5f}));  // 4 / 2 - 1 - 0.5
}

TEST(PenaltiesTest, OnlyTokensInTheWindowArePenalised) {
  PenaltiesSampler sampler({.last_n = 2, .presence = 1.0f});
  sampler.Accept(0);
  sampler.Accept(1);
  sampler.Accept(2);  // pushes token 0 out of the window
  EXPECT_EQ(sampler.CountInWindow(0), 0);
  EXPECT_EQ(sampler.CountInWindow(1), 1);
  EXPECT_EQ(Penalised(sampler, {3.0f, 3.0f, 3.0f, 3.0f}),
            (std::vector<float>{3.0f, 2.0f, 2.0f, 3.0f}));
}

TEST(PenaltiesTest, WindowCountsRepeatsUntilTheyLeave) {
  PenaltiesSampler sampler({.last_n = 3, .frequency = 1.0f});
  for (int32_t t : {5, 5, 5, 1}) sampler.Accept(t);
  EXPECT_EQ(sampler.CountInWindow(5), 2);
  EXPECT_EQ(sampler.CountInWindow(1), 1);
}

TEST(PenaltiesTest, ResetForgetsTheWindow) {
  PenaltiesSampler sampler({.last_n = 8, .repeat = 2.0f});
  sampler.Accept(0);
  sampler.Reset();
  EXPECT_EQ(Penalised(sampler, {2.0f}), (std::vector<float>{2.0f}));
}

TEST(PenaltiesTest, ZeroWindowDisablesEverything) {
  PenaltiesSampler sampler({.last_n = 0, .repeat = 2.0f, .presence = 1.0f});
  sampler.Accept(0);
  EXPECT_EQ(Penalised(sampler, {2.0f}), (std::vector<float>{2.0f}));
}

TEST(PenaltiesTest, FindsTokensAfterReordering) {
  PenaltiesSampler sampler({.last_n = 4, .presence = 10.0f});
  sampler.Accept(0);
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f};
  Candidates c(logits);
  c.Sort();  // 1 2 0: token 0 is no longer at index 0
  sampler.Apply(c);
  ASSERT_NE(c.Find(0), nullptr);
  EXPECT_EQ(c.Find(0)->logit, -9.0f);
  EXPECT_EQ(c.Find(1)->logit, 3.0f);
}

}  // namespace
}  // namespace wick::sampling
