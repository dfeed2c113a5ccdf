// The SIMD k-quant dot products (Q2_K to Q6_K with Q8_K activations) and the SIMD Q8_K
// quantizer against their scalar references, on every SIMD target this CPU can run.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
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

// The kernels sum each super-block exactly in integers, like the reference, so only the order
// of the float operations may differ: allow a few float roundings of the sum of |terms|.
constexpr double kRelTol = 1e-5;

constexpr int64_t kLengths[] = {256, 512, 4096};

using DotFn = float (*)(const void*, const void*, int64_t);
using DotTokensFn = void (*)(const void*, const void*, uint64_t, int, int64_t, float*);

struct KFormat {
  const char* name;
  size_t block_bytes;
  void (*quantize)(const float*, void*, int64_t);
  void (*dequantize)(const void*, float*, int64_t);
  DotFn ref_dot;
  DotFn simd_dot;
  DotTokensFn simd_tokens;  // one row against 1 to kMaxDotTokens activation rows
  size_t d_offset;          // f16 super-block scale
  size_t dmin_offset;       // f16 scale of the mins; kNoMin for the symmetric formats
};

constexpr size_t kNoMin = ~size_t{0};

const KFormat kFormats[] = {
    {"Q2_K", sizeof(Q2_KBlock), ref::QuantizeQ2_K, ref::DequantizeQ2_K, ref::DotQ2_KQ8_K,
     simd::DotQ2_KQ8_K, simd::DotQ2_KQ8_KTokens, offsetof(Q2_KBlock, d), offsetof(Q2_KBlock, dmin)},
    {"Q3_K", sizeof(Q3_KBlock), ref::QuantizeQ3_K, ref::DequantizeQ3_K, ref::DotQ3_KQ8_K,
     simd::DotQ3_KQ8_K, simd::DotQ3_KQ8_KTokens, offsetof(Q3_KBlock, d), kNoMin},
    {"Q4_K", sizeof(Q4_KBlock), ref::QuantizeQ4_K, ref::DequantizeQ4_K, ref::DotQ4_KQ8_K,
     simd::DotQ4_KQ8_K, simd::DotQ4_KQ8_KTokens, offsetof(Q4_KBlock, d), offsetof(Q4_KBlock, dmin)},
    {"Q5_K", sizeof(Q5_KBlock), ref::QuantizeQ5_K, ref::DequantizeQ5_K, ref::DotQ5_KQ8_K,
     simd::DotQ5_KQ8_K, simd::DotQ5_KQ8_KTokens, offsetof(Q5_KBlock, d), offsetof(Q5_KBlock, dmin)},
    {"Q6_K", sizeof(Q6_KBlock), ref::QuantizeQ6_K, ref::DequantizeQ6_K, ref::DotQ6_KQ8_K,
     simd::DotQ6_KQ8_K, simd::DotQ6_KQ8_KTokens, offsetof(Q6_KBlock, d), kNoMin},
};

// Every test runs once per SIMD target this CPU can execute.
class DotKTest : public ::testing::TestWithParam<SimdTarget> {
 protected:
  void SetUp() override { ASSERT_TRUE(ForceSimdTarget(GetParam().name).ok()); }
  void TearDown() override { ASSERT_TRUE(ForceSimdTarget("auto").ok()); }
};

// Gaussian values with a few outliers, so that scales differ across sub-blocks.
std::vector<float> RandomRow(int64_t n, std::mt19937& rng, float scale) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::uniform_int_distribution<int> pick(0, 63);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng) * (pick(rng) == 0 ? 8.0f : 1.0f);
  return x;
}

std::vector<uint8_t> Quantize(const KFormat& f, const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> w(static_cast<size_t>(n / kQK_K) * f.block_bytes);
  f.quantize(x.data(), w.data(), n);
  return w;
}

std::vector<Q8_KBlock> QuantizeActivations(const std::vector<float>& x) {
  std::vector<Q8_KBlock> a(x.size() / kQK_K);
  ref::QuantizeQ8_K(x.data(), a.data(), static_cast<int64_t>(x.size()));
  return a;
}

