#include "sampling/pick.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace wick::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

int32_t Pick(Sampler& sampler, const std::vector<float>& logits) {
  Candidates c(logits);
  sampler.Apply(c);
  return c.selected();
}

std::vector<int32_t> Draws(DistSampler& dist, const std::vector<float>& logits, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(Pick(dist, logits));
  return out;
}

TEST(GreedyTest, PicksTheArgmaxWithTiesToTheLowerId) {
  GreedySampler greedy;
  EXPECT_EQ(Pick(greedy, {0.1f, 2.5f, -3.0f, 2.4f}), 1);
  EXPECT_EQ(Pick(greedy, {1.0f, 4.0f, 4.0f}), 1);
  EXPECT_EQ(Pick(greedy, {-kInf, -kInf, -7.0f}), 2);
  EXPECT_EQ(Pick(greedy, {42.0f}), 0);
}

TEST(GreedyTest, PicksNothingWhenAllAreMinusInfinity) {
  GreedySampler greedy;
  EXPECT_EQ(Pick(greedy, {-kInf, -kInf}), kNoToken);
}

TEST(DistTest, SameSeedSameTokensDifferentSeedsDiffer) {
  const std::vector<float> uniform(16, 0.0f);
  DistSampler a(7);
  DistSampler b(7);
  DistSampler c(8);
  const std::vector<int32_t> from_a = Draws(a, uniform, 200);
  EXPECT_EQ(from_a, Draws(b, uniform, 200));
  EXPECT_NE(from_a, Draws(c, uniform, 200));
}

TEST(DistTest, ResetRepeatsTheStream) {
  const std::vector<float> uniform(16, 0.0f);
  DistSampler dist(99);
  const std::vector<int32_t> first = Draws(dist, uniform, 50);
  dist.Reset();
  EXPECT_EQ(first, Draws(dist, uniform, 50));
}

TEST(DistTest, EmpiricalDistributionMatchesSoftmax) {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, -kInf, 0.0f};
  std::vector<double> expected(logits.size());
  double z = 0.0;
  for (float l : logits) z += std::exp(static_cast<double>(l));
  for (size_t i = 0; i < logits.size(); ++i) expected[i] = std::exp(logits[i]) / z;

  constexpr int kDraws = 200000;
  std::vector<int> counts(logits.size(), 0);
  DistSampler dist(2024);
  Candidates c;
  for (int i = 0; i < kDraws; ++i) {
    c.Assign(logits);
    dist.Apply(c);
    ASSERT_NE(c.selected(), kNoToken);
    ++counts[static_cast<size_t>(c.selected())];
  }
  EXPECT_EQ(counts[4], 0);  // the -inf token
  // Each count is binomial; 5 standard deviations makes a false failure practically impossible
  // (and the seed is fixed, so the test is deterministic anyway).
  for (size_t i = 0; i < logits.size(); ++i) {
    const double p = expected[i];
    const double sigma = std::sqrt(kDraws * p * (1.0 - p));
    EXPECT_NEAR(counts[i], kDraws * p, 5.0 * sigma + 1e-9) << "token " << i;
  }
}

TEST(DistTest, SingleFiniteCandidateIsAlwaysChosen) {
  DistSampler dist(1);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(Pick(dist, {-kInf, 3.0f, -kInf}), 1);
  EXPECT_EQ(Pick(dist, {0.0f}), 0);
}

TEST(DistTest, PicksNothingWhenAllAreMinusInfinity) {
  DistSampler dist(1);
  EXPECT_EQ(Pick(dist, {-kInf, -kInf}), kNoToken);
}

}  // namespace
}  // namespace wick::sampling
