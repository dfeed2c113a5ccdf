#include "sampling/logit_bias.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "sampling/pick.h"

namespace wick::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(LogitBiasTest, AddsBiasToNamedTokensOnly) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f};
  Candidates c(logits);
  LogitBiasSampler bias({{0, 5.0f}, {2, -1.5f}});
  bias.Apply(c);
  EXPECT_EQ(c[0].logit, 6.0f);
  EXPECT_EQ(c[1].logit, 2.0f);
  EXPECT_EQ(c[2].logit, 1.5f);
}

TEST(LogitBiasTest, IdsOutsideTheCandidatesAreIgnored) {
  const std::vector<float> logits = {1.0f, 2.0f};
  Candidates c(logits);
  LogitBiasSampler bias({{7, 100.0f}, {-3, 100.0f}});
  bias.Apply(c);
  EXPECT_EQ(c[0].logit, 1.0f);
  EXPECT_EQ(c[1].logit, 2.0f);
}

TEST(LogitBiasTest, MinusInfinityIsNeverSampled) {
  const std::vector<float> logits = {5.0f, 0.0f, 0.0f, 0.0f};
  LogitBiasSampler bias({{0, -kInf}, {2, -kInf}});
  DistSampler dist(123);
  Candidates c;
  for (int i = 0; i < 2000; ++i) {
    c.Assign(logits);
    bias.Apply(c);
    dist.Apply(c);
    ASSERT_TRUE(c.selected() == 1 || c.selected() == 3) << c.selected();
  }
}

}  // namespace
}  // namespace wick::sampling