void SetF16(std::vector<uint8_t>& w, size_t block_bytes, size_t offset, float v) {
  const uint16_t h = F32ToF16(v);
  for (size_t b = 0; b < w.size() / block_bytes; ++b) {
    std::memcpy(w.data() + b * block_bytes + offset, &h, sizeof(h));
  }
}

// Sum of |d * scale * q * a| and |dmin * min * a| over the row: the scale of the rounding
// error any order of float summation can make. Each part is found by dequantizing with the
// other super-block factor zeroed.
double SumAbsTerms(const KFormat& f, const std::vector<uint8_t>& w, const std::vector<Q8_KBlock>& a,
                   int64_t n) {
  std::vector<float> act(static_cast<size_t>(n));
  ref::DequantizeQ8_K(a.data(), act.data(), n);
  std::vector<float> deq(static_cast<size_t>(n));
  double sum = 0;
  // Formats without mins have one term: the whole row.
  const std::vector<size_t> zeroed_fields = f.dmin_offset == kNoMin
                                                ? std::vector<size_t>{kNoMin}
                                                : std::vector<size_t>{f.dmin_offset, f.d_offset};
  for (size_t zeroed : zeroed_fields) {
    std::vector<uint8_t> part = w;
    for (size_t b = 0; zeroed != kNoMin && b < part.size() / f.block_bytes; ++b) {
      std::memset(part.data() + b * f.block_bytes + zeroed, 0, sizeof(uint16_t));
    }
    f.dequantize(part.data(), deq.data(), n);
    for (size_t i = 0; i < deq.size(); ++i) sum += std::fabs(static_cast<double>(deq[i]) * act[i]);
  }
  return sum;
}

void ExpectDotMatches(const KFormat& f, const std::vector<uint8_t>& w,
                      const std::vector<Q8_KBlock>& a) {
  const auto n = static_cast<int64_t>(a.size()) * kQK_K;
  ASSERT_EQ(w.size(), a.size() * f.block_bytes);
  const float want = f.ref_dot(w.data(), a.data(), n);
  const float got = f.simd_dot(w.data(), a.data(), n);
  if (!std::isfinite(want)) {
    EXPECT_EQ(got, want) << f.name << " n=" << n;
    return;
  }
  EXPECT_NEAR(got, want, kRelTol * SumAbsTerms(f, w, a, n)) << f.name << " n=" << n;
}

// Random bytes for a whole row, then f16 factors in a sane range (random bytes would make
// infinities and NaNs, which no quantizer writes).
std::vector<uint8_t> RandomBlocks(const KFormat& f, int64_t n, std::mt19937& rng) {
  std::vector<uint8_t> w(static_cast<size_t>(n / kQK_K) * f.block_bytes);
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& v : w) v = static_cast<uint8_t>(byte(rng));
  std::uniform_real_distribution<float> factor(-0.05f, 0.05f);
  for (size_t b = 0; b < w.size() / f.block_bytes; ++b) {
    for (size_t offset : {f.d_offset, f.dmin_offset}) {
      if (offset == kNoMin) continue;
      const uint16_t h = F32ToF16(factor(rng));
      std::memcpy(w.data() + b * f.block_bytes + offset, &h, sizeof(h));
    }
  }
  return w;
}

// Random activation quants over the full int8 range, with consistent sums.
std::vector<Q8_KBlock> RandomActivations(int64_t n, std::mt19937& rng) {
  std::vector<Q8_KBlock> a(static_cast<size_t>(n / kQK_K));
  std::uniform_int_distribution<int> q(-128, 127);
  std::uniform_real_distribution<float> d(1e-4f, 0.1f);
  for (Q8_KBlock& b : a) {
    b.d = d(rng);
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) {
        b.qs[16 * j + i] = static_cast<int8_t>(q(rng));
        sum += b.qs[16 * j + i];
      }
      b.bsums[j] = static_cast<int16_t>(sum);
    }
  }
  return a;
}

