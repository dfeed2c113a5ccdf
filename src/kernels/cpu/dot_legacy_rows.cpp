// Four weight rows of a 32-element block format (Q4_1, Q5_0, Q5_1, Q8_0, and Q4_0 in the lane
// order) against one activation row (a decode step's matmul) or several (a prompt's). Each
// result is bit-identical to the one-row dot's (dot_legacy.cpp). Highway compiles this file
// once per SIMD target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/dot_legacy_rows.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstdint>

#include "core/quant_blocks.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/legacy_wasm-inl.h"  // per target: after highway.h
#include "kernels/cpu/ref_dot_x86-inl.h"  // per target: after highway.h
#include "kernels/cpu/token_groups.h"
#include "kernels/cpu/vec_dot.h"

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace {

#ifdef WICK_REF_ORDER_X86
using namespace ref_x86;  // NOLINT(google-build-using-namespace): the unpackers and kernels
#else
// Only the x86 kernels unpack blocks themselves.
struct UnpackQ4_0 {};
struct UnpackQ4_1 {};
struct UnpackQ5_0 {};
struct UnpackQ5_1 {};
struct UnpackQ8_0 {};
#endif

// A lane format: its weight and activation blocks, whether its quants are unsigned and whether
// it has min terms, its unpacker (x86) and its one-row dot (the other targets).
template <class W, class A, bool kUnsignedQuants, bool kMinTerms, class U,
          float (*kOneRow)(const void*, const void*, int64_t)>
struct LaneFormat {
  using WBlock = W;
  using ABlock = A;
  using Unpack = U;
  static constexpr bool kUnsigned = kUnsignedQuants;
  static constexpr bool kMins = kMinTerms;
  static constexpr auto kOne = kOneRow;
};
using Q4_0Lanes =
    LaneFormat<Q4_0Block, Q8_0Block, false, false, UnpackQ4_0, simd::DotQ4_0Q8_0Lanes>;
using Q4_1Lanes = LaneFormat<Q4_1Block, Q8_1Block, true, true, UnpackQ4_1, simd::DotQ4_1Q8_1>;
using Q5_0Lanes = LaneFormat<Q5_0Block, Q8_0Block, false, false, UnpackQ5_0, simd::DotQ5_0Q8_0>;
using Q5_1Lanes = LaneFormat<Q5_1Block, Q8_1Block, true, true, UnpackQ5_1, simd::DotQ5_1Q8_1>;
using Q8_0Lanes = LaneFormat<Q8_0Block, Q8_0Block, false, false, UnpackQ8_0, simd::DotQ8_0Q8_0>;

// The four rows with shared activation work where the target has the reference's lane order
// (x86 from AVX2 up) or its own kernels (WebAssembly), else the one-row dot row by row: the
// same results either way.
template <class F>
void LanesRows(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
#ifdef WICK_REF_ORDER_X86
  DotLanesRows<kDotRows, typename F::WBlock, typename F::ABlock, F::kUnsigned, F::kMins>(
      static_cast<const uint8_t*>(w), row_bytes, static_cast<const typename F::ABlock*>(a),
      n / static_cast<int64_t>(kQK8_0), out, typename F::Unpack());
#elif defined(WICK_LEGACY_WASM)
  legacy_wasm::DotRows<legacy_wasm::FormatOf<typename F::WBlock> >(w, row_bytes, kDotRows, a, n,
                                                                   out);
#else
  for (int r = 0; r < kDotRows; ++r) {
    out[r] = F::kOne(static_cast<const uint8_t*>(w) + r * row_bytes, a, n);
  }
#endif
}

// A prompt's tokens: the four rows as two pairs, each pair against the call's tokens (2 x 8
// accumulators on AVX-512), so a block is unpacked once for all of them and a token's unsigned
// move and scale serve two rows. One thread, Matmul 4096 x 1024, cycles a token-block: Q8_0
// 19.1 -> 17.1-17.8, Q5_0 21.4 -> 18.7, Q4_1 21.3 -> 18.4, Q5_1 22.4 -> 19.6 (the same pair
// as four rows x four tokens, which unpacks each block twice). Elsewhere row by row.
template <class F>
void LanesRowsTokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride, int count,
                     int64_t n, float* out) {
#ifdef WICK_REF_ORDER_X86
  constexpr int kHalf = kDotRows / 2;
  for (int h = 0; h < 2; ++h) {
    ForTokenGroups<kMaxTokens>(count, [&](auto acts, int first) {
      DotLanesRowsActs<kHalf, decltype(acts)::value, typename F::WBlock, typename F::ABlock,
                       F::kUnsigned, F::kMins>(
          static_cast<const uint8_t*>(w) + h * kHalf * row_bytes, row_bytes,
          static_cast<const uint8_t*>(a) + first * a_stride, a_stride,
          n / static_cast<int64_t>(kQK8_0), out + kDotRows * first + h * kHalf, kDotRows,
          typename F::Unpack());
    });
  }
#else
  for (int t = 0; t < count; ++t) {
    LanesRows<F>(w, row_bytes, static_cast<const uint8_t*>(a) + t * a_stride, n,
                 out + kDotRows * t);
  }
#endif
}

}  // namespace

