// RMS and layer norm over one row. RMS norm rounds as ggml's rms_norm does (each square
// rounded to f32, summed in f64, then an f32 mean and scale), so a model's activations match
// the reference outputs bit for bit; layer norm sums in f64 with two passes. The scaling pass
// is f32, rounded as ggml rounds it (normalise, then weight, then bias).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/norm.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/reduce-inl.h"  // per target: after highway.h

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// sum((x - center)^2) in f64.
double SumSquaredDeviations(const float* x, int64_t n, double center) {
  double sum = 0;
  int64_t i = 0;
#if HWY_HAVE_FLOAT64  // not on WebAssembly (Highway 1.0)
  // f64 lanes and the f32 vector that fills them.
  using DD = hn::ScalableTag<double>;
  using DH = hn::Rebind<float, DD>;
  const DD dd;
  const DH dh;
  const auto lanes = static_cast<int64_t>(hn::Lanes(dd));
  const auto c = hn::Set(dd, center);
  // Two accumulators hide the add latency.
  auto acc0 = hn::Zero(dd);
  auto acc1 = hn::Zero(dd);
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    auto v0 = hn::Sub(hn::PromoteTo(dd, hn::LoadU(dh, x + i)), c);
    auto v1 = hn::Sub(hn::PromoteTo(dd, hn::LoadU(dh, x + i + lanes)), c);
    acc0 = hn::MulAdd(v0, v0, acc0);
    acc1 = hn::MulAdd(v1, v1, acc1);
  }
  for (; i + lanes <= n; i += lanes) {
    auto v = hn::Sub(hn::PromoteTo(dd, hn::LoadU(dh, x + i)), c);
    acc0 = hn::MulAdd(v, v, acc0);
  }
  sum = hn::GetLane(hn::SumOfLanes(dd, hn::Add(acc0, acc1)));
#endif
  for (; i < n; ++i) {
    double d = static_cast<double>(x[i]) - center;
    sum += d * d;
  }
  return sum;
}

// out = ((x - shift) * scale) * weight + bias, each optional step skipped when null.
void Normalise(const float* x, float shift, float scale, const float* weight, const float* bias,
               float* out, int64_t n) {
  const hn::ScalableTag<float> df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vshift = hn::Set(df, shift);
  const auto vscale = hn::Set(df, scale);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto v = hn::Mul(hn::Sub(hn::LoadU(df, x + i), vshift), vscale);
    if (weight != nullptr) v = hn::Mul(v, hn::LoadU(df, weight + i));
    if (bias != nullptr) v = hn::Add(v, hn::LoadU(df, bias + i));
    hn::StoreU(v, df, out + i);
  }
  for (; i < n; ++i) {
    float v = (x[i] - shift) * scale;
    if (weight != nullptr) v *= weight[i];
    if (bias != nullptr) v += bias[i];
    out[i] = v;
  }
}

// Each square is rounded to f32 before its f64 sum, and the mean and the scale are f32, as in
// ggml's rms_norm: the reference outputs come from it, and a scale one ulp off flips the Q8
// rounding of some activations downstream.
double SumF32Squares(const float* x, int64_t n) {
  double sum = 0;
  int64_t i = 0;
#if HWY_HAVE_FLOAT64
  using DD = hn::ScalableTag<double>;
  using DH = hn::Rebind<float, DD>;
  const DD dd;
  const DH dh;
  const auto lanes = static_cast<int64_t>(hn::Lanes(dd));
  auto acc = hn::Zero(dd);
  for (; i + lanes <= n; i += lanes) {
    const auto v = hn::LoadU(dh, x + i);
    acc = hn::Add(acc, hn::PromoteTo(dd, hn::Mul(v, v)));
  }
  sum = hn::GetLane(hn::SumOfLanes(dd, acc));
#endif
  for (; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  return sum;
}

void RmsNormImpl(const float* x, const float* weight, float* out, int64_t n, float eps) {
  const auto mean_square = static_cast<float>(SumF32Squares(x, n) / static_cast<double>(n));
  float scale = 1.0f / std::sqrt(mean_square + eps);
  if (!std::isfinite(mean_square)) {
    // Values past ~1e19 overflow an f32 square (where the reference gives zeros); f64 copes.
    const double exact = SumSquaredDeviations(x, n, 0.0) / static_cast<double>(n);
    scale = static_cast<float>(1.0 / std::sqrt(exact + static_cast<double>(eps)));
  }
  Normalise(x, 0.0f, scale, weight, nullptr, out, n);
}

void LayerNormImpl(const float* x, const float* weight, const float* bias, float* out, int64_t n,
                   float eps) {
  // Two passes rather than E[x^2] - E[x]^2, which cancels badly when the mean is large.
  double mean = SumF64(x, n) / static_cast<double>(n);
  double variance = SumSquaredDeviations(x, n, mean) / static_cast<double>(n);
  auto scale = static_cast<float>(1.0 / std::sqrt(variance + static_cast<double>(eps)));
  Normalise(x, static_cast<float>(mean), scale, weight, bias, out, n);
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels {

HWY_EXPORT(RmsNormImpl);
HWY_EXPORT(LayerNormImpl);

void RmsNorm(const float* x, const float* weight, float* out, int64_t n, float eps) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(RmsNormImpl)(x, weight, out, n, eps);
}

void LayerNorm(const float* x, const float* weight, const float* bias, float* out, int64_t n,
               float eps) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(LayerNormImpl)(x, weight, bias, out, n, eps);
}

}  // namespace wick::kernels
#endif  // HWY_ONCE
