// The k-quant dot products (Q2_K to Q6_K) for Highway's AVX-512 targets (AVX3, AVX3_DL),
// bit-identical to dot_k.cpp's DotRows on x86 from AVX2 up (the reference's lanes and order,
// ref_order.h). Include it after <hwy/highway.h> in a file that Highway's foreach_target.h
// re-includes; WICK_DOT_K_AVX512 says whether this target has them.
//
// Why kernels of their own: the generic one runs 32-byte vectors, one 32-element run each,
// and spent more instructions on unpacking a block's scales and on its per-block float steps
// than on the products (a prompt's Q4_K matmuls ran about 250 instructions a block for four
// tokens, 64 of them multiplies). Here a 64-byte vector holds 64 consecutive elements. The
// formats pack their quants in 32-byte runs whose bit fields belong to elements 32 (Q2_K,
// Q3_K, Q4_K, Q5_K) or 64 (Q6_K) apart, so two runs side by side (or one, broadcast) give 64
// consecutive elements with in-lane shifts and masks, no cross-lane shuffle; the sub-block
// scales come from one shuffle or permutation a vector. The two halves of a block's int32 sums are
// added at its end, which gives each lane the same exact integer as the 32-byte kernel's, so the
// float steps, and the results, are the same bits. Measured on two Zen 4 cores
// (wick_bench_kernels, 512 tokens x 4096 x 4096): Q4_K 98 -> 84 ms while the machine was
// loaded, level with the generic kernel when it was not (both then wait on the multiplies);
// Q6_K 104 -> 79 ms; Q6_K's 4096 x 14336 GEMV 1.18 -> 1.03 ms. Q2_K and Q3_K, one thread, the
// real Matmul at 4096 x 1024, min of 9, cycles a token-block: prompts (512 tokens) 14.4 ->
// 13.0 and 18.0 -> 14.4, decode (one token) 22.3 -> 19.6 and 31.7 -> 29.5.
#if defined(WICK_KERNELS_CPU_DOT_K_AVX512_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_DOT_K_AVX512_INL_H_
#undef WICK_KERNELS_CPU_DOT_K_AVX512_INL_H_
#else
#define WICK_KERNELS_CPU_DOT_K_AVX512_INL_H_
#endif

#include <hwy/highway.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/quant_blocks.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/k_scales.h"
#include "kernels/cpu/lane_totals_x86-inl.h"  // per target: after highway.h
#include "kernels/cpu/ref_order.h"
#include "kernels/cpu/token_groups.h"
#include "kernels/cpu/vnni_evex-inl.h"  // per target: after highway.h

#undef WICK_DOT_K_AVX512
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
#define WICK_DOT_K_AVX512 1
#include <immintrin.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace dot_k_avx512 {

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

