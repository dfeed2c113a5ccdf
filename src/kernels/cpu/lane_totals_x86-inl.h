// Horizontal sums of several vectors at once, for Highway's x86 targets from AVX2 up: the
// per-token integer totals that the dot-product kernels would otherwise reduce one token at a
// time. Include it after <hwy/highway.h> in a file that Highway's foreach_target.h re-includes;
// WICK_LANE_TOTALS_X86 says whether this target has them.
#if defined(WICK_KERNELS_CPU_LANE_TOTALS_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_LANE_TOTALS_X86_INL_H_
#undef WICK_KERNELS_CPU_LANE_TOTALS_X86_INL_H_
#else
#define WICK_KERNELS_CPU_LANE_TOTALS_X86_INL_H_
#endif

#include <hwy/highway.h>

#undef WICK_LANE_TOTALS_X86
#if HWY_TARGET <= HWY_AVX2 && HWY_ARCH_X86
#define WICK_LANE_TOTALS_X86 1
#include <immintrin.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {

// Lane t: the exact integer sum of v[t]'s eight lanes, for t < kActs (at most 8; 0 above).
template <int kActs>
HWY_INLINE __m256i LaneTotals8(const __m256i* v) {
  static_assert(kActs <= 8);
  __m256i x[8];
  for (int t = 0; t < 8; ++t) x[t] = t < kActs ? v[t] : _mm256_setzero_si256();
  // 128-bit lane 0 of q[i]: the sums of the low halves of x[4i..4i+3]; lane 1: of the high.
  const __m256i q0 =
      _mm256_hadd_epi32(_mm256_hadd_epi32(x[0], x[1]), _mm256_hadd_epi32(x[2], x[3]));
  const __m256i q1 =
      _mm256_hadd_epi32(_mm256_hadd_epi32(x[4], x[5]), _mm256_hadd_epi32(x[6], x[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(q0, q1, 0x20),
                          _mm256_permute2x128_si256(q0, q1, 0x31));
}

// [x's low half + its high half | y's low half + its high half], lane by lane.
HWY_INLINE __m256 HalvesSums(__m256 x, __m256 y) {
  return _mm256_add_ps(_mm256_permute2f128_ps(x, y, 0x20), _mm256_permute2f128_ps(x, y, 0x31));
}

// Lane t: SumTree8 of v[t]'s eight float lanes (ref_order.h: hsum_float_8's order), the same
// bits, for t < kActs (at most 8; 0 above). Eight rows' sums, transposed as they are added,
// cost a fifth of the stores and scalar adds of eight SumTree8 calls.
template <int kActs>
HWY_INLINE __m256 LaneSumTrees8(const __m256* v) {
  static_assert(kActs <= 8);
  __m256 x[8];
  for (int t = 0; t < 8; ++t) x[t] = t < kActs ? v[t] : _mm256_setzero_ps();
  // r[i]: [x[i]'s four sums of lanes j and j + 4 | x[i + 4]'s].
  __m256 r[4];
  for (int i = 0; i < 4; ++i) {
    r[i] = HalvesSums(x[i], x[i + 4]);
  }
  // c[h]: per row of r[2h] and r[2h + 1], sums 0 + 2 and 1 + 3 side by side.
  __m256 c[2];
  for (int h = 0; h < 2; ++h) {
    c[h] = _mm256_add_ps(_mm256_shuffle_ps(r[2 * h], r[2 * h + 1], 0x44),
                         _mm256_shuffle_ps(r[2 * h], r[2 * h + 1], 0xEE));
  }
  // Rows 0-3 in the low half, 4-7 in the high.
  return _mm256_hadd_ps(c[0], c[1]);
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // HWY_TARGET <= HWY_AVX2 && HWY_ARCH_X86
#endif  // WICK_KERNELS_CPU_LANE_TOTALS_X86_INL_H_
