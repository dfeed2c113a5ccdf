// Properties of the 32-element block formats and the f16/bf16 rows: round-trip error on
// Gaussian data, idempotence, the exact byte layout of a few hand-computed blocks, edge cases,
// and the dot oracles against a double-precision dot of the dequantized rows.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cpu/quant_traits.h"

namespace wick {
namespace {

using kernels::FindQuantTraits;
using kernels::QuantTraits;

// Relative RMSE, sqrt(sum (x' - x)^2 / sum x^2), of a quantize/dequantize round trip on
// N(0, 1) data. A 32-element block's scale follows its largest magnitude (about 2 sigma), so a
// 4-bit step is about 0.27 sigma and its uniform rounding error step / sqrt(12) about 0.08;
// each extra bit halves that. Measured (65536 values, libstdc++'s normal_distribution): F16
// 2.07e-4, BF16 1.66e-3, Q4_0 0.0859, Q4_1 0.0780, Q5_0 0.0427, Q5_1 0.0378, Q8_0 and Q8_1
// 0.00536. With this many values the statistic moves well under 1% between data sets; the
// bounds leave about 15%.
constexpr double kF16MaxRmse = 2.4e-4;   // 11-bit significand: below 2^-11 / sqrt(3)
constexpr double kBf16MaxRmse = 1.9e-3;  // 8-bit significand: below 2^-8 / sqrt(3)
constexpr double kQ4_0MaxRmse = 0.099;
constexpr double kQ4_1MaxRmse = 0.090;
constexpr double kQ5_0MaxRmse = 0.049;
constexpr double kQ5_1MaxRmse = 0.044;
constexpr double kQ8_0MaxRmse = 0.0062;
constexpr double kQ8_1MaxRmse = 0.0062;

// The dot oracles against the double dot of the dequantized rows, relative to
// sum |w_i * a_i| (the scale of the rounding error of any summation order). The f32/f16/bf16
// oracles accumulate in double and the formats paired with Q8_0 in f32 per block, so they
// differ only by f32 rounding (measured at most 2.5e-8 over 100 random rows). With Q8_1 the
// min term uses the activation's stored s = f16(d * sum(qs)), computed from the unrounded d,
// where the dequantized row has f16(d) * qs: two f16 roundings, 2^-11 each, times |m| (measured
// at most 5e-5).
constexpr double kDotRoundingRelTol = 1e-6;
constexpr double kDotQ8_1RelTol = 2e-4;

constexpr int64_t kRoundTripElements = 65536;
constexpr int64_t kDotElements = 4096;

struct TypeCase {
  DType type;
  double max_rmse;
};

std::string CaseName(const ::testing::TestParamInfo<TypeCase>& info) {
  return std::string(NameOf(info.param.type));
}

std::vector<float> Gaussian(int64_t n, uint32_t seed, float sigma = 1.0f, float mean = 0.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(mean, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

uint64_t RowBytes(DType type, int64_t n) {
  const DTypeInfo& info = InfoOf(type);
  return static_cast<uint64_t>(n / info.block_size) * info.block_bytes;
}

const QuantTraits& Traits(DType type) {
  const QuantTraits* t = FindQuantTraits(type);
  EXPECT_NE(t, nullptr) << NameOf(type);
  static const QuantTraits kNone{};
  return t != nullptr ? *t : kNone;
}

std::vector<uint8_t> Quantize(DType type, const std::vector<float>& x) {
  std::vector<uint8_t> q(RowBytes(type, static_cast<int64_t>(x.size())));
  Traits(type).quantize(x.data(), q.data(), static_cast<int64_t>(x.size()));
  return q;
}

std::vector<float> Dequantize(DType type, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  Traits(type).dequantize(q.data(), x.data(), n);
  return x;
}

double RelativeRmse(const std::vector<float>& want, const std::vector<float>& got) {
  double err = 0;
  double norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double e = static_cast<double>(got[i]) - want[i];
    err += e * e;
    norm += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(err / norm);
}

// One block of any of the 32-element formats.
template <typename Block>
Block QuantizeBlock(void (*quantize)(const float*, void*, int64_t), const float* x) {
  Block b;
  std::memset(&b, 0xa5, sizeof(b));  // garbage, so an unwritten byte shows
  quantize(x, &b, 32);
  return b;
}

// ---------------------------------------------------------------------------------------
// Round trip error and idempotence, every type.

class LegacyRoundTripTest : public ::testing::TestWithParam<TypeCase> {};

TEST_P(LegacyRoundTripTest, RelativeRmseIsWithinTheFormatsBound) {
  const TypeCase c = GetParam();
  const std::vector<float> x = Gaussian(kRoundTripElements, 1);
  const std::vector<float> back =
      Dequantize(c.type, Quantize(c.type, x), static_cast<int64_t>(x.size()));
  const double rmse = RelativeRmse(x, back);
  EXPECT_LT(rmse, c.max_rmse);
  // Far below the bound would mean the bound no longer guards anything.
  EXPECT_GT(rmse, c.max_rmse / 4);
  RecordProperty("relative_rmse", std::to_string(rmse));
}

TEST_P(LegacyRoundTripTest, ErrorIsRelativeToTheScaleOfTheData) {
  const TypeCase c = GetParam();
  // Typical weight magnitudes: only the f16 scales see the absolute size.
  const std::vector<float> x = Gaussian(kRoundTripElements, 2, 0.02f);
  EXPECT_LT(RelativeRmse(x, Dequantize(c.type, Quantize(c.type, x), kRoundTripElements)),
            c.max_rmse);
}

TEST_P(LegacyRoundTripTest, RequantizingADequantizedRowGivesTheSameBytes) {
  const TypeCase c = GetParam();
  const std::vector<float> x = Gaussian(kRoundTripElements, 3);
  const std::vector<uint8_t> q = Quantize(c.type, x);
  std::vector<uint8_t> q2 = Quantize(c.type, Dequantize(c.type, q, kRoundTripElements));
  if (c.type == DType::kQ8_1) {
    // s is f16(sum(qs) * d) from the unrounded d; requantizing sees d already rounded to f16,
    // so s may move by an f16 step. Everything else must be identical.
    auto* blocks = reinterpret_cast<Q8_1Block*>(q2.data());
    const auto* orig = reinterpret_cast<const Q8_1Block*>(q.data());
    for (int64_t b = 0; b < kRoundTripElements / kQK8_1; ++b) {
      EXPECT_LE(std::abs(int{blocks[b].s} - int{orig[b].s}), 1) << "block " << b;
      blocks[b].s = orig[b].s;
    }
  }
  EXPECT_EQ(q2, q);
}

TEST_P(LegacyRoundTripTest, AllZeroRowDecodesToZeros) {
  const TypeCase c = GetParam();
  const std::vector<float> zeros(256, 0.0f);
  for (float v : Dequantize(c.type, Quantize(c.type, zeros), 256)) EXPECT_EQ(v, 0.0f);
}

INSTANTIATE_TEST_SUITE_P(
    Types, LegacyRoundTripTest,
    ::testing::Values(TypeCase{DType::kF16, kF16MaxRmse}, TypeCase{DType::kBF16, kBf16MaxRmse},
                      TypeCase{DType::kQ4_0, kQ4_0MaxRmse}, TypeCase{DType::kQ4_1, kQ4_1MaxRmse},
                      TypeCase{DType::kQ5_0, kQ5_0MaxRmse}, TypeCase{DType::kQ5_1, kQ5_1MaxRmse},
                      TypeCase{DType::kQ8_0, kQ8_0MaxRmse}, TypeCase{DType::kQ8_1, kQ8_1MaxRmse}),
    CaseName);

// ---------------------------------------------------------------------------------------
// Exact bytes of hand-computed blocks.

std::vector<float> Ramp(float start) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = start + static_cast<float>(j);
  return x;
}

TEST(LegacyLayoutTest, ZeroBlocksHaveZeroScaleAndTheZeroPointQuant) {
  const std::vector<float> zeros(32, 0.0f);

  // The symmetric formats compute d = max / -8 (or -16): 0 / -8 is -0, as in the reference.
  const auto q4_0 = QuantizeBlock<Q4_0Block>(kernels::ref::QuantizeQ4_0, zeros.data());
  EXPECT_EQ(q4_0.d, 0x8000);
  for (uint8_t v : q4_0.qs) EXPECT_EQ(v, 0x88);  // q = 8 in both nibbles

  const auto q4_1 = QuantizeBlock<Q4_1Block>(kernels::ref::QuantizeQ4_1, zeros.data());
  EXPECT_EQ(q4_1.d, 0);
  EXPECT_EQ(q4_1.m, 0);
  for (uint8_t v : q4_1.qs) EXPECT_EQ(v, 0);

  const auto q5_0 = QuantizeBlock<Q5_0Block>(kernels::ref::QuantizeQ5_0, zeros.data());
  EXPECT_EQ(q5_0.d, 0x8000);
  for (uint8_t v : q5_0.qs) EXPECT_EQ(v, 0);     // q = 16: low nibble 0...
  for (uint8_t v : q5_0.qh) EXPECT_EQ(v, 0xff);  // ...fifth bit set

  const auto q5_1 = QuantizeBlock<Q5_1Block>(kernels::ref::QuantizeQ5_1, zeros.data());
  EXPECT_EQ(q5_1.d, 0);
  EXPECT_EQ(q5_1.m, 0);
  for (uint8_t v : q5_1.qs) EXPECT_EQ(v, 0);
  for (uint8_t v : q5_1.qh) EXPECT_EQ(v, 0);

  const auto q8_0 = QuantizeBlock<Q8_0Block>(kernels::ref::QuantizeQ8_0, zeros.data());
  EXPECT_EQ(q8_0.d, 0);
  for (int8_t v : q8_0.qs) EXPECT_EQ(v, 0);

  const auto q8_1 = QuantizeBlock<Q8_1Block>(kernels::ref::QuantizeQ8_1, zeros.data());
  EXPECT_EQ(q8_1.d, 0);
  EXPECT_EQ(q8_1.s, 0);
  for (int8_t v : q8_1.qs) EXPECT_EQ(v, 0);
}

TEST(LegacyLayoutTest, Q4_0Ramp) {
  // x = -16..15: the largest magnitude is -16, so d = -16 / -8 = 2 and q = trunc(x / 2 + 8.5),
  // which is 0 1 1 2 2 ... 8 for the first half and 8 9 9 ... 15 15 16 -> 15 for the second.
  const std::vector<float> x = Ramp(-16);
  const auto b = QuantizeBlock<Q4_0Block>(kernels::ref::QuantizeQ4_0, x.data());
  const uint8_t want[16] = {0x80, 0x91, 0x91, 0xa2, 0xa2, 0xb3, 0xb3, 0xc4,
                            0xc4, 0xd5, 0xd5, 0xe6, 0xe6, 0xf7, 0xf7, 0xf8};
  EXPECT_EQ(b.d, 0x4000);  // 2.0
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], want[j]) << j;

