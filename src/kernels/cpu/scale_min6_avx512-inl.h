// Q4_K and Q5_K dot products for Highway's AVX-512 targets (AVX3, AVX3_DL), bit-identical to
// dot_k.cpp's DotRows on x86 from AVX2 up (the reference's lanes and order, ref_order.h).
// Include it after <hwy/highway.h> in a file that Highway's foreach_target.h re-includes;
// WICK_SCALE_MIN6_AVX512 says whether this target has them.
//
// Why a kernel of its own: the generic one runs 32-byte vectors, one 32-element sub-block
// each, and spends more instructions on unpacking a block's scales and on its per-block float
// steps than on the products (a prompt's Q4_K matmuls ran about 250 instructions a block for
// four tokens, 64 of them multiplies). Here a 64-byte vector holds 64 consecutive elements: a
// 32-byte run of packed quants, broadcast to both halves, gives its low nibbles in the low
// half and its high nibbles in the high half, which are exactly the two sub-blocks those 64
// activations meet, so no cross-lane shuffle is needed; the scales come from one in-register
// byte shuffle a vector. The two halves of a block's int32 sums are added at its end, which
// gives each lane the same exact integer as the 32-byte kernel's, so the float steps, and the
// results, are the same bits.
#if defined(WICK_KERNELS_CPU_SCALE_MIN6_AVX512_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_SCALE_MIN6_AVX512_INL_H_
#undef WICK_KERNELS_CPU_SCALE_MIN6_AVX512_INL_H_
#else
#define WICK_KERNELS_CPU_SCALE_MIN6_AVX512_INL_H_
#endif

#include <hwy/highway.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/quant_blocks.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/k_scales.h"
#include "kernels/cpu/ref_order.h"
#include "kernels/cpu/vnni_evex-inl.h"  // per target: after highway.h

#undef WICK_SCALE_MIN6_AVX512
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
#define WICK_SCALE_MIN6_AVX512 1
#include <immintrin.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace scale_min6_avx512 {

// acc + the sums of pairs of products of the int16 lanes of a and b, per int32 lane:
// AVX-512 VNNI's vpdpwssd where the target has it.
HWY_INLINE __m512i DotPairs(__m512i acc, __m512i a, __m512i b) {
#ifdef WICK_VNNI_EVEX
  return vnni::DotPairs(acc, a, b);
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b));
#endif
}

// Sixteen int16 lanes of `lo` in the low half and sixteen of `hi` in the high half.
HWY_INLINE __m512i Halves16(int16_t lo, int16_t hi) {
  return _mm512_inserti64x4(_mm512_set1_epi16(lo), _mm256_set1_epi16(hi), 1);
}

// The byte shuffle that spreads scale 2h over the low half and scale 2h + 1 over the high
// half, from the eight int16 scales repeated in every 128-bit lane.
HWY_INLINE __m512i ScaleShuffle(int h) {
  const auto pick = [](int j) { return static_cast<int16_t>((2 * j) | ((2 * j + 1) << 8)); };
  return Halves16(pick(2 * h), pick(2 * h + 1));
}

// The 64 quants of elements 64h..64h+63 of a block as unsigned bytes: the low nibbles of the
// h-th 32-byte run in the low half, its high nibbles in the high half, and for Q5_K the fifth
// bit (bit e / 32 of qh[e % 32]) moved to bit 4 of each.
template <class Block>
HWY_INLINE __m512i Quants(const Block& w, int h, __m512i qh) {
  const __m512i q =
      _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs + 32 * h)));
  // The high half shifted down a nibble; the 16-bit shift's carries are masked off.
  const __m512i nibbles =
      _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4), _mm512_set1_epi8(0x0f));
  if constexpr (std::is_same_v<Block, Q5_KBlock>) {
    // Bits 2h (low half) and 2h + 1 (high half) of the qh bytes to bit 4. A 16-bit shift by
    // at most 4 brings no bit from the other byte to bit 4, so masking bit 4 is exact.
    const __m512i moved = h < 2 ? _mm512_sllv_epi16(qh, Halves16(4 - 2 * h, 3 - 2 * h))
                                : _mm512_srlv_epi16(qh, Halves16(2 * h - 4, 2 * h - 3));
    // nibbles | (moved & 0x10)
    return _mm512_ternarylogic_epi32(nibbles, moved, _mm512_set1_epi8(0x10), 0xF8);
  } else {
    (void)qh;
    return nibbles;
  }
}