// 32 bytes at p in both halves.
HWY_INLINE __m512i Broadcast32(const uint8_t* p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// nibbles | (moved & mask), one instruction.
HWY_INLINE __m512i MergeBits(__m512i nibbles, __m512i moved, uint8_t mask) {
  return _mm512_ternarylogic_epi32(nibbles, moved, _mm512_set1_epi8(static_cast<char>(mask)), 0xF8);
}

// Sixteen int32 lanes of `lo` in the low half and sixteen of `hi` in the high half.
HWY_INLINE __m512i Halves32(int32_t lo, int32_t hi) {
  return _mm512_inserti64x4(_mm512_set1_epi32(lo), _mm256_set1_epi32(hi), 1);
}

// Every int16 lane of 128-bit lane k holding k.
HWY_INLINE __m512i LaneIndex16() {
  return _mm512_set_epi64(0x0003000300030003, 0x0003000300030003, 0x0002000200020002,
                          0x0002000200020002, 0x0001000100010001, 0x0001000100010001, 0, 0);
}

// How a block's products meet its scales. Without AVX-512 VNNI, the byte products are summed
// in pairs (vpmaddubsw) and each run's pairs are scaled into the int32 lanes (vpmaddwd): two
// multiplies a run. With it, each run's products are summed in fours (vpdpbusd, each sum
// below 2^15), two runs' sums are interleaved as the int16 halves of each lane, and one
// vpdpwssd scales both: three multiplies for two runs. Either way lane l gains scale * (the
// four products of its quad) for each quad of its lane, so the integers are the same.
#ifdef WICK_VNNI_EVEX
constexpr bool kQuads = true;
#else
constexpr bool kQuads = false;
#endif
constexpr int kScaleVectors = kQuads ? 2 : 4;

// A block's four 64-element runs of quants (x) with their int16 scales lined up with the
// products (scale: per run, or with kQuads per pair of runs); the mins as int16: Q2_K's
// sixteen, to meet the activations' 16-element sums, and Q4_K and Q5_K's eight as
// m0..m3 m0..m3 | m4..m7 m4..m7, to meet two tokens' sub-block sums (PairSubBlockSums); for
// Q6_K the offset that moving the activations to unsigned bytes adds (offset: per pair of
// products, or with kQuads minus it, per quad).
struct Unpacked {
  __m512i x[4];
  __m512i scale[kScaleVectors];
  __m512i offset[4];
  __m256i mins;
};

// Per-format constants, built once a call.
template <class Block>
struct Constants;

// Q3_K and Q6_K store signed quants (offset by 4 and 32): the activations, moved to unsigned
// bytes a + 128, take the unsigned side of the byte products, and the offsets hold what that
// adds.
template <class Block>
constexpr bool kSignedQuants = std::is_same_v<Block, Q3_KBlock> || std::is_same_v<Block, Q6_KBlock>;

// The signed quants' offsets: minus 128 times run i's quants, per pair of products (or with
// kQuads per quad). (a + 128) * q - 128 * q is the same exact sum as a * q.
HWY_INLINE void SetOffsets(Unpacked& u) {
  const __m512i top = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int i = 0; i < 4; ++i) {
#ifdef WICK_VNNI_EVEX
    u.offset[i] = vnni::DotBytes(_mm512_setzero_si512(), top,
                                 _mm512_sub_epi8(_mm512_setzero_si512(), u.x[i]));
#else
    u.offset[i] = _mm512_maddubs_epi16(top, u.x[i]);
#endif
  }
}

// The formats with a scale per 16 elements (Q2_K, Q3_K, Q6_K): run i covers sub-blocks
// 4i..4i+3, one a 128-bit lane.
struct SixteenScales {
  // Word permutations of the sixteen int16 scales: 128-bit lane k of run i gets sub-block
  // 4i + k's; with kQuads, runs 2p and 2p + 1's in the low and high int16 of each lane.
  __m512i permute[kScaleVectors];

  SixteenScales() {
    for (int i = 0; i < kScaleVectors; ++i) {
      const int32_t base = kQuads ? (8 * i) | ((8 * i + 4) << 16) : (4 * i) | ((4 * i) << 16);
      permute[i] = _mm512_add_epi16(LaneIndex16(), _mm512_set1_epi32(base));
    }
  }

  // `scales`: the sixteen as int16.
  HWY_INLINE void Spread(__m256i scales, Unpacked& u) const {
    const __m512i all = _mm512_castsi256_si512(scales);
    for (int i = 0; i < kScaleVectors; ++i) u.scale[i] = _mm512_permutexvar_epi16(permute[i], all);
  }
};

// Q2_K and Q3_K's low two bits: element 128h + 32k + l is crumb k of qs[32h + l], so run i
// (h = i / 2) is crumbs 2(i % 2) and 2(i % 2) + 1 of the h-th 32 bytes, in the two halves.
struct CrumbRuns {
  // Shifts taking crumbs 0 and 1 (even runs) or 2 and 3 (odd runs) to the low bits.
  __m512i shift[2];