  float back[32];
  kernels::ref::DequantizeQ4_0(&b, back, 32);
  EXPECT_EQ(back[0], -16.0f);
  EXPECT_EQ(back[1], -14.0f);  // -15 rounds half up, to the larger quant
  EXPECT_EQ(back[16], 0.0f);
  EXPECT_EQ(back[31], 14.0f);  // +15 would need q = 16: clamped, the format's short side
}

TEST(LegacyLayoutTest, Q4_1RampWithOffset) {
  // x = (j % 16) - 4: min -4, max 11, so d = 15 / 15 = 1 and q = j % 16 exactly.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16) - 4.0f;
  const auto b = QuantizeBlock<Q4_1Block>(kernels::ref::QuantizeQ4_1, x.data());
  EXPECT_EQ(b.d, 0x3c00);  // 1.0
  EXPECT_EQ(b.m, 0xc400);  // -4.0
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], j | (j << 4)) << j;

  float back[32];
  kernels::ref::DequantizeQ4_1(&b, back, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], x[j]) << j;
}

TEST(LegacyLayoutTest, Q5_0Ramp) {
  // x = -16..15: d = -16 / -16 = 1 and q = x + 16 = j; the fifth bit is set for j >= 16.
  const std::vector<float> x = Ramp(-16);
  const auto b = QuantizeBlock<Q5_0Block>(kernels::ref::QuantizeQ5_0, x.data());
  EXPECT_EQ(b.d, 0x3c00);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], j | (j << 4)) << j;
  const uint8_t want_qh[4] = {0x00, 0x00, 0xff, 0xff};
  for (int k = 0; k < 4; ++k) EXPECT_EQ(b.qh[k], want_qh[k]) << k;

  float back[32];
  kernels::ref::DequantizeQ5_0(&b, back, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], x[j]) << j;
}

