// Dot products of the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) with their Q8
// activations, and the Q8_0/Q8_1 activation quantizers. Highway compiles this file once per
// SIMD target (see simd.h); HWY_DYNAMIC_DISPATCH picks the best one at run time.
//
// Each block's quants are widened to int16 lanes and multiplied pairwise into int32 lanes
// (exact), and the int32 lanes are scaled by d_w * d_a into float accumulators: the horizontal
// sum happens once per row, not once per block, so the loop streams the weights.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/dot_legacy.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/legacy_wasm-inl.h"  // per target: after highway.h
#include "kernels/cpu/q4_0_x86-inl.h"     // per target: after highway.h
#include "kernels/cpu/ref_dot_x86-inl.h"  // per target: after highway.h
#include "kernels/cpu/vec_dot.h"

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;
#ifdef WICK_REF_ORDER_X86
using namespace ref_x86;  // NOLINT(google-build-using-namespace): this file's own helpers
#endif

constexpr size_t kBlock = 32;  // every format in this file
constexpr size_t kHalf = kBlock / 2;
static_assert(kQK4_0 == kBlock && kQK4_1 == kBlock && kQK5_0 == kBlock && kQK5_1 == kBlock &&
              kQK8_0 == kBlock && kQK8_1 == kBlock);

// int32 lanes capped at 16, so that the matching int16 vector holds at most one block and a
// block is a whole number of vectors on every target (32 int16 lanes on AVX-512, one on
// SCALAR).
using D32 = hn::CappedTag<int32_t, 16>;
#if HWY_TARGET == HWY_SCALAR
using D16 = hn::Rebind<int16_t, D32>;  // one lane of each; the widening op takes that too
#else
using D16 = hn::Repartition<int16_t, D32>;
#endif
using DF = hn::Rebind<float, D32>;
using VF = hn::Vec<DF>;
using VI32 = hn::Vec<D32>;

// Lane i holds 1 << i: selects each lane's bit out of a broadcast mask.
alignas(32) constexpr uint16_t kLaneBits[kHalf] = {
    1u << 0, 1u << 1, 1u << 2,  1u << 3,  1u << 4,  1u << 5,  1u << 6,  1u << 7,
    1u << 8, 1u << 9, 1u << 10, 1u << 11, 1u << 12, 1u << 13, 1u << 14, 1u << 15};

// An f16 scale in every lane of d. Broadcasting the 16 bits and converting the whole vector
// costs fewer instructions than converting one lane and broadcasting the float; targets
// without F16C use Highway's exact emulation (scales are finite, so its lack of infinities
// and NaNs does not matter).
template <class D>
HWY_INLINE hn::Vec<D> BroadcastScale(D d, uint16_t h) {
  const hn::Rebind<uint16_t, D> du16;
  const hn::Rebind<hwy::float16_t, D> df16;
  return hn::PromoteTo(d, hn::BitCast(df16, hn::Set(du16, h)));
}

#if HWY_CAP_GE512
// On AVX-512 a whole block is one vector: lanes 0..15 keep the low nibbles, lanes 16..31
// shift the high ones down.
alignas(64) constexpr uint16_t kNibbleShift[kBlock] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4};
#endif

// Elements k .. k + Lanes(d) - 1 of a nibble-format block, which stores element j in the low
// nibble of qs[j] and element j + 16 in the high nibble.
template <class D>
HWY_INLINE hn::Vec<D> Nibbles(D d, const uint8_t* qs, size_t k) {
  const hn::RebindToUnsigned<D> du;
  const hn::Rebind<uint8_t, D> du8;
  const auto low4 = hn::Set(du, 0x0f);
#if HWY_CAP_GE512
  if constexpr (hn::MaxLanes(D()) > kHalf) {
    // The 16 bytes twice, widened: one broadcast load, one widening, one shift, one mask.
    const auto bytes = hn::PromoteTo(du, hn::LoadDup128(du8, qs));
    return hn::BitCast(d, hn::And(hn::Shr(bytes, hn::Load(du, kNibbleShift)), low4));
  }
#endif
  // At most 16 lanes: the run lies within one half of the block.
  const auto bytes = hn::PromoteTo(du, hn::LoadU(du8, qs + k % kHalf));
  return hn::BitCast(d, k < kHalf ? hn::And(bytes, low4) : hn::ShiftRight<4>(bytes));
}

