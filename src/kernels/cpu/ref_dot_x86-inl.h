// Block dot products in the summation order of llama.cpp's x86 kernels (see ref_order.h), for
// Highway's x86 targets from AVX2 up: the files that include it define their dot products
// with these where WICK_REF_ORDER_X86 is set. Include it after <hwy/highway.h> in a file that
// Highway's foreach_target.h re-includes.
#if defined(WICK_KERNELS_CPU_REF_DOT_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_REF_DOT_X86_INL_H_
#undef WICK_KERNELS_CPU_REF_DOT_X86_INL_H_
#else
#define WICK_KERNELS_CPU_REF_DOT_X86_INL_H_
#endif

#include <hwy/highway.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "core/quant_blocks.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/token_groups.h"
#include "kernels/cpu/vnni_evex-inl.h"  // per target: after highway.h

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

// Set for the targets that have it; this header is compiled once per target.
#undef WICK_REF_ORDER_X86

#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
// x86 with AVX2 and later: the sums of llama.cpp's x86 kernels (see ref_order.h), so that
// wick's logits match the reference outputs bit for bit. A block's 32 products are summed
// exactly in eight lanes of four consecutive elements, each lane scaled by d_w * d_a into its
// own f32 accumulator with one fused multiply-add, and the row's eight lanes are added at the
// end as hsum_float_8 adds them. Q4_0 rows (which llama.cpp repacks) sum each block whole and
// accumulate block by block instead; see DotQ4_0Q8_0Impl.
#define WICK_REF_ORDER_X86 1

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace ref_x86 {

// Elements 0..31 of a nibble block (element j in the low nibble of qs[j], j + 16 in the high).
HWY_INLINE __m256i NibbleBytes(const uint8_t* qs) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes),
                          _mm256_set1_epi8(0x0f));
}

// 0xff in byte j where bit j of the little-endian qh is set, else 0.
HWY_INLINE __m256i FifthBitBytes(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  // Byte j takes byte j / 8 of qh, then keeps only its bit j % 8.
  const __m256i spread =
      _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int32_t>(bits)),
                          _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                           2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i select = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ULL));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
}

#if HWY_TARGET <= HWY_AVX3
// Bit j of the little-endian qh as mask bit j.
HWY_INLINE __mmask32 FifthBitMask(const uint8_t* qh) {
  uint32_t bits;
  std::memcpy(&bits, qh, sizeof(bits));
  return _cvtu32_mask32(bits);
}
#endif

HWY_INLINE __m256i LoadBlock(const int8_t* qs) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
}

// Each format's 32 quants of a block as bytes, for the row kernels below.
struct UnpackQ4_0 {
  __m256i operator()(const Q4_0Block& b) const {
    return _mm256_sub_epi8(NibbleBytes(b.qs), _mm256_set1_epi8(8));
  }
};
struct UnpackQ4_1 {
  __m256i operator()(const Q4_1Block& b) const { return NibbleBytes(b.qs); }
};
// q - 16 where the fifth bit is clear: the nibble with the top four bits of the byte set. On
// AVX-512 the 32 bits are a byte mask as they stand: one masked subtract (add) instead of
// spreading them over the bytes.
struct UnpackQ5_0 {
  __m256i operator()(const Q5_0Block& b) const {
#if HWY_TARGET <= HWY_AVX3
    const __m256i nibbles = NibbleBytes(b.qs);
    return _mm256_mask_sub_epi8(nibbles, _knot_mask32(FifthBitMask(b.qh)), nibbles,
                                _mm256_set1_epi8(16));
#else
    return _mm256_or_si256(NibbleBytes(b.qs),
                           _mm256_andnot_si256(FifthBitBytes(b.qh), _mm256_set1_epi8(-16)));
#endif
  }
};
struct UnpackQ5_1 {
  __m256i operator()(const Q5_1Block& b) const {
#if HWY_TARGET <= HWY_AVX3
    const __m256i nibbles = NibbleBytes(b.qs);
    return _mm256_mask_add_epi8(nibbles, FifthBitMask(b.qh), nibbles, _mm256_set1_epi8(16));
#else
    return _mm256_or_si256(NibbleBytes(b.qs),
                           _mm256_and_si256(FifthBitBytes(b.qh), _mm256_set1_epi8(0x10)));
#endif
  }
};
struct UnpackQ8_0 {
  __m256i operator()(const Q8_0Block& b) const { return LoadBlock(b.qs); }
};

