// Rotary position embedding: pair order on hand-computed cases, the invariants of a rotation,
// the scaling modes against each other, and everything against an f64 reference of ggml's
// formulas. RoPE has no SIMD path, so these run once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <vector>

#include "kernels/cpu/ops.h"

namespace wick::kernels {
namespace {

constexpr double kEps = 0x1p-24;  // f32 unit roundoff
// The rotation itself (two products and a sum per output), relative to the pair's norm.
constexpr double kRotationTol = 8 * kEps;
// Angle error per unit of position: theta_i is advanced by repeated f32 multiplication (as in
// ggml), so it carries up to about (2i + 1) ulps; times base^(-2i/n_dims) that peaks near 11
// ulps of the position (6.6e-7) for n_dims <= 256. The worst measured over these tests is
// 8e-8 per position (relative to the largest |x|).
constexpr double kAnglePerPositionTol = 1e-6;

double RopeTol(int64_t position) {
  return kRotationTol + static_cast<double>(position) * kAnglePerPositionTol;
}

std::vector<float> Random(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// ggml's YaRN correction dimension, in f64.
double CorrDim(const RopeConfig& c, double n_rot) {
  return c.n_dims * std::log(c.orig_ctx / (n_rot * 2 * std::numbers::pi)) /
         (2 * std::log(static_cast<double>(c.freq_base)));
}

// ggml_rope_ext in f64 for one token, straight from the formulas.
std::vector<double> RopeRef(const std::vector<float>& x, int64_t n_heads, int64_t head_dim,
                            int64_t position, const RopeConfig& c, const float* factors) {
  std::vector<double> out(x.begin(), x.end());
  const bool scaled = c.scaling == RopeScaling::kLinear || c.scaling == RopeScaling::kYarn;
  const double freq_scale = scaled ? 1.0 / c.factor : 1.0;
  const double ext = c.scaling == RopeScaling::kYarn ? c.ext_factor : 0.0;
  double low = 0, high = 0, mscale = c.attn_factor;
  if (ext != 0) {
    low = std::max(0.0, std::floor(CorrDim(c, c.beta_fast)));
    high = std::min(c.n_dims - 1.0, std::ceil(CorrDim(c, c.beta_slow)));
    mscale *= 1 + 0.1 * std::log(1 / freq_scale);
  }
  for (int i = 0; i < c.n_dims / 2; ++i) {
    const double ff = factors != nullptr ? factors[i] : 1.0;
    const double extrap =
        static_cast<double>(position) * std::pow(c.freq_base, -2.0 * i / c.n_dims) / ff;
    double theta = extrap * freq_scale;
    if (ext != 0) {
      const double y = (i - low) / std::max(0.001, high - low);
      const double mix = (1 - std::clamp(y, 0.0, 1.0)) * ext;
      theta = theta * (1 - mix) + extrap * mix;
    }
    const int64_t a = c.type == RopeType::kNeox ? i : 2 * i;
    const int64_t b = c.type == RopeType::kNeox ? i + c.n_dims / 2 : 2 * i + 1;
    for (int64_t h = 0; h < n_heads; ++h) {
      const double x0 = x[h * head_dim + a], x1 = x[h * head_dim + b];
      out[h * head_dim + a] = (x0 * std::cos(theta) - x1 * std::sin(theta)) * mscale;
      out[h * head_dim + b] = (x0 * std::sin(theta) + x1 * std::cos(theta)) * mscale;
    }
  }
  return out;
}

// Applies `c` at each position to random heads and compares with the f64 reference; the
// error is measured relative to the largest |x| (pairs share one scale of error).
void ExpectMatchesReference(const RopeConfig& c, int64_t head_dim, const float* factors) {
  const int64_t n_heads = 3;
  for (int64_t position : {0, 1, 7, 100, 4095, 32767, 131071}) {
    SCOPED_TRACE(::testing::Message() << "position " << position);
    std::vector<float> x = Random(static_cast<size_t>(n_heads * head_dim), 21);
    std::vector<double> want = RopeRef(x, n_heads, head_dim, position, c, factors);
    double max_abs = 0;
    for (float v : x) max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
    const double scale = 1.2 * max_abs;  // 1.2: above every magnitude scale used here
    ApplyRope(x.data(), n_heads, head_dim, position, c);
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_NEAR(x[i], want[i], RopeTol(position) * scale) << "element " << i;
    }
  }
}

TEST(RopeTest, NormalRotatesAdjacentPairs) {
  // n_dims 4 of head_dim 6, base 100: pair angles 1 and 100^(-1/2) = 0.1 at position 1.
  RopeConfig c{.n_dims = 4, .freq_base = 100.0f};
  std::vector<float> x = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6};
  ApplyRope(x.data(), 2, 6, 1, c);
  const double c1 = std::cos(1.0), s1 = std::sin(1.0), c2 = std::cos(0.1), s2 = std::sin(0.1);
  const std::vector<double> head = {
      1 * c1 - 2 * s1, 1 * s1 + 2 * c1, 3 * c2 - 4 * s2, 3 * s2 + 4 * c2, 5, 6};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(x[i], head[i], 1e-6) << i;
    EXPECT_NEAR(x[6 + i], -head[i], 1e-6) << i;
  }
  EXPECT_EQ(x[4], 5.0f);  // beyond n_dims: untouched
  EXPECT_EQ(x[11], -6.0f);
}

