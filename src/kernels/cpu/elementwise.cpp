// Element-wise row arithmetic. Add, Mul and Scale are one correctly rounded IEEE operation per
// element, identical on every target; AddScaled is fused where the target has FMA, so it may
// differ by an ulp between targets.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/elementwise.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "kernels/cpu/ops.h"

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void AddImpl(const float* a, const float* b, float* out, int64_t n) {
  const hn::ScalableTag<float> df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Add(hn::LoadU(df, a + i), hn::LoadU(df, b + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = a[i] + b[i];
}

void MulImpl(const float* a, const float* b, float* out, int64_t n) {
  const hn::ScalableTag<float> df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::Mul(hn::LoadU(df, a + i), hn::LoadU(df, b + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = a[i] * b[i];
}

void ScaleImpl(float* x, float s, int64_t n) {
  const hn::ScalableTag<float> df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vs = hn::Set(df, s);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), vs), df, x + i);
  for (; i < n; ++i) x[i] *= s;
}

void AddScaledImpl(const float* x, float s, float* out, int64_t n) {
  const hn::ScalableTag<float> df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vs = hn::Set(df, s);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::MulAdd(hn::LoadU(df, x + i), vs, hn::LoadU(df, out + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] += x[i] * s;
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels {

HWY_EXPORT(AddImpl);
HWY_EXPORT(MulImpl);
HWY_EXPORT(ScaleImpl);
HWY_EXPORT(AddScaledImpl);

void Add(const float* a, const float* b, float* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AddImpl)(a, b, out, n);
}

void Mul(const float* a, const float* b, float* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(MulImpl)(a, b, out, n);
}

void Scale(float* x, float s, int64_t n) {
  HWY_DYNAMIC_DISPATCH(ScaleImpl)(x, s, n);
}

void AddScaled(const float* x, float s, float* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(AddScaledImpl)(x, s, out, n);
}

}  // namespace wick::kernels
#endif  // HWY_ONCE