// Whether elements k .. k + Lanes(d) - 1 have their fifth bit set. Element j's bit is bit j
// of qh, a little-endian uint32, so with eight or more lanes (k then a multiple of 8) the bits
// are a mask in memory order: a single mask load on AVX-512.
template <class D>
HWY_INLINE hn::Mask<D> FifthBitSet(D d, const uint8_t* qh, size_t k) {
  if constexpr (hn::MaxLanes(D()) >= 8) {
    return hn::LoadMaskBits(d, qh + k / 8);
  } else {
    // Fewer lanes (SCALAR): broadcast the bits and pick lane i's with 1 << i.
    const hn::RebindToUnsigned<D> du;
    const uint32_t qh32 = static_cast<uint32_t>(qh[0]) | static_cast<uint32_t>(qh[1]) << 8 |
                          static_cast<uint32_t>(qh[2]) << 16 | static_cast<uint32_t>(qh[3]) << 24;
    const auto bits = hn::Set(du, static_cast<uint16_t>(qh32 >> k));
    return hn::RebindMask(d, hn::TestBit(bits, hn::LoadU(du, kLaneBits)));
  }
}

// sum(w[j] * a[j]) of one block in int32 lanes; `weights(d16, k)` yields the weight quants
// k .. k + Lanes(d16) - 1 as int16. Products and their sums are exact in int32.
template <class WeightFn>
HWY_INLINE VI32 BlockDot(const int8_t* a, const WeightFn& weights) {
  const D32 d32;
  const D16 d16;
  const hn::Rebind<int8_t, D16> d8;
  VI32 sum0 = hn::Zero(d32);
  VI32 sum1 = hn::Zero(d32);
  for (size_t k = 0; k < kBlock; k += hn::Lanes(d16)) {
    const auto av = hn::PromoteTo(d16, hn::LoadU(d8, a + k));
    sum0 = hn::ReorderWidenMulAccumulate(d32, weights(d16, k), av, sum0, sum1);
  }
  return hn::Add(sum0, sum1);
}

// Runs `block(b, acc, extra)` over nb blocks: it returns acc plus block b's contribution, and
// may add a scalar term to extra. Two accumulators of each, so that consecutive blocks'
// additions do not wait on each other.
template <class BlockFn>
HWY_INLINE float SumBlocks(int64_t nb, const BlockFn& block) {
  const DF df;
  VF acc0 = hn::Zero(df);
  VF acc1 = hn::Zero(df);
  float extra0 = 0.0f;
  float extra1 = 0.0f;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    acc0 = block(b, acc0, extra0);
    acc1 = block(b + 1, acc1, extra1);
  }
  if (b < nb) acc0 = block(b, acc0, extra0);
  return hn::GetLane(hn::SumOfLanes(df, hn::Add(acc0, acc1))) + (extra0 + extra1);
}

// acc + sumi * d_w * d_a, lane by lane. (The product of two f16 values is exact in f32.)
HWY_INLINE VF ScaleAdd(VI32 sumi, uint16_t d_w, uint16_t d_a, VF acc) {
  const DF df;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  const VF scale = hn::Mul(BroadcastScale(df, d_w), BroadcastScale(df, d_a));
#else
  // Without a hardware f16 conversion (SSE4, WebAssembly, the portable targets) Highway's
  // emulation costs dozens of vector instructions per scale; two table loads and one
  // broadcast cost a fraction of that, with the same exact result.
  const VF scale = hn::Set(df, F16ToF32ByTable(d_w) * F16ToF32ByTable(d_a));
#endif
  return hn::MulAdd(hn::ConvertTo(df, sumi), scale, acc);
}

