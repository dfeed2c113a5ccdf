// Properties of the k-quant formats (Q2_K to Q6_K and the Q8_K activations): round-trip error
// on Gaussian data, what requantizing a dequantized row gives back, hand-made blocks that pin
// every bit layout, edge cases, and the dot oracles against a double-precision dot of the
// dequantized rows. Byte-exactness against llama.cpp lives in quant_reference_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numbers>
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

// Relative RMSE, sqrt(sum (x' - x)^2 / sum x^2), of a quantize/dequantize round trip on N(0, 1)
// data. Measured over five seeds of 65536 values: Q2_K 0.2957-0.2967, Q3_K 0.1502-0.1508, Q4_K
// 0.0712-0.0715, Q5_K 0.0360-0.0362, Q6_K 0.0177-0.0178, Q8_K 0.0069. The bounds leave about
// 8-10%, far more than the statistic moves between data sets.
constexpr double kQ2_KMaxRmse = 0.32;
constexpr double kQ3_KMaxRmse = 0.165;
constexpr double kQ4_KMaxRmse = 0.078;
constexpr double kQ5_KMaxRmse = 0.040;
constexpr double kQ6_KMaxRmse = 0.020;
constexpr double kQ8_KMaxRmse = 0.0076;

// Requantizing a dequantized row does not reliably give the same bytes back for any k-quant:
// the scale searches try a fixed set of candidate scales, and on already-quantized data another
// candidate can win by a rounding (Q4_K: 1 row in 200 of 16 blocks differs; Q6_K and Q8_K
// usually differ by an ulp of d). What holds is that the second round trip loses only a small
// fraction of what the first did: the bounds are on rmse(requantized - dequantized) /
// rmse(dequantized - original). Measured on the test's row: Q2_K 0.010, Q3_K 0.215, Q4_K 0
// (same bytes), Q5_K 0.098, Q6_K and Q8_K below 1e-5. Exact byte reproduction where the grid is
// exactly representable is pinned by Q4_KScaleMinPackingRoundTripsAllPairs.
constexpr double kQ2_KMaxRequantizeLoss = 0.05;
constexpr double kQ3_KMaxRequantizeLoss = 0.3;
constexpr double kQ4_KMaxRequantizeLoss = 0.01;
constexpr double kQ5_KMaxRequantizeLoss = 0.15;
constexpr double kQ6_KMaxRequantizeLoss = 0.01;
constexpr double kQ8_KMaxRequantizeLoss = 0.01;

// With one huge outlier in a super-block, the symmetric formats (Q3_K, Q6_K, Q8_K) still round
// every other element to its nearest grid point, and zero is on every grid: never worse than
// zeroing it. The formats with a min (Q2_K, Q4_K, Q5_K) fit the outlier's sub-block with a
// large scale and offset, so that sub-block's other elements land a step or two away from
// their values (measured at most 7.0 times the rest's energy over 400 blocks).
constexpr double kSymmetricOutlierMaxNoise = 1.0;
constexpr double kWithMinOutlierMaxNoise = 10.0;

// The dot oracles against the double dot of the dequantized rows, relative to sum |w_i * a_i|.
// The oracles sum exact integers per super-block and round only in two float products per
// block and the running float sum.
constexpr double kDotRelTol = 2e-6;

constexpr int64_t kRoundTripElements = 65536;
constexpr int64_t kDotElements = 16 * kQK_K;

struct KCase {
  DType type;
  double max_rmse;
  double max_requantize_loss;  // see kQ2_KMaxRequantizeLoss
  double outlier_max_noise;    // error energy of a block's other elements / their energy
};

std::string CaseName(const ::testing::TestParamInfo<KCase>& info) {
  return std::string(NameOf(info.param.type));
}

// N(0, 1) by Box-Muller on mt19937's raw output, which the standard fixes exactly (unlike
// std::normal_distribution), so every standard library sees the same data.
std::vector<float> GaussianRow(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  auto uniform = [&rng] { return (static_cast<double>(rng()) + 0.5) / 4294967296.0; };
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2 * std::log(uniform()));
    const double t = 2 * std::numbers::pi * uniform();
    out[i] = static_cast<float>(r * std::cos(t));
    if (i + 1 < n) out[i + 1] = static_cast<float>(r * std::sin(t));
  }
  return out;
}

