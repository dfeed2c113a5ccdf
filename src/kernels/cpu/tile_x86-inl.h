// Helpers of the transposed row tiles (lanes_tile.cpp, k_tile.cpp): a prompt's matmul with up
// to 16 weight rows transposed so that lane r of every 512-bit vector holds row r, for
// Highway's AVX3_DL target (AVX-512 VNNI), or as two 256-bit vectors of 8 for its AVX2 target
// (k_tile_avx2-inl.h, lanes_tile_avx2-inl.h). Include it after <hwy/highway.h> in a file that
// Highway's foreach_target.h re-includes; WICK_ROW_TILES says whether this target has the 16-row
// tiles, WICK_ROW_TILES8 the 8-row ones.
#if defined(WICK_KERNELS_CPU_TILE_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_TILE_X86_INL_H_
#undef WICK_KERNELS_CPU_TILE_X86_INL_H_
#else
#define WICK_KERNELS_CPU_TILE_X86_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>

#include "kernels/cpu/vnni_evex-inl.h"  // per target: after highway.h

#undef WICK_ROW_TILES
#undef WICK_ROW_TILES8
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#include <immintrin.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace tile_x86 {

// out[j] lane r = 32-bit unit j of q[r], for eight rows.
HWY_INLINE void Transpose8x8(const __m256i* q, __m256i* out) {
  __m256i pairs[8];  // units of rows 2i and 2i + 1 interleaved, per 128-bit half
  for (int i = 0; i < 4; ++i) {
    pairs[2 * i] = _mm256_unpacklo_epi32(q[2 * i], q[2 * i + 1]);
    pairs[2 * i + 1] = _mm256_unpackhi_epi32(q[2 * i], q[2 * i + 1]);
  }
  // quads[4 * h + j]: units j (low half) and j + 4 (high half) of rows 4h..4h+3.
  __m256i quads[8];
  for (int h = 0; h < 2; ++h) {
    const __m256i* p = pairs + 4 * h;
    quads[4 * h + 0] = _mm256_unpacklo_epi64(p[0], p[2]);
    quads[4 * h + 1] = _mm256_unpackhi_epi64(p[0], p[2]);
    quads[4 * h + 2] = _mm256_unpacklo_epi64(p[1], p[3]);
    quads[4 * h + 3] = _mm256_unpackhi_epi64(p[1], p[3]);
  }
  for (int j = 0; j < 4; ++j) {
    out[j] = _mm256_permute2x128_si256(quads[j], quads[4 + j], 0x20);
    out[j + 4] = _mm256_permute2x128_si256(quads[j], quads[4 + j], 0x31);
  }
}

// Lane r of the result: the eight vectors' lanes r added as hsum_float_8 adds a row's eight
// reference lanes (lane j + 4 onto lane j, then (0 + 2) + (1 + 3)); V is __m256 (8 rows) or
// __m512 (16), whose + is the vector add.
template <class V>
HWY_INLINE V SumLanes8(const V* lanes) {
  V half[4];
  for (int j = 0; j < 4; ++j) half[j] = lanes[j + 4] + lanes[j];
  return (half[0] + half[2]) + (half[1] + half[3]);
}

}  // namespace tile_x86
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
#endif  // AVX2 and up

#if HWY_ARCH_X86 && HWY_TARGET == HWY_AVX2
#define WICK_ROW_TILES8 1
#endif

#ifdef WICK_VNNI_EVEX
#define WICK_ROW_TILES 1

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace tile_x86 {

constexpr int kTileRows = 16;
// Fewer tokens than this take the row kernels, which need no transposition. One thread, Q8_0,
// 2048 x 2048, cycles a token-block (row kernels, tile): 2 tokens 22.0, 25.2; 4 tokens 18.2,
// 17.7; 8 tokens 17.0, 12.9; 16 tokens 16.9, 11.1.
constexpr int kTileMinTokens = 4;

// p's int32 in all sixteen lanes, loaded as such: from a value stored just before, the compiler
// would otherwise extract and broadcast it in registers, two shuffles a multiply-add.
HWY_INLINE __m512i BroadcastInt32(const int32_t* p) {
  __m512i v;
  asm("vpbroadcastd %[p], %[v]" : [v] "=v"(v) : [p] "m"(*p));
  return v;
}

// The exact int32 lanes as floats. (_mm512_cvtepi32_ps draws a false -Wmaybe-uninitialized
// from GCC 12 in its headers; the all-lanes mask compiles to the same instruction.)
HWY_INLINE __m512 ToFloats(__m512i v) {
  return _mm512_maskz_cvtepi32_ps(static_cast<__mmask16>(0xffff), v);
}

}  // namespace tile_x86
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // WICK_VNNI_EVEX
#endif  // WICK_KERNELS_CPU_TILE_X86_INL_H_ toggle
