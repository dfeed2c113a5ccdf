// The arithmetic the CUDA kernels share with the host (kernels/cuda/ops_math.cuh and
// float_bits.cuh), run on the CPU against the CPU kernels: the f16 and bf16 conversions and
// the q8_0 quantizer byte for byte, RoPE angles
// and rotations bit for bit (on the host both sides call the same libm), silu within the
// CPU's own error. No GPU is needed: this is what checks the device code's math everywhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cuda/ops_math.cuh"
#include "quant_test_util.h"
#include "rope_cases.h"

namespace wick::kernels::cuda {
namespace {

namespace m = math;

using test::Bits;
using test::FromBits;
using test::RopeCase;
using test::RopeCases;

// ---- f16 ----

void ExpectF16Matches(uint32_t bits) {
  const float f = FromBits(bits);
  ASSERT_EQ(fp::F32ToF16(f), F32ToF16(f)) << std::hex << "f32 bits 0x" << bits;
}

TEST(FloatBitsTest, F16RoundingMatchesHostOnAStrideOfAllFloats) {
  // A prime stride visits every exponent and many mantissa patterns of both signs.
  for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 4099) {
    ExpectF16Matches(static_cast<uint32_t>(bits));
  }
}

TEST(FloatBitsTest, F16RoundingMatchesHostAtEveryRoundingBoundary) {
  // For every f16 value: itself, and the f32 values at and next to the midpoint to its
  // successor (the ties and near-ties of round to nearest even), normal and subnormal.
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const float lo = F16ToF32(static_cast<uint16_t>(h));
    const float hi = h + 1 < 0x7c00 ? F16ToF32(static_cast<uint16_t>(h + 1)) : 65536.0f;
    const float mid = (lo + hi) / 2;  // exact in f32
    for (const float v : {lo, mid, std::nextafter(mid, 0.0f), std::nextafter(mid, hi)}) {
      ExpectF16Matches(Bits(v));
      ExpectF16Matches(Bits(-v));
    }
  }
}

TEST(FloatBitsTest, F16RoundingMatchesHostOnSpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {0.0f,
                                     -0.0f,
                                     inf,
                                     -inf,
                                     65504.0f,
                                     65519.99f,
                                     65520.0f,
                                     1e10f,
                                     -1e10f,
                                     std::numeric_limits<float>::max(),
                                     std::numeric_limits<float>::min(),
                                     std::numeric_limits<float>::denorm_min(),
                                     0x1p-24f,
                                     0x1p-25f,
                                     0x1.000002p-25f,
                                     0x1.fffffep-26f,
                                     0x1.8p-24f,
                                     0x1p-14f,
                                     0x1.ffcp-15f,
                                     0x1.ffep-15f,
                                     0x1.fffp-15f};
  for (float v : values) {
    ExpectF16Matches(Bits(v));
    ExpectF16Matches(Bits(-v));
  }
  // NaNs: quiet and signalling, with payloads in the bits f16 keeps and in those it drops.
  for (uint32_t nan : {0x7fc00000u, 0x7f800001u, 0x7fa00000u, 0x7fffffffu, 0x7f802000u, 0xffc00000u,
                       0xff800001u, 0x7fc0abcdu}) {
    ExpectF16Matches(nan);
  }
}

TEST(FloatBitsTest, F16ToF32MatchesCpuForEveryValue) {
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const auto bits = static_cast<uint16_t>(h);
    ASSERT_EQ(Bits(fp::F16ToF32(bits)), Bits(F16ToF32(bits))) << std::hex << h;
    ASSERT_EQ(Bits(fp::Bf16ToF32(bits)), Bits(Bf16ToF32(bits))) << std::hex << h;
    ASSERT_EQ(fp::F16RoundTrip(bits), F32ToF16(F16ToF32(bits))) << std::hex << h;
  }
}

