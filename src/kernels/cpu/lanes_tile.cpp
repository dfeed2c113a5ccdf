// A prompt's matmul for the 32-element block formats in the lane order (Q8_0, Q5_0, Q4_1, Q5_1,
// and Q4_0 where llama.cpp does not repack it), on AVX-512 VNNI: up to 16 weight rows against
// all the step's tokens, each result bit-identical to the one-row dot's (ref_dot_x86-inl.h).
//
// The reference sums a block's 32 products in eight lanes of four consecutive elements, each
// lane scaled into its own accumulator. Row by row (DotLanesRowsActs), every block of every
// row-token pair then costs a scalar d_w * d_a product and its broadcast besides the multiply-
// adds, and the scalar products share the multiply-add ports. Here the tile's blocks are first
// transposed so that lane r of a vector holds row r: one vector's multiply-adds serve 16 rows, a
// block's 16 scale products are one vector product per token, and a token's four activations
// come as the instruction's broadcast operand. The transposed tile (640 bytes a block) stays in
// L2 while every token passes over it.
// Highway compiles this file once per SIMD target: AVX3_DL has these tiles, AVX2 the 8-lane
// ones of lanes_tile_avx2-inl.h, WebAssembly its own (legacy_wasm-inl.h), the others none (see
// LanesTileMinTokens).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/lanes_tile.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/quant_blocks.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/lanes_tile_avx2-inl.h"  // per target: after highway.h
#include "kernels/cpu/legacy_wasm-inl.h"      // per target: after highway.h
#include "kernels/cpu/ref_dot_x86-inl.h"      // per target: after highway.h
#include "kernels/cpu/tile_x86-inl.h"         // per target: after highway.h
#include "kernels/cpu/vnni_evex-inl.h"        // per target: after highway.h

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace {

// A lane format: its blocks, whether its quants are unsigned, whether it has min terms, and its
// one-row dot (the reference each result matches).
template <class W, class A, bool kUnsignedQuants, bool kMinTerms, class U,
          float (*kOneRow)(const void*, const void*, int64_t), bool kWhole = false>
struct TileFormat {
  using WBlock = W;
  using ABlock = A;
  using Unpack = U;
  static constexpr bool kUnsigned = kUnsignedQuants;
  static constexpr bool kMins = kMinTerms;
  static constexpr auto kOne = kOneRow;
  // Q4_0 rows that llama.cpp repacks: each block's whole integer sum scaled at once, not the
  // eight lanes (ref_dot_x86-inl.h).
  static constexpr bool kWholeBlock = kWhole;
};

#if defined(WICK_VNNI_EVEX) || defined(WICK_ROW_TILES8)
using ref_x86::F16Scale;
using ref_x86::UnpackQ4_0;
using ref_x86::UnpackQ4_1;
using ref_x86::UnpackQ5_0;
using ref_x86::UnpackQ5_1;
using ref_x86::UnpackQ8_0;
#endif
#ifdef WICK_VNNI_EVEX
using tile_x86::BroadcastInt32;
using tile_x86::kTileMinTokens;
using tile_x86::kTileRows;
using tile_x86::ToFloats;
using tile_x86::Transpose8x8;
#elif !defined(WICK_ROW_TILES8)
struct UnpackQ4_0 {};
struct UnpackQ4_1 {};
struct UnpackQ5_0 {};
struct UnpackQ5_1 {};
struct UnpackQ8_0 {};
#endif

using Q4_0Tile = TileFormat<Q4_0Block, Q8_0Block, false, false, UnpackQ4_0, simd::DotQ4_0Q8_0Lanes>;
using Q4_1Tile = TileFormat<Q4_1Block, Q8_1Block, true, true, UnpackQ4_1, simd::DotQ4_1Q8_1>;
using Q5_0Tile = TileFormat<Q5_0Block, Q8_0Block, false, false, UnpackQ5_0, simd::DotQ5_0Q8_0>;
using Q5_1Tile = TileFormat<Q5_1Block, Q8_1Block, true, true, UnpackQ5_1, simd::DotQ5_1Q8_1>;
using Q8_0Tile = TileFormat<Q8_0Block, Q8_0Block, false, false, UnpackQ8_0, simd::DotQ8_0Q8_0>;
using Q4_0WholeTile =
    TileFormat<Q4_0Block, Q8_0Block, false, false, UnpackQ4_0, simd::DotQ4_0Q8_0, true>;

#ifdef WICK_VNNI_EVEX

// One block of the tile's 16 rows: unit[j][r] holds row r's quants 4j..4j+3 (moved to unsigned,
// q + 128, for the signed lane formats; as they are for whole-block Q4_0), d[r] its scale, and
// m[r] its min (affine formats) or offset[r] -128 * the sum of its quants (whole-block Q4_0).
struct alignas(64) TileBlock {
  int32_t unit[8][kTileRows];
  float d[kTileRows];
  union {
    float m[kTileRows];
    int32_t offset[kTileRows];
  };
};

// Transposes `rows` (1 to 16) rows' nb blocks into tile; a missing row repeats the last one
// (its results are not stored).
template <class F>
void Transpose(const uint8_t* w, uint64_t w_stride, int rows, int64_t nb, TileBlock* tile) {
  using WBlock = typename F::WBlock;
  const WBlock* row[kTileRows];
  for (int r = 0; r < kTileRows; ++r) {
    row[r] = reinterpret_cast<const WBlock*>(w + std::min(r, rows - 1) * w_stride);
  }
  const typename F::Unpack unpack;
  const __m256i top = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t b = 0; b < nb; ++b) {
    TileBlock& tb = tile[b];
    for (int h = 0; h < 2; ++h) {
      __m256i q[8];
      for (int i = 0; i < 8; ++i) {
        q[i] = unpack(row[8 * h + i][b]);
        if constexpr (!F::kUnsigned && !F::kWholeBlock) q[i] = _mm256_xor_si256(q[i], top);
      }
      __m256i units[8];
      Transpose8x8(q, units);
      __m256i sums = _mm256_setzero_si256();
      for (int j = 0; j < 8; ++j) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(&tb.unit[j][8 * h]), units[j]);
        if constexpr (F::kWholeBlock) sums = vnni::DotBytes(sums, top, units[j]);
      }
      if constexpr (F::kWholeBlock) {
        _mm256_store_si256(reinterpret_cast<__m256i*>(&tb.offset[8 * h]),
                           _mm256_sub_epi32(_mm256_setzero_si256(), sums));
      }
    }
    for (int r = 0; r < kTileRows; ++r) {
      tb.d[r] = F16Scale(row[r][b].d);
      if constexpr (F::kMins) tb.m[r] = F16Scale(row[r][b].m);
    }
  }
}