HWY_INLINE float F16Scale(uint16_t h) {
  return F16ToF32ByTable(h);
}

// hsum_float_8's order: halves, then pairs.
HWY_INLINE float SumLanes8(__m256 v) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

HWY_INLINE int32_t SumInt8Lanes(__m256i v) {
  __m128i r = _mm_add_epi32(_mm256_extracti128_si256(v, 1), _mm256_castsi256_si128(v));
  r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0x4e));
  r = _mm_add_epi32(r, _mm_shuffle_epi32(r, 0xb1));
  return _mm_cvtsi128_si32(r);
}

// fn(std::integral_constant<int, t>{}) for t in [0, kCount): for intrinsics whose lane index
// must be a constant.
template <int kCount, class Fn>
HWY_INLINE void ForEachIndex(Fn&& fn) {
  [&]<int... kT>(std::integer_sequence<int, kT...>) {
    (fn(std::integral_constant<int, kT>{}), ...);
  }
  (std::make_integer_sequence<int, kCount>{});
}

// Up to this many activation rows share each unpacked weight block (a prompt's tokens): eight
// where AVX-512's 32 registers hold them (DotLegacyTokensPerCall tells Matmul), else vec_dot.h's
// kDotTokens, whose accumulators and temporaries fill AVX2's sixteen registers.
#if HWY_TARGET <= HWY_AVX3
constexpr int kMaxTokens = 8;
#else
constexpr int kMaxTokens = 4;
#endif

// kRows weight rows `row_bytes` apart against one activation row (a decode step), into
// out[0..kRows): each row's sum is DotLanesRowsActs<1, 1>'s, bit for bit, but the rows' independent
// accumulators hide the fused multiply-add's latency, which bounds one row (a block each four
// cycles), and the activation's load and offsets are shared.
template <int kRows, class WBlock, class ABlock, bool kUnsigned, bool kMins, class Unpack>
HWY_INLINE void DotLanesRows(const uint8_t* w, uint64_t row_bytes, const ABlock* a, int64_t nb,
                             float* out, const Unpack& unpack) {
  static_assert(kRows <= 8);
  const WBlock* rows[kRows];
  for (int r = 0; r < kRows; ++r) rows[r] = reinterpret_cast<const WBlock*>(w + r * row_bytes);
  __m256 acc[kRows];
  for (__m256& sum : acc) sum = _mm256_setzero_ps();
  __m256 mins = _mm256_setzero_ps();  // lane r: row r's
  constexpr int kStepBytes = kRows * static_cast<int>(sizeof(WBlock));
  for (int64_t b = 0; b < nb; ++b) {
    // Interleaved rows are streams the hardware prefetcher follows poorly (see DotQ4Q8Rows):
    // sweep the next call's rows, kStepBytes of them a block, so all of them by the end.
    const char* ahead = reinterpret_cast<const char*>(w) + kRows * row_bytes + b * kStepBytes;
    for (int offset = 0; offset < kStepBytes; offset += 64) {
      _mm_prefetch(ahead + offset, _MM_HINT_T0);
    }
    const __m256i av = LoadBlock(a[b].qs);
    const float d_a = F16Scale(a[b].d);
#ifdef WICK_VNNI_EVEX
    const __m256i top = _mm256_set1_epi8(static_cast<char>(0x80));
    const __m256i a_unsigned = kUnsigned ? av : _mm256_xor_si256(av, top);
#else
    const __m256i ones = _mm256_set1_epi16(1);
#endif
    for (int r = 0; r < kRows; ++r) {
      const WBlock& wb = rows[r][b];
      const __m256i wq = unpack(wb);
#ifdef WICK_VNNI_EVEX
      // As DotLanesRowsActs: signed quants against a + 128, less 128 * each four quants' sum.
      const __m256i sums =
          kUnsigned
              ? vnni::DotBytes(_mm256_setzero_si256(), wq, av)
              : vnni::DotBytes(_mm256_sub_epi32(_mm256_setzero_si256(),
                                                vnni::DotBytes(_mm256_setzero_si256(), top, wq)),
                               a_unsigned, wq);
#else
      const __m256i w_mag = kUnsigned ? wq : _mm256_sign_epi8(wq, wq);
      const __m256i pairs = _mm256_maddubs_epi16(w_mag, kUnsigned ? av : _mm256_sign_epi8(av, wq));
      const __m256i sums = _mm256_madd_epi16(pairs, ones);
#endif
      acc[r] =
          _mm256_fmadd_ps(_mm256_set1_ps(F16Scale(wb.d) * d_a), _mm256_cvtepi32_ps(sums), acc[r]);
    }
    if constexpr (kMins) {
      // Row r's m_w * s_a in lane r, the same fused step as DotLanesRowsActs' token lanes.
      __m128i m_bits = _mm_setzero_si128();
      ForEachIndex<kRows>([&](auto r) {
        m_bits = _mm_insert_epi16(m_bits, rows[decltype(r)::value][b].m, decltype(r)::value);
      });
      mins = _mm256_fmadd_ps(_mm256_cvtph_ps(m_bits), _mm256_set1_ps(F16Scale(a[b].s)), mins);
    }
  }
  alignas(32) float mins_of[8];
  if constexpr (kMins) _mm256_store_ps(mins_of, mins);
  for (int r = 0; r < kRows; ++r) {
    out[r] = kMins ? SumLanes8(acc[r]) + mins_of[r] : SumLanes8(acc[r]);
  }
}

