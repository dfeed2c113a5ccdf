// Dot products of unquantized rows: f32 . f32, f16 . f16 and bf16 . bf16, all accumulated in
// f32. Highway compiles this file once per SIMD target (see simd.h); HWY_DYNAMIC_DISPATCH
// picks the best one at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/dot_float.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstddef>
#include <cstdint>

#include "core/half.h"
#include "kernels/cpu/dot_simd.h"

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

// Four independent accumulators hide the multiply-add latency. `step(i, sum)` adds the
// products of the `width` elements from i on to sum; `tail(i)` returns the product of element
// i, for the few elements after the last whole vector should a row length not be a multiple
// of the vector.
template <class DF, class StepFn, class TailFn>
HWY_INLINE float SumProducts(DF df, int64_t n, int64_t width, const StepFn& step,
                             const TailFn& tail) {
  auto sum0 = hn::Zero(df);
  auto sum1 = hn::Zero(df);
  auto sum2 = hn::Zero(df);
  auto sum3 = hn::Zero(df);
  int64_t i = 0;
  for (; i + 4 * width <= n; i += 4 * width) {
    step(i, sum0);
    step(i + width, sum1);
    step(i + 2 * width, sum2);
    step(i + 3 * width, sum3);
  }
  for (; i + width <= n; i += width) step(i, sum0);
  float sum = hn::GetLane(hn::SumOfLanes(df, hn::Add(hn::Add(sum0, sum1), hn::Add(sum2, sum3))));
  for (; i < n; ++i) sum += tail(i);
  return sum;
}

}  // namespace

// Vectors of at most 32 bytes, here and in the widening loads below: GGUF aligns tensor data
// to 32 bytes, so 64-byte loads would straddle cache lines on every other row, which costs a
// quarter of the bandwidth of a memory-bound loop; 32-byte loads are plenty to keep up with
// memory.
float DotF32Impl(const void* vw, const void* va, int64_t n) {
  const auto* w = static_cast<const float*>(vw);
  const auto* a = static_cast<const float*>(va);
  const hn::CappedTag<float, 8> df;
  return SumProducts(
      df, n, static_cast<int64_t>(hn::Lanes(df)),
      [&](int64_t i, auto& sum) {
        sum = hn::MulAdd(hn::LoadU(df, w + i), hn::LoadU(df, a + i), sum);
      },
      [&](int64_t i) { return w[i] * a[i]; });
}

float DotF16Impl(const void* vw, const void* va, int64_t n) {
  const auto* w = static_cast<const uint16_t*>(vw);
  const auto* a = static_cast<const uint16_t*>(va);
  const auto* wh = static_cast<const hwy::float16_t*>(vw);
  const auto* ah = static_cast<const hwy::float16_t*>(va);
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  // Without F16C the conversion is emulated, exactly for finite values; infinities and NaNs
  // in a row would come out as large finite numbers, which real weights and activations never
  // hold.
  return SumProducts(
      df, n, static_cast<int64_t>(hn::Lanes(df)),
      [&](int64_t i, auto& sum) {
        sum = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dh, wh + i)),
                         hn::PromoteTo(df, hn::LoadU(dh, ah + i)), sum);
      },
      [&](int64_t i) { return F16ToF32(w[i]) * F16ToF32(a[i]); });
}

float DotBF16Impl(const void* vw, const void* va, int64_t n) {
  const auto* w = static_cast<const uint16_t*>(vw);
  const auto* a = static_cast<const uint16_t*>(va);
  const auto* wb = static_cast<const hwy::bfloat16_t*>(vw);
  const auto* ab = static_cast<const hwy::bfloat16_t*>(va);
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::bfloat16_t, decltype(df)> dbf;
  // bf16 is the top half of an f32, so widening is a zero-extension and a shift, and the
  // product of two 8-bit significands is exact in f32. (ReorderWidenMulAccumulate would do
  // the same work on 64-byte loads, which straddle cache lines at GGUF's alignment.)
  return SumProducts(
      df, n, static_cast<int64_t>(hn::Lanes(df)),
      [&](int64_t i, auto& sum) {
        sum = hn::MulAdd(hn::PromoteTo(df, hn::LoadU(dbf, wb + i)),
                         hn::PromoteTo(df, hn::LoadU(dbf, ab + i)), sum);
      },
      [&](int64_t i) { return Bf16ToF32(w[i]) * Bf16ToF32(a[i]); });
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels::simd {

HWY_EXPORT(DotF32Impl);
HWY_EXPORT(DotF16Impl);
HWY_EXPORT(DotBF16Impl);

float DotF32(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotF32Impl)(w, a, n);
}
float DotF16(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotF16Impl)(w, a, n);
}
float DotBF16(const void* w, const void* a, int64_t n) {
  return HWY_DYNAMIC_DISPATCH(DotBF16Impl)(w, a, n);
}

}  // namespace wick::kernels::simd
#endif  // HWY_ONCE
