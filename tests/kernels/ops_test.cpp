// Norms, activations, softmax, element-wise arithmetic and embedding lookup against plain
// f64 references, on every SIMD target this CPU runs. Tolerances are relative to the exact
// value, plus a tiny absolute floor for results in the f32 subnormal range.
#include "kernels/cpu/ops.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "kernels/cpu/quant_traits.h"
#include "kernels/cpu/simd.h"

namespace wick::kernels {
namespace {

constexpr double kEps = 0x1p-24;  // f32 unit roundoff (half an ulp of 1)
// Each tolerance is about four times the worst error measured on every target.
// Norms: the scale, the normalised value and the weighted value each round once (measured
// 1.7 kEps).
constexpr double kNormRelTol = 8 * kEps;
// Silu and SwiGlu: Highway's Exp (1 ulp), then a divide, multiply, add (measured 3.8 kEps).
constexpr double kSiluRelTol = 16 * kEps;
// Tanh GELU: its f32 argument 2u carries a few ulps, which the sigmoid's slope multiplies by
// |2u| in relative terms, hence kGeluRelTol * (1 + |2u|) (measured 2.6 kEps per unit).
constexpr double kGeluRelTol = 12 * kEps;
// Exact GELU is computed in f64 and rounded once.
constexpr double kGeluErfRelTol = 2 * kEps;
// Softmax: rounding x - max costs |x - max| ulps after exp, hence kSoftmaxRelTol *
// (1 + |x - max|) (measured 1.0 kEps per unit).
constexpr double kSoftmaxRelTol = 4 * kEps;
// Below this, results are subnormal in f32 and only absolutely accurate.
constexpr double kTinyAbs = 1e-36;

const std::vector<int64_t> kSizes = {1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 64, 100, 1000, 4101};

// Parameterised by target name, which gtest prints readably.
class OpsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { ASSERT_TRUE(ForceSimdTarget(GetParam()).ok()); }
  void TearDown() override { ASSERT_TRUE(ForceSimdTarget("auto").ok()); }
};

std::vector<float> Random(int64_t n, float mean, float stddev, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, stddev);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& f : v) f = dist(rng);
  return v;
}

// Values that stress the activations: zero, tiny, huge, around the tails of the sigmoid.
std::vector<float> Tricky() {
  std::vector<float> v = {0.0f,   -0.0f,  1e-30f, -1e-30f, 1e-6f,  -1e-6f,  0.5f,
                          -0.5f,  3.0f,   -3.0f,  10.0f,   -10.0f, 20.0f,   -20.0f,
                          40.0f,  -40.0f, 87.0f,  -87.0f,  100.0f, -100.0f, 1e10f,
                          -1e10f, 1e30f,  -1e30f, 3e38f,   -3e38f, 1e-40f,  -1e-40f};
  std::vector<float> more = Random(1000, 0.0f, 8.0f, 3);
  v.insert(v.end(), more.begin(), more.end());
  return v;
}

void ExpectNear(double got, double want, double tol, const char* what, size_t i, double x) {
  ASSERT_LE(std::abs(got - want), tol + kTinyAbs)
      << what << "[" << i << "] x=" << x << " got " << got << " want " << want;
}

double SigmoidRef(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}
double GeluTwoU(double x) {
  return 2 * std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x);
}
// 0.5 (1 + tanh(u)) = sigmoid(2u): the same function without the cancellation that even f64
// suffers for x < -5.
double GeluRef(double x) {
  return x * SigmoidRef(GeluTwoU(x));
}

TEST_P(OpsTest, RmsNormMatchesReference) {
  for (int64_t n : kSizes) {
    for (float magnitude : {1.0f, 1e-20f, 1e20f}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " magnitude=" << magnitude);
      std::vector<float> x = Random(n, 0.3f * magnitude, magnitude, 1);
      std::vector<float> w = Random(n, 1.0f, 0.3f, 2);
      const float eps = 1e-6f;
      double sum = 0;
      for (float v : x) sum += static_cast<double>(v) * v;
      const double scale = 1 / std::sqrt(sum / static_cast<double>(n) + eps);
      std::vector<float> out(x.size());
      RmsNorm(x.data(), w.data(), out.data(), n, eps);
      for (size_t i = 0; i < x.size(); ++i) {
        double want = x[i] * scale * w[i];
        ExpectNear(out[i], want, kNormRelTol * std::abs(want), "rms", i, x[i]);
      }
      // No weight, and in place.
      std::vector<float> inplace = x;
      RmsNorm(inplace.data(), nullptr, inplace.data(), n, eps);
      for (size_t i = 0; i < x.size(); ++i) {
        double want = x[i] * scale;
        ExpectNear(inplace[i], want, kNormRelTol * std::abs(want), "rms in place", i, x[i]);
      }
    }
  }
}

