// Q4_0 dot products for Highway's x86 targets from AVX2 up, in the whole-block order of
// llama.cpp's repacked Q4_0 kernels (ref_order.h): each block's integer sum exactly, then one
// multiply-add per block, so every result is bit-identical to DotQ4_0Q8_0Impl's. Include it
// after <hwy/highway.h> in a file that Highway's foreach_target.h re-includes; WICK_Q4_0_X86
// says whether this target has them.
#if defined(WICK_KERNELS_CPU_Q4_0_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_Q4_0_X86_INL_H_
#undef WICK_KERNELS_CPU_Q4_0_X86_INL_H_
#else
#define WICK_KERNELS_CPU_Q4_0_X86_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>
#include <cstring>

#include "core/quant_blocks.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/lane_totals_x86-inl.h"  // per target: after highway.h
#include "kernels/cpu/token_groups.h"
#include "kernels/cpu/vec_dot.h"
#include "kernels/cpu/vnni_evex-inl.h"  // per target: after highway.h

#undef WICK_Q4_0_X86
#if HWY_TARGET <= HWY_AVX2 && HWY_ARCH_X86
#define WICK_Q4_0_X86 1
#include <immintrin.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace q4_0_x86 {

// A block's 32 unsigned nibbles times its 32 signed activations, summed in fours into int32
// lanes, where the generic path widens both to int16 first. 256-bit vectors, one block each:
// as fast as 512-bit ones on Zen 4, and no cross-block shuffles. The nibbles are unsigned
// (0..15); sum((q - 8) * a) = sum(q * a) - sum(8 * a), the second such a sum too.

// acc + the sums of four products of unsigned bytes u (below 128: nibbles, eights) and signed
// bytes s, per int32 lane: one vpdpbusd where the CPU has AVX-512 VNNI (AVX3_DL), else
// vpmaddubsw (whose int16 pair sums cannot saturate for such u: 2 * 127 * 128 < 2^15) and
// vpmaddwd. Exact either way, so the targets' results are the same bits.
HWY_INLINE __m256i DotBytes(__m256i acc, __m256i u, __m256i s) {
#ifdef WICK_VNNI_EVEX
  return vnni::DotBytes(acc, u, s);
#else
  const __m256i pairs = _mm256_maddubs_epi16(u, s);
  return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
#endif
}

// The whole-block sums of four rows' lane sums, as four int32 lanes (exact).
inline __m128i BlockTotals4(const __m256i* dot) {
  const __m256i h =
      _mm256_hadd_epi32(_mm256_hadd_epi32(dot[0], dot[1]), _mm256_hadd_epi32(dot[2], dot[3]));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// Four weight rows against kActs activation rows: the activations' loads, their nibble offset
// (folded into the accumulator start as -8 * sum(a)) and the rows' scales are shared, so a
// row-block costs about ten instructions and decode streams the weights at memory speed. Each
// (row, activation) pair sums as DotQ4_0Q8_0Impl does: whole blocks, in order.
template <int kActs>
void DotQ4Q8Rows(const uint8_t* w, uint64_t row_bytes, const Q8_0Block* const* a, int64_t nb,
                 float* const* out) {
  constexpr int kRows = 4;
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i eights = _mm256_set1_epi8(8);
  // The 16 bytes in both halves, the upper half shifted down a nibble: elements 0..31.
  const __m256i nibble_shift = _mm256_setr_epi64x(0, 0, 4, 4);
  __m128 acc[kActs];
  for (int t = 0; t < kActs; ++t) acc[t] = _mm_setzero_ps();
  const Q4_0Block* rows[kRows];
  for (int r = 0; r < kRows; ++r) rows[r] = reinterpret_cast<const Q4_0Block*>(w + r * row_bytes);
  for (int64_t b = 0; b < nb; ++b) {
    __m256i x[kRows];
    // The four rows are four streams 18 bytes a step, which the hardware prefetcher follows
    // poorly: fetch the next call's rows (contiguous, kRows * row_bytes bytes, a matmul walks
    // rows in order) as one linear sweep, a prefetch every 72 bytes, so all but one line in
    // nine; the hardware prefetcher and demand loads take the rest. llama-1b Q4_0 decode, 2
    // threads: 35 t/s with a prefetch per row four calls ahead, 45 two calls ahead, 47 one call
    // ahead; a second line a step gained nothing. Prefetches never fault, so running past the
    // tensor's end is harmless.
    _mm_prefetch(
        reinterpret_cast<const char*>(w) + kRows * row_bytes + b * kRows * sizeof(Q4_0Block),
        _MM_HINT_T0);
    for (int r = 0; r < kRows; ++r) {
      const __m256i q = _mm256_broadcastsi128_si256(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[r][b].qs)));
      x[r] = _mm256_and_si256(_mm256_srlv_epi64(q, nibble_shift), low4);
    }
    const __m128 d_w = _mm_cvtph_ps(_mm_setr_epi16(
        static_cast<int16_t>(rows[0][b].d), static_cast<int16_t>(rows[1][b].d),
        static_cast<int16_t>(rows[2][b].d), static_cast<int16_t>(rows[3][b].d), 0, 0, 0, 0));
    for (int t = 0; t < kActs; ++t) {
      const __m256i av = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t][b].qs));
      const __m256i neg_offset =
          _mm256_sub_epi32(_mm256_setzero_si256(), DotBytes(_mm256_setzero_si256(), eights, av));
      __m256i dot[kRows];
      for (int r = 0; r < kRows; ++r) dot[r] = DotBytes(neg_offset, x[r], av);
      const __m128 scale = _mm_mul_ps(d_w, _mm_set1_ps(F16ToF32ByTable(a[t][b].d)));
      acc[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(BlockTotals4(dot)), scale, acc[t]);
    }
  }
  for (int t = 0; t < kActs; ++t) _mm_storeu_ps(out[t], acc[t]);
}

