#include "sampling/temperature.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace wick::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

TEST(TemperatureTest, DividesLogits) {
  const std::vector<float> logits = {2.0f, 4.0f, 0.0f, -kInf};
  Candidates c(logits);
  TemperatureSampler(2.0f).Apply(c);
  // Shifted so the maximum is 0: (x - 4) / 2.
  EXPECT_EQ(c[0].logit, -1.0f);
  EXPECT_EQ(c[1].logit, 0.0f);
  EXPECT_EQ(c[2].logit, -2.0f);
  EXPECT_EQ(c[3].logit, -kInf);
  // Same probabilities as softmax({1, 2, 0}).
  c.Softmax();
  const float z = std::exp(1.0f) + std::exp(2.0f) + 1.0f;
  EXPECT_NEAR(c[0].prob, std::exp(1.0f) / z, 1e-6f);
  EXPECT_NEAR(c[1].prob, std::exp(2.0f) / z, 1e-6f);
  EXPECT_NEAR(c[2].prob, 1.0f / z, 1e-6f);
  EXPECT_EQ(c[3].prob, 0.0f);
}

TEST(TemperatureTest, ZeroOrNegativeKeepsOnlyTheArgmax) {
  for (float t : {0.0f, -1.0f}) {
    const std::vector<float> logits = {1.0f, 3.0f, 3.0f, 2.0f};
    Candidates c(logits);
    TemperatureSampler(t).Apply(c);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].id, 1);  // the tie goes to the lower id
  }
}

TEST(TemperatureTest, TinyTemperatureDoesNotProduceNaN) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f};
  Candidates c(logits);
  TemperatureSampler(1e-30f).Apply(c);
  c.Softmax();
  EXPECT_EQ(c[0].prob, 0.0f);
  EXPECT_EQ(c[1].prob, 1.0f);
  EXPECT_EQ(c[2].prob, 0.0f);
}

}  // namespace
}  // namespace wick::sampling