TEST_P(DotKTest, MatchesReferenceOnQuantizedRows) {
  std::mt19937 rng(1);
  for (const KFormat& f : kFormats) {
    for (int64_t n : kLengths) {
      for (int rep = 0; rep < 4; ++rep) {
        const float scale = rep == 0 ? 1.0f : std::ldexp(1.0f, 6 * rep - 12);
        const auto w = Quantize(f, RandomRow(n, rng, scale));
        const auto a = QuantizeActivations(RandomRow(n, rng, 1.0f / scale));
        ExpectDotMatches(f, w, a);
      }
    }
  }
}

TEST_P(DotKTest, MatchesReferenceOnRandomBlockBytes) {
  std::mt19937 rng(2);
  for (const KFormat& f : kFormats) {
    for (int64_t n : kLengths) {
      for (int rep = 0; rep < 8; ++rep) {
        const auto w = RandomBlocks(f, n, rng);
        ExpectDotMatches(f, w, RandomActivations(n, rng));
        ExpectDotMatches(f, w, QuantizeActivations(RandomRow(n, rng, 1.0f)));
      }
    }
  }
}

TEST_P(DotKTest, ZeroBlocks) {
  std::mt19937 rng(3);
  for (const KFormat& f : kFormats) {
    for (int64_t n : kLengths) {
      const std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
      const auto w_zero = Quantize(f, zeros);
      const auto a_zero = QuantizeActivations(zeros);
      const auto w = RandomBlocks(f, n, rng);
      const auto a = RandomActivations(n, rng);
      for (const auto* wp : {&w_zero, &w}) {
        for (const auto* ap : {&a_zero, &a}) {
          if (wp == &w && ap == &a) continue;
          EXPECT_EQ(f.simd_dot(wp->data(), ap->data(), n), 0.0f) << f.name;
          ExpectDotMatches(f, *wp, *ap);
        }
      }
      // All-zero bytes: zero quants under zero factors.
      const std::vector<uint8_t> w_bytes(w.size(), 0);
      EXPECT_EQ(f.simd_dot(w_bytes.data(), a.data(), n), 0.0f) << f.name;
    }
  }
}

TEST_P(DotKTest, ExtremeScales) {
  std::mt19937 rng(4);
  const float kF16Max = 65504.0f;
  const float kF16MinSubnormal = 0x1p-24f;
  for (const KFormat& f : kFormats) {
    for (float d : {kF16Max, -kF16Max, kF16MinSubnormal, 1.0f}) {
      for (float dmin : {kF16Max, kF16MinSubnormal, -1.0f}) {
        auto w = RandomBlocks(f, 512, rng);
        SetF16(w, f.block_bytes, f.d_offset, d);
        if (f.dmin_offset != kNoMin) SetF16(w, f.block_bytes, f.dmin_offset, dmin);
        // Largest and smallest activations too; the sum stays far below float's range.
        auto a = RandomActivations(512, rng);
        for (Q8_KBlock& b : a) b.d = d == 1.0f ? 1e-30f : 1e-3f;
        ExpectDotMatches(f, w, a);
      }
    }
    // Every quant and scale bit set, every activation at an extreme.
    std::vector<uint8_t> w(2 * f.block_bytes, 0xFF);
    SetF16(w, f.block_bytes, f.d_offset, 1.0f);
    if (f.dmin_offset != kNoMin) SetF16(w, f.block_bytes, f.dmin_offset, 1.0f);
    for (int8_t extreme : {int8_t{127}, int8_t{-127}, int8_t{-128}}) {
      std::vector<Q8_KBlock> a(2);
      for (Q8_KBlock& b : a) {
        b.d = 1.0f;
        std::memset(b.qs, static_cast<uint8_t>(extreme), sizeof(b.qs));
        for (int16_t& s : b.bsums) s = static_cast<int16_t>(16 * extreme);
      }
      ExpectDotMatches(f, w, a);
    }
  }
}

// ------------------------------------------------------------------ Q8_K quantizer

