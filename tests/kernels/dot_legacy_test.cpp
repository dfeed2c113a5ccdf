// The SIMD dot products of the float formats and the 32-element block formats, and the Q8
// activation quantizers, against the scalar references, on every SIMD target this CPU runs.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vec_dot.h"

namespace wick::kernels {
namespace {

// Kernels and references add the same terms in different orders; each f32 addition may be off
// by half an ulp of the running sum, which is at most the sum of |terms|.
constexpr double kRelTol = 1e-5;

const std::vector<int64_t> kLengths = {32, 64, 4096, 4096 + 32};

using DotFn = float (*)(const void*, const void*, int64_t);
using QuantizeFn = void (*)(const float*, void*, int64_t);
using DequantizeFn = void (*)(const void*, float*, int64_t);

class DotLegacyTest : public ::testing::TestWithParam<SimdTarget> {
 protected:
  void SetUp() override { ASSERT_TRUE(ForceSimdTarget(GetParam().name).ok()); }
  void TearDown() override { ASSERT_TRUE(ForceSimdTarget("auto").ok()); }
};

std::vector<float> RandomRow(std::mt19937& rng, int64_t n, float sigma = 1.0f) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

// ---------------------------------------------------------------------------- float formats

struct FloatFormat {
  const char* name;
  size_t size;  // bytes per element
  QuantizeFn quantize;
  DequantizeFn dequantize;
  DotFn simd;
  DotFn ref;
};

const FloatFormat kFloatFormats[] = {
    {"F32", 4, ref::QuantizeF32, ref::DequantizeF32, simd::DotF32, ref::DotF32},
    {"F16", 2, ref::QuantizeF16, ref::DequantizeF16, simd::DotF16, ref::DotF16},
    {"BF16", 2, ref::QuantizeBF16, ref::DequantizeBF16, simd::DotBF16, ref::DotBF16},
};

// Compares the kernel with the reference on rows w and a (already in the format).
void CheckFloatDot(const FloatFormat& f, const std::vector<uint8_t>& w,
                   const std::vector<uint8_t>& a, int64_t n) {
  std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
  f.dequantize(w.data(), wf.data(), n);
  f.dequantize(a.data(), af.data(), n);
  double magnitude = 0;
  for (int64_t i = 0; i < n; ++i) magnitude += std::fabs(double{wf[i]} * double{af[i]});
  const float want = f.ref(w.data(), a.data(), n);
  const float got = f.simd(w.data(), a.data(), n);
  EXPECT_NEAR(got, want, kRelTol * magnitude) << f.name << " n=" << n;
}

TEST_P(DotLegacyTest, FloatDotsMatchReference) {
  std::mt19937 rng(1);
  for (const FloatFormat& f : kFloatFormats) {
    // Lengths that are not a multiple of any vector exercise the tails.
    std::vector<int64_t> lengths = kLengths;
    lengths.insert(lengths.end(), {1, 7, 33, 100});
    for (int64_t n : lengths) {
      const std::vector<float> wf = RandomRow(rng, n);
      const std::vector<float> af = RandomRow(rng, n, 3.0f);
      std::vector<uint8_t> w(static_cast<size_t>(n) * f.size), a(w.size());
      f.quantize(wf.data(), w.data(), n);
      f.quantize(af.data(), a.data(), n);
      CheckFloatDot(f, w, a, n);
    }
  }
}

TEST_P(DotLegacyTest, FloatDotsOfLargeAndZeroValues) {
  const int64_t n = 4096 + 32;
  for (const FloatFormat& f : kFloatFormats) {
    std::vector<float> wf(n), af(n);
    for (int64_t i = 0; i < n; ++i) {
      wf[i] = (i % 3 == 0) ? 0.0f : (i % 2 ? 60000.0f : -60000.0f);
      af[i] = (i % 5 == 0) ? -0.0f : 1e-3f * static_cast<float>(i % 7);
    }
    std::vector<uint8_t> w(static_cast<size_t>(n) * f.size), a(w.size());
    f.quantize(wf.data(), w.data(), n);
    f.quantize(af.data(), a.data(), n);
    CheckFloatDot(f, w, a, n);
    std::vector<uint8_t> zeros(w.size(), 0);
    EXPECT_EQ(f.simd(zeros.data(), a.data(), n), 0.0f) << f.name;
  }
}

// ---------------------------------------------------------------------------- block formats

struct BlockFormat {
  const char* name;
  size_t block_size;  // bytes per 32 weights
  bool has_min;       // Q4_1 and Q5_1: an f16 min follows d
  DequantizeFn dequantize;
  DotFn simd;
  DotFn ref;
  bool q8_1;  // pairs with Q8_1 activations rather than Q8_0
};

const BlockFormat kBlockFormats[] = {
    {"Q4_0", sizeof(Q4_0Block), false, ref::DequantizeQ4_0, simd::DotQ4_0Q8_0, ref::DotQ4_0Q8_0,
     false},
    {"Q4_1", sizeof(Q4_1Block), true, ref::DequantizeQ4_1, simd::DotQ4_1Q8_1, ref::DotQ4_1Q8_1,
     true},
    {"Q5_0", sizeof(Q5_0Block), false, ref::DequantizeQ5_0, simd::DotQ5_0Q8_0, ref::DotQ5_0Q8_0,
     false},
    {"Q5_1", sizeof(Q5_1Block), true, ref::DequantizeQ5_1, simd::DotQ5_1Q8_1, ref::DotQ5_1Q8_1,
     true},
    {"Q8_0", sizeof(Q8_0Block), false, ref::DequantizeQ8_0, simd::DotQ8_0Q8_0, ref::DotQ8_0Q8_0,
     false},
};

constexpr int64_t kBlock = 32;

size_t ActBlockSize(const BlockFormat& f) {
  return f.q8_1 ? sizeof(Q8_1Block) : sizeof(Q8_0Block);
}

uint16_t ScaleAt(const std::vector<uint8_t>& row, size_t offset) {
  uint16_t h;
  std::memcpy(&h, row.data() + offset, sizeof(h));
  return h;
}

void SetScale(std::vector<uint8_t>& row, size_t offset, float value) {
  const uint16_t h = F32ToF16(value);
  std::memcpy(row.data() + offset, &h, sizeof(h));
}

// Every block's d is at offset 0; m (weights) or s (Q8_1 activations) at offset 2.
void CheckBlockDot(const BlockFormat& f, const std::vector<uint8_t>& w,
                   const std::vector<uint8_t>& a, int64_t n) {
  std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
  f.dequantize(w.data(), wf.data(), n);
  (f.q8_1 ? ref::DequantizeQ8_1 : ref::DequantizeQ8_0)(a.data(), af.data(), n);
  // A bound on the sum of |terms|: the min term's products and the stored activation sums on
  // top of the dequantized products.
  double magnitude = 0;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    double m = 0, s = 0;
    if (f.has_min) {
      m = std::fabs(F16ToF32(ScaleAt(w, b * f.block_size + 2)));
      s = std::fabs(F16ToF32(ScaleAt(a, b * ActBlockSize(f) + 2)));
    }
    for (int64_t i = b * kBlock; i < (b + 1) * kBlock; ++i) {
      magnitude += (std::fabs(double{wf[i]}) + m) * std::fabs(double{af[i]});
    }
    magnitude += m * s;
  }
  const float want = f.ref(w.data(), a.data(), n);
  const float got = f.simd(w.data(), a.data(), n);
  EXPECT_NEAR(got, want, kRelTol * magnitude) << f.name << " n=" << n;
}

// Weight rows of random bytes (every nibble and fifth-bit pattern) with finite scales of both
// signs, and activations quantized from random floats.
TEST_P(DotLegacyTest, BlockDotsMatchReference) {
  std::mt19937 rng(2);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale(-0.1f, 0.1f);
  for (const BlockFormat& f : kBlockFormats) {
    for (int64_t n : kLengths) {
      const int64_t nb = n / kBlock;
      std::vector<uint8_t> w(static_cast<size_t>(nb) * f.block_size);
      for (uint8_t& v : w) v = static_cast<uint8_t>(byte(rng));
      for (int64_t b = 0; b < nb; ++b) {
        SetScale(w, b * f.block_size, scale(rng));
        if (f.has_min) SetScale(w, b * f.block_size + 2, 10.0f * scale(rng));
      }
      const std::vector<float> af = RandomRow(rng, n, 2.0f);
      std::vector<uint8_t> a(static_cast<size_t>(nb) * ActBlockSize(f));
      (f.q8_1 ? ref::QuantizeQ8_1 : ref::QuantizeQ8_0)(af.data(), a.data(), n);
      CheckBlockDot(f, w, a, n);
    }
  }
}

// Extreme quants: every weight quant at its lowest or highest value against activations of
// +-127, with negative scales; all-zero rows give exactly zero.
TEST_P(DotLegacyTest, BlockDotsOfExtremeQuants) {
  const int64_t n = 4096 + 32;
  const int64_t nb = n / kBlock;
  for (const BlockFormat& f : kBlockFormats) {
    for (uint8_t fill : {uint8_t{0x00}, uint8_t{0xff}, uint8_t{0x80}, uint8_t{0x7f}}) {
      std::vector<uint8_t> w(static_cast<size_t>(nb) * f.block_size, fill);
      std::vector<uint8_t> a(static_cast<size_t>(nb) * ActBlockSize(f));
      for (int64_t b = 0; b < nb; ++b) {
        SetScale(w, b * f.block_size, b % 2 ? -1.0f : 0.5f);
        if (f.has_min) SetScale(w, b * f.block_size + 2, b % 3 ? -2.0f : 4.0f);
        const size_t base = b * ActBlockSize(f);
        SetScale(a, base, b % 5 ? 1.0f : -0.25f);
        if (f.q8_1) SetScale(a, base + 2, b % 2 ? 300.0f : -100.0f);
        const size_t qs = base + (f.q8_1 ? 4 : 2);
        for (int j = 0; j < kBlock; ++j) {
          // The extremes of what the Q8 quantizers write: round(x * 127 / amax) is never
          // -128, and the x86 kernels, like llama.cpp's, rely on that.
          const int8_t q = (j + b) % 3 == 0 ? -127 : ((j + b) % 3 == 1 ? 127 : -1);
          std::memcpy(&a[qs + j], &q, 1);
        }
      }
      CheckBlockDot(f, w, a, n);
    }
    std::vector<uint8_t> zero_w(static_cast<size_t>(nb) * f.block_size, 0);
    std::vector<uint8_t> zero_a(static_cast<size_t>(nb) * ActBlockSize(f), 0);
    EXPECT_EQ(f.simd(zero_w.data(), zero_a.data(), n), 0.0f) << f.name;
  }
}

// ----------------------------------------------------------------------------- quantizers

// Rows that stress the quantizers' rounding and scale: ties at .5 after scaling (amax of
// 127 * 2^k makes 1 / d exact), zero blocks and zeros inside blocks, huge and tiny blocks.
std::vector<float> QuantizerRows(std::mt19937& rng, int64_t n) {
  std::vector<float> x = RandomRow(rng, n, 2.0f);
  std::uniform_int_distribution<int> level(-127, 126);
  const int64_t nb = n / kBlock;
  for (int64_t b = 0; b < nb; ++b) {
    float* blk = x.data() + b * kBlock;
    switch (b % 8) {
      case 0:  // exact ties, halves of both signs; d = 2^k
      case 1: {
        const float unit = std::ldexp(1.0f, static_cast<int>(b % 5) - 2);
        blk[0] = 127.0f * unit * (b % 2 ? -1.0f : 1.0f);
        for (int j = 1; j < kBlock; ++j) blk[j] = (static_cast<float>(level(rng)) + 0.5f) * unit;
        break;
      }
      case 2:
        for (int j = 0; j < kBlock; ++j) blk[j] = 0.0f;
        break;
      case 3:
        for (int j = 0; j < kBlock; j += 2) blk[j] = (j % 4 ? -0.0f : 0.0f);
        break;
      case 4:
        for (int j = 0; j < kBlock; ++j) blk[j] *= (b % 16 == 4) ? 1e30f : 3e37f;
        break;
      case 5:
        for (int j = 0; j < kBlock; ++j) blk[j] *= 1e-30f;
        break;
      case 6:  // one outlier, the rest tiny: most quants round to 0 or +-1
        for (int j = 0; j < kBlock; ++j) blk[j] *= 1e-3f;
        blk[kBlock / 2] = -1000.0f;
        break;
      default:
        break;
    }
  }
  return x;
}

TEST_P(DotLegacyTest, QuantizeQ8MatchesReferenceBytes) {
  std::mt19937 rng(3);
  for (int64_t n : kLengths) {
    for (int rep = 0; rep < 4; ++rep) {
      const std::vector<float> x = QuantizerRows(rng, n);
      const size_t nb = static_cast<size_t>(n / kBlock);
      std::vector<uint8_t> want0(nb * sizeof(Q8_0Block)), got0(want0.size(), 0xaa);
      ref::QuantizeQ8_0Activations(x.data(), want0.data(), n);
      simd::QuantizeQ8_0(x.data(), got0.data(), n);
      for (size_t i = 0; i < want0.size(); ++i) {
        ASSERT_EQ(got0[i], want0[i]) << "Q8_0 n=" << n << " block " << i / sizeof(Q8_0Block);
      }
      std::vector<uint8_t> want1(nb * sizeof(Q8_1Block)), got1(want1.size(), 0xaa);
      ref::QuantizeQ8_1Activations(x.data(), want1.data(), n);
      simd::QuantizeQ8_1(x.data(), got1.data(), n);
      for (size_t i = 0; i < want1.size(); ++i) {
        ASSERT_EQ(got1[i], want1[i]) << "Q8_1 n=" << n << " block " << i / sizeof(Q8_1Block);
      }
    }
  }
}

// Values on and one ulp either side of every tie: ties go to even, and the rounding must not
// be done in a wider or double-rounded form that drags the others onto the tie.
TEST_P(DotLegacyTest, QuantizeQ8NearTies) {
  std::vector<float> x;
  for (int level = -127; level < 127; ++level) {
    const float tie = static_cast<float>(level) + 0.5f;
    x.push_back(127.0f);  // amax 127: d = 1
    for (float v : {tie, std::nextafter(tie, 0.0f), std::nextafter(tie, 1000.0f),
                    std::nextafter(tie, -1000.0f)}) {
      x.push_back(v);
    }
  }
  x.resize((x.size() + kBlock - 1) / kBlock * kBlock, 0.0f);
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> want(static_cast<size_t>(n / kBlock) * sizeof(Q8_0Block));
  std::vector<uint8_t> got(want.size());
  ref::QuantizeQ8_0Activations(x.data(), want.data(), n);
  simd::QuantizeQ8_0(x.data(), got.data(), n);
  EXPECT_EQ(got, want);
}

// The four-row Q4_0 kernel (decode's GEMV) against the one-row one, rows of random bytes one
// row length apart plus padding.
TEST_P(DotLegacyTest, Q4_0FourRowsMatchOneRow) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int64_t n : kLengths) {
    const int64_t nb = n / kBlock;
    const uint64_t row_bytes = static_cast<uint64_t>(nb) * sizeof(Q4_0Block) + 6;
    std::vector<uint8_t> w(4 * row_bytes);
    for (uint8_t& v : w) v = static_cast<uint8_t>(byte(rng));
    for (int r = 0; r < 4; ++r) {
      auto* blocks = reinterpret_cast<Q4_0Block*>(w.data() + r * row_bytes);
      for (int64_t b = 0; b < nb; ++b)
        blocks[b].d = F32ToF16(0.01f * static_cast<float>(r - b % 3));
    }
    std::vector<Q8_0Block> a(static_cast<size_t>(nb));
    for (Q8_0Block& blk : a) {
      blk.d = F32ToF16(0.02f);
      // [-127, 127], as the Q8 quantizers write (see BlockDotsOfExtremeQuants).
      for (int8_t& q : blk.qs) q = static_cast<int8_t>(byte(rng) % 255 - 127);
    }
    float got[4];
    simd::DotQ4_0Q8_0X4(w.data(), row_bytes, a.data(), n, got);
    for (int r = 0; r < 4; ++r) {
      const float want = ref::DotQ4_0Q8_0(w.data() + r * row_bytes, a.data(), n);
      EXPECT_NEAR(got[r], want, 1e-5f * (1.0f + std::fabs(want))) << "n=" << n << " row " << r;
    }
  }
}