// m_w * s_a, the min term of the affine formats.
HWY_INLINE float MinTerm(uint16_t m_w, uint16_t s_a) {
  const hn::CappedTag<float, 1> d1;
  return hn::GetLane(hn::Mul(BroadcastScale(d1, m_w), BroadcastScale(d1, s_a)));
}

#ifdef WICK_LEGACY_WASM
// One weight row against one activation row: WebAssembly's kernels (legacy_wasm-inl.h).
template <class F>
float WasmOne(const void* w, const void* a, int64_t n) {
  float out;
  legacy_wasm::DotRows<F>(w, 0, 1, a, n, &out);
  return out;
}
#endif

#ifdef WICK_Q4_0_X86
using namespace q4_0_x86;  // NOLINT(google-build-using-namespace): this file's own kernels
#endif

#ifdef WICK_REF_ORDER_X86
// One weight row against one activation row in each format's reference order.
template <class WBlock, class ABlock, bool kUnsigned, bool kMins, class Unpack>
float LanesOne(const void* w, const void* a, int64_t n) {
  float out;
  DotLanesRowsActs<1, 1, WBlock, ABlock, kUnsigned, kMins>(
      static_cast<const uint8_t*>(w), 0, static_cast<const uint8_t*>(a), 0,
      n / static_cast<int64_t>(kBlock), &out, 1, Unpack());
  return out;
}
#endif

}  // namespace

float DotQ4_0Q8_0Impl(const void* vw, const void* va, int64_t n) {
#ifdef WICK_LEGACY_WASM
  return WasmOne<legacy_wasm::Q4_0Format>(vw, va, n);
#endif
  const auto* w = static_cast<const Q4_0Block*>(vw);
  const auto* a = static_cast<const Q8_0Block*>(va);
#ifdef WICK_REF_ORDER_X86
  // Whole blocks, accumulated in order: llama.cpp's repacked Q4_0 kernels.
  float out;
  DotBlocksTokens<Q4_0Block, Q8_0Block>(w, reinterpret_cast<const uint8_t*>(a), 0, 1,
                                        n / static_cast<int64_t>(kBlock), &out, UnpackQ4_0());
  return out;
#else
  return SumBlocks(n / static_cast<int64_t>(kBlock), [&](int64_t b, VF acc, float&) {
    const uint8_t* qs = w[b].qs;
    const VI32 sumi = BlockDot(
        a[b].qs, [&](auto d, size_t k) { return hn::Sub(Nibbles(d, qs, k), hn::Set(d, 8)); });
    return ScaleAdd(sumi, w[b].d, a[b].d, acc);
  });
#endif
}

// Q4_0 rows that llama.cpp does not repack (a row count not a multiple of 8): the lane order
// of the other block formats.
float DotQ4_0Q8_0LanesImpl(const void* vw, const void* va, int64_t n) {
#ifdef WICK_REF_ORDER_X86
  return LanesOne<Q4_0Block, Q8_0Block, false, false, UnpackQ4_0>(vw, va, n);
#else
  return DotQ4_0Q8_0Impl(vw, va, n);
#endif
}

void DotQ4_0Q8_0X4Impl(const void* vw, uint64_t row_bytes, const void* va, int64_t n, float* out) {
#ifdef WICK_Q4_0_X86
  DotQ4Q8X4(static_cast<const uint8_t*>(vw), row_bytes, static_cast<const Q8_0Block*>(va),
            n / static_cast<int64_t>(kBlock), out);
#elif defined(WICK_LEGACY_WASM)
  legacy_wasm::DotRows<legacy_wasm::Q4_0Format>(vw, row_bytes, 4, va, n, out);
#else
  for (int r = 0; r < 4; ++r) {
    out[r] = DotQ4_0Q8_0Impl(static_cast<const uint8_t*>(vw) + r * row_bytes, va, n);
  }
#endif
}