TEST(FloatBitsTest, F32ToF16MatchesCpu) {
  auto expect = [](uint32_t bits) {
    const float f = FromBits(bits);
    ASSERT_EQ(fp::F32ToF16(f), F32ToF16(f)) << std::hex << bits;
  };
  // Every f16 value's f32, its neighbours, and the midpoints between f16 values with theirs:
  // all the rounding boundaries, subnormals and overflow included.
  for (uint32_t h = 0; h <= 0xffff; ++h) {
    const uint32_t f = Bits(F16ToF32(static_cast<uint16_t>(h)));
    for (int d = -2; d <= 2; ++d) expect(f + static_cast<uint32_t>(d));
    const uint32_t next = Bits(F16ToF32(static_cast<uint16_t>(h + 1)));
    if ((h & 0x7fff) < 0x7c00 && (next & 0x7fffffff) > (f & 0x7fffffff)) {
      const uint32_t mid = Bits(
          (F16ToF32(static_cast<uint16_t>(h)) + F16ToF32(static_cast<uint16_t>(h + 1))) / 2.0f);
      for (int d = -1; d <= 1; ++d) expect(mid + static_cast<uint32_t>(d));
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 2'000'000; ++i) expect(static_cast<uint32_t>(rng()));
  for (uint32_t bits :
       {0x00000001u, 0x007fffffu, 0x33000000u, 0x33000001u, 0x32ffffffu, 0x387fc000u, 0x387fe000u,
        0x477fefffu, 0x477ff000u, 0x7f800000u, 0x7f800001u, 0x7fc00000u, 0xffffffffu}) {
    expect(bits);
    expect(bits | 0x80000000u);
  }
}

// ---- q8_0 ----

// Quantizes `x` (a multiple of 32 floats) with the device's block quantizer and both CPU
// quantizers, and expects the same bytes.
void ExpectQ8_0Matches(const std::vector<float>& x, const char* what) {
  const int64_t n = static_cast<int64_t>(x.size());
  const size_t n_blocks = x.size() / 32;
  std::vector<Q8_0Block> simd(n_blocks), ref(n_blocks), dev(n_blocks);
  simd::QuantizeQ8_0(x.data(), simd.data(), n);
  ref::QuantizeQ8_0Activations(x.data(), ref.data(), n);
  for (size_t b = 0; b < n_blocks; ++b) {
    dev[b].d = m::Q8_0QuantizeBlock(x.data() + b * 32, dev[b].qs);
  }
  for (size_t b = 0; b < n_blocks; ++b) {
    SCOPED_TRACE(::testing::Message() << what << ", block " << b);
    ASSERT_EQ(dev[b].d, simd[b].d);
    ASSERT_EQ(dev[b].d, ref[b].d);
    for (int j = 0; j < 32; ++j) {
      ASSERT_EQ(dev[b].qs[j], simd[b].qs[j]) << "element " << j << " = " << x[b * 32 + j];
      ASSERT_EQ(dev[b].qs[j], ref[b].qs[j]) << "element " << j;
    }
  }
}

TEST(OpsMathTest, Q8_0QuantizerMatchesCpuOnRandomRows) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float scale : {1.0f, 1e-30f, 1e-6f, 0.01f, 3.0f, 1000.0f, 1e20f, 1e37f}) {
    for (int row = 0; row < 200; ++row) {
      std::vector<float> x(128);
      for (float& v : x) v = scale * (row % 2 == 0 ? normal(rng) : uniform(rng));
      ExpectQ8_0Matches(x, "random");
    }
  }
}

TEST(OpsMathTest, Q8_0QuantizerMatchesCpuOnEdgeBlocks) {
  std::vector<float> x(32 * 12, 0.0f);  // block 0: all zeros (d = 0, quants 0)
  for (int j = 0; j < 32; ++j) {
    x[32 + j] = (j == 5) ? -1.0f : 0.0f;                             // one-hot, negative
    x[64 + j] = 3.0e38f * ((j % 2) ? 1.0f : -1.0f);                  // near FLT_MAX
    x[96 + j] = static_cast<float>(j - 16) + 0.5f;                   // x * id lands near halves
    x[128 + j] = -0.0f;                                              // negative zeros
    x[160 + j] = 127.0f * static_cast<float>(j) / 31.0f;             // amax 127: id exactly 1
    x[192 + j] = (j == 0) ? 127.0f : static_cast<float>(j) - 15.5f;  // exact ties at id 1
    x[224 + j] = std::numeric_limits<float>::max();                  // all at FLT_MAX
    x[256 + j] = 1e-35f * static_cast<float>(j + 1);                 // tiny, id still finite
    x[288 + j] = (j < 16) ? 1e-3f : -1e-3f;                          // all at amax
    x[320 + j] = std::ldexp(1.0f, j - 16);                           // a wide dynamic range
    x[352 + j] = (j == 31) ? 65504.0f * 127.0f : 1.0f;               // d at the top of f16's range
  }
  ExpectQ8_0Matches(x, "edge");
}

// ---- silu ----

TEST(OpsMathTest, SiluMatchesCpuSwiGlu) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> wide(-100.0f, 100.0f);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> gate(4099), up(4099), want(4099);
  for (size_t i = 0; i < gate.size(); ++i) {
    gate[i] = i % 3 == 0 ? wide(rng) : normal(rng);
    up[i] = normal(rng);
  }
  gate[0] = 0.0f;
  gate[1] = -0.0f;
  gate[2] = 88.0f;
  gate[3] = -88.0f;
  gate[4] = -1e30f;
  gate[5] = 1e30f;
  kernels::SwiGlu(gate.data(), up.data(), want.data(), static_cast<int64_t>(gate.size()));
  for (size_t i = 0; i < gate.size(); ++i) {
    const float got = m::FMul(m::Silu(gate[i]), up[i]);
    // The same polynomial exp on both sides, except libm's for the CPU's last partial group.
    ASSERT_NEAR(got, want[i], 8e-7 * std::abs(want[i]) + 1e-37) << "gate " << gate[i];
  }
}