// The tile's rows against kTokens activation rows `a_stride` bytes apart, into
// y[t * y_stride + r] for r < rows. Lane r of acc[t][j] is the reference's lane j of the pair
// (row r, token t): the same fused multiply-adds of the same exact lane sums, block by block.
template <class F, int kTokens>
HWY_INLINE void TileTokens(const TileBlock* tile, int64_t nb, const uint8_t* a, uint64_t a_stride,
                           float* y, int64_t y_stride, int rows) {
  using ABlock = typename F::ABlock;
  const ABlock* act[kTokens];
  for (int t = 0; t < kTokens; ++t) act[t] = reinterpret_cast<const ABlock*>(a + t * a_stride);
  __m512 acc[kTokens][8];
  __m512 mins[kTokens];
  for (int t = 0; t < kTokens; ++t) {
    for (__m512& v : acc[t]) v = _mm512_setzero_ps();
    mins[t] = _mm512_setzero_ps();
  }
  const __m256i top = _mm256_set1_epi8(static_cast<char>(0x80));
  // Signed quants went in as q + 128: each lane sum starts from -128 * (its four activations'
  // sum), the same for every row, so computed once per token (in lane j) and broadcast. They
  // are computed a block ahead: computed in the block they serve, every multiply-add of the
  // block waited on them and the loop ran at two thirds of the rate.
  alignas(32) int32_t start[2][kTokens][8];
  const auto starts_of = [&](int64_t b) {
    if constexpr (!F::kUnsigned) {
      for (int t = 0; t < kTokens; ++t) {
        const __m256i sums =
            vnni::DotBytes(_mm256_setzero_si256(), top, ref_x86::LoadBlock(act[t][b].qs));
        _mm256_store_si256(reinterpret_cast<__m256i*>(start[b & 1][t]),
                           _mm256_sub_epi32(_mm256_setzero_si256(), sums));
      }
    }
  };
  starts_of(0);
  for (int64_t b = 0; b < nb; ++b) {
    if (b + 1 < nb) starts_of(b + 1);
    const TileBlock& tb = tile[b];
    const __m512 d_w = _mm512_load_ps(tb.d);
    __m512 scale[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      const ABlock& ab = act[t][b];
      scale[t] = _mm512_mul_ps(d_w, _mm512_set1_ps(F16Scale(ab.d)));
      if constexpr (F::kMins) {
        mins[t] = _mm512_fmadd_ps(_mm512_load_ps(tb.m), _mm512_set1_ps(F16Scale(ab.s)), mins[t]);
      }
    }
    for (int j = 0; j < 8; ++j) {
      const __m512i unit = _mm512_load_si512(tb.unit[j]);
      for (int t = 0; t < kTokens; ++t) {
        const __m512i init =
            F::kUnsigned ? _mm512_setzero_si512() : BroadcastInt32(&start[b & 1][t][j]);
        const __m512i total = vnni::DotBytesBroadcast(init, unit, act[t][b].qs + 4 * j);
        acc[t][j] = _mm512_fmadd_ps(scale[t], ToFloats(total), acc[t][j]);
      }
    }
  }
  const __mmask16 stored = static_cast<__mmask16>((1u << rows) - 1);
  for (int t = 0; t < kTokens; ++t) {
    __m512 sum = tile_x86::SumLanes8(acc[t]);
    if constexpr (F::kMins) sum = _mm512_add_ps(sum, mins[t]);
    _mm512_mask_storeu_ps(y + t * y_stride, stored, sum);
  }
}
// Whole-block Q4_0: the tile's rows against kTokens activation rows, into y[t * y_stride + r]
// for r < rows. Lane r of acc[t] is the pair's running sum, as DotQ4Q8X8Acts keeps it. The
// quants (q - 8) stay signed and the activations move to unsigned bytes (a + 128), a block
// ahead, so that every instruction takes the four activations as a broadcast register and the
// tile's unit as its memory operand; each sum starts from the tile's -128 * sum(q - 8) and
// runs as two chains (even and odd groups), which keeps enough multiply-adds in flight.
template <class F, int kTokens>
HWY_INLINE void TileTokensWhole(const TileBlock* tile, int64_t nb, const uint8_t* a,
                                uint64_t a_stride, float* y, int64_t y_stride, int rows) {
  const Q8_0Block* act[kTokens];
  for (int t = 0; t < kTokens; ++t) act[t] = reinterpret_cast<const Q8_0Block*>(a + t * a_stride);
  __m512 acc[kTokens];
  for (__m512& v : acc) v = _mm512_setzero_ps();
  const __m256i top = _mm256_set1_epi8(static_cast<char>(0x80));
  alignas(32) int32_t moved[2][kTokens][8];
  const auto move = [&](int64_t b) {
    for (int t = 0; t < kTokens; ++t) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(moved[b & 1][t]),
                         _mm256_xor_si256(ref_x86::LoadBlock(act[t][b].qs), top));
    }
  };
  move(0);
  for (int64_t b = 0; b < nb; ++b) {
    if (b + 1 < nb) move(b + 1);
    const TileBlock& tb = tile[b];
    const __m512i offset = _mm512_load_si512(tb.offset);
    __m512i even[kTokens], odd[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      even[t] = offset;
      odd[t] = _mm512_setzero_si512();
    }
    for (int g = 0; g < 8; g += 2) {
      const __m512i unit_even = _mm512_load_si512(tb.unit[g]);
      const __m512i unit_odd = _mm512_load_si512(tb.unit[g + 1]);
      for (int t = 0; t < kTokens; ++t) {
        even[t] = vnni::DotBytes(even[t], BroadcastInt32(&moved[b & 1][t][g]), unit_even);
        odd[t] = vnni::DotBytes(odd[t], BroadcastInt32(&moved[b & 1][t][g + 1]), unit_odd);
      }
    }
    const __m512 d_w = _mm512_load_ps(tb.d);
    for (int t = 0; t < kTokens; ++t) {
      const __m512 scale = _mm512_mul_ps(d_w, _mm512_set1_ps(F16Scale(act[t][b].d)));
      acc[t] = _mm512_fmadd_ps(ToFloats(_mm512_add_epi32(even[t], odd[t])), scale, acc[t]);
    }
  }
  const __mmask16 stored = static_cast<__mmask16>((1u << rows) - 1);
  for (int t = 0; t < kTokens; ++t) _mm512_mask_storeu_ps(y + t * y_stride, stored, acc[t]);
}
#endif  // WICK_VNNI_EVEX

