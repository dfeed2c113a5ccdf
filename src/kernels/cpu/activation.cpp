// Activations and softmax. Silu and the tanh GELU go through one sigmoid that never
// overflows: sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) below, with e = exp(-|x|)
// in (0, 1]. (The tanh GELU is x * sigmoid(2u), the same function as 0.5 x (1 + tanh(u))
// without its cancellation for negative x.) Highway's Exp is within 1 ulp. Measured against
// f64: Silu within 4 units of roundoff; GELU within 3 (1 + |2u|), because the f32 argument 2u
// carries a few ulps that the sigmoid's slope scales by |2u| in the far negative tail;
// Softmax within (1 + |x - max|) units, from rounding x - max. The last partial vector of a
// row goes through a padded buffer, so every element takes the same path whatever its index.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/activation.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// A per-target header, so it must follow highway.h.
#include <hwy/contrib/math/math-inl.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/reduce-inl.h"   // per target: after highway.h
#include "kernels/cpu/ref_exp-inl.h"  // per target: after highway.h

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
namespace {

using DF = hn::ScalableTag<float>;
using VF = hn::Vec<DF>;

// Larger than any target's f32 vector (AVX-512: 16 lanes).
constexpr int64_t kMaxLanes = 64;

// out[i] = op(a[i]) or op(a[i], b[i]) (b non-null) for i < n.
template <class Op>
void Map(const float* a, const float* b, float* out, int64_t n, const Op& op) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    VF va = hn::LoadU(df, a + i);
    VF vb = b != nullptr ? hn::LoadU(df, b + i) : va;
    hn::StoreU(op(df, va, vb), df, out + i);
  }
  if (i == n) return;
  const int64_t rest = n - i;
  float buf_a[kMaxLanes] = {};
  float buf_b[kMaxLanes] = {};
  std::copy(a + i, a + n, buf_a);
  if (b != nullptr) std::copy(b + i, b + n, buf_b);
  VF va = hn::LoadU(df, buf_a);
  VF vb = b != nullptr ? hn::LoadU(df, buf_b) : va;
  hn::StoreU(op(df, va, vb), df, buf_a);
  std::copy(buf_a, buf_a + rest, out + i);
}

VF Sigmoid(DF df, VF x) {
  const VF one = hn::Set(df, 1.0f);
  const VF e = hn::Exp(df, hn::Neg(hn::Abs(x)));
  const VF positive = hn::Div(one, hn::Add(one, e));
  return hn::IfThenElse(hn::Lt(x, hn::Zero(df)), hn::Mul(e, positive), positive);
}

VF GeluTanh(DF df, VF x) {
  // 2u = 2 sqrt(2/pi) x (1 + 0.044715 x^2); x^2 overflowing to inf still gives the limits.
  constexpr float kTwoSqrt2OverPi = 1.5957691216057308f;
  constexpr float kCubic = kTwoSqrt2OverPi * 0.044715f;
  const VF x2 = hn::Mul(x, x);
  const VF two_u = hn::Mul(x, hn::MulAdd(x2, hn::Set(df, kCubic), hn::Set(df, kTwoSqrt2OverPi)));
  return hn::Mul(x, Sigmoid(df, two_u));
}

struct SiluOp {
  VF operator()(DF df, VF x, VF) const { return hn::Mul(x, Sigmoid(df, x)); }
};
struct GeluOp {
  VF operator()(DF df, VF x, VF) const { return GeluTanh(df, x); }
};
struct GeGluOp {
  VF operator()(DF df, VF gate, VF up) const { return hn::Mul(GeluTanh(df, gate), up); }
};
struct SoftcapOp {
  float cap;
  VF operator()(DF df, VF x, VF) const {
    return hn::Mul(hn::Tanh(df, hn::Mul(x, hn::Set(df, 1.0f / cap))), hn::Set(df, cap));
  }
};
struct ExpShiftedOp {
  float shift;
  VF operator()(DF df, VF x, VF) const { return hn::Exp(df, hn::Sub(x, hn::Set(df, shift))); }
};