TEST(RopeTest, NeoxRotatesHalves) {
  RopeConfig c{.n_dims = 4, .freq_base = 100.0f, .type = RopeType::kNeox};
  std::vector<float> x = {1, 2, 3, 4, 5, 6};
  ApplyRope(x.data(), 1, 6, 1, c);
  const double c1 = std::cos(1.0), s1 = std::sin(1.0), c2 = std::cos(0.1), s2 = std::sin(0.1);
  // Pairs (0, 2) at angle 1 and (1, 3) at angle 0.1.
  const std::vector<double> want = {
      1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 1 * s1 + 3 * c1, 2 * s2 + 4 * c2, 5, 6};
  for (size_t i = 0; i < 6; ++i) EXPECT_NEAR(x[i], want[i], 1e-6) << i;
}

TEST(RopeTest, PositionZeroIsIdentity) {
  for (RopeType type : {RopeType::kNormal, RopeType::kNeox}) {
    for (RopeScaling scaling : {RopeScaling::kNone, RopeScaling::kLinear, RopeScaling::kLlama3}) {
      RopeConfig c{.n_dims = 64,
                   .freq_base = 10000.0f,
                   .type = type,
                   .scaling = scaling,
                   .factor = 8.0f,
                   .orig_ctx = 8192};
      std::vector<float> x = Random(2 * 80, 1);
      std::vector<float> y = x;
      ApplyRope(y.data(), 2, 80, 0, c);
      EXPECT_EQ(x, y);
    }
  }
}

TEST(RopeTest, RotationPreservesPairNorms) {
  for (RopeType type : {RopeType::kNormal, RopeType::kNeox}) {
    RopeConfig c{.n_dims = 128, .freq_base = 1e6f, .type = type};
    std::vector<float> x = Random(4 * 128, 2);
    std::vector<float> y = x;
    ApplyRope(y.data(), 4, 128, 123457, c);
    for (int64_t h = 0; h < 4; ++h) {
      for (int64_t i = 0; i < 64; ++i) {
        const int64_t a = h * 128 + (type == RopeType::kNeox ? i : 2 * i);
        const int64_t b = a + (type == RopeType::kNeox ? 64 : 1);
        const double before = std::hypot(static_cast<double>(x[a]), x[b]);
        const double after = std::hypot(static_cast<double>(y[a]), y[b]);
        ASSERT_NEAR(after, before, kRotationTol * before) << h << " " << i;
      }
    }
  }
}

TEST(RopeTest, TableMatchesGgmlIteration) {
  // The angles must be ggml's own f32 recurrence, bit for bit: theta starts at the position
  // and is multiplied by powf(base, -2/n_dims) once per pair.
  RopeConfig c{.n_dims = 128, .freq_base = 500000.0f};
  std::vector<float> table(128);
  for (int64_t position : {0, 3, 1000, 77777}) {
    RopeTable(c, position, table.data());
    const float theta_scale = std::pow(500000.0f, -2.0f / 128);
    auto theta = static_cast<float>(position);
    for (int i0 = 0; i0 < 128; i0 += 2) {
      ASSERT_EQ(table[i0], std::cos(theta)) << position << " " << i0;
      ASSERT_EQ(table[i0 + 1], std::sin(theta)) << position << " " << i0;
      theta *= theta_scale;
    }
  }
}