  // Spelled out, as every constructor here: an implicit one would miss the target's
  // instruction-set attributes.
  CrumbRuns() : shift{Halves16(0, 2), Halves16(4, 6)} {}

  HWY_INLINE __m512i Run(const uint8_t* qs, int i) const {
    // A 16-bit shift brings the other byte's bits only above bit 1, which the mask clears.
    return _mm512_and_si512(_mm512_srlv_epi16(Broadcast32(qs + 32 * (i / 2)), shift[i % 2]),
                            _mm512_set1_epi8(3));
  }
};

// Q2_K: unsigned 2-bit quants under sixteen 4-bit scales and mins (low and high nibble of a
// byte); u.mins holds the sixteen mins as int16, to meet the activations' 16-element sums.
template <>
struct Constants<Q2_KBlock> : SixteenScales, CrumbRuns {
  Constants() {}  // spelled out: see CrumbRuns
  HWY_INLINE Unpacked Unpack(const Q2_KBlock& w) const {
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales));
    const __m128i low4 = _mm_set1_epi8(0x0f);
    Unpacked u{};
    u.mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low4));
    for (int i = 0; i < 4; ++i) u.x[i] = Run(w.qs, i);
    Spread(_mm256_cvtepu8_epi16(_mm_and_si128(packed, low4)), u);
    return u;
  }
};

// Q3_K: run i's high bits are bits 2i and 2i + 1 (the crumbs' k + 4h) of hmask[0..31], in the
// two halves; a quant is its crumb minus 4 where its bit is clear.
template <>
struct Constants<Q3_KBlock> : SixteenScales, CrumbRuns {
  __m512i high_bit[4];

  Constants() {
    for (int i = 0; i < 4; ++i) {
      high_bit[i] = _mm512_inserti64x4(_mm512_set1_epi8(static_cast<char>(1 << (2 * i))),
                                       _mm256_set1_epi8(static_cast<char>(1 << (2 * i + 1))), 1);
    }
  }

  HWY_INLINE Unpacked Unpack(const Q3_KBlock& w) const {
    const Bytes16 packed = UnpackQ3_KScales(w.scales);
    const __m128i scales = _mm_sub_epi8(
        _mm_set_epi64x(static_cast<int64_t>(packed.hi), static_cast<int64_t>(packed.lo)),
        _mm_set1_epi8(32));
    const __m512i hmask = Broadcast32(w.hmask);
    const __m512i four = _mm512_set1_epi8(4);
    Unpacked u{};
    for (int i = 0; i < 4; ++i) {
      const __m512i crumbs = Run(w.qs, i);
      u.x[i] =
          _mm512_mask_sub_epi8(crumbs, _mm512_testn_epi8_mask(hmask, high_bit[i]), crumbs, four);
    }
    SetOffsets(u);
    Spread(_mm256_cvtepi8_epi16(scales), u);
    return u;
  }
};

// Q4_K and Q5_K: run h is elements 64h..64h+63, the low nibbles of the h-th 32 quant bytes
// (sub-block 2h) then their high nibbles (sub-block 2h + 1).
template <class Block>
requires std::is_same_v<Block, Q4_KBlock> || std::is_same_v<Block, Q5_KBlock>
struct Constants<Block> {
  // Byte shuffles of the eight int16 scales (repeated in every 128-bit lane): scale 2h over
  // the low half and 2h + 1 over the high half of run h; with kQuads, runs 2p and 2p + 1's in
  // the low and high int16 of each lane.
  __m512i shuffle[kScaleVectors];
  // Q5_K: shifts taking bits 2h (low half) and 2h + 1 (high half) of the qh bytes to bit 4.
  __m512i shift[4];

