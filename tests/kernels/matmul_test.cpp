#include "kernels/cpu/matmul.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "kernels/cpu/quant_traits.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vec_dot.h"

namespace wick::kernels {
namespace {

// Relative error of a dot against the double-precision dot of the same dequantized operands
// (quantized activations on the GEMV path, f32 ones on the GEMM path): only accumulation
// order differs, so the bound is tight for every type.
constexpr double kMaxRelativeError = 2e-4;

class MatmulTest : public ::testing::TestWithParam<DType> {};

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

TEST_P(MatmulTest, MatchesDequantizedReference) {
  const DType type = GetParam();
  const QuantTraits* traits = FindQuantTraits(type);
  ASSERT_NE(traits, nullptr);
  const VecDotKernel* kernel = FindVecDot(type);
  ASSERT_NE(kernel, nullptr);
  const QuantTraits* act_traits = FindQuantTraits(kernel->dot_type);
  const int64_t k = 512;
  for (int threads : {1, 3}) {
    ThreadPool pool(threads);
    MatmulScratch scratch;
    for (int64_t m : {1, 3, 17, 40}) {
      for (int64_t n : {1, 15, 33, 130}) {
        SCOPED_TRACE(::testing::Message()
                     << NameOf(type) << " m=" << m << " n=" << n << " threads=" << threads);
        std::vector<float> w_f32 = Random(static_cast<size_t>(n * k), 1);
        const uint64_t w_row = *BytesFor(type, k);
        std::vector<uint8_t> w(static_cast<size_t>(n) * w_row);
        for (int64_t r = 0; r < n; ++r) {
          traits->quantize(w_f32.data() + r * k, w.data() + r * w_row, k);
        }
        std::vector<float> x = Random(static_cast<size_t>(m * k), 2);
        std::vector<float> y(static_cast<size_t>(m * n), NAN);
        Status st = Matmul(
            {.w = w.data(), .w_type = type, .n = n, .k = k, .x = x.data(), .m = m, .y = y.data()},
            pool, scratch);
        ASSERT_TRUE(st.ok()) << st.error().message();

        // Reference: both operands as the kernel sees them, dequantized, in double.
        const uint64_t a_row = *BytesFor(kernel->dot_type, k);
        std::vector<float> w_deq(static_cast<size_t>(k)), a_deq(static_cast<size_t>(k));
        std::vector<uint8_t> a_q(a_row);
        for (int64_t i = 0; i < m; ++i) {
          // Both paths see the activations through the kernel's own quantizer.
          kernel->quantize_input(x.data() + i * k, a_q.data(), k);
          act_traits->dequantize(a_q.data(), a_deq.data(), k);
          for (int64_t r = 0; r < n; ++r) {
            traits->dequantize(w.data() + r * w_row, w_deq.data(), k);
            double want = 0, scale = 0;
            for (int64_t j = 0; j < k; ++j) {
              want += static_cast<double>(w_deq[j]) * a_deq[j];
              scale += std::fabs(static_cast<double>(w_deq[j]) * a_deq[j]);
            }
            ASSERT_NEAR(y[i * n + r], want, kMaxRelativeError * scale + 1e-6) << i << "," << r;
          }
        }
      }
    }
  }
}

// A forced path computes each row as if it were alone: a server batching unrelated sequences
// relies on it for outputs that do not depend on the neighbours.
TEST_P(MatmulTest, ForcedPathRowsDoNotDependOnTheBatch) {
  const DType type = GetParam();
  const QuantTraits* traits = FindQuantTraits(type);
  ASSERT_NE(traits, nullptr);
  const int64_t k = 512, n = 80, m = 37;
  ThreadPool pool(3);
  MatmulScratch scratch;
  std::vector<float> w_f32 = Random(static_cast<size_t>(n * k), 3);
  const uint64_t w_row = *BytesFor(type, k);
  std::vector<uint8_t> w(static_cast<size_t>(n) * w_row);
  for (int64_t r = 0; r < n; ++r) traits->quantize(w_f32.data() + r * k, w.data() + r * w_row, k);
  std::vector<float> x = Random(static_cast<size_t>(m * k), 4);
  // Every target: a step of 37 tokens takes the prompt tiles where the target has them (16
  // rows of AVX-512 VNNI, two vectors of 8 on AVX2), 16 takes them or not, 1 never does.
  for (const SimdTarget& target : RunnableSimdTargets()) {
    ASSERT_TRUE(ForceSimdTarget(target.name).ok());
    for (MatmulPath path : {MatmulPath::kDot, MatmulPath::kGemm}) {
      auto run = [&](int64_t first, int64_t rows) {
        std::vector<float> y(static_cast<size_t>(rows * n), NAN);
        Status st = Matmul({.w = w.data(),
                            .w_type = type,
                            .n = n,
                            .k = k,
                            .x = x.data() + first * k,
                            .m = rows,
                            .y = y.data(),
                            .path = path},
                           pool, scratch);
        EXPECT_TRUE(st.ok());
        return y;
      };
      const std::vector<float> all = run(0, m);
      const std::vector<float> head = run(0, 16);
      const std::vector<float> tail = run(16, m - 16);
      for (int64_t i = 0; i < m; ++i) {
        const std::vector<float> alone = run(i, 1);
        const std::vector<float>& part = i < 16 ? head : tail;
        const int64_t pi = i < 16 ? i : i - 16;
        for (int64_t r = 0; r < n; ++r) {
          ASSERT_EQ(all[i * n + r], alone[r])
              << target.name << " path " << static_cast<int>(path) << " row " << i;
          ASSERT_EQ(all[i * n + r], part[pi * n + r])
              << target.name << " path " << static_cast<int>(path);
        }
      }
    }
  }
  ASSERT_TRUE(ForceSimdTarget("auto").ok());
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulTest,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0,
                                           DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0,
                                           DType::kQ2_K, DType::kQ3_K, DType::kQ4_K, DType::kQ5_K,
                                           DType::kQ6_K),
                         [](const auto& param_info) {
                           return std::string(NameOf(param_info.param));
                         });

// A prompt's f32, f16 and bf16 matmuls run register tiles (f16's against f32 activations
// rounded through f16); every output must be the bits of the GEMM-order dot of its weight row and
// its activation row as the dot's own format holds it, on every target: ragged tile edges, and more
// tokens than one tile (six on AVX-512) takes.
TEST(MatmulTilesTest, FloatTilesGiveTheGemmDotsBits) {
  const int64_t k = 1024, n = 13, m = 19;
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
    const QuantTraits* traits = FindQuantTraits(type);
    const VecDotKernel* kernel = FindVecDot(type);
    ASSERT_NE(kernel, nullptr);
    const uint64_t w_row = *BytesFor(type, k);
    const uint64_t a_row = *BytesFor(kernel->dot_type, k);
    std::vector<float> w_f32 = Random(static_cast<size_t>(n * k), 5);
    std::vector<uint8_t> w(static_cast<size_t>(n) * w_row);
    for (int64_t r = 0; r < n; ++r) traits->quantize(w_f32.data() + r * k, w.data() + r * w_row, k);
    std::vector<float> x = Random(static_cast<size_t>(m * k), 6);
    x[7] = 1e-9f;  // rounds to an f16 subnormal
    std::vector<uint8_t> a(a_row);
    for (const SimdTarget& target : RunnableSimdTargets()) {
      ASSERT_TRUE(ForceSimdTarget(target.name).ok());
      ThreadPool pool(2);
      MatmulScratch scratch;
      std::vector<float> y(static_cast<size_t>(m * n), NAN);
      ASSERT_TRUE(Matmul({.w = w.data(),
                          .w_type = type,
                          .n = n,
                          .k = k,
                          .x = x.data(),
                          .m = m,
                          .y = y.data(),
                          .path = MatmulPath::kGemm},
                         pool, scratch)
                      .ok());
      for (int64_t i = 0; i < m; ++i) {
        kernel->quantize_input(x.data() + i * k, a.data(), k);
        for (int64_t r = 0; r < n; ++r) {
          const float want = kernel->dot_gemm(w.data() + r * w_row, a.data(), k);
          ASSERT_EQ(std::bit_cast<uint32_t>(y[i * n + r]), std::bit_cast<uint32_t>(want))
              << NameOf(type) << " " << target.name << " token " << i << " row " << r;
        }
      }
    }
    ASSERT_TRUE(ForceSimdTarget("auto").ok());
  }
}