TEST(LegacyLayoutTest, Q5_1RampWithOffset) {
  // x = -10..21: min -10, d = 31 / 31 = 1, q = j.
  const std::vector<float> x = Ramp(-10);
  const auto b = QuantizeBlock<Q5_1Block>(kernels::ref::QuantizeQ5_1, x.data());
  EXPECT_EQ(b.d, 0x3c00);
  EXPECT_EQ(b.m, 0xc900);  // -10.0
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], j | (j << 4)) << j;
  const uint8_t want_qh[4] = {0x00, 0x00, 0xff, 0xff};
  for (int k = 0; k < 4; ++k) EXPECT_EQ(b.qh[k], want_qh[k]) << k;

  float back[32];
  kernels::ref::DequantizeQ5_1(&b, back, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], x[j]) << j;
}

TEST(LegacyLayoutTest, Q8_0AndQ8_1Ramp) {
  // x[0] = -127, then -15..15: amax 127, d = 1, q = x; sum(q) = -127.
  std::vector<float> x = Ramp(-16);
  x[0] = -127.0f;
  const auto b0 = QuantizeBlock<Q8_0Block>(kernels::ref::QuantizeQ8_0, x.data());
  EXPECT_EQ(b0.d, 0x3c00);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b0.qs[j], static_cast<int8_t>(x[j])) << j;

  const auto b1 = QuantizeBlock<Q8_1Block>(kernels::ref::QuantizeQ8_1, x.data());
  EXPECT_EQ(b1.d, 0x3c00);
  EXPECT_EQ(b1.s, 0xd7f0);  // -127.0
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b1.qs[j], static_cast<int8_t>(x[j])) << j;
}

