// SIMD dot products of the k-quant formats (Q2_K to Q6_K) with Q8_K activations, and the
// Q8_K activation quantizer. Highway compiles this file once per SIMD target (see simd.h);
// HWY_DYNAMIC_DISPATCH picks the best one the CPU supports at run time.
//
// Per super-block, the quants are unpacked to unsigned bytes, multiplied with the int8
// activations and summed exactly in int32 lanes under the integer sub-block scales (the
// offsets of the symmetric formats in the lanes of their elements, the mins from the
// activations' 16-element sums); only the per-block float products and the running sums
// round. On x86 from AVX2 up the lanes, and how the mins join, are those of llama.cpp's
// kernels (ref_order.h), so the sums round as the reference outputs' do.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/dot_k.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <bit>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/dot_k_avx512-inl.h"  // per target: after highway.h
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/k_scales.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cpu/ref_order.h"
#include "kernels/cpu/token_groups.h"
#include "kernels/cpu/vec_dot.h"
#include "kernels/cpu/vnni_evex-inl.h"  // per target: after highway.h
#include "kernels/cpu/wasm_relaxed.h"

// The quantizer must reproduce the reference's roundings exactly; a contracted a * b + c
// rounds once instead of twice, so keep products and sums separate (GCC's intrinsics are
// plain vector arithmetic that it would otherwise fuse on FMA targets).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#ifndef WICK_DOT_K_ONCE
#define WICK_DOT_K_ONCE
namespace wick::kernels {
namespace {

static_assert(std::endian::native == std::endian::little, "block bytes are read as words");

// Sub-block (of 16 elements) of each pair of elements in a super-block: i16 lane t of a
// vector of pair products that starts at element e covers sub-block kPairSub16[e / 2 + t].
constexpr auto kPairSub16 = [] {
  struct {
    int8_t v[kQK_K / 2];
  } t{};
  for (int p = 0; p < kQK_K / 2; ++p) t.v[p] = static_cast<int8_t>(p / 8);
  return t;
}();

}  // namespace
}  // namespace wick::kernels
#endif  // WICK_DOT_K_ONCE

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace {

// ------------------------------------------------------------------ Q8_K quantizer

// Mirrors ref::QuantizeQ8_K: the first element of largest magnitude sets the scale, quants
// round with the 1.5 * 2^23 trick (ties to even) after the same float product.
void QuantizeBlockQ8_K(const float* x, Q8_KBlock& y) {
  const hn::ScalableTag<float> df;
  const hn::RebindToSigned<decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const size_t lanes = hn::Lanes(df);
  auto vmax = hn::Zero(df);
  auto special = hn::Zero(df);
  for (size_t i = 0; i < kQK_K; i += lanes) {
    const auto v = hn::LoadU(df, x + i);
    vmax = hn::Max(vmax, hn::Abs(v));
    special = hn::Add(special, hn::Sub(v, v));  // becomes NaN where a lane was inf or NaN
  }
  const float amax = hn::GetLane(hn::MaxOfLanes(df, vmax));
  if (!hn::AllFalse(df, hn::IsNaN(special))) {
    // Infinities and NaNs: whatever the reference makes of them, byte for byte.
    ref::QuantizeQ8_K(x, &y, kQK_K);
    return;
  }
  if (amax == 0) {
    std::memset(&y, 0, sizeof(y));
    return;
  }
  float max = 0;
  for (size_t i = 0; i < kQK_K; i += lanes) {
    const auto v = hn::LoadU(df, x + i);
    const intptr_t first = hn::FindFirstTrue(df, hn::Eq(hn::Abs(v), hn::Set(df, amax)));
    if (first >= 0) {
      max = x[i + static_cast<size_t>(first)];
      break;
    }
  }
  const float iscale = -127.f / max;
  if (!std::isfinite(iscale)) {
    // A tiny subnormal maximum overflows the scale, and the reference's int8 casts wrap the
    // out-of-range quants that follow; let it make them.
    ref::QuantizeQ8_K(x, &y, kQK_K);
    return;
  }
  const auto vscale = hn::Set(df, iscale);
  const auto bias = hn::Set(df, 12582912.f);  // 1.5 * 2^23, as in the reference's NearestInt
  const auto mantissa = hn::Set(di, 0x007fffff);
  const auto offset = hn::Set(di, 0x00400000);
  const auto top = hn::Set(di, 127);
  for (size_t j = 0; j < kQK_K; j += 16) {
    auto sum = hn::Zero(di);
    for (size_t i = j; i < j + 16; i += lanes) {
      const auto rounded = hn::Add(hn::Mul(vscale, hn::LoadU(df, x + i)), bias);
      auto q = hn::Sub(hn::And(hn::BitCast(di, rounded), mantissa), offset);
      q = hn::Min(q, top);
      sum = hn::Add(sum, q);
      hn::StoreU(hn::DemoteTo(d8, q), d8, y.qs + i);
    }
    y.bsums[j / 16] = static_cast<int16_t>(hn::GetLane(hn::SumOfLanes(di, sum)));
  }
  y.d = 1 / iscale;
}

void QuantizeQ8_KImpl(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q8_KBlock*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) QuantizeBlockQ8_K(src + b * kQK_K, blocks[b]);
}

