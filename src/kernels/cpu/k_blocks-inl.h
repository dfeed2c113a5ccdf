// The k-quants' integer block sums (Q2_K to Q6_K against Q8_K activations) for dot_k.cpp's
// rows, on every SIMD target but SCALAR: per super-block, the quants are unpacked to unsigned
// bytes, multiplied with the int8 activations and summed exactly in int32 lanes under the
// integer sub-block scales (the offsets of the symmetric formats and the mins as
// kOffsetsFromSums and the block functions say). On x86 from AVX2 up the lanes, and how the mins
// join, are those of llama.cpp's kernels (ref_order.h). Include it after <hwy/highway.h> in a
// file that Highway's foreach_target.h re-includes.
#if defined(WICK_KERNELS_CPU_K_BLOCKS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_K_BLOCKS_INL_H_
#undef WICK_KERNELS_CPU_K_BLOCKS_INL_H_
#else
#define WICK_KERNELS_CPU_K_BLOCKS_INL_H_
#endif

#include <hwy/highway.h>

#include <bit>
#include <cstddef>
#include <cstdint>

#include "core/quant_blocks.h"
#include "kernels/cpu/k_scales.h"
#include "kernels/cpu/vnni_evex-inl.h"  // per target: after highway.h
#include "kernels/cpu/wasm_relaxed.h"

#ifndef WICK_K_BLOCKS_ONCE
#define WICK_K_BLOCKS_ONCE
namespace wick::kernels {

static_assert(std::endian::native == std::endian::little, "block bytes are read as words");

// Sub-block (of 16 elements) of each pair of elements in a super-block: i16 lane t of a
// vector of pair products that starts at element e covers sub-block kPairSub16[e / 2 + t].
inline constexpr auto kPairSub16 = [] {
  struct {
    int8_t v[kQK_K / 2];
  } t{};
  for (int p = 0; p < kQK_K / 2; ++p) t.v[p] = static_cast<int8_t>(p / 8);
  return t;
}();

}  // namespace wick::kernels
#endif  // WICK_K_BLOCKS_ONCE