  Constants() {
    const auto bytes = [](int j) { return (2 * j) | ((2 * j + 1) << 8); };  // scale j's
    for (int i = 0; i < kScaleVectors; ++i) {
      shuffle[i] = kQuads ? Halves32(bytes(4 * i) | (bytes(4 * i + 2) << 16),
                                     bytes(4 * i + 1) | (bytes(4 * i + 3) << 16))
                          : Halves16(static_cast<int16_t>(bytes(2 * i)),
                                     static_cast<int16_t>(bytes(2 * i + 1)));
    }
    for (int h = 0; h < 4; ++h) {
      shift[h] = h < 2 ? Halves16(static_cast<int16_t>(4 - 2 * h), static_cast<int16_t>(3 - 2 * h))
                       : Halves16(static_cast<int16_t>(2 * h - 4), static_cast<int16_t>(2 * h - 3));
    }
  }

  HWY_INLINE Unpacked Unpack(const Block& w) const {
    const Bytes16 scale_min = UnpackScaleMin6(w.scales);
    const __m512i table = _mm512_broadcast_i32x4(
        _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scale_min.lo))));
    Unpacked u{};
    const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scale_min.hi)));
    u.mins = _mm256_permute4x64_epi64(_mm256_castsi128_si256(mins), 0x50);  // qwords 0 0 1 1
    __m512i qh = _mm512_setzero_si512();
    if constexpr (std::is_same_v<Block, Q5_KBlock>) qh = Broadcast32(w.qh);
    for (int h = 0; h < 4; ++h) {
      const __m512i q = Broadcast32(w.qs + 32 * h);
      // The high half shifted down a nibble; the 16-bit shift's carries are masked off.
      u.x[h] =
          _mm512_and_si512(_mm512_mask_srli_epi16(q, 0xFFFF0000u, q, 4), _mm512_set1_epi8(0x0f));
      if constexpr (std::is_same_v<Block, Q5_KBlock>) {
        // The fifth bit of element e is bit e / 32 of qh[e % 32]. A 16-bit shift by at most
        // 4 brings no bit of the other byte to bit 4, so masking bit 4 is exact.
        const __m512i moved =
            h < 2 ? _mm512_sllv_epi16(qh, shift[h]) : _mm512_srlv_epi16(qh, shift[h]);
        u.x[h] = MergeBits(u.x[h], moved, 0x10);
      }
    }
    for (int i = 0; i < kScaleVectors; ++i) u.scale[i] = _mm512_shuffle_epi8(table, shuffle[i]);
    return u;
  }
};

// Q6_K: run 2h + c is elements 128h + 64c..+63: the low (c = 0) or high (c = 1) nibbles of
// ql[64h..64h+63], whose two 32-byte halves hold elements 32 apart, with their top two bits
// from crumbs 2c and 2c + 1 of qh[32h..32h+31]. Quants are stored + 32.
template <>
struct Constants<Q6_KBlock> : SixteenScales {
  // Shifts taking crumbs 0 and 2 (c = 0, left) or 4 and 6 (c = 1, right) to bits 4-5.
  __m512i shift[2];

  Constants() : shift{Halves16(4, 2), Halves16(0, 2)} {}

  HWY_INLINE Unpacked Unpack(const Q6_KBlock& w) const {
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    Unpacked u{};
    for (int h = 0; h < 2; ++h) {
      const __m512i ql = _mm512_loadu_si512(w.ql + 64 * h);
      const __m512i qh = Broadcast32(w.qh + 32 * h);
      // A 16-bit shift by at most 4 brings no bit of the other byte to bits 4-5.
      u.x[2 * h] = MergeBits(_mm512_and_si512(ql, low4), _mm512_sllv_epi16(qh, shift[0]), 0x30);
      u.x[2 * h + 1] = MergeBits(_mm512_and_si512(_mm512_srli_epi16(ql, 4), low4),
                                 _mm512_srlv_epi16(qh, shift[1]), 0x30);
    }
    for (__m512i& x : u.x) x = _mm512_sub_epi8(x, _mm512_set1_epi8(32));  // signed, -32..31
    SetOffsets(u);
    Spread(_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w.scales))), u);
    return u;
  }
};