// One weight row of Q4_K or Q5_K blocks against kActs Q8_K activation rows, into
// out[0..kActs): each result the same bits as dot_k.cpp's DotRows (Q4_K's mins in the
// reference's four float lanes, Q5_K's in a scalar).
template <class Block, int kActs>
void DotRowTokens(const Block* w, const Q8_KBlock* const* a, int64_t nb, float* out) {
  constexpr bool kFourLaneMins = std::is_same_v<Block, Q4_KBlock>;
  __m256 sum[kActs];
  __m128 mins4[kActs];
  float mins[kActs];
  for (int t = 0; t < kActs; ++t) {
    sum[t] = _mm256_setzero_ps();
    mins4[t] = _mm_setzero_ps();
    mins[t] = 0.0f;
  }
  for (int64_t b = 0; b < nb; ++b) {
    const Block& wb = w[b];
    const Bytes16 scale_min = UnpackScaleMin6(wb.scales);
    const __m512i scale_table = _mm512_broadcast_i32x4(
        _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scale_min.lo))));
    const __m128i min16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scale_min.hi)));
    __m512i qh = _mm512_setzero_si512();
    if constexpr (std::is_same_v<Block, Q5_KBlock>) {
      qh = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb.qh)));
    }
    __m512i acc[kActs];
    for (int h = 0; h < 4; ++h) {
      const __m512i x = Quants(wb, h, qh);
      const __m512i scale = _mm512_shuffle_epi8(scale_table, ScaleShuffle(h));
      for (int t = 0; t < kActs; ++t) {
        const __m512i act = _mm512_loadu_si512(a[t][b].qs + 64 * h);
        const __m512i pairs = _mm512_maddubs_epi16(x, act);
        acc[t] = h == 0 ? _mm512_madd_epi16(pairs, scale) : DotPairs(acc[t], pairs, scale);
      }
    }
    const float d_w = F16ToF32ByTable(wb.d);
    const float dmin_w = F16ToF32ByTable(wb.dmin);
    const __m256 d_wv = _mm256_set1_ps(d_w);
    const __m128 neg_dmin_wv = _mm_set1_ps(-dmin_w);
    for (int t = 0; t < kActs; ++t) {
      const Q8_KBlock& ab = a[t][b];
      const __m256i lanes =
          _mm256_add_epi32(_mm512_castsi512_si256(acc[t]), _mm512_extracti64x4_epi64(acc[t], 1));
      const __m256 d_a = _mm256_broadcast_ss(&ab.d);
      sum[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_mul_ps(d_a, d_wv), sum[t]);
      // Each min covers two of the activations' 16-element sums: lane l holds mins 2l and
      // 2l + 1 times their sub-blocks' sums.
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.bsums));
      const __m128i min_lanes = _mm_madd_epi16(
          min16, _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1)));
      if constexpr (kFourLaneMins) {
        // -(a.d * dmin) rounds as (-a.d) * dmin does.
        mins4[t] = _mm_fmadd_ps(_mm_mul_ps(_mm256_castps256_ps128(d_a), neg_dmin_wv),
                                _mm_cvtepi32_ps(min_lanes), mins4[t]);
      } else {
        // The four lanes' exact integer total.
        __m128i total = _mm_add_epi32(min_lanes, _mm_unpackhi_epi64(min_lanes, min_lanes));
        total = _mm_add_epi32(total, _mm_shuffle_epi32(total, 1));
        mins[t] = std::fma(-ab.d * dmin_w, static_cast<float>(_mm_cvtsi128_si32(total)), mins[t]);
      }
    }
  }
  for (int t = 0; t < kActs; ++t) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sum[t]);
    const float total = SumTree8(lanes);
    if constexpr (kFourLaneMins) {
      alignas(16) float m[4];
      _mm_store_ps(m, mins4[t]);
      out[t] = total + ((m[0] + m[2]) + (m[1] + m[3]));
    } else {
      out[t] = total + mins[t];
    }
  }
}

// `count` (1 to 4) activation rows `a_stride` bytes apart, as dot_k.cpp's DotTokens.
template <class Block>
void DotTokens(const void* w, const void* a, uint64_t a_stride, int count, int64_t n, float* out) {
  const auto* wb = static_cast<const Block*>(w);
  const Q8_KBlock* acts[4];
  for (int t = 0; t < count; ++t) {
    acts[t] = reinterpret_cast<const Q8_KBlock*>(static_cast<const uint8_t*>(a) + t * a_stride);
  }
  const int64_t nb = n / kQK_K;
  switch (count) {
    case 1:
      DotRowTokens<Block, 1>(wb, acts, nb, out);
      break;
    case 2:
      DotRowTokens<Block, 2>(wb, acts, nb, out);
      break;
    case 3:
      DotRowTokens<Block, 3>(wb, acts, nb, out);
      break;
    default:
      DotRowTokens<Block, 4>(wb, acts, nb, out);
      break;
  }
}

template <class Block>
float Dot(const void* w, const void* a, int64_t n) {
  const Q8_KBlock* act = static_cast<const Q8_KBlock*>(a);
  float out;
  DotRowTokens<Block, 1>(static_cast<const Block*>(w), &act, n / kQK_K, &out);
  return out;
}

}  // namespace scale_min6_avx512
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
#endif  // WICK_KERNELS_CPU_SCALE_MIN6_AVX512_INL_H_