TEST(RopeTest, TablesAgreeWithApplyRope) {
  RopeConfig c{.n_dims = 96,
               .freq_base = 10000.0f,
               .type = RopeType::kNeox,
               .scaling = RopeScaling::kYarn,
               .factor = 4.0f,
               .orig_ctx = 4096};
  std::vector<float> tables(5 * 96);
  RopeTables(c, 40, 5, tables.data());
  for (int64_t k = 0; k < 5; ++k) {
    std::vector<float> one(96);
    RopeTable(c, 40 + k, one.data());
    ASSERT_TRUE(std::equal(one.begin(), one.end(), tables.begin() + k * 96));
    std::vector<float> x = Random(2 * 128, 3);
    std::vector<float> y = x;
    ApplyRope(x.data(), 2, 128, 40 + k, c);
    ApplyRopeTable(y.data(), 2, 128, c, one.data());
    ASSERT_EQ(x, y);
  }
}

TEST(RopeTest, LinearScalingDividesThePosition) {
  RopeConfig none{.n_dims = 64, .freq_base = 10000.0f};
  RopeConfig linear = none;
  linear.scaling = RopeScaling::kLinear;
  linear.factor = 4.0f;
  std::vector<float> x = Random(64, 4);
  std::vector<float> y = x;
  ApplyRope(x.data(), 1, 64, 4 * 1234, linear);
  ApplyRope(y.data(), 1, 64, 1234, none);
  EXPECT_EQ(x, y);  // scaling by a power of two commutes with every rounding
  linear.factor = 3.0f;
  ExpectMatchesReference(linear, 64, nullptr);
}

TEST(RopeTest, YarnWithFactorOneIsUnscaled) {
  RopeConfig none{.n_dims = 128, .freq_base = 10000.0f, .type = RopeType::kNeox};
  RopeConfig yarn = none;
  yarn.scaling = RopeScaling::kYarn;
  yarn.factor = 1.0f;
  yarn.orig_ctx = 4096;
  for (int64_t position : {1, 500, 4000, 20000}) {
    std::vector<float> x = Random(128, 5);
    std::vector<float> y = x;
    ApplyRope(x.data(), 1, 128, position, yarn);
    ApplyRope(y.data(), 1, 128, position, none);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(x[i], y[i], 4 * RopeTol(position)) << i;
  }
}

TEST(RopeTest, YarnScalesMagnitudeAndMatchesReference) {
  // Qwen2.5 with a 4x YaRN extension: correction dims 23..40 of 128.
  RopeConfig c{.n_dims = 128,
               .freq_base = 1e6f,
               .type = RopeType::kNeox,
               .scaling = RopeScaling::kYarn,
               .factor = 4.0f,
               .orig_ctx = 32768};
  std::vector<float> x = Random(128, 6);
  std::vector<float> y = x;
  ApplyRope(y.data(), 1, 128, 0, c);  // no rotation at 0: only YaRN's magnitude scale
  const double mscale = 1 + 0.1 * std::log(4.0);
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], x[i] * mscale, 1e-6) << i;
  ExpectMatchesReference(c, 128, nullptr);
  c.type = RopeType::kNormal;
  c.attn_factor = 0.5f;
  c.ext_factor = 0.5f;
  ExpectMatchesReference(c, 128, nullptr);
}

// Llama 3.1 8B's settings.
RopeConfig Llama3Config() {
  return RopeConfig{.n_dims = 128,
                    .freq_base = 500000.0f,
                    .scaling = RopeScaling::kLlama3,
                    .factor = 8.0f,
                    .orig_ctx = 8192,
                    .low_freq_factor = 1.0f,
                    .high_freq_factor = 4.0f};
}

double Wavelength(const RopeConfig& c, int pair) {
  return 2 * std::numbers::pi * std::pow(static_cast<double>(c.freq_base), 2.0 * pair / c.n_dims);
}

