// SIMD dot products of the k-quant formats (Q2_K to Q6_K) with Q8_K activations, and the
// Q8_K activation quantizer. Highway compiles this file once per SIMD target (see simd.h);
// HWY_DYNAMIC_DISPATCH picks the best one the CPU supports at run time.
//
// Each super-block's exact integer sums come from k_blocks-inl.h; here only the per-block float
// products and the running sums round. On x86 from AVX2 up the lanes, and how the mins join,
// are those of llama.cpp's kernels (ref_order.h), so the sums round as the reference outputs'
// do.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/dot_k.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>
#include <cstring>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/dot_k_avx512-inl.h"  // per target: after highway.h
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/k_blocks-inl.h"  // per target: after highway.h
#include "kernels/cpu/quant_ref.h"
#include "kernels/cpu/ref_order.h"
#include "kernels/cpu/token_groups.h"
#include "kernels/cpu/vec_dot.h"
#include "kernels/cpu/wasm_relaxed.h"

// The quantizer must reproduce the reference's roundings exactly; a contracted a * b + c
// rounds once instead of twice, so keep products and sums separate (GCC's intrinsics are
// plain vector arithmetic that it would otherwise fuse on FMA targets).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

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

using namespace k_blocks;  // NOLINT(google-build-using-namespace): the block sums

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