// The multi-row Q4_0 kernels (a matmul's rows four or eight at a time, against one to eight
// tokens; AVX-512 takes eight a call) give each (row, token) the bits of the one-row kernel on the
// same target: a sequence's logits do not depend on how many tokens share its matmul.
TEST_P(DotLegacyTest, Q4_0RowsAndTokensEqualOneRowBitForBit) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> scale(0.0f, 0.02f);
  constexpr int kMaxTokens = 8;
  for (int64_t n : {int64_t{32}, int64_t{4096}}) {
    const int64_t nb = n / kBlock;
    const uint64_t row_bytes = static_cast<uint64_t>(nb) * sizeof(Q4_0Block);
    std::vector<uint8_t> w(8 * row_bytes);
    for (uint8_t& v : w) v = static_cast<uint8_t>(byte(rng));
    auto* blocks = reinterpret_cast<Q4_0Block*>(w.data());
    for (int64_t b = 0; b < 8 * nb; ++b) blocks[b].d = F32ToF16(scale(rng));
    const uint64_t a_stride = static_cast<uint64_t>(nb) * sizeof(Q8_0Block);
    std::vector<Q8_0Block> a(static_cast<size_t>(kMaxTokens * nb));
    for (Q8_0Block& blk : a) {
      blk.d = F32ToF16(std::fabs(scale(rng)));
      for (int8_t& q : blk.qs) q = static_cast<int8_t>(byte(rng) % 255 - 127);
    }
    float want[kMaxTokens][8];
    for (int t = 0; t < kMaxTokens; ++t) {
      for (int r = 0; r < 8; ++r)
        want[t][r] = simd::DotQ4_0Q8_0(w.data() + r * row_bytes, &a[t * nb], n);
    }
    for (int count = 1; count <= kMaxTokens; ++count) {
      float x4[4 * kMaxTokens], x8[8 * kMaxTokens];
      simd::DotQ4_0Q8_0X4Tokens(w.data(), row_bytes, a.data(), a_stride, count, n, x4);
      simd::DotQ4_0Q8_0X8Tokens(w.data(), row_bytes, a.data(), a_stride, count, n, x8);
      for (int t = 0; t < count; ++t) {
        for (int r = 0; r < 8; ++r) {
          if (r < 4) {
            EXPECT_EQ(x4[4 * t + r], want[t][r]) << "X4 n=" << n << " count " << count;
          }
          EXPECT_EQ(x8[8 * t + r], want[t][r])
              << "X8 n=" << n << " count " << count << " row " << r;
        }
      }
    }
    float x4[4];
    simd::DotQ4_0Q8_0X4(w.data(), row_bytes, a.data(), n, x4);
    for (int r = 0; r < 4; ++r) EXPECT_EQ(x4[r], want[0][r]) << "X4 one token, n=" << n;
  }
}

