#include "kernels/cpu/gemm_f32.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/simd.h"

namespace wick::kernels {
namespace {

// Allowed error per element, relative to sum over p of |a[i][p] * b[j][p]|: f32 accumulation
// over k = 4096 in blocks stays well inside this, while a dropped or doubled term does not.
constexpr double kRelTol = 1e-5;
// Written into c's padding between rows; the kernel must leave it alone.
constexpr float kSentinel = 12345.0f;

class GemmF32Test : public ::testing::TestWithParam<SimdTarget> {
 protected:
  void SetUp() override { ASSERT_TRUE(ForceSimdTarget(GetParam().name).ok()); }
  void TearDown() override { ASSERT_TRUE(ForceSimdTarget("auto").ok()); }
};

// Runs GemmF32 on random operands with the given strides (each at least the dense one) and
// checks every element against a double-precision reference.
void CheckShape(int64_t m, int64_t n, int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
  SCOPED_TRACE(testing::Message() << "m=" << m << " n=" << n << " k=" << k << " lda=" << lda
                                  << " ldb=" << ldb << " ldc=" << ldc);
  std::mt19937 rng(static_cast<uint32_t>(m * 1000003 + n * 1009 + k));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(m * lda));
  std::vector<float> b(static_cast<size_t>(n * ldb));
  for (float& v : a) v = dist(rng);
  for (float& v : b) v = dist(rng);
  // NaN in the output proves c is overwritten rather than accumulated into.
  std::vector<float> c(static_cast<size_t>(m * ldc), kSentinel);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = std::nanf("");
  }
  GemmF32(a.data(), lda, b.data(), ldb, c.data(), ldc, m, n, k);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double want = 0.0;
      double magnitude = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double product = static_cast<double>(a[i * lda + p]) * b[j * ldb + p];
        want += product;
        magnitude += std::abs(product);
      }
      ASSERT_NEAR(c[i * ldc + j], want, kRelTol * magnitude) << "i=" << i << " j=" << j;
    }
    for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(c[i * ldc + j], kSentinel) << "i=" << i;
  }
}

TEST_P(GemmF32Test, SmallShapes) {
  const int64_t sizes[] = {1, 3, 7, 16, 33, 100};
  for (int64_t m : sizes) {
    for (int64_t n : sizes) {
      for (int64_t k : sizes) CheckShape(m, n, k, k, k, n);
    }
  }
}

TEST_P(GemmF32Test, DepthsAcrossBlocks) {
  for (int64_t k : {1, 5, 256, 513, 4096}) {
    for (int64_t m : {1, 7, 33, 100}) {
      for (int64_t n : {1, 16, 33, 100}) CheckShape(m, n, k, k, k, n);
    }
  }
}

TEST_P(GemmF32Test, StridedOperands) {
  for (int64_t k : {1, 5, 256, 513}) {
    for (int64_t m : {3, 16, 33}) {
      for (int64_t n : {7, 16, 100}) CheckShape(m, n, k, k + 3, k + 17, n + 5);
    }
  }
}

// More weight rows than one packed block of b holds, with a depth that ends mid-block.
TEST_P(GemmF32Test, ManyWeightRows) {
  CheckShape(37, 600, 300, 301, 310, 611);
}

TEST_P(GemmF32Test, ZeroDepthWritesZeros) {
  std::vector<float> c(3 * 9, kSentinel);
  GemmF32(nullptr, 0, nullptr, 0, c.data(), 9, 3, 8, 0);
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 8; ++j) EXPECT_EQ(c[i * 9 + j], 0.0f);
    EXPECT_EQ(c[i * 9 + 8], kSentinel);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, GemmF32Test, ::testing::ValuesIn(RunnableSimdTargets()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace wick::kernels
