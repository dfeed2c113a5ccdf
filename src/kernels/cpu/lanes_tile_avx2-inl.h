// A prompt's matmul for the 32-element block formats in the lane order (Q8_0, Q5_0, Q4_1,
// Q5_1, and Q4_0 where llama.cpp does not repack it) on AVX2, as transposed tiles of 16 rows
// (two vectors of 8: lane r of a vector is row r), each result bit-identical to the one-row
// dot's (ref_dot_x86-inl.h).
//
// The reference sums a block's 32 products in eight lanes of four elements, each lane scaled
// into its own accumulator. Row by row, every block of every row-token pair costs a scalar
// d_w * d_a product and its broadcast besides the multiplies. In the tile, lane i of the
// reference is a vector of its own across 8 rows: a token's four activations, broadcast, meet
// four quants of all 8 rows at once, and a block's 8 scale products are one vector product per
// token. Signed quants take the sign trick as the reference does (|q| against a with q's
// sign), the same exact pair sums. Two tokens' accumulators for four lanes fill the registers,
// so the tile is kept as four streams (rows 0-7 or 8-15, lanes 0-3 or 4-7), each one pass over
// the blocks. Include it after <hwy/highway.h> in lanes_tile.cpp.
#if defined(WICK_KERNELS_CPU_LANES_TILE_AVX2_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_LANES_TILE_AVX2_INL_H_
#undef WICK_KERNELS_CPU_LANES_TILE_AVX2_INL_H_
#else
#define WICK_KERNELS_CPU_LANES_TILE_AVX2_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/quant_blocks.h"
#include "kernels/cpu/ref_dot_x86-inl.h"  // per target: after highway.h
#include "kernels/cpu/tile_x86-inl.h"     // per target: after highway.h

#ifdef WICK_ROW_TILES8
HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace lanes_tile_avx2 {

constexpr int kRows = 16;
constexpr int kHalf = 8;
constexpr int kTokens = 2;
// Fewer tokens than this take the row kernels. One thread, Q8_0, 4096 x 2048, cycles a
// row-token-256 elements (row kernels, tile): 8 tokens 26.9, 29.1; 16 tokens 27.5, 25.5;
// 512 tokens 24.8, 21.2.
constexpr int kMinTokens = 16;

// One block of a stream (8 rows, lanes 4g..4g+3): magnitude[l][r] the unsigned operand of
// row r's quants 4(4g + l)..+3 (|q| for the signed formats, q for the unsigned ones), sign[l][r]
// the quants themselves (signed formats: their signs go to the activations).
struct alignas(64) LaneGroupBlock {
  int32_t magnitude[4][kHalf];
  int32_t sign[4][kHalf];
};

// A tile: streams[2 * half + g] of nb blocks each, and each half's row scales d and mins m
// (affine formats), nb blocks of 8.
struct LaneTile {
  std::vector<LaneGroupBlock> streams[4];
  std::vector<float> d[2];
  std::vector<float> m[2];

  void Reserve(int64_t nb) {
    const auto n = static_cast<size_t>(nb);
    if (streams[0].size() >= n) return;
    for (auto& s : streams) s.resize(n);
    for (int half = 0; half < 2; ++half) {
      d[half].resize(n * kHalf);
      m[half].resize(n * kHalf);
    }
  }
};

// A token's block scale (and, for the affine formats, its s) as floats.
struct TokenScales {
  float d;
  float s;
};

// Transposes `rows` (1 to 16) rows' nb blocks into tile; a missing row repeats the last one
// (its results are not stored).
template <class F>
void TransposeLanes(const uint8_t* w, uint64_t w_stride, int rows, int64_t nb, LaneTile& tile) {
  using WBlock = typename F::WBlock;
  const WBlock* row[kRows];
  for (int r = 0; r < kRows; ++r) {
    row[r] = reinterpret_cast<const WBlock*>(w + std::min(r, rows - 1) * w_stride);
  }
  const typename F::Unpack unpack;
  for (int64_t b = 0; b < nb; ++b) {
    for (int half = 0; half < 2; ++half) {
      __m256i q[kHalf];
      for (int i = 0; i < kHalf; ++i) q[i] = unpack(row[kHalf * half + i][b]);
      __m256i units[8];
      tile_x86::Transpose8x8(q, units);
      for (int j = 0; j < 8; ++j) {
        LaneGroupBlock& gb = tile.streams[2 * half + j / 4][b];
        const __m256i magnitude = F::kUnsigned ? units[j] : _mm256_sign_epi8(units[j], units[j]);
        _mm256_store_si256(reinterpret_cast<__m256i*>(gb.magnitude[j % 4]), magnitude);
        _mm256_store_si256(reinterpret_cast<__m256i*>(gb.sign[j % 4]), units[j]);
      }
      for (int i = 0; i < kHalf; ++i) {
        const WBlock& wb = row[kHalf * half + i][b];
        tile.d[half][b * kHalf + i] = ref_x86::F16Scale(wb.d);
        if constexpr (F::kMins) tile.m[half][b * kHalf + i] = ref_x86::F16Scale(wb.m);
      }
    }
  }
}

// Lanes 4g..4g+3 of half `half` of the tile's rows against two tokens (act[1] may repeat
// act[0]), into lanes[t][4g + l] (lane r: row 8 * half + r): the reference's lane sums,
// scaled and accumulated block by block with the same fused multiply-adds.
template <class F>
void LaneGroup(const LaneTile& tile, int half, int g, int64_t nb,
               const typename F::ABlock* const* act, const TokenScales* const* scales,
               __m256 (*lanes)[8]) {
  using ABlock = typename F::ABlock;
  const LaneGroupBlock* stream = tile.streams[2 * half + g].data();
  const float* d_rows = tile.d[half].data();
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;  // token 0, lanes 4g..4g+3
  __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;                   // token 1
  const ABlock* first = act[0];
  const ABlock* second = act[1];
  for (int64_t b = 0; b < nb; ++b) {
    const LaneGroupBlock& gb = stream[b];
    const __m256 d_w = _mm256_loadu_ps(d_rows + b * kHalf);
    const __m256 scale0 = _mm256_mul_ps(d_w, _mm256_broadcast_ss(&scales[0][b].d));
    const __m256 scale1 = _mm256_mul_ps(d_w, _mm256_broadcast_ss(&scales[1][b].d));
    const int8_t* qs0 = first[b].qs + 16 * g;
    const int8_t* qs1 = second[b].qs + 16 * g;
    const auto step = [&](int l, __m256& acc0, __m256& acc1) {
      const __m256i magnitude =
          _mm256_load_si256(reinterpret_cast<const __m256i*>(gb.magnitude[l]));
      const __m256i sign = _mm256_load_si256(reinterpret_cast<const __m256i*>(gb.sign[l]));
      int32_t four0, four1;
      std::memcpy(&four0, qs0 + 4 * l, sizeof(four0));
      std::memcpy(&four1, qs1 + 4 * l, sizeof(four1));
      __m256i act0 = _mm256_set1_epi32(four0);
      __m256i act1 = _mm256_set1_epi32(four1);
      if constexpr (!F::kUnsigned) {
        act0 = _mm256_sign_epi8(act0, sign);
        act1 = _mm256_sign_epi8(act1, sign);
      }
      const __m256i sums0 = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, act0), ones);
      const __m256i sums1 = _mm256_madd_epi16(_mm256_maddubs_epi16(magnitude, act1), ones);
      acc0 = _mm256_fmadd_ps(scale0, _mm256_cvtepi32_ps(sums0), acc0);
      acc1 = _mm256_fmadd_ps(scale1, _mm256_cvtepi32_ps(sums1), acc1);
    };
    step(0, a0, b0);
    step(1, a1, b1);
    step(2, a2, b2);
    step(3, a3, b3);
  }
  const __m256 first_lanes[4] = {a0, a1, a2, a3};
  const __m256 second_lanes[4] = {b0, b1, b2, b3};
  for (int l = 0; l < 4; ++l) {
    lanes[0][4 * g + l] = first_lanes[l];
    lanes[1][4 * g + l] = second_lanes[l];
  }
}