// ------------------------------------------------------------------ dot products

#if HWY_TARGET == HWY_SCALAR

// One-lane vectors have no byte pairs to multiply-add; this target is only compiled where
// EMU128 is unusable, and the scalar reference is the right code for it.
float DotQ2_KImpl(const void* w, const void* a, int64_t n) {
  return ref::DotQ2_KQ8_K(w, a, n);
}
float DotQ3_KImpl(const void* w, const void* a, int64_t n) {
  return ref::DotQ3_KQ8_K(w, a, n);
}
float DotQ4_KImpl(const void* w, const void* a, int64_t n) {
  return ref::DotQ4_KQ8_K(w, a, n);
}
float DotQ5_KImpl(const void* w, const void* a, int64_t n) {
  return ref::DotQ5_KQ8_K(w, a, n);
}
float DotQ6_KImpl(const void* w, const void* a, int64_t n) {
  return ref::DotQ6_KQ8_K(w, a, n);
}

void DotQ2_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  simd::DotTokensRowByRow<DotQ2_KImpl>(w, a, s, c, n, o);
}
void DotQ3_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  simd::DotTokensRowByRow<DotQ3_KImpl>(w, a, s, c, n, o);
}
void DotQ4_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  simd::DotTokensRowByRow<DotQ4_KImpl>(w, a, s, c, n, o);
}
void DotQ5_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  simd::DotTokensRowByRow<DotQ5_KImpl>(w, a, s, c, n, o);
}
void DotQ6_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  simd::DotTokensRowByRow<DotQ6_KImpl>(w, a, s, c, n, o);
}
#else

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

// A block's f16 scale: the table beats the scalar conversion's branches.
HWY_INLINE float ScaleOf(uint16_t h) {
  return F16ToF32ByTable(h);
}

template <class Block>
float DminOf(const Block& b) {
  if constexpr (requires { b.dmin; }) {
    return ScaleOf(b.dmin);
  } else {
    return 0.0f;
  }
}

// How a format's min term (dmin * the mins' integer sums) joins the row's sum in llama.cpp's
// x86 kernels (ref_order.h): in the main accumulator before the block's scaled sums (Q2_K),
// in a four-lane accumulator of its own (Q4_K), in a scalar (Q5_K), or not at all (the
// symmetric formats, whose offsets are in the integer sums).
enum class MinTerm { kNone, kSameLanes, kFourLanes, kScalar };

// The eight lanes of an accumulator, added as hsum_float_8 adds them; other widths (targets
// below AVX2, which do not follow the reference's order) add theirs as Highway does.
template <class DF>
HWY_INLINE float SumLanes(DF df, hn::Vec<DF> v) {
  if constexpr (hn::MaxLanes(DF()) == 8) {
    alignas(32) float lanes[8];
    hn::Store(v, df, lanes);
    return SumTree8(lanes);
  } else {
    return hn::GetLane(hn::SumOfLanes(df, v));
  }
}

// A row: each block's exact integer sums (`kSums` fills the scaled-quant sum and, for the
// formats with mins, the min sum) are scaled by a.d * d (and -a.d * dmin) with one fused
// multiply-add per lane, and the lanes are added once per row, not once per block: decode
// spent a tenth of its time in those horizontal sums.
// One activation row's running sums in DotRows.
struct RowSums {
  hn::Vec<hn::Rebind<float, D32> > sum;
  float mins4[4];
  float mins;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  __m128 mins4v;
#endif
#if HWY_TARGET == HWY_WASM
  // The four lanes as a vector, multiplied and added: WebAssembly has no fused multiply-add,
  // and std::fma was a library call per lane.
  hn::Vec<hn::Rebind<float, D32> > mins4w;
#endif
};