TEST(LegacyLayoutTest, Q8_0RoundsHalvesAwayFromZero) {
  // amax 127 gives d = 1, so x / d is x itself.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = 3.49f;
  const auto b = QuantizeBlock<Q8_0Block>(kernels::ref::QuantizeQ8_0, x.data());
  EXPECT_EQ(b.qs[1], 3);
  EXPECT_EQ(b.qs[2], -3);
  EXPECT_EQ(b.qs[3], 1);
  EXPECT_EQ(b.qs[4], 3);
}

TEST(LegacyLayoutTest, Q8_1SumUsesTheUnroundedScale) {
  // amax 1 gives d = 1/127, which f16 rounds; s must be f16(sum(qs) * d) with the f32 d.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = (j % 2 == 0) ? 1.0f : 0.25f;
  const auto b = QuantizeBlock<Q8_1Block>(kernels::ref::QuantizeQ8_1, x.data());
  int sum = 0;
  for (int8_t v : b.qs) sum += v;
  const float d = 1.0f / 127.0f;
  EXPECT_EQ(b.d, F32ToF16(d));
  EXPECT_EQ(b.s, F32ToF16(static_cast<float>(sum) * d));
}

// ---------------------------------------------------------------------------------------
// Edge cases.

TEST(LegacyEdgeTest, SingleHugeValueKeepsItselfAndFlushesTheRest) {
  for (float huge : {1000.0f, -1000.0f}) {
    std::vector<float> x = Gaussian(32, 4, 1e-3f);
    x[7] = huge;
    for (DType type :
         {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ8_1}) {
      SCOPED_TRACE(std::string(NameOf(type)) + " " + std::to_string(huge));
      const std::vector<float> back = Dequantize(type, Quantize(type, x), 32);
      // Only the f16 rounding of the scale (and for the affine formats of the min) limits the
      // extreme value; the small ones are within half a (huge) step of where they were.
      EXPECT_NEAR(back[7], huge, 1000.0f * 0x1p-10f);
      const float step = 1000.0f / 7.0f;
      for (int j = 0; j < 32; ++j) {
        EXPECT_FALSE(std::isnan(back[j]));
        if (j != 7) {
          EXPECT_NEAR(back[j], x[j], step);
        }
      }
    }
  }
}