// Each lane format's kernels: the one-row dot and the four-row calls (one token, or several).
struct LaneKernels {
  const BlockFormat& format;
  DotFn dot;
  void (*rows)(const void*, uint64_t, const void*, int64_t, float*);
  void (*rows_tokens)(const void*, uint64_t, const void*, uint64_t, int, int64_t, float*);
  void (*tile)(const void*, uint64_t, int, const void*, uint64_t, int, int64_t, float*, int64_t);
};
const LaneKernels kLaneKernels[] = {
    {kBlockFormats[0], simd::DotQ4_0Q8_0Lanes, simd::DotQ4_0Q8_0LanesX4,
     simd::DotQ4_0Q8_0LanesX4Tokens, simd::LanesTileQ4_0},
    {kBlockFormats[1], simd::DotQ4_1Q8_1, simd::DotQ4_1Q8_1X4, simd::DotQ4_1Q8_1X4Tokens,
     simd::LanesTileQ4_1},
    {kBlockFormats[2], simd::DotQ5_0Q8_0, simd::DotQ5_0Q8_0X4, simd::DotQ5_0Q8_0X4Tokens,
     simd::LanesTileQ5_0},
    {kBlockFormats[3], simd::DotQ5_1Q8_1, simd::DotQ5_1Q8_1X4, simd::DotQ5_1Q8_1X4Tokens,
     simd::LanesTileQ5_1},
    {kBlockFormats[4], simd::DotQ8_0Q8_0, simd::DotQ8_0Q8_0X4, simd::DotQ8_0Q8_0X4Tokens,
     simd::LanesTileQ8_0},
};