// dmin * x + acc, fused where the target has an instruction for it (the reference's order on
// x86), else a product and a sum.
HWY_INLINE float MinStep(float dmin, float x, float acc) {
#if HWY_TARGET == HWY_WASM
  return dmin * x + acc;
#else
  return std::fma(dmin, x, acc);
#endif
}

// One weight row against kActs activation rows `a_stride` bytes apart, into out[0..kActs).
template <class Block, void (*kSums)(const Block&, const Q8_KBlock* const*, Acc*, Acc*),
          MinTerm kMin, int kActs>
void DotRows(const void* w, const void* a, uint64_t a_stride, int64_t n, float* out) {
  const auto* wb = static_cast<const Block*>(w);
  const hn::Rebind<float, D32> df;
  constexpr size_t kLanes = hn::MaxLanes(D32());
  const Q8_KBlock* rows[kActs];
  RowSums r[kActs];
  for (int t = 0; t < kActs; ++t) {
    rows[t] = reinterpret_cast<const Q8_KBlock*>(static_cast<const uint8_t*>(a) + t * a_stride);
    r[t].sum = hn::Zero(df);
    for (float& m : r[t].mins4) m = 0.0f;
    r[t].mins = 0.0f;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    r[t].mins4v = _mm_setzero_ps();
#endif
#if HWY_TARGET == HWY_WASM
    r[t].mins4w = hn::Zero(df);
#endif
  }
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    Acc acc[kActs], min_acc[kActs];
    const Q8_KBlock* ab[kActs];
    for (int t = 0; t < kActs; ++t) ab[t] = &rows[t][b];
    kSums(wb[b], ab, acc, min_acc);
    const float d_w = ScaleOf(wb[b].d);
    const float dmin_w = DminOf(wb[b]);
    for (int t = 0; t < kActs; ++t) {
      RowSums& rs = r[t];
      const float d = ab[t]->d * d_w;
      const float dmin = -ab[t]->d * dmin_w;
      const V32 min_lanes = hn::Add(min_acc[t].sum0, min_acc[t].sum1);
      if constexpr (kMin == MinTerm::kSameLanes) {
        rs.sum = hn::MulAdd(hn::ConvertTo(df, min_lanes), hn::Set(df, dmin), rs.sum);
      } else if constexpr (kMin == MinTerm::kFourLanes) {
        // Lane l of the reference's four: elsewhere this accumulator's lanes 2l and 2l + 1.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
        if constexpr (kLanes == 8) {
          // BlockScaleMin6Sums left the four lanes in the low half.
          const __m128i four = _mm256_castsi256_si128(min_lanes.raw);
          rs.mins4v = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(four), rs.mins4v);
        }
#endif
#if HWY_TARGET == HWY_WASM
        static_assert(kLanes == 4);  // lane l is the reference's lane l
        rs.mins4w = hn::Add(rs.mins4w, hn::Mul(hn::Set(df, dmin), hn::ConvertTo(df, min_lanes)));
#else
        if constexpr (kLanes != 8 || !(HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2)) {
          alignas(32) int32_t m[kLanes];
          hn::Store(min_lanes, D32(), m);
          for (size_t l = 0; l < 4; ++l) {
            int32_t pair = 0;
            for (size_t k = 2 * l * kLanes / 8; k < (2 * l + 2) * kLanes / 8; ++k) pair += m[k];
            rs.mins4[l] = std::fma(dmin, static_cast<float>(pair), rs.mins4[l]);
          }
        }
#endif
      } else if constexpr (kMin == MinTerm::kScalar) {
        const auto total = static_cast<float>(hn::GetLane(hn::SumOfLanes(D32(), min_lanes)));
        rs.mins = MinStep(dmin, total, rs.mins);
      }
      rs.sum =
          hn::MulAdd(hn::ConvertTo(df, hn::Add(acc[t].sum0, acc[t].sum1)), hn::Set(df, d), rs.sum);
    }
  }
  for (int t = 0; t < kActs; ++t) {
    RowSums& rs = r[t];
    const float lanes = SumLanes(df, rs.sum);
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
    if constexpr (kMin == MinTerm::kFourLanes && kLanes == 8) _mm_storeu_ps(rs.mins4, rs.mins4v);
#endif
#if HWY_TARGET == HWY_WASM
    if constexpr (kMin == MinTerm::kFourLanes) hn::StoreU(rs.mins4w, df, rs.mins4);
#endif
    if constexpr (kMin == MinTerm::kFourLanes) {
      out[t] = lanes + ((rs.mins4[0] + rs.mins4[2]) + (rs.mins4[1] + rs.mins4[3]));
    } else {
      out[t] = lanes + rs.mins;
    }
  }
}