#ifdef WICK_VNNI_EVEX
// Run i's products with the activations at `act`, summed in fours into int32 lanes.
template <class Block>
HWY_INLINE __m512i QuadSums(const Unpacked& u, int i, const int8_t* act) {
  const __m512i a = _mm512_loadu_si512(act);
  if constexpr (kSignedQuants<Block>) {
    // Sums of (a + 128) * q less 128 * q: at most 4 * 32 * 128 in magnitude (Q6_K).
    return vnni::DotBytes(u.offset[i],
                          _mm512_xor_si512(a, _mm512_set1_epi8(static_cast<char>(0x80))), u.x[i]);
  } else {
    return vnni::DotBytes(_mm512_setzero_si512(), u.x[i], a);  // at most 4 * 31 * 128 (Q5_K)
  }
}
#endif

// A block's scaled integer sums against one activation row, per int32 lane (the two halves
// still to be added).
template <class Block>
HWY_INLINE __m512i BlockSums(const Unpacked& u, const Q8_KBlock& a) {
#ifdef WICK_VNNI_EVEX
  __m512i acc = _mm512_setzero_si512();
  for (int p = 0; p < 2; ++p) {
    const __m512i even = QuadSums<Block>(u, 2 * p, a.qs + 128 * p);
    const __m512i odd = QuadSums<Block>(u, 2 * p + 1, a.qs + 128 * p + 64);
    // Each quad sum fits in 16 bits: run 2p + 1's go to the high int16 of each lane.
    const __m512i both = _mm512_mask_blend_epi16(0xAAAAAAAAu, even, _mm512_slli_epi32(odd, 16));
    acc = p == 0 ? _mm512_madd_epi16(both, u.scale[0]) : DotPairs(acc, both, u.scale[1]);
  }
  return acc;
#else
  __m512i acc = _mm512_setzero_si512();
  for (int i = 0; i < 4; ++i) {
    const __m512i act = _mm512_loadu_si512(a.qs + 64 * i);
    __m512i pairs;
    if constexpr (kSignedQuants<Block>) {
      // Pairs of (a + 128) * q are at most 2 * 255 * 32 in magnitude (Q6_K), their offsets
      // 2 * 128 * 32: neither saturates.
      const __m512i act_u = _mm512_xor_si512(act, _mm512_set1_epi8(static_cast<char>(0x80)));
      pairs = _mm512_sub_epi16(_mm512_maddubs_epi16(act_u, u.x[i]), u.offset[i]);
    } else {
      pairs = _mm512_maddubs_epi16(u.x[i], act);
    }
    acc = i == 0 ? _mm512_madd_epi16(pairs, u.scale[i]) : DotPairs(acc, pairs, u.scale[i]);
  }
  return acc;
#endif
}

// Two tokens' sub-block sums (S_j: the activations' 16-element sums 2j and 2j + 1) as int16,
// S0..S3 of `first` and of `second`, then S4..S7 of each: against Unpacked::mins one madd
// gives the reference's four lanes of Q4_K's mins for both (lane l: mins 2l and 2l + 1 times
// their sums), [first l0 l1, second l0 l1 | first l2 l3, second l2 l3], so their float steps
// run once a pair. `second` null: its lanes 0.
HWY_INLINE __m256i PairSubBlockSums(const Q8_KBlock& first, const Q8_KBlock* second) {
  const auto bsums = [](const Q8_KBlock& a) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
  };
  // At most 2 * 16 * 128 in magnitude: no int16 wraps.
  return _mm256_hadd_epi16(bsums(first),
                           second != nullptr ? bsums(*second) : _mm256_setzero_si256());
}