// kRows weight rows `row_bytes` apart against kActs activation rows `a_stride` bytes apart, into
// out[out_stride * t + r], in the reference's order for every pair: one row and one token is
// the one-row dot, and several (a prompt's tokens) give each pair the same bits. A block's
// 32 quants come from `unpack` as bytes (signed, or unsigned for kUnsigned) and serve kActs
// tokens; a token's activations and scale serve kRows rows; kMins adds the affine formats'
// m_w * s_a terms.
template <int kRows, int kActs, class WBlock, class ABlock, bool kUnsigned, bool kMins,
          class Unpack>
HWY_INLINE void DotLanesRowsActs(const uint8_t* w, uint64_t row_bytes, const uint8_t* a,
                                 uint64_t a_stride, int64_t nb, float* out, int out_stride,
                                 const Unpack& unpack) {
  static_assert(kRows <= 8 && kActs <= 8);
  const WBlock* rows[kRows];
  for (int r = 0; r < kRows; ++r) rows[r] = reinterpret_cast<const WBlock*>(w + r * row_bytes);
  __m256 acc[kRows][kActs];
  for (auto& row : acc) {
    for (__m256& sum : row) sum = _mm256_setzero_ps();
  }
  __m256 mins[kRows];  // lane t: token t's
  for (__m256& m : mins) m = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i wq[kRows];
    float d_w[kRows];
#ifdef WICK_VNNI_EVEX
    // vpdpbusd multiplies unsigned by signed bytes. Signed quants meet the activations moved to
    // unsigned (a + 128), less 128 * (each four quants' sum), once a block for all the tokens:
    // the same exact lane sums as the sign trick's (exact for activations above -128, which is
    // all the quantizers write), in two instructions a token instead of three.
    const __m256i top = _mm256_set1_epi8(static_cast<char>(0x80));
    __m256i start[kRows];
#else
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i w_mag[kRows];
#endif
    for (int r = 0; r < kRows; ++r) {
      wq[r] = unpack(rows[r][b]);
      d_w[r] = F16Scale(rows[r][b].d);
#ifdef WICK_VNNI_EVEX
      start[r] = kUnsigned ? _mm256_setzero_si256()
                           : _mm256_sub_epi32(_mm256_setzero_si256(),
                                              vnni::DotBytes(_mm256_setzero_si256(), top, wq[r]));
#else
      w_mag[r] = kUnsigned ? wq[r] : _mm256_sign_epi8(wq[r], wq[r]);
#endif
    }
    for (int t = 0; t < kActs; ++t) {
      const ABlock& ab = reinterpret_cast<const ABlock*>(a + t * a_stride)[b];
      const __m256i av = LoadBlock(ab.qs);
      const float d_a = F16Scale(ab.d);
#ifdef WICK_VNNI_EVEX
      const __m256i a_unsigned = kUnsigned ? av : _mm256_xor_si256(av, top);
#endif
      for (int r = 0; r < kRows; ++r) {
#ifdef WICK_VNNI_EVEX
        const __m256i sums = kUnsigned ? vnni::DotBytes(start[r], wq[r], av)
                                       : vnni::DotBytes(start[r], a_unsigned, wq[r]);
#else
        const __m256i pairs =
            _mm256_maddubs_epi16(w_mag[r], kUnsigned ? av : _mm256_sign_epi8(av, wq[r]));
        const __m256i sums = _mm256_madd_epi16(pairs, ones);
#endif
        acc[r][t] =
            _mm256_fmadd_ps(_mm256_set1_ps(d_w[r] * d_a), _mm256_cvtepi32_ps(sums), acc[r][t]);
      }
    }
    if constexpr (kMins) {
      // m_w * s_a summed block by block, each step one fused multiply-add as the reference's
      // compiler contracts `summs += m * s`: token t's in lane t (the f16 conversions are
      // exact), where a scalar chain per token took a fifth of the time. The s values go into
      // the register one by one: stored as words and loaded as a vector, they stalled on store
      // forwarding (decode ran five times slower).
      __m128i s_bits = _mm_setzero_si128();
      ForEachIndex<kActs>([&](auto t) {
        s_bits = _mm_insert_epi16(s_bits, reinterpret_cast<const ABlock*>(a + t * a_stride)[b].s,
                                  decltype(t)::value);
      });
      const __m256 s = _mm256_cvtph_ps(s_bits);
      for (int r = 0; r < kRows; ++r) {
        mins[r] = _mm256_fmadd_ps(_mm256_set1_ps(F16Scale(rows[r][b].m)), s, mins[r]);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) {
    alignas(32) float mins_of[8];
    if constexpr (kMins) _mm256_store_ps(mins_of, mins[r]);
    for (int t = 0; t < kActs; ++t) {
      out[out_stride * t + r] = kMins ? SumLanes8(acc[r][t]) + mins_of[t] : SumLanes8(acc[r][t]);
    }
  }
}

// Q4_0's whole-block order (the rows llama.cpp repacks) for `count` activation rows.
template <class WBlock, class ABlock, class Unpack>
HWY_INLINE void DotBlocksTokens(const WBlock* w, const uint8_t* a, uint64_t a_stride, int count,
                                int64_t nb, float* out, const Unpack& unpack) {
  float acc[kMaxTokens] = {};
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i wq = unpack(w[b]);
    const __m256i w_mag = _mm256_sign_epi8(wq, wq);
    const float d_w = F16Scale(w[b].d);
    for (int t = 0; t < count; ++t) {
      const ABlock& ab = reinterpret_cast<const ABlock*>(a + t * a_stride)[b];
      const __m256i pairs = _mm256_maddubs_epi16(w_mag, _mm256_sign_epi8(LoadBlock(ab.qs), wq));
      const int32_t total = SumInt8Lanes(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
      acc[t] = std::fma(static_cast<float>(total), d_w * F16Scale(ab.d), acc[t]);
    }
  }
  for (int t = 0; t < count; ++t) out[t] = acc[t];
}

}  // namespace ref_x86
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2

#endif  // WICK_KERNELS_CPU_REF_DOT_X86_INL_H_
