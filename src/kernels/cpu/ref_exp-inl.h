// exp and SiLU as llama.cpp's CPU backend computes them in its vector loops (ggml_v_expf,
// ggml_v_silu: a degree-5 polynomial after range reduction by ln 2, within 1.5 ulp of exp),
// lane by lane, so they give the same bits on every vector width. Include it after
// <hwy/highway.h> in a file that Highway's foreach_target.h re-includes. Why wick matches
// those bits: ref_order.h.
#if defined(WICK_KERNELS_CPU_REF_EXP_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_REF_EXP_INL_H_
#undef WICK_KERNELS_CPU_REF_EXP_INL_H_
#else
#define WICK_KERNELS_CPU_REF_EXP_INL_H_
#endif

#include <hwy/highway.h>

#include <cmath>
#include <limits>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {

// e^x: x = n ln2 + b with n integral, e^b by the polynomial, then scaled by 2^n with one
// rounding (as AVX-512's scalef), so results that end up subnormal round as the reference's.
// |n| > 192 saturates to 0 or infinity.
template <class D>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<D> RefExp(D df, hwy::HWY_NAMESPACE::Vec<D> x) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::RebindToSigned<D> di;
  const auto round_shift = hn::Set(df, 0x1.8p23f);
  const auto z = hn::MulAdd(x, hn::Set(df, 0x1.715476p+0f), round_shift);
  const auto n = hn::Sub(z, round_shift);
  const auto b = hn::NegMulAdd(n, hn::Set(df, 0x1.7f7d1cp-20f),
                               hn::NegMulAdd(n, hn::Set(df, 0x1.62e4p-1f), x));
  const auto u = hn::Mul(b, b);
  const auto j = hn::MulAdd(
      hn::MulAdd(hn::MulAdd(hn::Set(df, 0x1.0e4020p-7f), b, hn::Set(df, 0x1.573e2ep-5f)), u,
                 hn::MulAdd(hn::Set(df, 0x1.555e66p-3f), b, hn::Set(df, 0x1.fffdb6p-2f))),
      u, hn::MulAdd(hn::Set(df, 0x1.ffffecp-1f), b, hn::Set(df, 1.0f)));
  const auto out_of_range = hn::Gt(hn::Abs(n), hn::Set(df, 192.0f));
  // 2^n as two factors of at most 2^96 each: the first product is exact, the second rounds.
  const auto ni = hn::ConvertTo(di, hn::IfThenZeroElse(out_of_range, n));
  const auto n1 = hn::ShiftRight<1>(ni);
  const auto n2 = hn::Sub(ni, n1);
  const auto bias = hn::Set(di, 127);
  const auto p1 = hn::BitCast(df, hn::ShiftLeft<23>(hn::Add(n1, bias)));
  const auto p2 = hn::BitCast(df, hn::ShiftLeft<23>(hn::Add(n2, bias)));
  const auto scaled = hn::Mul(hn::Mul(j, p1), p2);
  const auto saturated = hn::IfThenElseZero(hn::Gt(n, hn::Zero(df)),
                                            hn::Set(df, std::numeric_limits<float>::infinity()));
  return hn::IfThenElse(out_of_range, saturated, scaled);
}

// x / (1 + e^-x), as ggml_v_silu.
template <class D>
HWY_INLINE hwy::HWY_NAMESPACE::Vec<D> RefSilu(D df, hwy::HWY_NAMESPACE::Vec<D> x) {
  namespace hn = hwy::HWY_NAMESPACE;
  const auto e = RefExp(df, hn::Sub(hn::Zero(df), x));
  return hn::Div(x, hn::Add(hn::Set(df, 1.0f), e));
}

// The reference's scalar tail (ggml_silu_f32): libm's expf.
HWY_INLINE float RefSiluScalar(float x) {
  return x / (1.0f + std::exp(-x));
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // WICK_KERNELS_CPU_REF_EXP_INL_H_