#if HWY_TARGET != HWY_SCALAR
HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace k_blocks {
namespace hn = hwy::HWY_NAMESPACE;

// Vectors of at most 32 bytes, so that one never spans two 32-element slices of a block: the
// k-quants pack their bits per 32 (or 64, 128) elements, and wider vectors would need
// cross-lane shuffles to line quants up with activations.
using D8 = hn::CappedTag<uint8_t, 32>;
using DI8 = hn::RebindToSigned<D8>;
using D16 = hn::Repartition<int16_t, D8>;
using D32 = hn::Repartition<int32_t, D8>;
using V8 = hn::Vec<D8>;
using V16 = hn::Vec<D16>;
using V32 = hn::Vec<D32>;
constexpr size_t kV = hn::MaxLanes(D8());  // elements per vector: 16 or 32

// Sums of adjacent products of unsigned weight bytes (at most 63) and int8 activations: i16
// lane t = w[2t] a[2t] + w[2t+1] a[2t+1], which cannot overflow. x86's pmaddubsw does exactly
// this; Highway 1.0.3 has no op for it.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_SSSE3
HWY_INLINE hn::Vec128<int16_t> MulPairs(hn::Vec128<uint8_t> w, hn::Vec128<int8_t> a) {
  return hn::Vec128<int16_t>{_mm_maddubs_epi16(w.raw, a.raw)};
}
#if HWY_TARGET <= HWY_AVX2
HWY_INLINE hn::Vec256<int16_t> MulPairs(hn::Vec256<uint8_t> w, hn::Vec256<int8_t> a) {
  return hn::Vec256<int16_t>{_mm256_maddubs_epi16(w.raw, a.raw)};
}
#endif
#else
HWY_INLINE V16 MulPairsPortable(V8 w, hn::Vec<DI8> a) {
  const D16 d16;
  const hn::RebindToUnsigned<D16> du16;
  const V16 w_even = hn::BitCast(d16, hn::And(hn::BitCast(du16, w), hn::Set(du16, 0xFF)));
  const V16 w_odd = hn::BitCast(d16, hn::ShiftRight<8>(hn::BitCast(du16, w)));
  const V16 a16 = hn::BitCast(d16, a);
  const V16 a_even = hn::ShiftRight<8>(hn::ShiftLeft<8>(a16));  // sign-extends
  const V16 a_odd = hn::ShiftRight<8>(a16);
  return hn::Add(hn::Mul(w_even, a_even), hn::Mul(w_odd, a_odd));
}

HWY_INLINE V16 MulPairs(V8 w, hn::Vec<DI8> a) {
#if HWY_TARGET == HWY_WASM
  // One instruction where the browser has Relaxed SIMD (all k-quant weights are below 128).
  if (kWasmRelaxedDot) return V16{RelaxedDotI8I7(a.raw, w.raw)};
#endif
  return MulPairsPortable(w, a);
}
#endif

// Per-block int32 accumulator. Highway's widening multiply-add may leave half of the products
// in a second vector (EMU128 does); both are summed at the end.
struct Acc {
  // Spelled out: an implicit constructor would miss the target's instruction-set attributes.
  Acc() : sum0(hn::Zero(D32())), sum1(hn::Zero(D32())) {}

  V32 sum0;
  V32 sum1;

  void Add(V16 a, V16 b) {
#ifdef WICK_VNNI_EVEX
    // AVX-512 VNNI's vpdpwssd: the pairs' products added to the lanes in one instruction (the
    // same lanes as the multiply-add and add it replaces).
    if constexpr (kV == 32) {
      sum0 = V32{vnni::DotPairs(sum0.raw, a.raw, b.raw)};
      return;
    }
#endif
    sum0 = hn::ReorderWidenMulAccumulate(D32(), a, b, sum0, sum1);
  }
  int32_t Total() const {
    return hn::GetLane(hn::SumOfLanes(D32(), hn::Add(sum0, sum1)));
  }
};

// The sub-block scales (int8 in `table`) of the pair products of the vector at element e.
// A 16-element vector (e a multiple of 16) lies in one sub-block: its scale is broadcast, where
// a byte table lookup became a constant shuffle that the browser runs as several instructions.
HWY_INLINE V16 PairScales(hn::Vec128<int8_t> table, size_t e) {
  if constexpr (kV == 16) {
    return hn::Set(D16(), static_cast<int16_t>(hn::ExtractLane(table, e / 16)));
  } else {
    const hn::Rebind<int8_t, D16> d8;
    const auto idx = hn::LoadU(d8, kPairSub16.v + e / 2);
    return hn::PromoteTo(D16(), hn::TableLookupBytes(table, idx));
  }
}

// Adds sum_j factor * scale[j] * bsums[j] over the 16 sub-blocks to acc.
// (A template, so that the branch for the other vector width is discarded.)
template <class D>
HWY_INLINE void AddBsumTerms(D d16, hn::Vec128<int8_t> scales, int factor, const int16_t* bsums,
                             Acc& acc) {
  const auto f = hn::Set(d16, static_cast<int16_t>(factor));
  if constexpr (hn::MaxLanes(d16) == kQK_K / 16) {
    acc.Add(hn::Mul(hn::PromoteTo(d16, scales), f), hn::LoadU(d16, bsums));
  } else {
    static_assert(hn::MaxLanes(d16) == kQK_K / 32);
    const hn::Full64<int8_t> dh;
    acc.Add(hn::Mul(hn::PromoteTo(d16, hn::LowerHalf(dh, scales)), f), hn::LoadU(d16, bsums));
    acc.Add(hn::Mul(hn::PromoteTo(d16, hn::UpperHalf(dh, scales)), f),
            hn::LoadU(d16, bsums + kQK_K / 32));
  }
}

// Adds sum_j mins[j] * (bsums[2j] + bsums[2j + 1]) over the 8 sub-blocks (mins: 8 bytes) to
// acc: the min bytes interleaved with themselves (m0 m0 m1 m1 ... m7 m7), widened, meet the
// sums in pairs. An unpack, where a byte table lookup became a chain of constant shuffles in
// the browser. (A template, as AddBsumTerms.)
template <class D>
HWY_INLINE void AddMinTerms(D d16, uint64_t mins, const int16_t* bsums, Acc& acc) {
  const hn::Full128<uint8_t> du8;
  const auto bytes = hn::BitCast(du8, hn::Set(hn::Full128<uint64_t>(), mins));
  const auto paired = hn::InterleaveLower(du8, bytes, bytes);
  const hn::RebindToUnsigned<D> du16;
  if constexpr (hn::MaxLanes(d16) == kQK_K / 16) {
    acc.Add(hn::BitCast(d16, hn::PromoteTo(du16, paired)), hn::LoadU(d16, bsums));
  } else {
    static_assert(hn::MaxLanes(d16) == kQK_K / 32);
    const hn::Full64<uint8_t> dh;
    acc.Add(hn::BitCast(d16, hn::PromoteTo(du16, hn::LowerHalf(dh, paired))),
            hn::LoadU(d16, bsums));
    acc.Add(hn::BitCast(d16, hn::PromoteTo(du16, hn::UpperHalf(dh, paired))),
            hn::LoadU(d16, bsums + kQK_K / 32));
  }
}

// Two words as one vector of bytes, without a trip through memory.
HWY_INLINE hn::Vec128<int8_t> ToVector(Bytes16 b) {
  const hn::Full128<uint64_t> d64;
  return hn::BitCast(hn::Full128<int8_t>(),
                     hn::InterleaveLower(hn::Set(d64, b.lo), hn::Set(d64, b.hi)));
}

HWY_INLINE V8 Load8(const uint8_t* p) {
  return hn::LoadU(D8(), p);
}
HWY_INLINE hn::Vec<DI8> LoadAct(const Q8_KBlock& a, size_t e) {
  return hn::LoadU(DI8(), a.qs + e);
}

// Bits [shift, shift + 2) of every byte, in its low bits (shift even, at most 6).
HWY_INLINE V8 Crumb(V8 v, int shift) {
  const hn::RebindToUnsigned<D16> du16;
  // A 16-bit shift moves at most six bits across the byte boundary, all above bit 1.
  const auto moved = hn::BitCast(D8(), hn::ShiftRightSame(hn::BitCast(du16, v), shift));
  return hn::And(moved, hn::Set(D8(), 3));
}

// Bit `bit` of every byte, moved to bit `to` and the rest cleared.
HWY_INLINE V8 BitTo(V8 v, int bit, int to) {
  const hn::RebindToUnsigned<D16> du16;
  const auto v16 = hn::BitCast(du16, v);
  // Bits crossing the byte boundary in the 16-bit shift land below `to` (left shift) or
  // above it (right shift), so the mask clears them.
  const auto moved =
      bit <= to ? hn::ShiftLeftSame(v16, to - bit) : hn::ShiftRightSame(v16, bit - to);
  return hn::And(hn::BitCast(D8(), moved), hn::Set(D8(), static_cast<uint8_t>(1 << to)));
}

// BitTo where `bit` is a loop counter, not a constant after unrolling: on WebAssembly a test
// and a select, because LLVM 14 turns the 16-bit shift by a run-time count into one scalar shift
// per lane (Q5_K's blocks ran five times slower than Q4_K's in the browser).
HWY_INLINE V8 BitToVarying(V8 v, int bit, int to) {
#if HWY_TARGET == HWY_WASM
  const V8 set = hn::Set(D8(), static_cast<uint8_t>(1 << to));
  return hn::IfThenElseZero(hn::TestBit(v, hn::Set(D8(), static_cast<uint8_t>(1 << bit))), set);
#else
  return BitTo(v, bit, to);
#endif
}

// The symmetric formats' offsets (Q3_K's 4, Q6_K's 32): on x86 in the lanes of their elements,
// as llama.cpp's kernels of the reference outputs apply them (ref_order.h); on WebAssembly from
// the activations' 16-element sums under the sub-block scales, once per block and token, which
// spares a second pair product per vector (the portable one costs eight instructions). The
// integer sums are the same; their lanes differ.
constexpr bool kOffsetsFromSums = HWY_TARGET == HWY_WASM;

// The block functions below take kActs activation rows (a prompt's tokens share each
// unpacked weight vector): a[t], acc[t] and min_acc[t] for t < kActs.
template <int kActs>
void BlockQ2_K(const Q2_KBlock& w, const Q8_KBlock* const* a, Acc* acc, Acc* min_acc) {
  const hn::Full128<int8_t> d8t;
  const auto raw = hn::LoadU(d8t, reinterpret_cast<const int8_t*>(w.scales));
  const auto scales = hn::And(raw, hn::Set(d8t, 0x0F));
  const auto mins = hn::BitCast(d8t, hn::ShiftRight<4>(hn::BitCast(hn::Full128<uint8_t>(), raw)));
  for (size_t h = 0; h < 2; ++h) {
    for (size_t l = 0; l < 32; l += kV) {
      const V8 qs = Load8(w.qs + 32 * h + l);
      for (int k = 0; k < 4; ++k) {
        const size_t e = 128 * h + 32 * k + l;
        const V8 q = Crumb(qs, 2 * k);
        const V16 sc = PairScales(scales, e);
        for (int t = 0; t < kActs; ++t) acc[t].Add(MulPairs(q, LoadAct(*a[t], e)), sc);
      }
    }
  }
  for (int t = 0; t < kActs; ++t) AddBsumTerms(D16(), mins, 1, a[t]->bsums, min_acc[t]);
}

template <int kActs>
void BlockQ3_K(const Q3_KBlock& w, const Q8_KBlock* const* a, Acc* acc, Acc*) {
  const hn::Full128<int8_t> d8t;
  const auto scales = hn::Sub(ToVector(UnpackQ3_KScales(w.scales)), hn::Set(d8t, 32));
  const V8 four = hn::Set(D8(), 4);
  for (size_t l = 0; l < 32; l += kV) {
    const V8 hmask = Load8(w.hmask + l);
    for (size_t h = 0; h < 2; ++h) {
      const V8 qs = Load8(w.qs + 32 * h + l);
      for (int k = 0; k < 4; ++k) {
        const size_t e = 128 * h + 32 * k + l;
        // Quants stored as 0..7 (high bit set means no offset); the -4 as kOffsetsFromSums
        // says.
        const V8 q = hn::Or(Crumb(qs, 2 * k), BitTo(hmask, static_cast<int>(4 * h) + k, 2));
        const V16 sc = PairScales(scales, e);
        for (int t = 0; t < kActs; ++t) {
          const auto act = LoadAct(*a[t], e);
          if constexpr (kOffsetsFromSums) {
            acc[t].Add(MulPairs(q, act), sc);
          } else {
            acc[t].Add(hn::Sub(MulPairs(q, act), MulPairs(four, act)), sc);
          }
        }
      }
    }
  }
  if constexpr (kOffsetsFromSums) {
    for (int t = 0; t < kActs; ++t) AddBsumTerms(D16(), scales, -4, a[t]->bsums, acc[t]);
  }
}

// Q4_K and Q5_K: 4 (or 5) bit quants under eight 6-bit scales and mins.
template <bool kFifthBit, int kActs, class Block>
HWY_INLINE void BlockScaleMin6Sums(const Block& w, const Q8_KBlock* const* a, Acc* acc,
                                   Acc* min_acc) {
  const Bytes16 scale_min = UnpackScaleMin6(w.scales);
  // Sub-block j's scale is byte j of scale_min.lo.
  const auto scale = [&](size_t j) {
    return hn::Set(D16(), static_cast<int16_t>((scale_min.lo >> (8 * j)) & 0xFF));
  };
  for (size_t h = 0; h < 4; ++h) {
    for (size_t l = 0; l < 32; l += kV) {
      const V8 qs = Load8(w.qs + 32 * h + l);
      V8 lo = hn::And(qs, hn::Set(D8(), 0x0F));
      V8 hi = hn::ShiftRight<4>(qs);
      if constexpr (kFifthBit) {
        // The fifth bit of element e is bit e / 32 of qh[e % 32].
        const V8 qh = Load8(w.qh + l);
        lo = hn::Or(lo, BitToVarying(qh, static_cast<int>(2 * h), 4));
        hi = hn::Or(hi, BitToVarying(qh, static_cast<int>(2 * h + 1), 4));
      }
      const size_t e = 64 * h + l;
      const V16 scale_lo = scale(2 * h);
      const V16 scale_hi = scale(2 * h + 1);
      for (int t = 0; t < kActs; ++t) {
        acc[t].Add(MulPairs(lo, LoadAct(*a[t], e)), scale_lo);
        acc[t].Add(MulPairs(hi, LoadAct(*a[t], e + 32)), scale_hi);
      }
    }
  }
  // Each min covers two of the activations' 16-element sums.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  if constexpr (kV == 32) {
    // Straight into the reference's four lanes (lane l: mins 2l and 2l + 1), which DotRows
    // reads from the low half: the sub-block sums by a pairwise add, then one multiply-add.
    const __m128i mins = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scale_min.hi)));
    for (int t = 0; t < kActs; ++t) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[t]->bsums));
      const __m128i sub =
          _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
      min_acc[t].sum0 = V32{_mm256_zextsi128_si256(_mm_madd_epi16(mins, sub))};
    }
    return;
  }