float Max(const float* x, int64_t n) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  auto acc = hn::Set(df, -std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) acc = hn::Max(acc, hn::LoadU(df, x + i));
  float best = hn::GetLane(hn::MaxOfLanes(df, acc));
  for (; i < n; ++i) best = std::max(best, x[i]);
  return best;
}

void ScaleRow(float* x, float s, int64_t n) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const VF vs = hn::Set(df, s);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(hn::Mul(hn::LoadU(df, x + i), vs), df, x + i);
  for (; i < n; ++i) x[i] *= s;
}

}  // namespace

void SiluImpl(const float* x, float* out, int64_t n) {
  Map(x, nullptr, out, n, SiluOp());
}
void GeluImpl(const float* x, float* out, int64_t n) {
  Map(x, nullptr, out, n, GeluOp());
}
// One row, computed as llama.cpp's CPU backend computes it: its vector loop (16 lanes) for
// the whole 16-element groups and its scalar formula for the rest.
void SwiGluImpl(const float* gate, const float* up, float* out, int64_t n) {
  const DF df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const int64_t vector_part = n & ~int64_t{15};
  int64_t i = 0;
  for (; i < vector_part; i += lanes) {
    const VF g = hn::LoadU(df, gate + i);
    hn::StoreU(hn::Mul(RefSilu(df, g), hn::LoadU(df, up + i)), df, out + i);
  }
  for (; i < n; ++i) out[i] = RefSiluScalar(gate[i]) * up[i];
}
void GeGluImpl(const float* gate, const float* up, float* out, int64_t n) {
  Map(gate, up, out, n, GeGluOp());
}

void SoftcapImpl(float* x, float cap, int64_t n) {
  Map(x, nullptr, x, n, SoftcapOp{cap});
}

void SoftmaxImpl(float* x, int64_t n) {
  const float max = Max(x, n);
  if (max == -std::numeric_limits<float>::infinity()) {
    std::fill(x, x + n, 0.0f);  // fully masked: no distribution (see ops.h)
    return;
  }
  // exp(-inf - max) is exactly 0, so masked entries drop out of the sum.
  Map(x, nullptr, x, n, ExpShiftedOp{max});
  ScaleRow(x, static_cast<float>(1.0 / SumF64(x, n)), n);
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels {

HWY_EXPORT(SiluImpl);
HWY_EXPORT(GeluImpl);
HWY_EXPORT(SwiGluImpl);
HWY_EXPORT(GeGluImpl);
HWY_EXPORT(SoftcapImpl);
HWY_EXPORT(SoftmaxImpl);

void Silu(const float* x, float* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SiluImpl)(x, out, n);
}

void Gelu(const float* x, float* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(GeluImpl)(x, out, n);
}

// Scalar: erf has no Highway version in 1.0.3, and the models that want the exact GELU
// (encoders) are small. erfc keeps the negative side accurate where 1 + erf would cancel.
void GeluErf(const float* x, float* out, int64_t n) {
  constexpr double kSqrtHalf = 0.70710678118654752440;
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    out[i] = static_cast<float>(0.5 * v * std::erfc(-v * kSqrtHalf));
  }
}

void SwiGlu(const float* gate, const float* up, float* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(SwiGluImpl)(gate, up, out, n);
}

void GeGlu(const float* gate, const float* up, float* out, int64_t n) {
  HWY_DYNAMIC_DISPATCH(GeGluImpl)(gate, up, out, n);
}

void Softcap(float* x, float cap, int64_t n) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(SoftcapImpl)(x, cap, n);
}

void Softmax(float* x, int64_t n) {
  if (n <= 0) return;
  HWY_DYNAMIC_DISPATCH(SoftmaxImpl)(x, n);
}

}  // namespace wick::kernels
#endif  // HWY_ONCE