TEST(LegacyEdgeTest, SymmetricFormatsRepresentTheSignedMaximumExactly) {
  // The element of largest magnitude takes the quant -8 (or -16) whichever its sign: d takes
  // the opposite sign. With an f16-exact d the extreme decodes exactly.
  for (float extreme : {-5.0f, 5.0f}) {
    std::vector<float> x(32, 0.25f);
    x[3] = extreme;
    x[9] = -extreme * 0.98f;  // just inside: lands on the clamped short side
    float back[32];
    const auto b4 = QuantizeBlock<Q4_0Block>(kernels::ref::QuantizeQ4_0, x.data());
    EXPECT_EQ(F16ToF32(b4.d), extreme / -8.0f);
    kernels::ref::DequantizeQ4_0(&b4, back, 32);
    EXPECT_EQ(back[3], extreme);
    EXPECT_EQ(back[9], -extreme * 7.0f / 8.0f);

    const auto b5 = QuantizeBlock<Q5_0Block>(kernels::ref::QuantizeQ5_0, x.data());
    EXPECT_EQ(F16ToF32(b5.d), extreme / -16.0f);
    kernels::ref::DequantizeQ5_0(&b5, back, 32);
    EXPECT_EQ(back[3], extreme);
    EXPECT_EQ(back[9], -extreme * 15.0f / 16.0f);
  }
}

TEST(LegacyEdgeTest, NegativeOnlyBlocks) {
  // Every element negative: the affine formats' min is the most negative, q stays >= 0.
  std::vector<float> x = Gaussian(64, 5, 0.1f, -3.0f);
  for (DType type : {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1, DType::kQ8_0}) {
    SCOPED_TRACE(std::string(NameOf(type)));
    const std::vector<float> back = Dequantize(type, Quantize(type, x), 64);
    for (int j = 0; j < 64; ++j) EXPECT_NEAR(back[j], x[j], 3.5f / 7.0f) << j;
  }
}

TEST(LegacyEdgeTest, ConstantBlocksDecodeExactly) {
  // max == min: the affine formats get d = 0 and keep the value in m; the symmetric 4- and
  // 5-bit ones get the f16-exact d = 1.5 / 8 (or / 16) and the quant 0. (Q8's 1.5 / 127 is
  // not exact in f16.)
  const std::vector<float> x(32, -1.5f);
  for (DType type : {DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ5_1}) {
    SCOPED_TRACE(std::string(NameOf(type)));
    for (float v : Dequantize(type, Quantize(type, x), 32)) EXPECT_EQ(v, -1.5f);
  }
}

// ---------------------------------------------------------------------------------------
// Dot oracles.

struct DotCase {
  DType type;
  DType dot_type;
  float (*dot)(const void*, const void*, int64_t);
  double rel_tol;
};

std::string DotCaseName(const ::testing::TestParamInfo<DotCase>& info) {
  return std::string(NameOf(info.param.type));
}

class LegacyDotTest : public ::testing::TestWithParam<DotCase> {};

