// Dot products of unquantized rows: f32 . f32, f16 . f16 and bf16 . bf16, accumulated in f32
// in the orders of llama.cpp's x86 (AVX-512) kernels, whose outputs are the reference (see
// ref_order.h): the "dot" kernels as its per-row dot products (one token), the "gemm" kernels
// as its GEMM (several tokens). Each sums lane by lane whatever this CPU's vector width.
// Highway compiles this file once per SIMD target (see simd.h); HWY_DYNAMIC_DISPATCH picks the
// best one at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/dot_float.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/half.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/ref_order.h"

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

// Vectors of at most 32 bytes: GGUF aligns tensor data to 32 bytes, so 64-byte loads would
// straddle cache lines on every other row, which costs a quarter of the bandwidth of a
// memory-bound loop; 32-byte loads are plenty to keep up with memory.
using DF = hn::CappedTag<float, 8>;
using VF = hn::Vec<DF>;

HWY_INLINE VF LoadF(const float* p) {
  return hn::LoadU(DF(), p);
}
// Without F16C the conversion is emulated, exactly for finite values.
HWY_INLINE VF LoadF(const hwy::float16_t* p) {
  return hn::PromoteTo(DF(), hn::LoadU(hn::Rebind<hwy::float16_t, DF>(), p));
}
HWY_INLINE float ToF32(hwy::float16_t v) {
  uint16_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return wick::F16ToF32(bits);
}
HWY_INLINE float ToF32(hwy::bfloat16_t v) {
  return hwy::F32FromBF16(v);
}

// slots[s] = fma(w[i], a[i], slots[s]) for i < n (a multiple of kSlots), s = i % kSlots.
template <int kSlots, class TW, class TA>
HWY_INLINE void SlotSums(const TW* w, const TA* a, int64_t n, float* slots) {
  // Fixed-width targets only (x86, WebAssembly): the lane count is known here.
  constexpr size_t lanes = hn::MaxLanes(DF());
  constexpr size_t vectors = kSlots / lanes;
  VF acc[vectors];
  for (size_t v = 0; v < vectors; ++v) acc[v] = hn::Zero(DF());
  for (int64_t i0 = 0; i0 < n; i0 += kSlots) {
    for (size_t v = 0; v < vectors; ++v) {
      acc[v] = hn::MulAdd(LoadF(w + i0 + v * lanes), LoadF(a + i0 + v * lanes), acc[v]);
    }
  }
  for (size_t v = 0; v < vectors; ++v) hn::StoreU(acc[v], DF(), slots + v * lanes);
}

// The terms of an f32 dot product after its last 64-element step, added to `sum` as GCC builds
// ggml's `sumf += x[i]*y[i]` loop for AVX-512: the products of whole groups of 8 rounded, then
// added in order, and the last n % 8 terms fused into the sum. Spelled out, so that this
// file's own compiler, whatever it vectorizes, cannot change it.
HWY_INLINE float SumTailF32(const float* w, const float* a, int64_t begin, int64_t end, float sum) {
  const hn::CappedTag<float, 8> d8;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d8));
  const int64_t grouped = begin + (end - begin) / 8 * 8;
  alignas(32) float products[8];
  for (int64_t i0 = begin; i0 < grouped; i0 += 8) {
    for (int64_t v = 0; v < 8; v += lanes) {
      hn::Store(hn::Mul(hn::LoadU(d8, w + i0 + v), hn::LoadU(d8, a + i0 + v)), d8, products + v);
    }
    for (float p : products) sum += p;
  }
  for (int64_t i = grouped; i < end; ++i) sum = std::fma(w[i], a[i], sum);
  return sum;
}