void DotQ4Q8X4(const uint8_t* w, uint64_t row_bytes, const Q8_0Block* a, int64_t nb, float* out) {
  DotQ4Q8Rows<1>(w, row_bytes, &a, nb, &out);
}

// DotQ4Q8X4 for `count` (1 to kMaxDotTokens) activation rows `a_stride` bytes apart (a batched
// decode step, a prompt's tokens): each weight block is loaded and unpacked once for all, and every
// result is bit-identical to DotQ4Q8X4's. out[4 * t + r] is row r's, token t's.
void DotQ4Q8X4Tokens(const uint8_t* w, uint64_t row_bytes, const uint8_t* a, uint64_t a_stride,
                     int count, int64_t nb, float* out) {
  const Q8_0Block* acts[kMaxDotTokens];
  float* outs[kMaxDotTokens];
  for (int t = 0; t < count; ++t) {
    acts[t] = reinterpret_cast<const Q8_0Block*>(a + t * a_stride);
    outs[t] = out + 4 * t;
  }
  ForTokenGroups<4>(count, [&](auto tokens, int first) {
    DotQ4Q8Rows<decltype(tokens)::value>(w, row_bytes, acts + first, nb, outs + first);
  });
}

// Tokens a DotQ4Q8X8Tokens call takes at once (DotQ4_0TokensPerCall reports it): eight on
// every target, so that a block's transposition and the tokens' offsets serve eight. AVX-512
// keeps the eight accumulators in registers beside the eight rows' unpacked groups; AVX2 takes
// the tokens one at a time (below), its accumulators in L1.
constexpr int kX8Tokens = 8;

// Eight weight rows against kActs activation rows, into out[8 * t + r], each result
// bit-identical to DotQ4Q8X4's. The rows' blocks are transposed so that int32 lane r of every
// DotBytes belongs to row r: a group of four activations, broadcast, meets the same four
// elements of all eight rows, and a block's eight group sums pile up in place, with no
// horizontal sums (llama.cpp repacks its Q4_0 weights for the same reason; here the
// transposition happens in registers, once per block for all the tokens).
template <int kActs>
void DotQ4Q8X8Acts(const Q4_0Block* const* rows, const Q8_0Block* const* acts, int64_t nb,
                   const uint8_t* next, float* out) {
  constexpr int kRows = 8;
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const __m256i eights = _mm256_set1_epi8(8);
  __m256 acc[kActs];
  for (__m256& a : acc) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    // The next call's eight rows (`next`, contiguous) as one linear sweep, as DotQ4Q8Rows
    // fetches its next four: 144 bytes a step, two prefetches.
    const char* ahead = reinterpret_cast<const char*>(next) + b * kRows * sizeof(Q4_0Block);
    _mm_prefetch(ahead, _MM_HINT_T0);
    _mm_prefetch(ahead + 72, _MM_HINT_T0);
    // Rows r and r + 4 side by side, then a 4 x 4 transpose of 32-bit units per half: unit j of
    // every row (its bytes 4j..4j+3) in lane order 0..7.
    __m256i v[4];
    for (int r = 0; r < 4; ++r) {
      v[r] = _mm256_set_m128i(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[r + 4][b].qs)),
                              _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[r][b].qs)));
    }
    const __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]);
    const __m256i t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]);
    const __m256i t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    const __m256i unit[4] = {_mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
                             _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
    // Group g of a row (elements 4g..4g+3): the low nibbles of unit g, or for g >= 4 the high
    // nibbles of unit g - 4.
    __m256i group[8];
    for (int j = 0; j < 4; ++j) {
      group[j] = _mm256_and_si256(unit[j], low4);
      group[j + 4] = _mm256_and_si256(_mm256_srli_epi16(unit[j], 4), low4);
    }
    uint16_t d_bits[kRows];
    for (int r = 0; r < kRows; ++r) d_bits[r] = rows[r][b].d;
    const __m256 d_w = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(d_bits)));
    // -8 * sum(a), the nibbles' offset, in lane t for token t: the tokens' horizontal sums
    // done together, where one token's took six instructions.
    __m256i eight_sums[kActs];
    for (int t = 0; t < kActs; ++t) {
      eight_sums[t] = DotBytes(_mm256_setzero_si256(), eights,
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acts[t][b].qs)));
    }
    const __m256i offsets =
        _mm256_sub_epi32(_mm256_setzero_si256(), LaneTotals8<kActs>(eight_sums));
    // Each token's sum is a chain of eight multiply-adds (four cycles each): the tokens take
    // turns, group by group, so that consecutive ones are independent. Token by token, the
    // chains waiting on one another filled the scheduler and the kernel ran at a third of the
    // multipliers' rate.
    __m256i total[kActs];
    for (__m256i& x : total) x = _mm256_setzero_si256();