size_t RowBytes(DType type, int64_t n) {
  return static_cast<size_t>(n / InfoOf(type).block_size) * InfoOf(type).block_bytes;
}

std::vector<uint8_t> Quantize(const QuantTraits& t, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(RowBytes(t.type, n));
  t.quantize(x.data(), q.data(), n);
  return q;
}

std::vector<float> Dequantize(const QuantTraits& t, const std::vector<uint8_t>& q, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n));
  t.dequantize(q.data(), x.data(), n);
  return x;
}

double RelRmse(const std::vector<float>& approx, const std::vector<float>& exact) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    const double d = static_cast<double>(approx[i]) - exact[i];
    err += d * d;
    norm += static_cast<double>(exact[i]) * exact[i];
  }
  return std::sqrt(err / norm);
}

class KQuantTest : public ::testing::TestWithParam<KCase> {
 protected:
  const QuantTraits& Traits() const {
    const QuantTraits* t = FindQuantTraits(GetParam().type);
    EXPECT_NE(t, nullptr);
    return *t;
  }
};

TEST_P(KQuantTest, TraitsDescribeTheSuperBlock) {
  const QuantTraits* t = FindQuantTraits(GetParam().type);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, GetParam().type);
  EXPECT_EQ(t->dot_type, DType::kQ8_K);
  EXPECT_EQ(InfoOf(t->type).block_size, kQK_K);
  ASSERT_NE(t->quantize, nullptr);
  ASSERT_NE(t->dequantize, nullptr);
  // Q8_K is an activation format only: nothing is dotted with it as the weight.
  EXPECT_EQ(t->dot == nullptr, GetParam().type == DType::kQ8_K);
}

TEST_P(KQuantTest, RoundTripErrorOnGaussianData) {
  const QuantTraits& t = Traits();
  const std::vector<float> x = GaussianRow(kRoundTripElements, 1);
  const std::vector<float> back = Dequantize(t, Quantize(t, x), kRoundTripElements);
  const double rmse = RelRmse(back, x);
  EXPECT_LT(rmse, GetParam().max_rmse);
  EXPECT_GT(rmse, 0.0);
}

TEST_P(KQuantTest, RequantizingADequantizedRow) {
  const QuantTraits& t = Traits();
  const std::vector<float> x = GaussianRow(kRoundTripElements, 2);
  const std::vector<uint8_t> q1 = Quantize(t, x);
  const std::vector<float> y = Dequantize(t, q1, kRoundTripElements);
  const std::vector<uint8_t> q2 = Quantize(t, y);
  const std::vector<float> z = Dequantize(t, q2, kRoundTripElements);
  const double loss = RelRmse(z, y) / RelRmse(y, x);
  EXPECT_LE(loss, GetParam().max_requantize_loss);
  EXPECT_LT(RelRmse(z, x), GetParam().max_rmse);
}

TEST_P(KQuantTest, AllZeroRowQuantizesToZeroBytes) {
  const QuantTraits& t = Traits();
  const std::vector<float> x(2 * kQK_K, 0.0f);
  const std::vector<uint8_t> q = Quantize(t, x);
  // Every scale, d and dmin included, is zero: no division by a zero maximum got through.
  EXPECT_EQ(q, std::vector<uint8_t>(q.size(), 0));
  for (float v : Dequantize(t, q, 2 * kQK_K)) EXPECT_EQ(v, 0.0f);
}