TEST_P(OpsTest, RmsNormOfZerosIsZeros) {
  std::vector<float> x(37, 0.0f);
  RmsNorm(x.data(), nullptr, x.data(), 37, 1e-5f);
  for (float v : x) EXPECT_EQ(v, 0.0f);
}

TEST_P(OpsTest, LayerNormMatchesReference) {
  for (int64_t n : kSizes) {
    for (float offset : {0.0f, 1e4f}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " offset=" << offset);
      std::vector<float> x = Random(n, offset + 0.5f, 2.0f, 4);
      std::vector<float> w = Random(n, 1.0f, 0.3f, 5);
      std::vector<float> b = Random(n, 0.0f, 1.0f, 6);
      const float eps = 1e-5f;
      double mean = 0;
      for (float v : x) mean += v;
      mean /= static_cast<double>(n);
      double var = 0;
      for (float v : x) var += (v - mean) * (v - mean);
      const double scale = 1 / std::sqrt(var / static_cast<double>(n) + eps);
      std::vector<float> out = x;  // in place
      LayerNorm(out.data(), w.data(), b.data(), out.data(), n, eps);
      std::vector<float> plain(x.size());
      LayerNorm(x.data(), nullptr, nullptr, plain.data(), n, eps);
      for (size_t i = 0; i < x.size(); ++i) {
        const double normalised = (x[i] - mean) * scale;
        const double want = normalised * w[i] + b[i];
        // x - mean is taken in f32: an error of half an ulp of the larger of the two.
        const double tol =
            kNormRelTol *
            ((std::abs(x[i]) + std::abs(mean)) * scale * std::abs(w[i]) + std::abs(want));
        ExpectNear(out[i], want, tol, "layer norm", i, x[i]);
        const double plain_tol =
            kNormRelTol * ((std::abs(x[i]) + std::abs(mean)) * scale + std::abs(normalised));
        ExpectNear(plain[i], normalised, plain_tol, "layer norm plain", i, x[i]);
      }
    }
  }
}

TEST_P(OpsTest, ConstantRowLayerNormsToBias) {
  std::vector<float> x(19, 42.0f);
  std::vector<float> bias(19, 0.25f);
  LayerNorm(x.data(), nullptr, bias.data(), x.data(), 19, 1e-5f);
  for (float v : x) EXPECT_EQ(v, 0.25f);
}

TEST_P(OpsTest, ActivationsMatchReference) {
  std::vector<float> x = Tricky();
  std::vector<float> up = Random(static_cast<int64_t>(x.size()), 0.0f, 2.0f, 9);
  // Every length, so every tail position goes through the padded path.
  for (int64_t n : {int64_t{1}, int64_t{5}, int64_t{17}, static_cast<int64_t>(x.size())}) {
    SCOPED_TRACE(::testing::Message() << "n=" << n);
    std::vector<float> silu(n), gelu(n), gelu_erf(n), swiglu(n), geglu(n);
    Silu(x.data(), silu.data(), n);
    Gelu(x.data(), gelu.data(), n);
    GeluErf(x.data(), gelu_erf.data(), n);
    SwiGlu(x.data(), up.data(), swiglu.data(), n);
    GeGlu(x.data(), up.data(), geglu.data(), n);
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
      const double v = x[i];
      const double silu_want = v * SigmoidRef(v);
      ExpectNear(silu[i], silu_want, kSiluRelTol * std::abs(silu_want), "silu", i, v);
      const double swiglu_want = silu_want * up[i];
      ExpectNear(swiglu[i], swiglu_want, kSiluRelTol * std::abs(swiglu_want), "swiglu", i, v);
      const double gelu_want = GeluRef(v);
      const double gelu_tol = kGeluRelTol * (1 + std::abs(GeluTwoU(v))) * std::abs(gelu_want);
      ExpectNear(gelu[i], gelu_want, gelu_tol, "gelu", i, v);
      const double geglu_want = gelu_want * up[i];
      ExpectNear(geglu[i], geglu_want, gelu_tol * std::abs(up[i]) + kEps * std::abs(geglu_want),
                 "geglu", i, v);
      const double erf_want = 0.5 * v * std::erfc(-v / std::sqrt(2.0));
      ExpectNear(gelu_erf[i], erf_want, kGeluErfRelTol * std::abs(erf_want), "gelu_erf", i, v);
    }
  }
}