// Lane t: the exact integer total of token t's four lanes in pairs[t / 2] (PairSubBlockSums'
// layout), for t < 2 * kPairs (0 above).
template <int kPairs>
HWY_INLINE __m256i PairTotals(const __m256i* pairs) {
  static_assert(kPairs <= 4);
  __m256i x[4];
  for (int p = 0; p < 4; ++p) x[p] = p < kPairs ? pairs[p] : _mm256_setzero_si256();
  // Tokens 0-3's lanes l0 + l1 in the low half, l2 + l3 in the high; then tokens 4-7's.
  const __m256i lo = _mm256_hadd_epi32(x[0], x[1]);
  const __m256i hi = _mm256_hadd_epi32(x[2], x[3]);
  return _mm256_add_epi32(_mm256_permute2x128_si256(lo, hi, 0x20),
                          _mm256_permute2x128_si256(lo, hi, 0x31));
}

// One weight row against kActs (at most 8) Q8_K activation rows, into out[0..kActs): each
// result the same bits as dot_k.cpp's DotRows (Q2_K's mins in the sum's lanes, before the
// block's scaled sums; Q4_K's in the reference's four float lanes, two tokens to a vector as
// PairSubBlockSums lays them out; Q5_K's in a scalar per token, token t's in lane t of one
// vector; Q3_K and Q6_K's offsets in the lanes of their elements).
template <class Block, int kActs>
void DotRowTokens(const Block* w, const Q8_KBlock* const* a, int64_t nb, float* out) {
  constexpr bool kMins = !kSignedQuants<Block>;
  constexpr bool kSameLaneMins = std::is_same_v<Block, Q2_KBlock>;
  constexpr bool kFourLaneMins = std::is_same_v<Block, Q4_KBlock>;
  constexpr bool kScalarMins = std::is_same_v<Block, Q5_KBlock>;
  constexpr bool kPairMins = kFourLaneMins || kScalarMins;
  static_assert(kActs <= 8);
  // Q4_K: tokens 2p and 2p + 1's four lanes in mins4[p], as PairSubBlockSums lays them out.
  constexpr int kPairs = (kActs + 1) / 2;
  const Constants<Block> constants;
  __m256 sum[kActs];
  __m256 mins4[kPairs];
  // Q5_K: token t's scalar in lane t (each lane's steps are the reference's scalar ones).
  __m256 mins = _mm256_setzero_ps();
  for (__m256& s : sum) s = _mm256_setzero_ps();
  for (__m256& m : mins4) m = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const Block& wb = w[b];
    const Unpacked u = constants.Unpack(wb);
    __m512i acc[kActs];
    for (int t = 0; t < kActs; ++t) acc[t] = BlockSums<Block>(u, a[t][b]);
    const __m256 d_w = _mm256_set1_ps(F16ToF32ByTable(wb.d));
    float dmin_w = 0.0f;
    if constexpr (kMins) dmin_w = F16ToF32ByTable(wb.dmin);
    __m256 d_a[kActs];
    // Q4_K and Q5_K, token pair p: the reference's four lanes of each (PairSubBlockSums).
    __m256i pair_min[kPairs];
    if constexpr (kPairMins) {
      for (int p = 0; p < kPairs; ++p) {
        const int t = 2 * p;
        pair_min[p] = _mm256_madd_epi16(
            u.mins, PairSubBlockSums(a[t][b], t + 1 < kActs ? &a[t + 1][b] : nullptr));
      }
    }
    for (int t = 0; t < kActs; ++t) {
      const Q8_KBlock& ab = a[t][b];
      const __m256i lanes =
          _mm256_add_epi32(_mm512_castsi512_si256(acc[t]), _mm512_extracti64x4_epi64(acc[t], 1));
      d_a[t] = _mm256_broadcast_ss(&ab.d);
      if constexpr (kSameLaneMins) {
        // Lane j: mins 2j and 2j + 1 times their 16-element sums.
        const __m256i per_min = _mm256_madd_epi16(
            u.mins, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.bsums)));
        // -(a.d * dmin) rounds as (-a.d) * dmin does.
        sum[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(per_min),
                                 _mm256_mul_ps(d_a[t], _mm256_set1_ps(-dmin_w)), sum[t]);
      }
      sum[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes), _mm256_mul_ps(d_a[t], d_w), sum[t]);
    }
    if constexpr (kScalarMins) {
      // fma(-a.d * dmin, the exact integer total of the mins' products, mins) per token;
      // -(a.d * dmin) rounds as (-a.d) * dmin does.
      __m256 d = d_a[0];
      for (int t = 1; t < kActs; ++t) {
        d = _mm256_mask_blend_ps(static_cast<__mmask8>(1u << t), d, d_a[t]);
      }
      mins = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_set1_ps(-dmin_w)),
                             _mm256_cvtepi32_ps(PairTotals<kPairs>(pair_min)), mins);
    }
    if constexpr (kFourLaneMins) {
      const __m256 neg_dmin_w = _mm256_set1_ps(-dmin_w);
      for (int p = 0; p < kPairs; ++p) {
        const int t = 2 * p;
        const __m256 d = t + 1 < kActs ? _mm256_blend_ps(d_a[t], d_a[t + 1], 0xCC) : d_a[t];
        // -(a.d * dmin) rounds as (-a.d) * dmin does.
        mins4[p] = _mm256_fmadd_ps(_mm256_mul_ps(d, neg_dmin_w), _mm256_cvtepi32_ps(pair_min[p]),
                                   mins4[p]);
      }
    }
  }
  // Per token: the reference's sum of the lanes, plus the mins' (Q4_K: (l0 + l2) + (l1 + l3)
  // of its four lanes; Q5_K: its lane of `mins`; the others 0.0f, as DotRows adds them).
  __m256 min_terms = mins;
  if constexpr (kFourLaneMins) {
    // Lane t: the four-lane sum of token t, from the pairs' (l0 + l2, l1 + l3) side by side.
    __m256 m[4];
    for (int p = 0; p < 4; ++p) m[p] = p < kPairs ? mins4[p] : _mm256_setzero_ps();
    min_terms = _mm256_hadd_ps(HalvesSums(m[0], m[2]), HalvesSums(m[1], m[3]));
  }
  alignas(32) float totals[8];
  _mm256_store_ps(totals, _mm256_add_ps(LaneSumTrees8<kActs>(sum), min_terms));
  for (int t = 0; t < kActs; ++t) out[t] = totals[t];
}

