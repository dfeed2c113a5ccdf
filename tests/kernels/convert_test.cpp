#include "kernels/cpu/convert.h"

#include <gtest/gtest.h>

#include <bit>
#include <random>

#include "core/half.h"
#include "kernels/cpu/simd.h"

namespace wick::kernels {
namespace {}  // namespace
void PrintTo(const SimdTarget& target, std::ostream* os) {
  *os << target.name;
}
namespace {

// Every test runs once per SIMD target this CPU can execute.
class ConvertTest : public ::testing::TestWithParam<SimdTarget> {
 protected:
  void SetUp() override { ASSERT_TRUE(ForceSimdTarget(GetParam().name).ok()); }
  void TearDown() override { ASSERT_TRUE(ForceSimdTarget("auto").ok()); }
};

std::vector<float> TrickyFloats() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          1.0f,
                          -1.0f,
                          65504.0f,
                          65520.0f,
                          1e-8f,
                          -6.1e-5f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN(),
                          std::bit_cast<float>(0x7f800001u),  // signalling NaN
                          std::numeric_limits<float>::denorm_min(),
                          3.3895314e38f};
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 100000; ++i) v.push_back(std::bit_cast<float>(bits(rng)));
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int i = 0; i < 100000; ++i) v.push_back(normal(rng));
  return v;
}

TEST_P(ConvertTest, F16ToF32IsExactForEveryBitPattern) {
  std::vector<uint16_t> all(65536 + 3);  // odd length exercises the tail
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> out(all.size());
  F16ToF32Row(all.data(), out.data(), static_cast<int64_t>(all.size()));
  for (size_t i = 0; i < all.size(); ++i) {
    float want = F16ToF32(all[i]);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(out[i])) << i;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(want)) << i;
    }
  }
}

TEST_P(ConvertTest, Bf16RoundTripsMatchScalar) {
  std::vector<float> in = TrickyFloats();
  std::vector<uint16_t> bf(in.size());
  F32ToBf16Row(in.data(), bf.data(), static_cast<int64_t>(in.size()));
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(bf[i], F32ToBf16(in[i])) << in[i];
  std::vector<float> back(in.size());
  Bf16ToF32Row(bf.data(), back.data(), static_cast<int64_t>(bf.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(Bf16ToF32(bf[i])));
  }
}

TEST_P(ConvertTest, F32ToF16MatchesScalar) {
  std::vector<float> in = TrickyFloats();
  std::vector<uint16_t> h(in.size());
  F32ToF16Row(in.data(), h.data(), static_cast<int64_t>(in.size()));
  for (size_t i = 0; i < in.size(); ++i) ASSERT_EQ(h[i], F32ToF16(in[i])) << in[i];
  std::vector<float> through(in.size());
  F32ThroughF16Row(in.data(), through.data(), static_cast<int64_t>(in.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    ASSERT_EQ(std::bit_cast<uint32_t>(through[i]), std::bit_cast<uint32_t>(F16ToF32(h[i])))
        << in[i];
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, ConvertTest, ::testing::ValuesIn(RunnableSimdTargets()),
                         [](const auto& param_info) { return param_info.param.name; });

TEST(SimdTest, ForcingTargets) {
  std::vector<SimdTarget> targets = RunnableSimdTargets();
  ASSERT_FALSE(targets.empty());
  EXPECT_TRUE(ForceSimdTarget("scalar").ok());
  EXPECT_TRUE(CurrentSimdTarget() == "EMU128" || CurrentSimdTarget() == "SCALAR")
      << CurrentSimdTarget();
  EXPECT_TRUE(ForceSimdTarget("AVX2").ok() || targets.front().name.rfind("AVX", 0) != 0);
  EXPECT_FALSE(ForceSimdTarget("neon-on-x86").ok());
  EXPECT_TRUE(ForceSimdTarget("auto").ok());
  EXPECT_EQ(CurrentSimdTarget(), targets.front().name);
}

}  // namespace
}  // namespace wick::kernels