void DotQ4_0Q8_0LanesX4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n,
                            float* out) {
  LanesRows<Q4_0Lanes>(w, row_bytes, a, n, out);
}
void DotQ4_1Q8_1X4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  LanesRows<Q4_1Lanes>(w, row_bytes, a, n, out);
}
void DotQ5_0Q8_0X4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  LanesRows<Q5_0Lanes>(w, row_bytes, a, n, out);
}
void DotQ5_1Q8_1X4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  LanesRows<Q5_1Lanes>(w, row_bytes, a, n, out);
}
void DotQ8_0Q8_0X4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  LanesRows<Q8_0Lanes>(w, row_bytes, a, n, out);
}
void DotQ4_0Q8_0LanesX4TokensImpl(const void* w, uint64_t row_bytes, const void* a,
                                  uint64_t a_stride, int count, int64_t n, float* out) {
  LanesRowsTokens<Q4_0Lanes>(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ4_1Q8_1X4TokensImpl(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                             int count, int64_t n, float* out) {
  LanesRowsTokens<Q4_1Lanes>(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ5_0Q8_0X4TokensImpl(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                             int count, int64_t n, float* out) {
  LanesRowsTokens<Q5_0Lanes>(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ5_1Q8_1X4TokensImpl(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                             int count, int64_t n, float* out) {
  LanesRowsTokens<Q5_1Lanes>(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ8_0Q8_0X4TokensImpl(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                             int count, int64_t n, float* out) {
  LanesRowsTokens<Q8_0Lanes>(w, row_bytes, a, a_stride, count, n, out);
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels::simd {

HWY_EXPORT(DotQ4_0Q8_0LanesX4Impl);
HWY_EXPORT(DotQ4_0Q8_0LanesX4TokensImpl);
HWY_EXPORT(DotQ4_1Q8_1X4Impl);
HWY_EXPORT(DotQ4_1Q8_1X4TokensImpl);
HWY_EXPORT(DotQ5_0Q8_0X4Impl);
HWY_EXPORT(DotQ5_0Q8_0X4TokensImpl);
HWY_EXPORT(DotQ5_1Q8_1X4Impl);
HWY_EXPORT(DotQ5_1Q8_1X4TokensImpl);
HWY_EXPORT(DotQ8_0Q8_0X4Impl);
HWY_EXPORT(DotQ8_0Q8_0X4TokensImpl);

void DotQ4_0Q8_0LanesX4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_0Q8_0LanesX4Impl)(w, row_bytes, a, n, out);
}
void DotQ4_1Q8_1X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_1Q8_1X4Impl)(w, row_bytes, a, n, out);
}
void DotQ5_0Q8_0X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ5_0Q8_0X4Impl)(w, row_bytes, a, n, out);
}
void DotQ5_1Q8_1X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ5_1Q8_1X4Impl)(w, row_bytes, a, n, out);
}
void DotQ8_0Q8_0X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ8_0Q8_0X4Impl)(w, row_bytes, a, n, out);
}

void DotQ4_0Q8_0LanesX4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                              int count, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_0Q8_0LanesX4TokensImpl)(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ4_1Q8_1X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_1Q8_1X4TokensImpl)(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ5_0Q8_0X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ5_0Q8_0X4TokensImpl)(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ5_1Q8_1X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ5_1Q8_1X4TokensImpl)(w, row_bytes, a, a_stride, count, n, out);
}
void DotQ8_0Q8_0X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ8_0Q8_0X4TokensImpl)(w, row_bytes, a, a_stride, count, n, out);
}

}  // namespace wick::kernels::simd
#endif  // HWY_ONCE