// ggml_vec_dot_f16/f32: four 16-lane accumulators over whole steps of 64, folded and summed
// as a tree, then the rest one term at a time (f16: each exact product added in f64; f32:
// SumTailF32).
template <class T>
HWY_INLINE float DotSteps64(const T* w, const T* a, int64_t n) {
  const int64_t vector_part = VectorPart64(n);
  alignas(32) float slots[64];
  SlotSums<64>(w, a, vector_part, slots);
  float lanes[16];
  FoldSlots64(slots, lanes);
  const float folded = SumTree16(lanes);
  if constexpr (std::is_same_v<T, float>) {
    return SumTailF32(w, a, vector_part, n, folded);
  } else {
    double sum = folded;
    for (int64_t i = vector_part; i < n; ++i) {
      sum += static_cast<double>(ToF32(w[i]) * ToF32(a[i]));
    }
    return static_cast<float>(sum);
  }
}

// llamafile's GEMM (tinyBLAS) for f32 and f16: one 16-lane fused sum over the row (n a
// multiple of 16), then the tree.
template <class TW, class TA>
HWY_INLINE float DotLanes16(const TW* w, const TA* a, int64_t n) {
  alignas(32) float slots[16];
  SlotSums<16>(w, a, n, slots);
  return SumTree16(slots);
}

// The f32 values of bf16 pairs from an even element p[0] on: lane j of `odd` is element 2j + 1
// (the high half of 32-bit unit j), of `even` element 2j. Exact: a bf16 is an f32's top half.
template <class D>
HWY_INLINE void LoadPairs(D d, const hwy::bfloat16_t* p, hn::Vec<D>* odd, hn::Vec<D>* even) {
  const hn::RebindToUnsigned<D> du;
  const auto units = hn::LoadU(du, reinterpret_cast<const uint32_t*>(p));
  *odd = hn::BitCast(d, hn::And(units, hn::Set(du, 0xFFFF0000u)));
  *even = hn::BitCast(d, hn::ShiftLeft<16>(units));
}

// acc plus LoadPairs' products in vdpbf16ps's order: the odd element's fused first, then the
// even one's.
template <class V>
HWY_INLINE V FusePairs(V w_odd, V w_even, V a_odd, V a_even, V acc) {
  return hn::MulAdd(w_even, a_even, hn::MulAdd(w_odd, a_odd, acc));
}

// AVX-512 BF16's pair dot (vdpbf16ps): lane j of a 32-element chunk adds the product of
// element 2j + 1, then that of element 2j, each rounded (the products are exact in f32).
// Accumulator s (of kStreams, each 16 lanes into lanes[s]) takes the chunks at s * 32 + c *
// stride for c < chunks; they run side by side, so that a one-token dot's two accumulators
// are independent chains. Where the target has FMA, a vector of lanes at a time (the same
// fused steps); elsewhere std::fma, as a target's emulated MulAdd would round twice.
template <int kStreams>
HWY_INLINE void PairChunks(const hwy::bfloat16_t* w, const hwy::bfloat16_t* a, int64_t chunks,
                           int64_t stride, float (*lanes)[16]) {
#if HWY_NATIVE_FMA
  constexpr size_t kLanes = hn::MaxLanes(DF());
  constexpr size_t kVectors = 16 / kLanes;
  VF acc[kStreams][kVectors];
  for (auto& stream : acc) {
    for (VF& v : stream) v = hn::Zero(DF());
  }
  for (int64_t c = 0; c < chunks; ++c) {
    for (int st = 0; st < kStreams; ++st) {
      for (size_t v = 0; v < kVectors; ++v) {
        const int64_t i = c * stride + st * 32 + static_cast<int64_t>(2 * v * kLanes);
        VF w_odd, w_even, a_odd, a_even;
        LoadPairs(DF(), w + i, &w_odd, &w_even);
        LoadPairs(DF(), a + i, &a_odd, &a_even);
        acc[st][v] = FusePairs(w_odd, w_even, a_odd, a_even, acc[st][v]);
      }
    }
  }
  for (int st = 0; st < kStreams; ++st) {
    for (size_t v = 0; v < kVectors; ++v) hn::StoreU(acc[st][v], DF(), lanes[st] + v * kLanes);
  }
#else
  for (int st = 0; st < kStreams; ++st) {
    float* out = lanes[st];
    for (int j = 0; j < 16; ++j) out[j] = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) {
      const hwy::bfloat16_t* wc = w + c * stride + st * 32;
      const hwy::bfloat16_t* ac = a + c * stride + st * 32;
      for (int j = 0; j < 16; ++j) {
        out[j] = std::fma(ToF32(wc[2 * j + 1]), ToF32(ac[2 * j + 1]), out[j]);
        out[j] = std::fma(ToF32(wc[2 * j]), ToF32(ac[2 * j]), out[j]);
      }
    }
  }