void DotQ4_0Q8_0X4TokensImpl(const void* vw, uint64_t row_bytes, const void* va, uint64_t a_stride,
                             int count, int64_t n, float* out);

// Eight rows: out[8 * t + r].
void DotQ4_0Q8_0X8TokensImpl(const void* vw, uint64_t row_bytes, const void* va, uint64_t a_stride,
                             int count, int64_t n, float* out) {
#ifdef WICK_Q4_0_X86
  DotQ4Q8X8Tokens(static_cast<const uint8_t*>(vw), row_bytes, static_cast<const uint8_t*>(va),
                  a_stride, count, n / static_cast<int64_t>(kBlock), out);
#else
  float half[4 * kMaxDotTokens];
  for (int h = 0; h < 2; ++h) {
    DotQ4_0Q8_0X4TokensImpl(static_cast<const uint8_t*>(vw) + 4 * h * row_bytes, row_bytes, va,
                            a_stride, count, n, half);
    for (int t = 0; t < count; ++t) {
      for (int r = 0; r < 4; ++r) out[8 * t + 4 * h + r] = half[4 * t + r];
    }
  }
#endif
}

void DotQ4_0Q8_0X4TokensImpl(const void* vw, uint64_t row_bytes, const void* va, uint64_t a_stride,
                             int count, int64_t n, float* out) {
#ifdef WICK_Q4_0_X86
  DotQ4Q8X4Tokens(static_cast<const uint8_t*>(vw), row_bytes, static_cast<const uint8_t*>(va),
                  a_stride, count, n / static_cast<int64_t>(kBlock), out);
#else
  for (int t = 0; t < count; ++t) {
    DotQ4_0Q8_0X4Impl(vw, row_bytes, static_cast<const uint8_t*>(va) + t * a_stride, n,
                      out + 4 * t);
  }
#endif
}

// The min term of the affine formats, m * sum(a), comes from the activation's stored
// s = d * sum(qs).
float DotQ4_1Q8_1Impl(const void* vw, const void* va, int64_t n) {
  const auto* w = static_cast<const Q4_1Block*>(vw);
  const auto* a = static_cast<const Q8_1Block*>(va);
#ifdef WICK_REF_ORDER_X86
  return LanesOne<Q4_1Block, Q8_1Block, true, true, UnpackQ4_1>(vw, va, n);
#endif
#ifdef WICK_LEGACY_WASM
  return WasmOne<legacy_wasm::Q4_1Format>(vw, va, n);
#endif
  return SumBlocks(n / static_cast<int64_t>(kBlock), [&](int64_t b, VF acc, float& mins) {
    const uint8_t* qs = w[b].qs;
    const VI32 sumi = BlockDot(a[b].qs, [&](auto d, size_t k) { return Nibbles(d, qs, k); });
    mins += MinTerm(w[b].m, a[b].s);
    return ScaleAdd(sumi, w[b].d, a[b].d, acc);
  });
}

float DotQ5_0Q8_0Impl(const void* vw, const void* va, int64_t n) {
  const auto* w = static_cast<const Q5_0Block*>(vw);
  const auto* a = static_cast<const Q8_0Block*>(va);
#ifdef WICK_REF_ORDER_X86
  return LanesOne<Q5_0Block, Q8_0Block, false, false, UnpackQ5_0>(vw, va, n);
#endif
#ifdef WICK_LEGACY_WASM
  return WasmOne<legacy_wasm::Q5_0Format>(vw, va, n);
#endif
  return SumBlocks(n / static_cast<int64_t>(kBlock), [&](int64_t b, VF acc, float&) {
    const Q5_0Block& wb = w[b];
    const VI32 sumi = BlockDot(a[b].qs, [&](auto d, size_t k) {
      // (q | 16 * bit) - 16 = q - 16 where the bit is clear.
      return hn::Add(Nibbles(d, wb.qs, k),
                     hn::IfThenZeroElse(FifthBitSet(d, wb.qh, k), hn::Set(d, -16)));
    });
    return ScaleAdd(sumi, wb.d, a[b].d, acc);
  });
}