TEST_P(KQuantTest, HugeOutlierStaysFiniteAndAccurate) {
  constexpr float kOutlier = 1000.0f;
  constexpr int kAt = 77;
  // The outlier sets its sub-block's scale, which is the largest, so its own error is a
  // fraction of one (coarse) step; the other sub-blocks keep their own scales.
  constexpr double kOutlierRelTol = 0.02;
  const QuantTraits& t = Traits();
  for (float sign : {1.0f, -1.0f}) {
    std::vector<float> x = GaussianRow(kQK_K, 3);
    x[kAt] = sign * kOutlier;
    const std::vector<float> back = Dequantize(t, Quantize(t, x), kQK_K);
    for (float v : back) ASSERT_TRUE(std::isfinite(v));
    EXPECT_NEAR(back[kAt], x[kAt], kOutlierRelTol * kOutlier) << "sign " << sign;
    double err = 0, norm = 0;
    for (int i = 0; i < kQK_K; ++i) {
      if (i == kAt) continue;
      err += (back[i] - x[i]) * (back[i] - x[i]);
      norm += x[i] * x[i];
    }
    EXPECT_LE(err, GetParam().outlier_max_noise * norm) << "sign " << sign;
  }
}

TEST_P(KQuantTest, DotMatchesDequantizedDot) {
  const QuantTraits& t = Traits();
  if (t.dot == nullptr) {
    // Only the activation format has no weight dot product.
    EXPECT_EQ(t.type, DType::kQ8_K);
    return;
  }
  const QuantTraits& act = *FindQuantTraits(t.dot_type);
  for (uint32_t seed = 10; seed < 30; ++seed) {
    const std::vector<float> wx = GaussianRow(kDotElements, seed);
    std::vector<float> ax = GaussianRow(kDotElements, seed + 1000);
    for (float& v : ax) v *= 3.0f;  // activations on another scale than the weights
    const std::vector<uint8_t> wq = Quantize(t, wx);
    const std::vector<uint8_t> aq = Quantize(act, ax);
    const std::vector<float> w = Dequantize(t, wq, kDotElements);
    const std::vector<float> a = Dequantize(act, aq, kDotElements);
    double exact = 0, scale = 0;
    for (int64_t i = 0; i < kDotElements; ++i) {
      exact += static_cast<double>(w[i]) * a[i];
      scale += std::fabs(static_cast<double>(w[i]) * a[i]);
    }
    const float got = t.dot(wq.data(), aq.data(), kDotElements);
    EXPECT_NEAR(got, exact, kDotRelTol * scale) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(
    KQuants, KQuantTest,
    ::testing::Values(
        KCase{DType::kQ2_K, kQ2_KMaxRmse, kQ2_KMaxRequantizeLoss, kWithMinOutlierMaxNoise},
        KCase{DType::kQ3_K, kQ3_KMaxRmse, kQ3_KMaxRequantizeLoss, kSymmetricOutlierMaxNoise},
        KCase{DType::kQ4_K, kQ4_KMaxRmse, kQ4_KMaxRequantizeLoss, kWithMinOutlierMaxNoise},
        KCase{DType::kQ5_K, kQ5_KMaxRmse, kQ5_KMaxRequantizeLoss, kWithMinOutlierMaxNoise},
        KCase{DType::kQ6_K, kQ6_KMaxRmse, kQ6_KMaxRequantizeLoss, kSymmetricOutlierMaxNoise},
        KCase{DType::kQ8_K, kQ8_KMaxRmse, kQ8_KMaxRequantizeLoss, kSymmetricOutlierMaxNoise}),
    CaseName);

// ---- Hand-made blocks. The setters below write one element by the layout llama.cpp's
// dequantizers read, independently of wick's own packing code.

constexpr uint16_t kF16One = 0x3c00;

// Q2_K/Q3_K low two bits: element 128 h + 32 k + l at bits 2k of qs[32 h + l].
void SetLow2Bits(uint8_t* qs, int e, int v) {
  const int h = e / 128, k = (e % 128) / 32, l = e % 32;
  qs[32 * h + l] = static_cast<uint8_t>((qs[32 * h + l] & ~(3 << (2 * k))) | (v << (2 * k)));
}

// Q4_K/Q5_K low nibble: element 64 h + 32 u + l in nibble u of qs[32 h + l].
void SetLow4Bits(uint8_t* qs, int e, int v) {
  const int h = e / 64, u = (e % 64) / 32, l = e % 32;
  qs[32 * h + l] = static_cast<uint8_t>((qs[32 * h + l] & ~(0xF << (4 * u))) | (v << (4 * u)));
}

// Q4_K/Q5_K scale and min of 32-element sub-block j (both 0..63).
void SetScaleMin6(uint8_t* packed, int j, int scale, int min) {
  if (j < 4) {
    packed[j] = static_cast<uint8_t>((packed[j] & 0xC0) | scale);
    packed[j + 4] = static_cast<uint8_t>((packed[j + 4] & 0xC0) | min);
  } else {
    packed[j + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
    packed[j - 4] = static_cast<uint8_t>((packed[j - 4] & 0x3F) | ((scale >> 4) << 6));
    packed[j] = static_cast<uint8_t>((packed[j] & 0x3F) | ((min >> 4) << 6));
  }
}

TEST(KQuantLayoutTest, Q2_KElementOrderScalesAndMins) {
  Q2_KBlock b{};
  b.d = kF16One;
  b.dmin = 0x3800;  // 0.5
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>((j % 16) | ((15 - j) << 4));
  for (int e = 0; e < kQK_K; ++e) SetLow2Bits(b.qs, e, (e * 7 + e / 64) % 4);
  float y[kQK_K];
  kernels::ref::DequantizeQ2_K(&b, y, kQK_K);
  for (int e = 0; e < kQK_K; ++e) {
    const int j = e / 16;
    EXPECT_EQ(y[e], static_cast<float>(j * ((e * 7 + e / 64) % 4)) - 0.5f * (15 - j)) << e;
  }
}

TEST(KQuantLayoutTest, Q3_KElementOrderAndScales) {
  Q3_KBlock b{};
  b.d = kF16One;
  // Sub-block j gets scale j - 8 (stored + 32): low nibbles in bytes 0-7, top bits in 8-11.
  for (int j = 0; j < 16; ++j) {
    const int stored = j - 8 + 32;
    if (j < 8)
      b.scales[j] |= static_cast<uint8_t>(stored & 0xF);
    else
      b.scales[j - 8] |= static_cast<uint8_t>((stored & 0xF) << 4);
    b.scales[8 + j % 4] |= static_cast<uint8_t>((stored >> 4) << (2 * (j / 4)));
  }
  auto quant = [](int e) { return (e * 5 + e / 32) % 8 - 4; };  // -4..3
  for (int e = 0; e < kQK_K; ++e) {
    const int biased = quant(e) + 4;
    SetLow2Bits(b.qs, e, biased & 3);
    if (biased & 4) b.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
  }
  float y[kQK_K];
  kernels::ref::DequantizeQ3_K(&b, y, kQK_K);
  for (int e = 0; e < kQK_K; ++e) EXPECT_EQ(y[e], static_cast<float>((e / 16 - 8) * quant(e))) << e;
}

TEST(KQuantLayoutTest, Q5_KElementOrderAndHighBits) {
  Q5_KBlock b{};
  b.d = kF16One;
  b.dmin = kF16One;
  for (int j = 0; j < 8; ++j) SetScaleMin6(b.scales, j, j + 1, 2 * j);
  auto quant = [](int e) { return (e * 11 + e / 32) % 32; };
  for (int e = 0; e < kQK_K; ++e) {
    SetLow4Bits(b.qs, e, quant(e) & 0xF);
    if (quant(e) & 16) b.qh[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
  }
  float y[kQK_K];
  kernels::ref::DequantizeQ5_K(&b, y, kQK_K);
  for (int e = 0; e < kQK_K; ++e) {
    const int j = e / 32;
    EXPECT_EQ(y[e], static_cast<float>((j + 1) * quant(e) - 2 * j)) << e;
  }
}

TEST(KQuantLayoutTest, Q6_KElementOrder) {
  Q6_KBlock b{};
  b.d = kF16One;
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j % 2 == 0 ? j + 1 : -j);
  // Element 128 h + 32 k + l: low nibble in ql[64 h + 32 (k % 2) + l] (low nibble for k < 2),
  // top two bits at bits 2k of qh[32 h + l]; stored + 32.
  auto quant = [](int e) { return (e * 13 + e / 128) % 64 - 32; };
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const int stored = quant(e) + 32;
    b.ql[64 * h + 32 * (k % 2) + l] |= static_cast<uint8_t>((stored & 0xF) << (4 * (k / 2)));
    b.qh[32 * h + l] |= static_cast<uint8_t>((stored >> 4) << (2 * k));
  }
  float y[kQK_K];
  kernels::ref::DequantizeQ6_K(&b, y, kQK_K);
  for (int e = 0; e < kQK_K; ++e) {
    EXPECT_EQ(y[e], static_cast<float>(b.scales[e / 16] * quant(e))) << e;
  }
}

TEST(KQuantLayoutTest, Q8_KStoresSixteenElementSums) {
  const std::vector<float> x = GaussianRow(kQK_K, 4);
  Q8_KBlock b;
  kernels::ref::QuantizeQ8_K(x.data(), &b, kQK_K);
  int peak = 0;
  for (int j = 0; j < 16; ++j) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) {
      sum += b.qs[16 * j + i];
      peak = std::max(peak, std::abs(static_cast<int>(b.qs[16 * j + i])));
    }
    EXPECT_EQ(b.bsums[j], sum) << j;
  }
  EXPECT_EQ(peak, 127);  // the largest magnitude maps to +-127, never -128
}