TEST_P(OpsTest, ActivationsInPlace) {
  std::vector<float> x = Random(45, 0.0f, 3.0f, 10);
  std::vector<float> want(x.size());
  Silu(x.data(), want.data(), 45);
  Silu(x.data(), x.data(), 45);
  EXPECT_EQ(x, want);
}

TEST_P(OpsTest, SoftmaxMatchesReference) {
  for (int64_t n :
       {int64_t{1}, int64_t{2}, int64_t{3}, int64_t{17}, int64_t{1000}, int64_t{100003}}) {
    for (float spread : {1.0f, 30.0f}) {
      SCOPED_TRACE(::testing::Message() << "n=" << n << " spread=" << spread);
      std::vector<float> x = Random(n, 5.0f, spread, 11);
      // Mask every seventh entry, as a causal or padding mask would.
      for (size_t i = 3; i < x.size(); i += 7) x[i] = -std::numeric_limits<float>::infinity();
      double max = -std::numeric_limits<double>::infinity();
      for (float v : x) max = std::max(max, static_cast<double>(v));
      double sum = 0;
      for (float v : x) sum += std::exp(v - max);
      std::vector<float> got = x;
      Softmax(got.data(), n);
      double total = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        if (std::isinf(x[i])) {
          ASSERT_EQ(got[i], 0.0f) << i;
          continue;
        }
        const double want = std::exp(x[i] - max) / sum;
        const double tol = kSoftmaxRelTol * (1 + std::abs(x[i] - max)) * want;
        ExpectNear(got[i], want, tol, "softmax", i, x[i]);
        total += got[i];
      }
      EXPECT_NEAR(total, 1.0, 1e-5);
    }
  }
}

TEST_P(OpsTest, SoftmaxEdgeCases) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> one = {-3.5f};
  Softmax(one.data(), 1);
  EXPECT_EQ(one[0], 1.0f);

  std::vector<float> masked(21, -inf);  // fully masked: zeros, not NaN
  Softmax(masked.data(), 21);
  for (float v : masked) EXPECT_EQ(v, 0.0f);

  std::vector<float> huge = {3e38f, -3e38f, 3e38f, 1000.0f, 0.0f};
  Softmax(huge.data(), 5);
  EXPECT_EQ(huge, (std::vector<float>{0.5f, 0.0f, 0.5f, 0.0f, 0.0f}));

  std::vector<float> equal(33, -1e30f);
  Softmax(equal.data(), 33);
  for (float v : equal) EXPECT_NEAR(v, 1.0 / 33, 1e-7);
}

TEST_P(OpsTest, ElementwiseIsExact) {
  for (int64_t n : kSizes) {
    std::vector<float> a = Random(n, 0.0f, 10.0f, 12);
    std::vector<float> b = Random(n, 1.0f, 0.1f, 13);
    std::vector<float> sum(a.size()), product(a.size());
    Add(a.data(), b.data(), sum.data(), n);
    Mul(a.data(), b.data(), product.data(), n);
    std::vector<float> scaled = a;
    Scale(scaled.data(), -0.37f, n);
    std::vector<float> acc = b;
    AddScaled(a.data(), 0.125f, acc.data(), n);
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_EQ(sum[i], a[i] + b[i]) << i;
      ASSERT_EQ(product[i], a[i] * b[i]) << i;
      ASSERT_EQ(scaled[i], a[i] * -0.37f) << i;
      // Fused or not, one rounding of the exact a*s + b (a*0.125 is exact).
      ASSERT_EQ(acc[i], b[i] + a[i] * 0.125f) << i;
    }
    // Aliased output.
    Add(a.data(), b.data(), a.data(), n);
    EXPECT_EQ(a, sum);
  }
}

TEST_P(OpsTest, AddScaledWithinOneRounding) {
  std::vector<float> x = Random(101, 0.0f, 1.0f, 14);
  std::vector<float> acc = Random(101, 0.0f, 1.0f, 15);
  std::vector<float> got = acc;
  AddScaled(x.data(), 0.3f, got.data(), 101);
  for (size_t i = 0; i < x.size(); ++i) {
    const double want = static_cast<double>(acc[i]) + static_cast<double>(x[i]) * 0.3f;
    ExpectNear(got[i], want, 2 * kEps * (std::abs(acc[i]) + std::abs(x[i] * 0.3)), "axpy", i, x[i]);
  }
}