// ---- RoPE ----

// Rotates [n_heads][head_dim] at `position` as the kernel does (one angle per pair, then
// every head), for comparison with kernels::ApplyRope.
void DeviceStyleRope(float* x, int64_t n_heads, int64_t head_dim, int64_t position,
                     const RopeConfig& config) {
  const m::RopeAngleParams p = m::PrepareRope(config);
  const int half = config.n_dims / 2;
  for (int i = 0; i < half; ++i) {
    const float factor =
        config.freq_factors != nullptr ? config.freq_factors[i] : m::RopeDefaultFactor(p, i);
    float c;
    float s;
    m::RopeCosSin(p, position, i, factor, &c, &s);
    for (int64_t h = 0; h < n_heads; ++h) {
      float* head = x + h * head_dim;
      float* x0 = config.type == RopeType::kNeox ? head + i : head + 2 * i;
      float* x1 = config.type == RopeType::kNeox ? x0 + half : x0 + 1;
      m::RopeRotate(c, s, x0, x1);
    }
  }
}

TEST(OpsMathTest, RopeAnglesMatchCpuTableBitForBit) {
  std::vector<float> factors(128);
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + 0.37f * static_cast<float>(i);
  for (const RopeCase& rc : RopeCases(factors.data())) {
    const RopeConfig& c = rc.config;
    const m::RopeAngleParams p = m::PrepareRope(c);
    for (int64_t position : {0, 1, 2, 17, 1000, 4095, 65537, 1 << 20, 10000000}) {
      SCOPED_TRACE(::testing::Message() << rc.name << " position " << position);
      std::vector<float> table(static_cast<size_t>(c.n_dims));
      RopeTable(c, position, table.data());
      for (int i = 0; i < c.n_dims / 2; ++i) {
        const float factor =
            c.freq_factors != nullptr ? c.freq_factors[i] : m::RopeDefaultFactor(p, i);
        float cs;
        float sn;
        m::RopeCosSin(p, position, i, factor, &cs, &sn);
        ASSERT_EQ(Bits(cs), Bits(table[2 * i])) << "cos of pair " << i;
        ASSERT_EQ(Bits(sn), Bits(table[2 * i + 1])) << "sin of pair " << i;
      }
    }
  }
}

TEST(OpsMathTest, RopeRotationMatchesCpuBitForBit) {
  std::vector<float> factors(128);
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f / (1.0f + 0.1f * i);
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const RopeCase& rc : RopeCases(factors.data())) {
    const int64_t n_heads = 5;
    for (int64_t position : {0, 3, 255, 8191, 131071, 500000}) {
      SCOPED_TRACE(::testing::Message() << rc.name << " position " << position);
      std::vector<float> x(static_cast<size_t>(n_heads * rc.head_dim));
      for (float& v : x) v = normal(rng);
      std::vector<float> want = x;
      std::vector<float> got = x;
      ApplyRope(want.data(), n_heads, rc.head_dim, position, rc.config);
      DeviceStyleRope(got.data(), n_heads, rc.head_dim, position, rc.config);
      for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(Bits(got[i]), Bits(want[i])) << "element " << i;
      }
      // Dimensions past n_dims pass through.
      for (int64_t h = 0; h < n_heads; ++h) {
        for (int64_t d = rc.config.n_dims; d < rc.head_dim; ++d) {
          ASSERT_EQ(got[h * rc.head_dim + d], x[h * rc.head_dim + d]);
        }
      }
    }
  }
}

TEST(OpsMathTest, Llama3FactorsMatchCpu) {
  for (float factor : {8.0f, 32.0f}) {
    RopeConfig c{.n_dims = 128,
                 .freq_base = 500000.0f,
                 .scaling = RopeScaling::kLlama3,
                 .factor = factor,
                 .orig_ctx = 8192,
                 .low_freq_factor = 1.0f,
                 .high_freq_factor = 4.0f};
    std::vector<float> want(64);
    Llama3FreqFactors(c, want.data());
    const m::RopeAngleParams p = m::PrepareRope(c);
    for (int i = 0; i < 64; ++i) {
      ASSERT_EQ(Bits(m::Llama3Factor(p, i)), Bits(want[i])) << "pair " << i;
    }
  }
}

}  // namespace
}  // namespace wick::kernels::cuda