template <class F>
void LanesTile(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
               int tokens, int64_t k, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
#ifdef WICK_VNNI_EVEX
  const int64_t nb = k / static_cast<int64_t>(kQK8_0);
  // Grown once per thread to the longest row it meets.
  thread_local std::vector<TileBlock> tile;
  if (tile.size() < static_cast<size_t>(nb)) tile.resize(static_cast<size_t>(nb));
  for (int r0 = 0; r0 < rows; r0 += kTileRows) {
    const int count = std::min(kTileRows, rows - r0);
    Transpose<F>(wb + r0 * w_stride, w_stride, count, nb, tile.data());
    int t = 0;
    if constexpr (F::kWholeBlock) {
      for (; t + 4 <= tokens; t += 4) {
        TileTokensWhole<F, 4>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                              y_stride, count);
      }
      for (; t < tokens; ++t) {
        TileTokensWhole<F, 1>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                              y_stride, count);
      }
      continue;
    }
    // Three tokens' 24 accumulators fit beside the rest; the formats with mins keep two.
    if constexpr (!F::kMins) {
      for (; t + 3 <= tokens; t += 3) {
        TileTokens<F, 3>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                         y_stride, count);
      }
    }
    for (; t + 2 <= tokens; t += 2) {
      TileTokens<F, 2>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                       y_stride, count);
    }
    if (t < tokens) {
      TileTokens<F, 1>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                       y_stride, count);
    }
  }