template <class Block, void (*kSums1)(const Block&, const Q8_KBlock* const*, Acc*, Acc*),
          MinTerm kMin>
float DotRow(const void* w, const void* a, int64_t n) {
  float out;
  DotRows<Block, kSums1, kMin, 1>(w, a, 0, n, &out);
  return out;
}

// `count` activation rows, four at a time.
template <class Block, template <int> class Sums, MinTerm kMin>
void DotTokens(const void* w, const void* a, uint64_t a_stride, int count, int64_t n, float* out) {
  ForTokenGroups<4>(count, [&](auto acts, int first) {
    constexpr int kActs = decltype(acts)::value;
    DotRows<Block, Sums<kActs>::kFn, kMin, kActs>(
        w, static_cast<const uint8_t*>(a) + first * a_stride, a_stride, n, out + first);
  });
}

template <int kActs>
struct SumsQ2_K {
  static constexpr auto kFn = BlockQ2_K<kActs>;
};
template <int kActs>
struct SumsQ3_K {
  static constexpr auto kFn = BlockQ3_K<kActs>;
};
template <int kActs>
struct SumsQ4_K {
  static constexpr auto kFn = BlockQ4_K<kActs>;
};
template <int kActs>
struct SumsQ5_K {
  static constexpr auto kFn = BlockQ5_K<kActs>;
};
template <int kActs>
struct SumsQ6_K {
  static constexpr auto kFn = BlockQ6_K<kActs>;
};

// A format's kernels on this target: on AVX-512 its 512-bit ones (dot_k_avx512-inl.h, the
// same bits), elsewhere DotRows.
template <class Block, template <int> class Sums, MinTerm kMin>
float DotKRow(const void* w, const void* a, int64_t n) {
#ifdef WICK_DOT_K_AVX512
  return dot_k_avx512::Dot<Block>(w, a, n);
#else
  return DotRow<Block, Sums<1>::kFn, kMin>(w, a, n);
#endif
}
template <class Block, template <int> class Sums, MinTerm kMin>
void DotKTokens(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
#ifdef WICK_DOT_K_AVX512
  dot_k_avx512::DotTokens<Block>(w, a, s, c, n, o);
#else
  DotTokens<Block, Sums, kMin>(w, a, s, c, n, o);
#endif
}

float DotQ2_KImpl(const void* w, const void* a, int64_t n) {
  return DotKRow<Q2_KBlock, SumsQ2_K, MinTerm::kSameLanes>(w, a, n);
}
float DotQ3_KImpl(const void* w, const void* a, int64_t n) {
  return DotKRow<Q3_KBlock, SumsQ3_K, MinTerm::kNone>(w, a, n);
}
float DotQ4_KImpl(const void* w, const void* a, int64_t n) {
  return DotKRow<Q4_KBlock, SumsQ4_K, MinTerm::kFourLanes>(w, a, n);
}
float DotQ5_KImpl(const void* w, const void* a, int64_t n) {
  return DotKRow<Q5_KBlock, SumsQ5_K, MinTerm::kScalar>(w, a, n);
}
float DotQ6_KImpl(const void* w, const void* a, int64_t n) {
  return DotKRow<Q6_KBlock, SumsQ6_K, MinTerm::kNone>(w, a, n);
}
void DotQ2_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotKTokens<Q2_KBlock, SumsQ2_K, MinTerm::kSameLanes>(w, a, s, c, n, o);
}
void DotQ3_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotKTokens<Q3_KBlock, SumsQ3_K, MinTerm::kNone>(w, a, s, c, n, o);
}
void DotQ4_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotKTokens<Q4_KBlock, SumsQ4_K, MinTerm::kFourLanes>(w, a, s, c, n, o);
}
void DotQ5_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotKTokens<Q5_KBlock, SumsQ5_K, MinTerm::kScalar>(w, a, s, c, n, o);
}
void DotQ6_KTokensImpl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotKTokens<Q6_KBlock, SumsQ6_K, MinTerm::kNone>(w, a, s, c, n, o);
}

