// Reductions shared by several kernel files, compiled once per SIMD target: include it after
// <hwy/highway.h> in a file that Highway's foreach_target.h re-includes.
#if defined(WICK_KERNELS_CPU_REDUCE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_REDUCE_INL_H_
#undef WICK_KERNELS_CPU_REDUCE_INL_H_
#else
#define WICK_KERNELS_CPU_REDUCE_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {

// Sum of a row in f64: with thousands of terms (long softmax rows, wide norms) an f32 sum
// would lose digits, and its result would depend on the vector width.
inline double SumF64(const float* x, int64_t n) {
  double sum = 0;
  int64_t i = 0;
#if HWY_HAVE_FLOAT64  // not on WebAssembly (Highway 1.0)
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::ScalableTag<double> dd;
  const hn::Rebind<float, decltype(dd)> dh;
  const auto lanes = static_cast<int64_t>(hn::Lanes(dd));
  auto acc = hn::Zero(dd);
  for (; i + lanes <= n; i += lanes) acc = hn::Add(acc, hn::PromoteTo(dd, hn::LoadU(dh, x + i)));
  sum = hn::GetLane(hn::SumOfLanes(dd, acc));
#endif
  for (; i < n; ++i) sum += static_cast<double>(x[i]);
  return sum;
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // WICK_KERNELS_CPU_REDUCE_INL_H_