// A weight row of nb blocks for the lane-format tests: random bytes (Q8_0's -128 included),
// or every bit set, under random scales (and mins).
std::vector<uint8_t> LaneWeightRow(const BlockFormat& f, int64_t nb, bool all_ones,
                                   std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> scale(0.0f, 0.05f);
  std::vector<uint8_t> w(static_cast<size_t>(nb) * f.block_size, 0xff);
  if (!all_ones) {
    for (uint8_t& v : w) v = static_cast<uint8_t>(byte(rng));
  }
  for (int64_t b = 0; b < nb; ++b) {
    SetScale(w, b * f.block_size, scale(rng));
    if (f.has_min) SetScale(w, b * f.block_size + 2, scale(rng));
  }
  return w;
}

// `tokens` activation rows of nb blocks in [-127, 127], as the quantizers write them; the third
// token all -127 and the sixth all 127.
std::vector<uint8_t> LaneActivations(const BlockFormat& f, int64_t nb, int tokens,
                                     std::mt19937& rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::normal_distribution<float> scale(0.0f, 0.05f);
  const size_t act_bytes = static_cast<size_t>(nb) * ActBlockSize(f);
  std::vector<uint8_t> a(tokens * act_bytes);
  for (int t = 0; t < tokens; ++t) {
    for (int64_t b = 0; b < nb; ++b) {
      const size_t base = t * act_bytes + b * ActBlockSize(f);
      SetScale(a, base, std::fabs(scale(rng)));
      if (f.q8_1) SetScale(a, base + 2, 100.0f * scale(rng));
      for (int j = 0; j < kBlock; ++j) {
        const int q = t == 2 ? -127 : (t == 5 ? 127 : byte(rng) % 255 - 127);
        a[base + (f.q8_1 ? 4 : 2) + j] = static_cast<uint8_t>(static_cast<int8_t>(q));
      }
    }
  }
  return a;
}