// Rows of no elements (k = 0) sum to zero on the tile path too, whose lanes wait in memory.
TEST(MatmulTilesTest, EmptyRowsGiveZeros) {
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (const SimdTarget& target : RunnableSimdTargets()) {
      ASSERT_TRUE(ForceSimdTarget(target.name).ok());
      ThreadPool pool(2);
      MatmulScratch scratch;
      float unused = 0.0f;
      std::vector<float> y(5 * 7, NAN);
      ASSERT_TRUE(Matmul({.w = &unused,
                          .w_type = type,
                          .n = 7,
                          .k = 0,
                          .x = &unused,
                          .m = 5,
                          .y = y.data(),
                          .path = MatmulPath::kGemm},
                         pool, scratch)
                      .ok());
      for (float v : y) EXPECT_EQ(v, 0.0f) << NameOf(type) << " " << target.name;
    }
  }
  ASSERT_TRUE(ForceSimdTarget("auto").ok());
}

TEST(MatmulErrorsTest, BadShapesAndTypesAreErrors) {
  ThreadPool pool(1);
  MatmulScratch scratch;
  std::vector<float> buf(64);
  Status odd = Matmul({.w = buf.data(),
                       .w_type = DType::kQ4_0,
                       .n = 1,
                       .k = 33,
                       .x = buf.data(),
                       .m = 1,
                       .y = buf.data()},
                      pool, scratch);
  EXPECT_FALSE(odd.ok());
  Status unsupported = Matmul({.w = buf.data(),
                               .w_type = DType::kIQ2_XXS,
                               .n = 1,
                               .k = 256,
                               .x = buf.data(),
                               .m = 1,
                               .y = buf.data()},
                              pool, scratch);
  ASSERT_FALSE(unsupported.ok());
  EXPECT_NE(unsupported.error().message().find("IQ2_XXS"), std::string::npos);
  EXPECT_TRUE(
      Matmul(
          {.w = nullptr, .w_type = DType::kF32, .n = 0, .k = 4, .x = nullptr, .m = 0, .y = nullptr},
          pool, scratch)
          .ok());
}

}  // namespace
}  // namespace wick::kernels