#endif
  for (int t = 0; t < kActs; ++t) AddMinTerms(D16(), scale_min.hi, a[t]->bsums, min_acc[t]);
}

#if HWY_TARGET == HWY_WASM
// BlockScaleMin6Sums with Relaxed SIMD's four-way dot product: a 32-element sub-block's
// products summed into int32 lanes by two instructions, then scaled once, where the pair
// products took three instructions per 16 elements. Lane l sums elements 4l..4l+3 of each 16,
// as the pair products' lanes do, so the lanes hold the same sums.
template <bool kFifthBit, int kActs, class Block>
HWY_INLINE void BlockScaleMin6SumsRelaxed(const Block& w, const Q8_KBlock* const* a, Acc* acc,
                                          Acc* min_acc) {
  const Bytes16 scale_min = UnpackScaleMin6(w.scales);
  const v128_t zero = RuntimeZero();
  for (size_t h = 0; h < 4; ++h) {
    v128_t lo[2], hi[2];  // sub-blocks 2h and 2h + 1, 16 elements a vector
    for (size_t i = 0; i < 2; ++i) {
      const V8 qs = Load8(w.qs + 32 * h + 16 * i);
      V8 l = hn::And(qs, hn::Set(D8(), 0x0F));
      V8 u = hn::ShiftRight<4>(qs);
      if constexpr (kFifthBit) {
        const V8 qh = Load8(w.qh + 16 * i);
        l = hn::Or(l, BitToVarying(qh, static_cast<int>(2 * h), 4));
        u = hn::Or(u, BitToVarying(qh, static_cast<int>(2 * h + 1), 4));
      }
      lo[i] = l.raw;
      hi[i] = u.raw;
    }
    const auto scale = [&](size_t j) {
      return wasm_i32x4_splat(static_cast<int32_t>((scale_min.lo >> (8 * j)) & 0xFF));
    };
    const v128_t scale_lo = scale(2 * h);
    const v128_t scale_hi = scale(2 * h + 1);
    for (int t = 0; t < kActs; ++t) {
      const int8_t* act = a[t]->qs + 64 * h;
      const auto sub_block = [&](const v128_t* q, const int8_t* x) {
        return RelaxedDotAddI8I7(wasm_v128_load(x + 16), q[1],
                                 RelaxedDotAddI8I7(wasm_v128_load(x), q[0], zero));
      };
      const v128_t sums = wasm_i32x4_add(wasm_i32x4_mul(sub_block(lo, act), scale_lo),
                                         wasm_i32x4_mul(sub_block(hi, act + 32), scale_hi));
      acc[t].sum0 = V32{wasm_i32x4_add(acc[t].sum0.raw, sums)};
    }
  }
  for (int t = 0; t < kActs; ++t) AddMinTerms(D16(), scale_min.hi, a[t]->bsums, min_acc[t]);
}
#endif