// bf16 dots sum each lane's pairs as vdpbf16ps does, the odd element's product fused first;
// the SIMD targets fuse a vector of lanes at a time, the portable one (SCALAR or EMU128) a
// lane at a time with std::fma. Every target must give the portable one's bits, one token's dot
// and the GEMM order's, with subnormal, huge, zero and negative-zero elements among the pairs.
TEST(DotBF16OrderTest, EveryTargetGivesThePortablePairDotsBits) {
  const std::vector<SimdTarget> targets = RunnableSimdTargets();
  const auto portable = std::find_if(targets.begin(), targets.end(), [](const SimdTarget& t) {
    return t.name == "SCALAR" || t.name == "EMU128";
  });
  if (portable == targets.end()) GTEST_SKIP() << "no portable target to compare with";
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t n : {int64_t{32}, int64_t{64}, int64_t{96}, int64_t{4096 + 32}, int64_t{100}}) {
    std::vector<float> wf(static_cast<size_t>(n)), af(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) {
      wf[i] = normal(rng);
      af[i] = normal(rng) * 3.0f;
    }
    wf[1] = 1e-39f;  // subnormal in bf16 as in f32
    af[1] = 3e-39f;
    wf[2] = 1e30f;  // against a zero: a huge product would swamp the sum
    af[2] = 0.0f;
    wf[4] = 6e4f;
    af[3] = -0.0f;
    wf[5] = 0.0f;
    std::vector<uint16_t> w(wf.size()), a(af.size());
    ref::QuantizeBF16(wf.data(), w.data(), n);
    ref::QuantizeBF16(af.data(), a.data(), n);
    std::vector<std::array<float, 2>> dots;
    for (const SimdTarget& target : targets) {
      ASSERT_TRUE(ForceSimdTarget(target.name).ok());
      dots.push_back({simd::DotBF16(w.data(), a.data(), n),
                      n % 32 == 0 ? simd::DotBF16Gemm(w.data(), a.data(), n) : 0.0f});
    }
    ASSERT_TRUE(ForceSimdTarget("auto").ok());
    const std::array<float, 2>& want = dots[static_cast<size_t>(portable - targets.begin())];
    for (size_t i = 0; i < targets.size(); ++i) {
      EXPECT_EQ(std::bit_cast<uint32_t>(dots[i][0]), std::bit_cast<uint32_t>(want[0]))
          << "dot " << targets[i].name << " n=" << n;
      EXPECT_EQ(std::bit_cast<uint32_t>(dots[i][1]), std::bit_cast<uint32_t>(want[1]))
          << "gemm dot " << targets[i].name << " n=" << n;
    }
  }
}