#endif
}

// llamafile's GEMM for bf16: one pair-dot accumulator over the row (n a multiple of 32).
HWY_INLINE float DotPairs32(const hwy::bfloat16_t* w, const hwy::bfloat16_t* a, int64_t n) {
  float lanes[1][16];
  PairChunks<1>(w, a, n / 32, 32, lanes);
  return SumTree16(lanes[0]);
}

// ---- llamafile's GEMM order, a tile at a time ----
// A tile of weight rows x activation rows keeps every (row, token) pair's 16-lane accumulator
// in registers, so each loaded weight vector meets several tokens and each activation vector
// several rows: the prefill of an f16 model is compute-bound, not load-bound. Every pair sums
// exactly as DotLanes16 / DotPairs32 sum it.
using D16 = hn::CappedTag<float, 16>;
using V16 = hn::Vec<D16>;
constexpr size_t kLanes16 = hn::MaxLanes(D16());
constexpr size_t kVecs16 = 16 / kLanes16;  // vectors per 16-lane accumulator
template <class T>
constexpr bool kIsBF16 = std::is_same_v<T, hwy::bfloat16_t>;
// Rows x tokens per tile, what the register file holds beside the loads: a vector per pair
// (below AVX-512 a tile takes one vector of each pair's lanes at a time), a register or two
// per row's weights, bf16 pairs two. f16 weights against f32 activations take six tokens on
// AVX-512: only the four weight vectors need converting (on Zen 4 a conversion costs most of
// an FMA's slot), so more pairs per conversion is what speeds them up.
template <class TW>
constexpr int kTileRows = kLanes16 == 16 ? 4 : (kIsBF16<TW> ? 2 : 3);
template <class TW, class TA>
constexpr int kTileTokens = kLanes16 == 16 ? (std::is_same_v<TW, TA> ? 4 : 6) : 4;
// Below AVX-512 a tile walks its rows in blocks of this many elements, each block once per
// vector of the accumulators' lanes: a block's rows stay in L1 for the later passes, and the
// lanes' partial sums wait in memory between blocks (each lane's sum runs in the same order).
constexpr int64_t kTileBlock = 512;

HWY_INLINE V16 Load16(const float* p) {
  return hn::LoadU(D16(), p);
}
HWY_INLINE V16 Load16(const hwy::float16_t* p) {
  return hn::PromoteTo(D16(), hn::LoadU(hn::Rebind<hwy::float16_t, D16>(), p));
}

// acc[r][t] += lanes [v * kLanes16, (v + 1) * kLanes16) of pair (r, t)'s accumulator over
// elements [k0, k1): f32 and f16 a fused product per element, 16 lanes per 16 elements; bf16
// as PairChunks, 16 lanes per 32 elements, the odd element's product fused before the even
// one's (only where the target has FMA: GemmTileBF16Impl).
template <class TW, class TA, int kRows, int kTokens>
HWY_INLINE void TilePass(const uint8_t* w, uint64_t w_stride, const uint8_t* a, uint64_t a_stride,
                         int64_t k0, int64_t k1, size_t v, V16 (&acc)[kRows][kTokens]) {
  if constexpr (kIsBF16<TW>) {
    using BF16 = hwy::bfloat16_t;
    for (int64_t i0 = k0; i0 < k1; i0 += 32) {
      const int64_t i = i0 + static_cast<int64_t>(2 * v * kLanes16);
      V16 w_odd[kRows], w_even[kRows];
      for (int r = 0; r < kRows; ++r) {
        LoadPairs(D16(), reinterpret_cast<const BF16*>(w + r * w_stride) + i, &w_odd[r],
                  &w_even[r]);
      }
      for (int t = 0; t < kTokens; ++t) {
        V16 a_odd, a_even;
        LoadPairs(D16(), reinterpret_cast<const BF16*>(a + t * a_stride) + i, &a_odd, &a_even);
        for (int r = 0; r < kRows; ++r) {
          acc[r][t] = FusePairs(w_odd[r], w_even[r], a_odd, a_even, acc[r][t]);
        }
      }
    }
  } else {
    for (int64_t i0 = k0; i0 < k1; i0 += 16) {
      const int64_t i = i0 + static_cast<int64_t>(v * kLanes16);
      V16 wv[kRows];
      for (int r = 0; r < kRows; ++r) {
        wv[r] = Load16(reinterpret_cast<const TW*>(w + r * w_stride) + i);
      }
      for (int t = 0; t < kTokens; ++t) {
        const V16 av = Load16(reinterpret_cast<const TA*>(a + t * a_stride) + i);
        for (int r = 0; r < kRows; ++r) acc[r][t] = hn::MulAdd(wv[r], av, acc[r][t]);
      }
    }
  }
}