// Q4_K and Q5_K with the kernels this target (module) has.
template <bool kFifthBit, int kActs, class Block>
HWY_INLINE void BlockScaleMin6(const Block& w, const Q8_KBlock* const* a, Acc* acc, Acc* min_acc) {
#if HWY_TARGET == HWY_WASM
  if (kWasmRelaxedDot) {
    BlockScaleMin6SumsRelaxed<kFifthBit, kActs>(w, a, acc, min_acc);
    return;
  }
#endif
  BlockScaleMin6Sums<kFifthBit, kActs>(w, a, acc, min_acc);
}

template <int kActs>
void BlockQ4_K(const Q4_KBlock& w, const Q8_KBlock* const* a, Acc* acc, Acc* min_acc) {
  BlockScaleMin6<false, kActs>(w, a, acc, min_acc);
}
template <int kActs>
void BlockQ5_K(const Q5_KBlock& w, const Q8_KBlock* const* a, Acc* acc, Acc* min_acc) {
  BlockScaleMin6<true, kActs>(w, a, acc, min_acc);
}

template <int kActs>
void BlockQ6_K(const Q6_KBlock& w, const Q8_KBlock* const* a, Acc* acc, Acc*) {
  const hn::Full128<int8_t> d8t;
  const auto scales = hn::LoadU(d8t, w.scales);
  const auto low4 = hn::Set(D8(), 0x0F);
  const V8 thirty_two = hn::Set(D8(), 32);
  for (size_t h = 0; h < 2; ++h) {
    for (size_t l = 0; l < 32; l += kV) {
      const V8 ql0 = Load8(w.ql + 64 * h + l);
      const V8 ql1 = Load8(w.ql + 64 * h + 32 + l);
      const V8 qh = Load8(w.qh + 32 * h + l);
      // Quants stored + 32 (0..63).
      const V8 q[4] = {
          hn::Or(hn::And(ql0, low4), hn::ShiftLeft<4>(Crumb(qh, 0))),
          hn::Or(hn::And(ql1, low4), hn::ShiftLeft<4>(Crumb(qh, 2))),
          hn::Or(hn::ShiftRight<4>(ql0), hn::ShiftLeft<4>(Crumb(qh, 4))),
          hn::Or(hn::ShiftRight<4>(ql1), hn::ShiftLeft<4>(Crumb(qh, 6))),
      };
      for (size_t k = 0; k < 4; ++k) {
        const size_t e = 128 * h + 32 * k + l;
        // The -32 as kOffsetsFromSums says. Pair sums of (q - 32) * a fit in int16 (at most
        // 63 * 127 * 2).
        const V16 sc = PairScales(scales, e);
        for (int t = 0; t < kActs; ++t) {
          const auto act = LoadAct(*a[t], e);
          if constexpr (kOffsetsFromSums) {
            acc[t].Add(MulPairs(q[k], act), sc);
          } else {
            acc[t].Add(hn::Sub(MulPairs(q[k], act), MulPairs(thirty_two, act)), sc);
          }
        }
      }
    }
  }
  if constexpr (kOffsetsFromSums) {
    for (int t = 0; t < kActs; ++t) AddBsumTerms(D16(), scales, -32, a[t]->bsums, acc[t]);
  }
}

}  // namespace k_blocks
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
#endif  // HWY_TARGET != HWY_SCALAR

#endif  // WICK_KERNELS_CPU_K_BLOCKS_INL_H_