// The lane formats' dots on every x86 target from AVX2 up give AVX2's bits (AVX-512 VNNI moves
// the activations to unsigned bytes, AVX-512 reads Q5's fifth bits as a mask): the reference
// order (ref_order.h) whatever the instructions. FourRowsMatchOneRowOnEveryTarget ties the
// four-row calls to these dots.
TEST(DotLegacyOrderTest, X86TargetsAgreeBitForBit) {
  constexpr int kTokens = 8;
  const std::vector<SimdTarget> targets = RunnableSimdTargets();
  const auto avx2 = std::find_if(targets.begin(), targets.end(),
                                 [](const SimdTarget& t) { return t.name == "AVX2"; });
  std::mt19937 rng(12);
  for (const LaneKernels& lf : kLaneKernels) {
    const BlockFormat& f = lf.format;
    for (int64_t n : {int64_t{32}, int64_t{4096 + 32}}) {
      const int64_t nb = n / kBlock;
      const std::vector<std::vector<uint8_t>> rows = {LaneWeightRow(f, nb, false, rng),
                                                      LaneWeightRow(f, nb, true, rng)};
      const size_t act_bytes = static_cast<size_t>(nb) * ActBlockSize(f);
      const std::vector<uint8_t> a = LaneActivations(f, nb, kTokens, rng);
      for (const std::vector<uint8_t>& w : rows) {
        std::vector<std::vector<float>> dots;
        for (const SimdTarget& target : targets) {
          ASSERT_TRUE(ForceSimdTarget(target.name).ok());
          dots.emplace_back();
          for (int t = 0; t < kTokens; ++t) {
            dots.back().push_back(lf.dot(w.data(), a.data() + t * act_bytes, n));
          }
        }
        ASSERT_TRUE(ForceSimdTarget("auto").ok());
        if (avx2 == targets.end()) continue;
        const std::vector<float>& want = dots[static_cast<size_t>(avx2 - targets.begin())];
        for (size_t i = 0; i < targets.size(); ++i) {
          if (targets[i].id > avx2->id) continue;  // below AVX2: Highway's own order
          for (int t = 0; t < kTokens; ++t) {
            EXPECT_EQ(std::bit_cast<uint32_t>(dots[i][t]), std::bit_cast<uint32_t>(want[t]))
                << f.name << " " << targets[i].name << " n=" << n << " token " << t;
          }
        }
      }
    }
  }
  if (avx2 == targets.end()) GTEST_SKIP() << "this CPU cannot run the AVX2 target";
}