std::vector<std::string> TargetNames() {
  std::vector<std::string> names;
  for (const SimdTarget& t : RunnableSimdTargets()) names.push_back(t.name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllTargets, OpsTest, ::testing::ValuesIn(TargetNames()),
                         [](const auto& param_info) { return param_info.param; });

// ---- Embedding lookup (no SIMD of its own) ----

TEST(GetRowsTest, SelectsF32AndF16Rows) {
  const int64_t n_rows = 5, row_len = 6;
  std::vector<float> table(n_rows * row_len);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<float>(i) * 0.5f - 3.0f;
  std::vector<uint16_t> table_f16(table.size());
  for (size_t i = 0; i < table.size(); ++i) table_f16[i] = F32ToF16(table[i]);  // exact
  const std::vector<int32_t> ids = {4, 0, 4, 2};
  for (DType type : {DType::kF32, DType::kF16}) {
    SCOPED_TRACE(std::string(NameOf(type)));
    const void* data = type == DType::kF32 ? static_cast<const void*>(table.data())
                                           : static_cast<const void*>(table_f16.data());
    std::vector<float> out(ids.size() * row_len);
    ASSERT_TRUE(GetRows(data, type, n_rows, row_len, ids.data(), 4, out.data()).ok());
    for (size_t k = 0; k < ids.size(); ++k) {
      for (int64_t j = 0; j < row_len; ++j) {
        ASSERT_EQ(out[k * row_len + j], table[ids[k] * row_len + j]) << k << " " << j;
      }
    }
  }
}

TEST(GetRowsTest, QuantizedRowsMatchTheirDequantizer) {
  const int64_t n_rows = 3, row_len = 256;  // one Q*_K block, eight Q8_0 blocks
  std::vector<float> weights = Random(n_rows * row_len, 0.0f, 1.0f, 16);
  for (DType type : {DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K}) {
    SCOPED_TRACE(std::string(NameOf(type)));
    const QuantTraits* traits = FindQuantTraits(type);
    ASSERT_NE(traits, nullptr);
    const uint64_t row_bytes = *BytesFor(type, row_len);
    std::vector<uint8_t> table(n_rows * row_bytes);
    for (int64_t r = 0; r < n_rows; ++r) {
      traits->quantize(weights.data() + r * row_len, table.data() + r * row_bytes, row_len);
    }
    const std::vector<int32_t> ids = {2, 1};
    std::vector<float> out(ids.size() * row_len);
    ASSERT_TRUE(GetRows(table.data(), type, n_rows, row_len, ids.data(), 2, out.data()).ok());
    std::vector<float> want(row_len);
    for (size_t k = 0; k < ids.size(); ++k) {
      traits->dequantize(table.data() + ids[k] * row_bytes, want.data(), row_len);
      for (int64_t j = 0; j < row_len; ++j) ASSERT_EQ(out[k * row_len + j], want[j]) << j;
    }
  }
}

TEST(GetRowsTest, RejectsBadInput) {
  std::vector<float> table(4 * 8, 1.0f);
  std::vector<float> out(8, -7.0f);
  const int32_t big = 4, negative = -1;
  Status s = GetRows(table.data(), DType::kF32, 4, 8, &big, 1, out.data());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.error().message().find("token id 4"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("4 rows"), std::string::npos) << s.error().message();
  EXPECT_EQ(out, std::vector<float>(8, -7.0f));  // nothing written
  EXPECT_FALSE(GetRows(table.data(), DType::kF32, 4, 8, &negative, 1, out.data()).ok());

  const int32_t zero = 0;
  Status type_error = GetRows(table.data(), DType::kI32, 4, 8, &zero, 1, out.data());
  ASSERT_FALSE(type_error.ok());
  EXPECT_EQ(type_error.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(type_error.error().message().find("I32"), std::string::npos);
  // A Q8_0 row must be a whole number of 32-element blocks.
  EXPECT_FALSE(GetRows(table.data(), DType::kQ8_0, 1, 33, &zero, 1, out.data()).ok());
  // No ids: nothing to do.
  EXPECT_TRUE(GetRows(table.data(), DType::kF32, 4, 8, nullptr, 0, out.data()).ok());
}

}  // namespace
}  // namespace wick::kernels