template <class TW, class TA, int kRows, int kTokens>
HWY_INLINE void TileLanes16(const uint8_t* w, uint64_t w_stride, const uint8_t* a,
                            uint64_t a_stride, int64_t k, float* y, int64_t y_stride) {
  alignas(64) float lanes[kRows][kTokens][16] = {};  // zeros for an empty row (k = 0)
  const int64_t block = kVecs16 == 1 ? k : kTileBlock;
  for (int64_t k0 = 0; k0 < k; k0 += block) {
    const int64_t k1 = std::min(k, k0 + block);
    for (size_t v = 0; v < kVecs16; ++v) {
      V16 acc[kRows][kTokens];
      for (int r = 0; r < kRows; ++r) {
        for (int t = 0; t < kTokens; ++t) {
          acc[r][t] = k0 == 0 ? hn::Zero(D16()) : hn::Load(D16(), lanes[r][t] + v * kLanes16);
        }
      }
      TilePass<TW, TA, kRows, kTokens>(w, w_stride, a, a_stride, k0, k1, v, acc);
      for (int r = 0; r < kRows; ++r) {
        for (int t = 0; t < kTokens; ++t) hn::Store(acc[r][t], D16(), lanes[r][t] + v * kLanes16);
      }
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int t = 0; t < kTokens; ++t) y[t * y_stride + r] = SumTree16(lanes[r][t]);
  }
}

// f(std::integral_constant<int, n>) for 1 <= n <= kMax.
template <int kMax, class F>
HWY_INLINE void WithCount(int n, const F& f) {
  if constexpr (kMax >= 1) {
    if (n == kMax) {
      f(std::integral_constant<int, kMax>{});
    } else {
      WithCount<kMax - 1>(n, f);
    }
  }
}

// rows x tokens pairs in register tiles, a group of tokens meeting every row in turn (its
// activation rows stay in L1); the ragged edges take smaller tiles, which sum identically and
// run far faster than one pair at a time (a matmul passes 16 rows at a time, which AVX2's
// 3-row tiles leave one over).
template <class TW, class TA>
void GemmTile(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
              int tokens, int64_t k, float* y, int64_t y_stride) {
  constexpr int kRows = kTileRows<TW>;
  constexpr int kTokens = kTileTokens<TW, TA>;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int t = 0; t < tokens; t += kTokens) {
    for (int r = 0; r < rows; r += kRows) {
      WithCount<kRows>(std::min(kRows, rows - r), [&](auto n_rows) {
        WithCount<kTokens>(std::min(kTokens, tokens - t), [&](auto n_tokens) {
          TileLanes16<TW, TA, decltype(n_rows)::value, decltype(n_tokens)::value>(
              wb + r * w_stride, w_stride, ab + t * a_stride, a_stride, k, y + t * y_stride + r,
              y_stride);
        });
      });
    }
  }
}

}  // namespace