// The lane formats' four-row kernels (a decode step: four weight rows against one token; a
// prompt: against one to eight tokens) give each pair the bits of its own one-row dot on every
// target.
TEST(DotLegacyOrderTest, FourRowsMatchOneRowOnEveryTarget) {
  std::mt19937 rng(13);
  for (const LaneKernels& lf : kLaneKernels) {
    const BlockFormat& f = lf.format;
    for (int64_t n : {int64_t{32}, int64_t{4096 + 32}}) {
      const int64_t nb = n / kBlock;
      // Rows 0, 1 and 3 random, row 2 every bit set, one after another as in a tensor.
      std::vector<uint8_t> w;
      for (int r = 0; r < kDotRows; ++r) {
        const std::vector<uint8_t> row = LaneWeightRow(f, nb, r == 2, rng);
        w.insert(w.end(), row.begin(), row.end());
      }
      const uint64_t row_bytes = static_cast<uint64_t>(nb) * f.block_size;
      const size_t act_bytes = static_cast<size_t>(nb) * ActBlockSize(f);
      constexpr int kTokens = 8;
      const std::vector<uint8_t> a = LaneActivations(f, nb, kTokens, rng);
      for (const SimdTarget& target : RunnableSimdTargets()) {
        ASSERT_TRUE(ForceSimdTarget(target.name).ok());
        float want[kTokens][kDotRows];
        for (int t = 0; t < kTokens; ++t) {
          for (int r = 0; r < kDotRows; ++r) {
            want[t][r] = lf.dot(w.data() + r * row_bytes, a.data() + t * act_bytes, n);
          }
        }
        for (int count = 1; count <= kTokens; ++count) {
          float got[kTokens * kDotRows];
          lf.rows_tokens(w.data(), row_bytes, a.data(), act_bytes, count, n, got);
          for (int t = 0; t < count; ++t) {
            for (int r = 0; r < kDotRows; ++r) {
              EXPECT_EQ(std::bit_cast<uint32_t>(got[kDotRows * t + r]),
                        std::bit_cast<uint32_t>(want[t][r]))
                  << f.name << " " << target.name << " n=" << n << " count=" << count << " token "
                  << t << " row " << r;
            }
          }
        }
        // The first token, and the sixth (all 127).
        for (size_t token : {size_t{0}, size_t{5}}) {
          const uint8_t* act = a.data() + token * act_bytes;
          float got[kDotRows];
          lf.rows(w.data(), row_bytes, act, n, got);
          for (int r = 0; r < kDotRows; ++r) {
            EXPECT_EQ(std::bit_cast<uint32_t>(got[r]), std::bit_cast<uint32_t>(want[token][r]))
                << f.name << " " << target.name << " n=" << n << " token " << token << " row " << r;
          }
        }
      }
      ASSERT_TRUE(ForceSimdTarget("auto").ok());
    }
  }
}