float DotQ5_1Q8_1Impl(const void* vw, const void* va, int64_t n) {
  const auto* w = static_cast<const Q5_1Block*>(vw);
  const auto* a = static_cast<const Q8_1Block*>(va);
#ifdef WICK_REF_ORDER_X86
  return LanesOne<Q5_1Block, Q8_1Block, true, true, UnpackQ5_1>(vw, va, n);
#endif
#ifdef WICK_LEGACY_WASM
  return WasmOne<legacy_wasm::Q5_1Format>(vw, va, n);
#endif
  return SumBlocks(n / static_cast<int64_t>(kBlock), [&](int64_t b, VF acc, float& mins) {
    const Q5_1Block& wb = w[b];
    const VI32 sumi = BlockDot(a[b].qs, [&](auto d, size_t k) {
      return hn::Or(Nibbles(d, wb.qs, k),
                    hn::IfThenElseZero(FifthBitSet(d, wb.qh, k), hn::Set(d, 16)));
    });
    mins += MinTerm(wb.m, a[b].s);
    return ScaleAdd(sumi, wb.d, a[b].d, acc);
  });
}

float DotQ8_0Q8_0Impl(const void* vw, const void* va, int64_t n) {
  const auto* w = static_cast<const Q8_0Block*>(vw);
  const auto* a = static_cast<const Q8_0Block*>(va);
#ifdef WICK_REF_ORDER_X86
  return LanesOne<Q8_0Block, Q8_0Block, false, false, UnpackQ8_0>(vw, va, n);
#endif
#ifdef WICK_LEGACY_WASM
  return WasmOne<legacy_wasm::Q8_0Format>(vw, va, n);
#endif
  return SumBlocks(n / static_cast<int64_t>(kBlock), [&](int64_t b, VF acc, float&) {
    const int8_t* qs = w[b].qs;
    const VI32 sumi = BlockDot(a[b].qs, [&](auto d, size_t k) {
      const hn::Rebind<int8_t, decltype(d)> d8;
      return hn::PromoteTo(d, hn::LoadU(d8, qs + k));
    });
    return ScaleAdd(sumi, w[b].d, a[b].d, acc);
  });
}

namespace {

// Quantizes one block as ref::QuantizeQ8_0Activations does: d = amax / 127 and
// q = x * (127 / amax) rounded half to even, each a single IEEE operation, so the bytes match.
// Returns d; *sum receives sum(q).
float QuantizeQ8Block(const float* x, int8_t* qs, int* sum) {
  const hn::CappedTag<float, kHalf> df;
  const hn::RebindToSigned<decltype(df)> di32;
  const hn::Rebind<int8_t, decltype(df)> di8;
  const size_t lanes = hn::Lanes(df);
  auto amax = hn::Zero(df);
  for (size_t k = 0; k < kBlock; k += lanes) amax = hn::Max(amax, hn::Abs(hn::LoadU(df, x + k)));
  const float max_scalar = hn::GetLane(hn::MaxOfLanes(df, amax));
  const float d = max_scalar / 127.0f;
  const auto id = hn::Set(df, max_scalar != 0.0f ? 127.0f / max_scalar : 0.0f);
  auto sums = hn::Zero(di32);
  for (size_t k = 0; k < kBlock; k += lanes) {
    const auto rounded = hn::Round(hn::Mul(hn::LoadU(df, x + k), id));
    const auto q = hn::ConvertTo(di32, rounded);
    sums = hn::Add(sums, q);
    hn::StoreU(hn::DemoteTo(di8, q), di8, qs + k);
  }
  *sum = hn::GetLane(hn::SumOfLanes(di32, sums));
  return d;
}

}  // namespace