void ExpectQuantizeQ8_KMatches(const std::vector<float>& x) {
  const auto n = static_cast<int64_t>(x.size());
  std::vector<Q8_KBlock> want(x.size() / kQK_K);
  std::vector<Q8_KBlock> got(want.size());
  std::memset(got.data(), 0xA5, got.size() * sizeof(Q8_KBlock));  // no bytes left unwritten
  ref::QuantizeQ8_K(x.data(), want.data(), n);
  simd::QuantizeQ8_K(x.data(), got.data(), n);
  for (size_t b = 0; b < want.size(); ++b) {
    ASSERT_EQ(std::memcmp(&got[b], &want[b], sizeof(Q8_KBlock)), 0) << "block " << b;
  }
}

TEST_P(DotKTest, QuantizeQ8_KMatchesReferenceOnRandomData) {
  std::mt19937 rng(5);
  for (int64_t n : kLengths) {
    for (float scale : {1.0f, 1e-20f, 3e-3f, 1e5f, 1e30f}) {
      ExpectQuantizeQ8_KMatches(RandomRow(n, rng, scale));
    }
  }
  // Random bit patterns: every exponent, subnormals, infinities and NaNs included.
  std::uniform_int_distribution<uint32_t> bits;
  std::vector<float> x(4096);
  for (int rep = 0; rep < 16; ++rep) {
    for (float& v : x) {
      const uint32_t u = bits(rng);
      std::memcpy(&v, &u, sizeof(v));
    }
    ExpectQuantizeQ8_KMatches(x);
  }
}

TEST_P(DotKTest, QuantizeQ8_KEdgeCases) {
  // All zeros, signed zeros, and zero blocks between non-zero ones.
  std::vector<float> x(1024, 0.0f);
  ExpectQuantizeQ8_KMatches(x);
  for (size_t i = 0; i < 256; i += 2) x[i] = -0.0f;
  x[600] = 1.0f;
  ExpectQuantizeQ8_KMatches(x);

  // Ties: with max = -127 the scale is exactly 1, and every value is a half, so each quant
  // is a round-half-to-even decision.
  std::vector<float> ties(512);
  for (size_t i = 0; i < ties.size(); ++i) {
    ties[i] = static_cast<float>(static_cast<int>(i % 254) - 127) + 0.5f;
  }
  ties[7] = -127.0f;
  ties[300] = -127.0f;
  ExpectQuantizeQ8_KMatches(ties);

  // The first element of largest magnitude sets the sign of the scale.
  for (float first : {5.0f, -5.0f}) {
    std::vector<float> y(256, 1.25f);
    y[3] = first;
    y[200] = -first;
    y[255] = first;
    ExpectQuantizeQ8_KMatches(y);
  }

  // Largest and smallest magnitudes, a lone subnormal, and non-finite values.
  const float kMax = std::numeric_limits<float>::max();
  for (float special :
       {kMax, -kMax, std::numeric_limits<float>::denorm_min(),
        std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
        std::numeric_limits<float>::quiet_NaN()}) {
    std::mt19937 rng(6);
    std::vector<float> y = RandomRow(512, rng, 1.0f);
    y[17] = special;
    ExpectQuantizeQ8_KMatches(y);
    std::fill(y.begin(), y.end(), 0.0f);
    y[400] = special;
    ExpectQuantizeQ8_KMatches(y);
  }
}