// Tokens a call takes at once: eight share each unpacked block, where four spent about a fifth
// of a Q4_K prompt's matmul time on unpacking. Eight tokens' accumulators spill a few vectors
// to the stack, which costs less than the unpacking saved (DotKTokensPerCall tells Matmul).
constexpr int kTokensPerCall = 8;

// `count` activation rows `a_stride` bytes apart, as dot_k.cpp's DotTokens.
template <class Block>
void DotTokens(const void* w, const void* a, uint64_t a_stride, int count, int64_t n, float* out) {
  const auto* wb = static_cast<const Block*>(w);
  ForTokenGroups<kTokensPerCall>(count, [&](auto acts, int first) {
    constexpr int kActs = decltype(acts)::value;
    const Q8_KBlock* rows[kActs];
    for (int t = 0; t < kActs; ++t) {
      rows[t] = reinterpret_cast<const Q8_KBlock*>(static_cast<const uint8_t*>(a) +
                                                   (first + t) * a_stride);
    }
    DotRowTokens<Block, kActs>(wb, rows, n / kQK_K, out + first);
  });
}

template <class Block>
float Dot(const void* w, const void* a, int64_t n) {
  const Q8_KBlock* act = static_cast<const Q8_KBlock*>(a);
  float out;
  DotRowTokens<Block, 1>(static_cast<const Block*>(w), &act, n / kQK_K, &out);
  return out;
}

}  // namespace dot_k_avx512
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
#endif  // WICK_KERNELS_CPU_DOT_K_AVX512_INL_H_