TEST(RopeTest, Llama3FactorsByWavelength) {
  const RopeConfig c = Llama3Config();
  std::vector<float> factors(64);
  Llama3FreqFactors(c, factors.data());
  int n_blend = 0;
  for (int i = 0; i < 64; ++i) {
    const double wavelen = Wavelength(c, i);
    if (wavelen < 8192 / 4.0) {
      EXPECT_EQ(factors[i], 1.0f) << i;
    } else if (wavelen > 8192 / 1.0) {
      EXPECT_EQ(factors[i], 8.0f) << i;
    } else {
      const double smooth = (8192 / wavelen - 1) / (4 - 1);
      EXPECT_NEAR(factors[i], 1 / ((1 - smooth) / 8 + smooth), 1e-6 * factors[i]) << i;
      ++n_blend;
    }
    if (i > 0) {
      EXPECT_GE(factors[i], factors[i - 1]) << i;
    }
  }
  EXPECT_GT(n_blend, 0);  // the blend region is exercised
  ExpectMatchesReference(c, 128, factors.data());
}

TEST(RopeTest, Llama3FactorsAreContinuousAtTheBoundaries) {
  RopeConfig c = Llama3Config();
  const int k = 20;
  const double wavelen = Wavelength(c, k);
  std::vector<float> factors(64);
  // The high-frequency edge just above, then just below, pair k's wavelength.
  c.low_freq_factor = 0.01f;
  c.high_freq_factor = static_cast<float>(8192 / (wavelen * (1 + 1e-4)));
  Llama3FreqFactors(c, factors.data());
  EXPECT_EQ(factors[k], 1.0f);
  c.high_freq_factor = static_cast<float>(8192 / (wavelen * (1 - 1e-4)));
  Llama3FreqFactors(c, factors.data());
  EXPECT_NEAR(factors[k], 1.0f, 1e-3);
  EXPECT_GT(factors[k], 1.0f);
  // The low-frequency edge just below, then just above.
  c.low_freq_factor = static_cast<float>(8192 / (wavelen * (1 - 1e-4)));
  c.high_freq_factor = 2 * c.low_freq_factor;
  Llama3FreqFactors(c, factors.data());
  EXPECT_EQ(factors[k], 8.0f);
  c.low_freq_factor = static_cast<float>(8192 / (wavelen * (1 + 1e-4)));
  c.high_freq_factor = 2 * c.low_freq_factor;
  Llama3FreqFactors(c, factors.data());
  EXPECT_NEAR(factors[k], 8.0f, 8e-3);
  EXPECT_LT(factors[k], 8.0f);
}

TEST(RopeTest, Llama3EqualsItsRopeFreqsTensor) {
  // Computing the factors in place must equal passing them as the model's rope_freqs.
  const RopeConfig llama3 = Llama3Config();
  std::vector<float> factors(64);
  Llama3FreqFactors(llama3, factors.data());
  RopeConfig from_file{.n_dims = 128, .freq_base = 500000.0f, .freq_factors = factors.data()};
  for (int64_t position : {1, 9000, 100000}) {
    std::vector<float> x = Random(2 * 128, 7);
    std::vector<float> y = x;
    ApplyRope(x.data(), 2, 128, position, llama3);
    ApplyRope(y.data(), 2, 128, position, from_file);
    ASSERT_EQ(x, y);
  }
}

TEST(RopeTest, UnscaledMatchesReference) {
  for (RopeType type : {RopeType::kNormal, RopeType::kNeox}) {
    SCOPED_TRACE(type == RopeType::kNeox ? "neox" : "normal");
    ExpectMatchesReference(RopeConfig{.n_dims = 128, .freq_base = 10000.0f, .type = type}, 128,
                           nullptr);
    // Partial rotation (Phi-2, StableLM): 32 of 80 dims.
    ExpectMatchesReference(RopeConfig{.n_dims = 32, .freq_base = 10000.0f, .type = type}, 80,
                           nullptr);
    ExpectMatchesReference(RopeConfig{.n_dims = 256, .freq_base = 1e6f, .type = type}, 256,
                           nullptr);
  }
}

}  // namespace
}  // namespace wick::kernels