TEST_P(DotKTest, SimdQuantizedActivationsGiveTheSameDot) {
  std::mt19937 rng(7);
  for (const KFormat& f : kFormats) {
    const auto x = RandomRow(4096, rng, 1.0f);
    std::vector<Q8_KBlock> a(x.size() / kQK_K);
    simd::QuantizeQ8_K(x.data(), a.data(), static_cast<int64_t>(x.size()));
    ExpectDotMatches(f, Quantize(f, RandomRow(4096, rng, 1.0f)), a);
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, DotKTest, ::testing::ValuesIn(RunnableSimdTargets()),
                         [](const auto& param_info) { return param_info.param.name; });

// A row against kMaxDotTokens activation rows, one dot at a time and through the tokens kernel
// with every count: dots[t], then tokens[count][t].
struct RowResults {
  float dots[kMaxDotTokens];
  float tokens[kMaxDotTokens + 1][kMaxDotTokens];
};

RowResults RunRow(size_t format, const std::vector<uint8_t>& w, const std::vector<Q8_KBlock>& a,
                  int64_t n) {
  const uint64_t stride = static_cast<uint64_t>(n / kQK_K) * sizeof(Q8_KBlock);
  RowResults r{};
  for (int t = 0; t < kMaxDotTokens; ++t) {
    r.dots[t] = kFormats[format].simd_dot(w.data(), a.data() + t * (n / kQK_K), n);
  }
  for (int count = 1; count <= kMaxDotTokens; ++count) {
    kFormats[format].simd_tokens(w.data(), a.data(), stride, count, n, r.tokens[count]);
  }
  return r;
}

// The AVX-512 targets run their own k-quant kernels (512-bit vectors, eight
// tokens a call); every x86 target from AVX2 up must give the reference order's bits
// (ref_order.h), and on every target a prompt's tokens must give each token's own dot bit for
// bit.
TEST(DotKOrderTest, TokensMatchOneDotAndX86TargetsAgreeBitForBit) {
  const std::vector<SimdTarget> targets = RunnableSimdTargets();
  const auto avx2 = std::find_if(targets.begin(), targets.end(),
                                 [](const SimdTarget& t) { return t.name == "AVX2"; });
  std::mt19937 rng(8);
  for (size_t f = 0; f < std::size(kFormats); ++f) {
    for (int64_t n : kLengths) {
      const auto nb = static_cast<size_t>(n / kQK_K);
      // Random bytes, a quantized row, and every quant and scale bit set.
      std::vector<std::vector<uint8_t>> rows = {
          RandomBlocks(kFormats[f], n, rng), Quantize(kFormats[f], RandomRow(n, rng, 1.0f)),
          std::vector<uint8_t>(nb * kFormats[f].block_bytes, 0xFF)};
      SetF16(rows[2], kFormats[f].block_bytes, kFormats[f].d_offset, 0.5f);
      if (kFormats[f].dmin_offset != kNoMin) {
        SetF16(rows[2], kFormats[f].block_bytes, kFormats[f].dmin_offset, 0.25f);
      }
      // kMaxDotTokens tokens, the second and the seventh all -128 (Q4_K's kernels pair the
      // tokens' mins: one in an odd place, one in an even place).
      std::vector<Q8_KBlock> acts = RandomActivations(kMaxDotTokens * n, rng);
      for (size_t token : {1, 6}) {
        for (size_t b = token * nb; b < (token + 1) * nb; ++b) {
          std::memset(acts[b].qs, 0x80, sizeof(acts[b].qs));
          for (int16_t& s : acts[b].bsums) s = -16 * 128;
        }
      }
      for (const auto& w : rows) {
        std::vector<RowResults> per_target;
        for (const SimdTarget& target : targets) {
          ASSERT_TRUE(ForceSimdTarget(target.name).ok());
          per_target.push_back(RunRow(f, w, acts, n));
          const RowResults& r = per_target.back();
          for (int count = 1; count <= kMaxDotTokens; ++count) {
            for (int t = 0; t < count; ++t) {
              EXPECT_EQ(std::bit_cast<uint32_t>(r.tokens[count][t]),
                        std::bit_cast<uint32_t>(r.dots[t]))
                  << kFormats[f].name << " " << target.name << " n=" << n << " count=" << count
                  << " token " << t;
            }
          }
        }
        ASSERT_TRUE(ForceSimdTarget("auto").ok());
        if (avx2 == targets.end()) continue;
        const RowResults& want = per_target[static_cast<size_t>(avx2 - targets.begin())];
        for (size_t i = 0; i < targets.size(); ++i) {
          if (targets[i].id > avx2->id) continue;  // below AVX2: Highway's own order
          for (int t = 0; t < kMaxDotTokens; ++t) {
            EXPECT_EQ(std::bit_cast<uint32_t>(per_target[i].dots[t]),
                      std::bit_cast<uint32_t>(want.dots[t]))
                << kFormats[f].name << " " << targets[i].name << " n=" << n << " token " << t;
          }
        }
      }
    }
  }
  if (avx2 == targets.end()) GTEST_SKIP() << "this CPU cannot run the AVX2 target";
}

// A prompt's Q4_K and Q5_K tiles (up to 16 transposed rows against all the tokens) give each
// pair the bits of its own one-row dot, on every target, for any count of rows and tokens, and
// write nothing beyond the tile's rows.
TEST(DotKOrderTest, TilesMatchOneRowOnEveryTarget) {
  struct Tile {
    const KFormat& format;
    void (*tile)(const void*, uint64_t, int, const void*, uint64_t, int, int64_t, float*, int64_t);
  };
  const Tile tiles[] = {{kFormats[2], simd::TileQ4_KQ8_K},
                        {kFormats[3], simd::TileQ5_KQ8_K},
                        {kFormats[4], simd::TileQ6_KQ8_K}};
  ASSERT_STREQ(tiles[0].format.name, "Q4_K");
  ASSERT_STREQ(tiles[1].format.name, "Q5_K");
  ASSERT_STREQ(tiles[2].format.name, "Q6_K");
  constexpr int kRows = 21;  // a whole tile of 16 and a part of 5
  constexpr int kTokens = 5;
  constexpr int64_t kYStride = kRows + 3;
  std::mt19937 rng(9);
  for (const Tile& tile : tiles) {
    const KFormat& f = tile.format;
    for (int64_t n : {int64_t{256}, int64_t{4096}}) {
      const auto nb = static_cast<size_t>(n / kQK_K);
      const size_t row_bytes = nb * f.block_bytes;
      // Random bytes, quantized rows, and row 4 with every quant and scale bit set.
      std::vector<uint8_t> w;
      for (int r = 0; r < kRows; ++r) {
        std::vector<uint8_t> row =
            r % 2 == 0 ? RandomBlocks(f, n, rng) : Quantize(f, RandomRow(n, rng, 1.0f));
        if (r == 4) {
          row.assign(row_bytes, 0xFF);
          SetF16(row, f.block_bytes, f.d_offset, 0.5f);
          if (f.dmin_offset != kNoMin) SetF16(row, f.block_bytes, f.dmin_offset, 0.25f);
        }
        w.insert(w.end(), row.begin(), row.end());
      }
      // The fourth token all -128.
      std::vector<Q8_KBlock> acts = RandomActivations(kTokens * n, rng);
      for (size_t b = 3 * nb; b < 4 * nb; ++b) {
        std::memset(acts[b].qs, 0x80, sizeof(acts[b].qs));
        for (int16_t& s : acts[b].bsums) s = -16 * 128;
      }
      const uint64_t a_stride = nb * sizeof(Q8_KBlock);
      for (const SimdTarget& target : RunnableSimdTargets()) {
        ASSERT_TRUE(ForceSimdTarget(target.name).ok());
        for (int rows : {1, 5, 16, kRows}) {
          for (int tokens = 1; tokens <= kTokens; ++tokens) {
            std::vector<float> y(static_cast<size_t>(kYStride * kTokens), -7.0f);
            tile.tile(w.data(), row_bytes, rows, acts.data(), a_stride, tokens, n, y.data(),
                      kYStride);
            for (int t = 0; t < kTokens; ++t) {
              for (int r = 0; r < kYStride; ++r) {
                const float got = y[static_cast<size_t>(t * kYStride + r)];
                if (t >= tokens || r >= rows) {
                  EXPECT_EQ(got, -7.0f)
                      << f.name << " " << target.name << " wrote token " << t << " row " << r;
                  continue;
                }
                const float want = f.simd_dot(w.data() + r * row_bytes, &acts[t * nb], n);
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

}  // namespace
}  // namespace wick::kernels