#endif  // HWY_TARGET == HWY_SCALAR

}  // namespace

// HWY_EXPORT needs names outside the anonymous namespace.
float DotQ2_KQ8_KImpl(const void* w, const void* a, int64_t n) {
  return DotQ2_KImpl(w, a, n);
}
float DotQ3_KQ8_KImpl(const void* w, const void* a, int64_t n) {
  return DotQ3_KImpl(w, a, n);
}
float DotQ4_KQ8_KImpl(const void* w, const void* a, int64_t n) {
  return DotQ4_KImpl(w, a, n);
}
float DotQ5_KQ8_KImpl(const void* w, const void* a, int64_t n) {
  return DotQ5_KImpl(w, a, n);
}
float DotQ6_KQ8_KImpl(const void* w, const void* a, int64_t n) {
  return DotQ6_KImpl(w, a, n);
}
void DotKTokensQ2Impl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotQ2_KTokensImpl(w, a, s, c, n, o);
}
void DotKTokensQ3Impl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotQ3_KTokensImpl(w, a, s, c, n, o);
}
void DotKTokensQ4Impl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotQ4_KTokensImpl(w, a, s, c, n, o);
}
void DotKTokensQ5Impl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotQ5_KTokensImpl(w, a, s, c, n, o);
}
void DotKTokensQ6Impl(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  DotQ6_KTokensImpl(w, a, s, c, n, o);
}
void QuantizeQ8_KRowImpl(const float* src, void* dst, int64_t n) {
  QuantizeQ8_KImpl(src, dst, n);
}
int DotKTokensPerCallImpl() {
#ifdef WICK_DOT_K_AVX512
  static_assert(dot_k_avx512::kTokensPerCall <= kMaxDotTokens);
  return dot_k_avx512::kTokensPerCall;
#else
  return kDotTokens;  // more spill the 16 registers below AVX-512, and their rows leave L1
#endif
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels {

HWY_EXPORT(DotQ2_KQ8_KImpl);
HWY_EXPORT(DotQ3_KQ8_KImpl);
HWY_EXPORT(DotQ4_KQ8_KImpl);
HWY_EXPORT(DotQ5_KQ8_KImpl);
HWY_EXPORT(DotQ6_KQ8_KImpl);
HWY_EXPORT(DotKTokensQ2Impl);
HWY_EXPORT(DotKTokensQ3Impl);
HWY_EXPORT(DotKTokensQ4Impl);
HWY_EXPORT(DotKTokensQ5Impl);
HWY_EXPORT(DotKTokensQ6Impl);
HWY_EXPORT(QuantizeQ8_KRowImpl);
HWY_EXPORT(DotKTokensPerCallImpl);

namespace simd {

float DotQ2_KQ8_K(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ2_KQ8_KImpl)(w, a, n);
}
float DotQ3_KQ8_K(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ3_KQ8_KImpl)(w, a, n);
}
float DotQ4_KQ8_K(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ4_KQ8_KImpl)(w, a, n);
}
float DotQ5_KQ8_K(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ5_KQ8_KImpl)(w, a, n);
}
float DotQ6_KQ8_K(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ6_KQ8_KImpl)(w, a, n);
}
void DotQ2_KQ8_KTokens(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  HWY_DYNAMIC_DISPATCH(DotKTokensQ2Impl)(w, a, s, c, n, o);
}
void DotQ3_KQ8_KTokens(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  HWY_DYNAMIC_DISPATCH(DotKTokensQ3Impl)(w, a, s, c, n, o);
}
void DotQ4_KQ8_KTokens(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  HWY_DYNAMIC_DISPATCH(DotKTokensQ4Impl)(w, a, s, c, n, o);
}
void DotQ5_KQ8_KTokens(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  HWY_DYNAMIC_DISPATCH(DotKTokensQ5Impl)(w, a, s, c, n, o);
}
void DotQ6_KQ8_KTokens(const void* w, const void* a, uint64_t s, int c, int64_t n, float* o) {
  HWY_DYNAMIC_DISPATCH(DotKTokensQ6Impl)(w, a, s, c, n, o);
}
void QuantizeQ8_K(const float* src, void* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(QuantizeQ8_KRowImpl)(src, dst, n);
}
int DotKTokensPerCall() {
  return HWY_DYNAMIC_DISPATCH(DotKTokensPerCallImpl)();
}

}  // namespace simd
}  // namespace wick::kernels
#endif  // HWY_ONCE