// The lane formats' tiles (a prompt: up to 16 transposed rows against all the tokens) give
// each pair the bits of its own one-row dot, on every target, for any count of rows and tokens,
// and write nothing beyond the tile's rows.
// The same for the Q4_0 rows llama.cpp repacks (whole-block sums).
TEST(DotLegacyOrderTest, TileMatchesOneRowOnEveryTarget) {
  std::mt19937 rng(14);
  constexpr int kRows = 21;  // a whole tile of 16 and a part of 5
  constexpr int kTokens = 9;
  constexpr int64_t kYStride = kRows + 3;
  struct Tile {
    const BlockFormat& format;
    DotFn dot;
    void (*tile)(const void*, uint64_t, int, const void*, uint64_t, int, int64_t, float*, int64_t);
  };
  std::vector<Tile> tiles;
  for (const LaneKernels& lf : kLaneKernels) tiles.push_back({lf.format, lf.dot, lf.tile});
  tiles.push_back({kBlockFormats[0], simd::DotQ4_0Q8_0, simd::TileQ4_0Q8_0});
  for (const Tile& lf : tiles) {
    const BlockFormat& f = lf.format;
    for (int64_t n : {int64_t{32}, int64_t{4096 + 32}}) {
      const int64_t nb = n / kBlock;
      // Random rows, but row 7 with every bit set.
      std::vector<uint8_t> w;
      for (int r = 0; r < kRows; ++r) {
        const std::vector<uint8_t> row = LaneWeightRow(f, nb, r == 7, rng);
        w.insert(w.end(), row.begin(), row.end());
      }
      const uint64_t row_bytes = static_cast<uint64_t>(nb) * f.block_size;
      const size_t act_bytes = static_cast<size_t>(nb) * ActBlockSize(f);
      const std::vector<uint8_t> a = LaneActivations(f, nb, kTokens, rng);
      for (const SimdTarget& target : RunnableSimdTargets()) {
        ASSERT_TRUE(ForceSimdTarget(target.name).ok());
        for (int rows : {1, 5, 16, kRows}) {
          for (int tokens = 1; tokens <= kTokens; ++tokens) {
            std::vector<float> y(static_cast<size_t>(kYStride * kTokens), -7.0f);
            lf.tile(w.data(), row_bytes, rows, a.data(), act_bytes, tokens, n, y.data(), kYStride);
            for (int t = 0; t < kTokens; ++t) {
              for (int r = 0; r < kYStride; ++r) {
                const float got = y[static_cast<size_t>(t * kYStride + r)];
                if (t >= tokens || r >= rows) {
                  EXPECT_EQ(got, -7.0f)
                      << f.name << " " << target.name << " wrote token " << t << " row " << r
                      << " of a " << rows << " x " << tokens << " tile";
                  continue;
                }
                const float want = lf.dot(w.data() + r * row_bytes, a.data() + t * act_bytes, n);
                EXPECT_EQ(std::bit_cast<uint32_t>(got), std::bit_cast<uint32_t>(want))
                    << f.name << " " << target.name << " n=" << n << " rows=" << rows
                    << " tokens=" << tokens << " token " << t << " row " << r;
              }
            }
          }
        }
      }
      ASSERT_TRUE(ForceSimdTarget("auto").ok());
    }
  }
}

TEST(Q8ActivationTest, RoundsTiesToEvenAndScalesBy127OverAmax) {
  // amax 127 makes the scale exactly 1, so every value below is its own scaled value.
  std::vector<float> x(kBlock, 0.0f);
  x[0] = 127.0f;
  const float in[] = {2.5f, 3.5f, -2.5f, -3.5f, 0.5f, -0.5f, 1.49f, 126.5f};
  const int8_t want[] = {2, 4, -2, -4, 0, 0, 1, 126};
  std::copy(std::begin(in), std::end(in), x.begin() + 1);
  Q8_0Block block;
  ref::QuantizeQ8_0Activations(x.data(), &block, kBlock);
  EXPECT_EQ(F16ToF32(block.d), 1.0f);
  for (size_t i = 0; i < std::size(want); ++i) EXPECT_EQ(block.qs[i + 1], want[i]) << in[i];
  // The file quantizer rounds the same halves away from zero.
  ref::QuantizeQ8_0(x.data(), &block, kBlock);
  EXPECT_EQ(block.qs[1], 3);
  EXPECT_EQ(block.qs[3], -3);
}

INSTANTIATE_TEST_SUITE_P(AllTargets, DotLegacyTest, ::testing::ValuesIn(RunnableSimdTargets()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace wick::kernels