#else
#ifdef WICK_ROW_TILES8
  if constexpr (!F::kWholeBlock) {
    lanes_tile_avx2::LanesTile8<F>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
    return;
  }
#endif
#ifdef WICK_LEGACY_WASM
  legacy_wasm::Tile<legacy_wasm::FormatOf<typename F::WBlock> >(w, w_stride, rows, a, a_stride,
                                                                tokens, k, y, y_stride);
  return;
#endif
  // Not called where the tile's min tokens are 0; correct anyway, one dot at a time.
  for (int t = 0; t < tokens; ++t) {
    for (int r = 0; r < rows; ++r) {
      y[t * y_stride + r] = F::kOne(wb + r * w_stride, ab + t * a_stride, k);
    }
  }
#endif
}

}  // namespace

int LanesTileMinTokensImpl() {
#if defined(WICK_VNNI_EVEX)
  return kTileMinTokens;
#elif defined(WICK_ROW_TILES8)
  return lanes_tile_avx2::kMinTokens;
#elif defined(WICK_LEGACY_WASM)
  return legacy_wasm::kTileMinTokens;
#else
  return 0;
#endif
}
int TileQ4_0MinTokensImpl() {
#if defined(WICK_VNNI_EVEX)
  return kTileMinTokens;
#elif defined(WICK_LEGACY_WASM)
  return legacy_wasm::kTileMinTokens;
#else
  return 0;
#endif
}

void LanesTileQ4_0Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                       int tokens, int64_t k, float* y, int64_t y_stride) {
  LanesTile<Q4_0Tile>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void LanesTileQ4_1Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                       int tokens, int64_t k, float* y, int64_t y_stride) {
  LanesTile<Q4_1Tile>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void LanesTileQ5_0Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                       int tokens, int64_t k, float* y, int64_t y_stride) {
  LanesTile<Q5_0Tile>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void LanesTileQ5_1Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                       int tokens, int64_t k, float* y, int64_t y_stride) {
  LanesTile<Q5_1Tile>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void TileQ4_0Q8_0Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                      int tokens, int64_t k, float* y, int64_t y_stride) {
  LanesTile<Q4_0WholeTile>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void LanesTileQ8_0Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                       int tokens, int64_t k, float* y, int64_t y_stride) {
  LanesTile<Q8_0Tile>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels::simd {

HWY_EXPORT(LanesTileMinTokensImpl);
HWY_EXPORT(TileQ4_0MinTokensImpl);
HWY_EXPORT(LanesTileQ4_0Impl);
HWY_EXPORT(LanesTileQ4_1Impl);
HWY_EXPORT(LanesTileQ5_0Impl);
HWY_EXPORT(LanesTileQ5_1Impl);
HWY_EXPORT(LanesTileQ8_0Impl);
HWY_EXPORT(TileQ4_0Q8_0Impl);

int LanesTileMinTokens() {
  return HWY_DYNAMIC_DISPATCH(LanesTileMinTokensImpl)();
}
int TileQ4_0MinTokens() {
  return HWY_DYNAMIC_DISPATCH(TileQ4_0MinTokensImpl)();
}
void LanesTileQ4_0(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(LanesTileQ4_0Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void LanesTileQ4_1(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(LanesTileQ4_1Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void LanesTileQ5_0(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(LanesTileQ5_0Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void LanesTileQ5_1(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(LanesTileQ5_1Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void LanesTileQ8_0(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(LanesTileQ8_0Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}

void TileQ4_0Q8_0(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(TileQ4_0Q8_0Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}

}  // namespace wick::kernels::simd
#endif  // HWY_ONCE