// Every 6-bit (scale, min) pair in every Q4_K sub-block position: the dequantizer reads what
// the layout says, and the quantizer, given the dequantized block, writes the same bytes.
TEST(KQuantLayoutTest, Q4_KScaleMinPackingRoundTripsAllPairs) {
  // Powers of two keep every dequantized value exact, so requantizing must find the grid.
  constexpr uint16_t kD = 0x2400;     // 2^-6
  constexpr uint16_t kDmin = 0x2000;  // 2^-7
  const float d = F16ToF32(kD), dmin = F16ToF32(kDmin);
  int mismatched_blocks = 0;
  for (int scale = 0; scale < 64; ++scale) {
    for (int min = 0; min < 64; ++min) {
      // One sub-block holds the largest pair (63, 63), which fixes d and dmin; the other seven
      // hold the pair under test. Quants span 0..15 so that each group's fit is exact.
      const int pinned = (scale * 64 + min) % 8;
      Q4_KBlock b{};
      b.d = kD;
      b.dmin = kDmin;
      for (int j = 0; j < 8; ++j) {
        const bool is_pinned = j == pinned;
        const int s = is_pinned ? 63 : scale;
        SetScaleMin6(b.scales, j, s, is_pinned ? 63 : min);
        // A group with scale 0 is constant: the quantizer leaves its quants at 0.
        for (int i = 0; i < 32; ++i) SetLow4Bits(b.qs, 32 * j + i, s == 0 ? 0 : i % 16);
      }
      float y[kQK_K];
      kernels::ref::DequantizeQ4_K(&b, y, kQK_K);
      for (int j = 0; j < 8; ++j) {
        const bool is_pinned = j == pinned;
        const float s = static_cast<float>(is_pinned ? 63 : scale);
        const float m = static_cast<float>(is_pinned ? 63 : min);
        // Elements 32 j and 32 j + 1 hold quants 0 and 1 (or 0 and 0 when the scale is 0).
        ASSERT_EQ(y[32 * j], -dmin * m) << scale << " " << min << " j " << j;
        ASSERT_EQ(y[32 * j + 1], d * s * (s == 0 ? 0.0f : 1.0f) - dmin * m)
            << scale << " " << min << " j " << j;
      }
      Q4_KBlock again;
      kernels::ref::QuantizeQ4_K(y, &again, kQK_K);
      if (std::memcmp(&again, &b, sizeof(b)) != 0) {
        ++mismatched_blocks;
        ADD_FAILURE() << "scale " << scale << " min " << min << " did not round-trip";
        if (mismatched_blocks > 10) return;
      }
    }
  }
}

}  // namespace
}  // namespace wick