#ifdef WICK_VNNI_EVEX
    for (int g = 0; g < 8; ++g) {
      for (int t = 0; t < kActs; ++t) {
        total[t] = vnni::DotBytesBroadcast(total[t], group[g], acts[t][b].qs + 4 * g);
      }
    }
#else
    // Without VNNI the groups' pair sums (vpmaddubsw) add up as int16, widened once a block:
    // two instructions a group instead of three. Eight groups' pairs of nibbles times
    // activations stay within 8 * 2 * 15 * 128 = 30720 in magnitude, so no partial sum
    // saturates and lane r's total is the same exact integer whatever the order. A token at a
    // time, as a tree: the products are independent and the adds take a cycle, so one token's
    // work keeps the multipliers busy, with the eight groups and one token's sums in AVX2's 16
    // registers (the tokens side by side spilled every product to the stack).
    for (int t = 0; t < kActs; ++t) {
      const int8_t* a = acts[t][b].qs;
      __m256i p[4];
      for (int g = 0; g < 4; ++g) {
        int32_t lo;
        int32_t hi;
        std::memcpy(&lo, a + 4 * g, sizeof(lo));
        std::memcpy(&hi, a + 4 * (g + 4), sizeof(hi));
        p[g] = _mm256_add_epi16(_mm256_maddubs_epi16(group[g], _mm256_set1_epi32(lo)),
                                _mm256_maddubs_epi16(group[g + 4], _mm256_set1_epi32(hi)));
      }
      const __m256i pairs =
          _mm256_add_epi16(_mm256_add_epi16(p[0], p[1]), _mm256_add_epi16(p[2], p[3]));
      total[t] = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
    }
#endif
    for (int t = 0; t < kActs; ++t) {
      total[t] =
          _mm256_add_epi32(total[t], _mm256_permutevar8x32_epi32(offsets, _mm256_set1_epi32(t)));
      const __m256 scale = _mm256_mul_ps(d_w, _mm256_set1_ps(F16ToF32ByTable(acts[t][b].d)));
      acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total[t]), scale, acc[t]);
    }
  }
  for (int t = 0; t < kActs; ++t) _mm256_storeu_ps(out + kRows * t, acc[t]);
}

// DotQ4Q8X8Acts for `count` (at most kMaxDotTokens) activation rows `a_stride` bytes apart.
void DotQ4Q8X8Tokens(const uint8_t* w, uint64_t row_bytes, const uint8_t* a, uint64_t a_stride,
                     int count, int64_t nb, float* out) {
  const Q4_0Block* rows[8];
  for (int r = 0; r < 8; ++r) rows[r] = reinterpret_cast<const Q4_0Block*>(w + r * row_bytes);
  const Q8_0Block* acts[kMaxDotTokens];
  for (int t = 0; t < count; ++t) acts[t] = reinterpret_cast<const Q8_0Block*>(a + t * a_stride);
  ForTokenGroups<kX8Tokens>(count, [&](auto tokens, int first) {
    DotQ4Q8X8Acts<decltype(tokens)::value>(rows, acts + first, nb, w + 8 * row_bytes,
                                           out + 8 * first);
  });
}

}  // namespace q4_0_x86
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // HWY_TARGET <= HWY_AVX2 && HWY_ARCH_X86
#endif  // WICK_KERNELS_CPU_Q4_0_X86_INL_H_