void QuantizeQ8_0Impl(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q8_0Block*>(dst);
  for (int64_t b = 0; b < n / static_cast<int64_t>(kBlock); ++b) {
    int sum;
    blocks[b].d = F32ToF16(QuantizeQ8Block(src + b * kBlock, blocks[b].qs, &sum));
  }
}

void QuantizeQ8_1Impl(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q8_1Block*>(dst);
  for (int64_t b = 0; b < n / static_cast<int64_t>(kBlock); ++b) {
    int sum;
    const float d = QuantizeQ8Block(src + b * kBlock, blocks[b].qs, &sum);
    blocks[b].d = F32ToF16(d);
    // From the unrounded d, as the reference does, not from the stored f16 copy.
    blocks[b].s = F32ToF16(static_cast<float>(sum) * d);
  }
}

int DotLegacyTokensPerCallImpl() {
#ifdef WICK_REF_ORDER_X86
  static_assert(kMaxTokens <= kMaxDotTokens);
  return kMaxTokens;
#else
  return kDotTokens;
#endif
}

int DotQ4_0TokensPerCallImpl() {
#ifdef WICK_Q4_0_X86
  static_assert(kX8Tokens <= kMaxDotTokens);
  return kX8Tokens;
#else
  return DotLegacyTokensPerCallImpl();
#endif
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels::simd {

HWY_EXPORT(DotQ4_0Q8_0Impl);
HWY_EXPORT(DotQ4_0Q8_0LanesImpl);
HWY_EXPORT(DotQ4_0Q8_0X4Impl);
HWY_EXPORT(DotQ4_0Q8_0X4TokensImpl);
HWY_EXPORT(DotQ4_0Q8_0X8TokensImpl);
HWY_EXPORT(DotQ4_1Q8_1Impl);
HWY_EXPORT(DotQ5_0Q8_0Impl);
HWY_EXPORT(DotQ5_1Q8_1Impl);
HWY_EXPORT(DotQ8_0Q8_0Impl);
HWY_EXPORT(QuantizeQ8_0Impl);
HWY_EXPORT(QuantizeQ8_1Impl);
HWY_EXPORT(DotLegacyTokensPerCallImpl);
HWY_EXPORT(DotQ4_0TokensPerCallImpl);

float DotQ4_0Q8_0(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ4_0Q8_0Impl)(w, a, n);
}
void DotQ4_0Q8_0X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_0Q8_0X4Impl)(w, row_bytes, a, n, out);
}
void DotQ4_0Q8_0X8Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_0Q8_0X8TokensImpl)(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ4_0Q8_0X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_0Q8_0X4TokensImpl)(w, row_bytes, a, a_stride, count, n, out);
}
float DotQ4_0Q8_0Lanes(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ4_0Q8_0LanesImpl)(w, a, n);
}
float DotQ4_1Q8_1(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ4_1Q8_1Impl)(w, a, n);
}
float DotQ5_0Q8_0(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ5_0Q8_0Impl)(w, a, n);
}
float DotQ5_1Q8_1(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ5_1Q8_1Impl)(w, a, n);
}
float DotQ8_0Q8_0(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotQ8_0Q8_0Impl)(w, a, n);
}
void QuantizeQ8_0(const float* src, void* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(QuantizeQ8_0Impl)(src, dst, n);
}
void QuantizeQ8_1(const float* src, void* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(QuantizeQ8_1Impl)(src, dst, n);
}
int DotLegacyTokensPerCall() {
  return HWY_DYNAMIC_DISPATCH(DotLegacyTokensPerCallImpl)();
}
int DotQ4_0TokensPerCall() {
  return HWY_DYNAMIC_DISPATCH(DotQ4_0TokensPerCallImpl)();
}

}  // namespace wick::kernels::simd
#endif  // HWY_ONCE
