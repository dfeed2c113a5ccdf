#include "sampling/candidates.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace wick::sampling {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<int32_t> Ids(const Candidates& c) {
  std::vector<int32_t> ids;
  for (const TokenData& t : c.tokens()) ids.push_back(t.id);
  return ids;
}

TEST(CandidatesTest, AssignNumbersTokensByIndex) {
  const std::vector<float> logits = {0.5f, -1.0f, 2.0f};
  Candidates c(logits);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(Ids(c), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(c[2].logit, 2.0f);
  EXPECT_EQ(c.selected(), kNoToken);
  EXPECT_EQ(c.sorted_prefix(), 0u);
}

TEST(CandidatesTest, SortTopKOrdersThePrefixWithTiesToLowerId) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f, 0.0f};
  Candidates c(logits);
  c.SortTopK(2);
  EXPECT_EQ(c.sorted_prefix(), 2u);
  EXPECT_EQ(c[0].id, 1);
  EXPECT_EQ(c[1].id, 3);
  c.Sort();
  EXPECT_EQ(Ids(c), (std::vector<int32_t>{1, 3, 2, 0, 4}));
}

TEST(CandidatesTest, SoftmaxGivesZeroToMinusInfinity) {
  const std::vector<float> logits = {0.0f, std::log(2.0f), -kInf};
  Candidates c(logits);
  c.Softmax();
  EXPECT_NEAR(c[0].prob, 1.0f / 3.0f, 1e-6f);
  EXPECT_NEAR(c[1].prob, 2.0f / 3.0f, 1e-6f);
  EXPECT_EQ(c[2].prob, 0.0f);
}

TEST(CandidatesTest, SoftmaxOfAllMinusInfinityIsAllZero) {
  const std::vector<float> logits = {-kInf, -kInf};
  Candidates c(logits);
  c.Softmax();
  EXPECT_EQ(c[0].prob, 0.0f);
  EXPECT_EQ(c[1].prob, 0.0f);
}

TEST(CandidatesTest, FindWorksInAnyOrder) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f};
  Candidates c(logits);
  ASSERT_NE(c.Find(2), nullptr);
  EXPECT_EQ(c.Find(2)->logit, 2.0f);
  c.Sort();
  ASSERT_NE(c.Find(0), nullptr);
  EXPECT_EQ(c.Find(0)->logit, 1.0f);
  EXPECT_EQ(c.Find(3), nullptr);
  EXPECT_EQ(c.Find(-1), nullptr);
}

TEST(CandidatesTest, KeepIfPreservesOrderAndSortedPrefix) {
  const std::vector<float> logits = {1.0f, 5.0f, 2.0f, 4.0f, 3.0f};
  Candidates c(logits);
  c.Sort();  // 1 3 4 2 0
  const size_t kept = c.KeepIf([](const TokenData& t) { return t.id != 3; });
  EXPECT_EQ(kept, 4u);
  EXPECT_EQ(Ids(c), (std::vector<int32_t>{1, 4, 2, 0}));
  EXPECT_EQ(c.sorted_prefix(), 4u);
}

TEST(CandidatesTest, ArgMaxTiesToLowerId) {
  const std::vector<float> logits = {1.0f, 7.0f, 7.0f, -kInf};
  Candidates c(logits);
  EXPECT_EQ(c.ArgMax(), 1u);
}

}  // namespace
}  // namespace wick::sampling