float DotF32Impl(const void* w, const void* a, int64_t n) {
  return DotSteps64(static_cast<const float*>(w), static_cast<const float*>(a), n);
}
float DotF16Impl(const void* w, const void* a, int64_t n) {
  return DotSteps64(static_cast<const hwy::float16_t*>(w), static_cast<const hwy::float16_t*>(a),
                    n);
}
float DotF32GemmImpl(const void* w, const void* a, int64_t n) {
  return DotLanes16(static_cast<const float*>(w), static_cast<const float*>(a), n);
}
float DotF16GemmImpl(const void* w, const void* a, int64_t n) {
  return DotLanes16(static_cast<const hwy::float16_t*>(w), static_cast<const hwy::float16_t*>(a),
                    n);
}

// ggml_vec_dot_bf16: two pair-dot accumulators over the halves of 64-element steps, each
// summed as a tree into f64, then the rest one exact product at a time.
float DotBF16Impl(const void* vw, const void* va, int64_t n) {
  const auto* w = static_cast<const hwy::bfloat16_t*>(vw);
  const auto* a = static_cast<const hwy::bfloat16_t*>(va);
  const int64_t steps = n / 64;
  float lanes[2][16];
  PairChunks<2>(w, a, steps, 64, lanes);
  double sum = SumTree16(lanes[0]);
  sum += SumTree16(lanes[1]);
  for (int64_t i = steps * 64; i < n; ++i) sum += static_cast<double>(ToF32(w[i]) * ToF32(a[i]));
  return static_cast<float>(sum);
}

float DotBF16GemmImpl(const void* vw, const void* va, int64_t n) {
  return DotPairs32(static_cast<const hwy::bfloat16_t*>(vw),
                    static_cast<const hwy::bfloat16_t*>(va), n);
}

void GemmTileF32Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                     int tokens, int64_t k, float* y, int64_t y_stride) {
  GemmTile<float, float>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void GemmTileF16Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                     int tokens, int64_t k, float* y, int64_t y_stride) {
  GemmTile<hwy::float16_t, float>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
// Without FMA the tiles' MulAdd would round twice: the pairs one at a time there.
void GemmTileBF16Impl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                      int tokens, int64_t k, float* y, int64_t y_stride) {
#if HWY_NATIVE_FMA
  GemmTile<hwy::bfloat16_t, hwy::bfloat16_t>(w, w_stride, rows, a, a_stride, tokens, k, y,
                                             y_stride);
#else
  using BF16 = hwy::bfloat16_t;
  for (int t = 0; t < tokens; ++t) {
    for (int r = 0; r < rows; ++r) {
      y[t * y_stride + r] = DotPairs32(
          reinterpret_cast<const BF16*>(static_cast<const uint8_t*>(w) + r * w_stride),
          reinterpret_cast<const BF16*>(static_cast<const uint8_t*>(a) + t * a_stride), k);
    }
  }
#endif
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels::simd {

HWY_EXPORT(DotF32Impl);
HWY_EXPORT(DotF16Impl);
HWY_EXPORT(DotBF16Impl);
HWY_EXPORT(DotF32GemmImpl);
HWY_EXPORT(DotF16GemmImpl);
HWY_EXPORT(DotBF16GemmImpl);
HWY_EXPORT(GemmTileF32Impl);
HWY_EXPORT(GemmTileF16Impl);
HWY_EXPORT(GemmTileBF16Impl);

void GemmTileF32(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                 int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(GemmTileF32Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void GemmTileF16(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                 int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(GemmTileF16Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void GemmTileBF16(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(GemmTileBF16Impl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}

float DotF32(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotF32Impl)(w, a, n);
}
float DotF16(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotF16Impl)(w, a, n);
}
float DotBF16(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotBF16Impl)(w, a, n);
}
float DotF32Gemm(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotF32GemmImpl)(w, a, n);
}
float DotF16Gemm(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotF16GemmImpl)(w, a, n);
}
float DotBF16Gemm(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotBF16GemmImpl)(w, a, n);
}

}  // namespace wick::kernels::simd
#endif  // HWY_ONCE