TEST_P(LegacyDotTest, TraitsPointAtTheOracle) {
  const DotCase c = GetParam();
  const QuantTraits& t = Traits(c.type);
  EXPECT_EQ(t.type, c.type);
  EXPECT_EQ(t.dot_type, c.dot_type);
  EXPECT_EQ(t.dot, c.dot);
}

TEST_P(LegacyDotTest, MatchesTheDoubleDotOfTheDequantizedRows) {
  const DotCase c = GetParam();
  // An offset in the weights makes the min term of Q4_1/Q5_1 matter.
  for (float mean : {0.0f, 0.5f}) {
    const std::vector<float> w = Gaussian(kDotElements, 6, 1.0f, mean);
    const std::vector<float> a = Gaussian(kDotElements, 7);
    const std::vector<uint8_t> wq = Quantize(c.type, w);
    const std::vector<uint8_t> aq = Quantize(c.dot_type, a);
    const std::vector<float> wd = Dequantize(c.type, wq, kDotElements);
    const std::vector<float> ad = Dequantize(c.dot_type, aq, kDotElements);
    double want = 0;
    double scale = 0;
    for (int64_t i = 0; i < kDotElements; ++i) {
      want += static_cast<double>(wd[i]) * ad[i];
      scale += std::fabs(static_cast<double>(wd[i]) * ad[i]);
    }
    const float got = Traits(c.type).dot(wq.data(), aq.data(), kDotElements);
    EXPECT_NEAR(got, want, c.rel_tol * scale) << "mean " << mean;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Types, LegacyDotTest,
    ::testing::Values(
        DotCase{DType::kF32, DType::kF32, kernels::ref::DotF32, kDotRoundingRelTol},
        DotCase{DType::kF16, DType::kF16, kernels::ref::DotF16, kDotRoundingRelTol},
        DotCase{DType::kBF16, DType::kBF16, kernels::ref::DotBF16, kDotRoundingRelTol},
        DotCase{DType::kQ4_0, DType::kQ8_0, kernels::ref::DotQ4_0Q8_0, kDotRoundingRelTol},
        DotCase{DType::kQ4_1, DType::kQ8_1, kernels::ref::DotQ4_1Q8_1, kDotQ8_1RelTol},
        DotCase{DType::kQ5_0, DType::kQ8_0, kernels::ref::DotQ5_0Q8_0, kDotRoundingRelTol},
        DotCase{DType::kQ5_1, DType::kQ8_1, kernels::ref::DotQ5_1Q8_1, kDotQ8_1RelTol},
        DotCase{DType::kQ8_0, DType::kQ8_0, kernels::ref::DotQ8_0Q8_0, kDotRoundingRelTol}),
    DotCaseName);

TEST(LegacyDotHandTest, Q4_0RampAgainstOnes) {
  // The Q4_0 ramp (d = 2) against activations that are all quant 1 with d = 1: the integer
  // sum is sum(q - 8) = -64 + 63 over the two halves, so the dot is 2 * -1.
  const std::vector<float> x = Ramp(-16);
  const auto w = QuantizeBlock<Q4_0Block>(kernels::ref::QuantizeQ4_0, x.data());
  Q8_0Block a;
  a.d = F32ToF16(1.0f);
  for (int8_t& v : a.qs) v = 1;
  float back[32];
  kernels::ref::DequantizeQ4_0(&w, back, 32);
  float want = 0;
  for (float v : back) want += v;
  EXPECT_EQ(kernels::ref::DotQ4_0Q8_0(&w, &a, 32), want);
  EXPECT_EQ(want, -2.0f);
}

TEST(LegacyTraitsTest, ActivationOnlyFormatsHaveNoDot) {
  const QuantTraits& t = Traits(DType::kQ8_1);
  EXPECT_EQ(t.dot, nullptr);
  EXPECT_EQ(t.quantize, kernels::ref::QuantizeQ8_1);
  EXPECT_EQ(t.dequantize, kernels::ref::DequantizeQ8_1);
}

}  // namespace
}  // namespace wick