// Half `half` of the tile's rows against two tokens, into y[t * y_stride + r] for r < rows and
// t < count.
template <class F>
void LanesHalf(const LaneTile& tile, int half, int64_t nb, const typename F::ABlock* const* act,
               const TokenScales* const* scales, float* y, int64_t y_stride, int rows, int count) {
  __m256 lanes[kTokens][8];
  LaneGroup<F>(tile, half, 0, nb, act, scales, lanes);
  LaneGroup<F>(tile, half, 1, nb, act, scales, lanes);
  __m256 mins[kTokens] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  if constexpr (F::kMins) {
    // m_w * s_a block by block, one fused multiply-add each, as the reference adds them.
    for (int64_t b = 0; b < nb; ++b) {
      const __m256 m = _mm256_loadu_ps(tile.m[half].data() + b * kHalf);
      for (int t = 0; t < kTokens; ++t) {
        mins[t] = _mm256_fmadd_ps(m, _mm256_broadcast_ss(&scales[t][b].s), mins[t]);
      }
    }
  }
  for (int t = 0; t < count; ++t) {
    alignas(32) float out[kHalf];
    _mm256_store_ps(out, _mm256_add_ps(tile_x86::SumLanes8(lanes[t]), mins[t]));
    std::copy(out, out + rows, y + t * y_stride);
  }
}

// `rows` (any count) rows against `tokens` activation rows.
template <class F>
void LanesTile8(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                int tokens, int64_t k, float* y, int64_t y_stride) {
  using ABlock = typename F::ABlock;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const int64_t nb = k / static_cast<int64_t>(kQK8_0);
  // Grown once per thread to the longest row it meets.
  thread_local LaneTile tile;
  thread_local std::vector<TokenScales> token_scales;
  tile.Reserve(nb);
  if (token_scales.size() < static_cast<size_t>(kTokens * nb)) {
    token_scales.resize(static_cast<size_t>(kTokens * nb));
  }
  for (int r0 = 0; r0 < rows; r0 += kRows) {
    const int rows_here = std::min(kRows, rows - r0);
    TransposeLanes<F>(wb + r0 * w_stride, w_stride, rows_here, nb, tile);
    for (int t = 0; t < tokens; t += kTokens) {
      const int count = std::min(kTokens, tokens - t);
      const ABlock* act[kTokens];
      const TokenScales* scales[kTokens];
      for (int i = 0; i < kTokens; ++i) {
        act[i] = reinterpret_cast<const ABlock*>(ab + (t + std::min(i, count - 1)) * a_stride);
        TokenScales* s = token_scales.data() + i * nb;
        for (int64_t b = 0; b < nb; ++b) {
          s[b].d = ref_x86::F16Scale(act[i][b].d);
          if constexpr (F::kMins) s[b].s = ref_x86::F16Scale(act[i][b].s);
        }
        scales[i] = s;
      }
      for (int half = 0; half * kHalf < rows_here; ++half) {
        LanesHalf<F>(tile, half, nb, act, scales, y + t * y_stride + r0 + kHalf * half, y_stride,
                     std::min(kHalf, rows_here - kHalf * half), count);
      }
    }
  }
}

}  // namespace lanes_tile_avx2
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
#endif  // WICK_ROW_TILES8
#endif  // WICK_KERNELS_CPU_LANES_TILE_AVX2_INL_H_ toggle
