#include "sampling/truncation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace wick::sampling {
namespace {

std::vector<float> LogitsOf(const std::vector<float>& probs) {
  std::vector<float> logits;
  for (float p : probs) logits.push_back(std::log(p));
  return logits;
}

std::vector<int32_t> Survivors(Sampler& sampler, const std::vector<float>& logits) {
  Candidates c(logits);
  sampler.Apply(c);
  std::vector<int32_t> ids;
  for (const TokenData& t : c.tokens()) ids.push_back(t.id);
  return ids;
}

TEST(TopKTest, KeepsTheKHighestInOrder) {
  TopKSampler top_k(3);
  EXPECT_EQ(Survivors(top_k, {1.0f, 5.0f, 3.0f, 4.0f, 2.0f}), (std::vector<int32_t>{1, 3, 2}));
}

TEST(TopKTest, TiesAtTheCutGoToTheLowerId) {
  TopKSampler top_k(2);
  EXPECT_EQ(Survivors(top_k, {1.0f, 2.0f, 2.0f, 2.0f}), (std::vector<int32_t>{1, 2}));
}

TEST(TopKTest, ZeroIsOffAndLargeKKeepsAll) {
  TopKSampler off(0);
  EXPECT_EQ(Survivors(off, {1.0f, 2.0f}), (std::vector<int32_t>{0, 1}));
  TopKSampler large(10);
  EXPECT_EQ(Survivors(large, {1.0f, 2.0f}), (std::vector<int32_t>{1, 0}));
}

TEST(TopKTest, MinKeepWins) {
  TopKSampler top_k(1, /*min_keep=*/2);
  EXPECT_EQ(Survivors(top_k, {1.0f, 5.0f, 3.0f}), (std::vector<int32_t>{1, 2}));
}

TEST(TopPTest, KeepsTheSmallestPrefixReachingP) {
  const std::vector<float> logits = LogitsOf({0.1f, 0.4f, 0.2f, 0.3f});
  TopPSampler p60(0.6f);  // 0.4 + 0.3 = 0.7 >= 0.6
  EXPECT_EQ(Survivors(p60, logits), (std::vector<int32_t>{1, 3}));
  TopPSampler p35(0.35f);  // 0.4 alone already reaches it
  EXPECT_EQ(Survivors(p35, logits), (std::vector<int32_t>{1}));
  TopPSampler p95(0.95f);  // 0.4 + 0.3 + 0.2 = 0.9 falls short
  EXPECT_EQ(Survivors(p95, logits), (std::vector<int32_t>{1, 3, 2, 0}));
}

TEST(TopPTest, SurvivorsCarryTheirProbabilities) {
  Candidates c(LogitsOf({0.1f, 0.4f, 0.2f, 0.3f}));
  TopPSampler(0.6f).Apply(c);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_NEAR(c[0].prob, 0.4f, 1e-6f);
  EXPECT_NEAR(c[1].prob, 0.3f, 1e-6f);
}

TEST(TopPTest, MinKeepAndOne) {
  const std::vector<float> logits = LogitsOf({0.1f, 0.4f, 0.2f, 0.3f});
  TopPSampler keep3(0.35f, /*min_keep=*/3);
  EXPECT_EQ(Survivors(keep3, logits), (std::vector<int32_t>{1, 3, 2}));
  TopPSampler off(1.0f);
  EXPECT_EQ(Survivors(off, logits), (std::vector<int32_t>{0, 1, 2, 3}));
}

TEST(TopPTest, WidensItsSortBeyondTheFirstBlock) {
  // 1000 equal tokens: the nucleus for p = 0.5 is 500 of them, lowest ids first.
  Candidates c(std::vector<float>(1000, 0.0f));
  TopPSampler(0.5f).Apply(c);
  ASSERT_EQ(c.size(), 500u);
  for (size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i].id, static_cast<int32_t>(i));
}

TEST(MinPTest, KeepsTokensAboveAFractionOfTheMaximum) {
  const std::vector<float> logits = LogitsOf({0.5f, 0.2f, 0.05f, 0.25f});
  MinPSampler p30(0.3f);  // threshold 0.15: drops only the 0.05
  EXPECT_EQ(Survivors(p30, logits), (std::vector<int32_t>{0, 1, 3}));
  MinPSampler p60(0.6f);  // threshold 0.3: only the maximum
  EXPECT_EQ(Survivors(p60, logits), (std::vector<int32_t>{0}));
  MinPSampler p1(1.0f);  // only tokens as likely as the maximum
  EXPECT_EQ(Survivors(p1, logits), (std::vector<int32_t>{0}));
}

TEST(MinPTest, MinKeepFallsBackToTheMostLikely) {
  MinPSampler keep2(0.6f, /*min_keep=*/2);
  EXPECT_EQ(Survivors(keep2, LogitsOf({0.5f, 0.2f, 0.05f, 0.25f})), (std::vector<int32_t>{0, 3}));
}

TEST(MinPTest, ZeroIsOff) {
  MinPSampler off(0.0f);
  EXPECT_EQ(Survivors(off, LogitsOf({0.9f, 0.1f})), (std::vector<int32_t>{0, 1}));
}

}  // namespace
}  // namespace wick::sampling
