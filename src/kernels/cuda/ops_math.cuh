// Arithmetic the CUDA kernels share with the host: the q8_0 activation quantizer, silu, and
// the RoPE angles. Every function here is __host__ __device__ so that
// tests/kernels/cuda/ops_host_test.cu can check it on the CPU against kernels/cpu bit for bit.
// Where a result must round exactly as the CPU rounds it, the operations go through
// float_bits.cuh's uncontracted FMul/FAdd/FSub/FDiv.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <numbers>

#include "kernels/cpu/ops.h"
#include "kernels/cuda/float_bits.cuh"

namespace wick::kernels::cuda::math {

using namespace fp;  // NOLINT(google-build-using-namespace): math::FMul and the rest

// ---- q8_0 activations ----

// The q8_0 quantizer of the CPU's KV cache and of its attention's queries
// (ref::QuantizeQ8_0Activations, simd::QuantizeQ8_0): d = amax / 127, q = x * (127 / amax)
// rounded half to even, each a single IEEE operation.
struct Q8Scales {
  float d;   // stored as f16
  float id;  // 127 / amax, 0 for an all-zero block
};

WICK_HD Q8Scales Q8_0ScalesFor(float amax) {
  return {FDiv(amax, 127.0f), amax != 0.0f ? FDiv(127.0f, amax) : 0.0f};
}

WICK_HD float RoundHalfEven(float x) {
#ifdef __CUDA_ARCH__
  return rintf(x);
#else
  return std::nearbyint(x);
#endif
}

// One quant. |x * id| <= 127 up to an ulp for finite blocks; the clamp only pins down what
// non-finite products become (saturated, NaN to 0) instead of leaving it to the conversion.
WICK_HD int8_t Q8_0Quantize(float x, float id) {
  const float r = RoundHalfEven(FMul(x, id));
  if (!(r == r)) return 0;
  if (r >= 127.0f) return 127;
  if (r <= -128.0f) return -128;
  return static_cast<int8_t>(static_cast<int>(r));
}

// A whole block (32 values), as the host reference for the device's warp-wide version.
WICK_HD uint16_t Q8_0QuantizeBlock(const float* x, int8_t* qs) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = fmaxf(amax, fabsf(x[j]));
  const Q8Scales s = Q8_0ScalesFor(amax);
  for (int j = 0; j < 32; ++j) qs[j] = Q8_0Quantize(x[j], s.id);
  return F32ToF16(s.d);
}

// ---- Activations ----

// e^x as the CPU's ref_exp-inl.h computes it (llama.cpp's vector exp): range reduction by
// ln 2, a degree-5 polynomial, then 2^n in two exact-then-rounding steps.
WICK_HD float RefExp(float x) {
  const float round_shift = 0x1.8p23f;
  const float z = fmaf(x, 0x1.715476p+0f, round_shift);
  const float n = FSub(z, round_shift);
  const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
  const float u = FMul(b, b);
  const float j = fmaf(
      fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
      fmaf(0x1.ffffecp-1f, b, 1.0f));
  if (fabsf(n) > 192.0f) return n > 0.0f ? INFINITY : 0.0f;
  if (!(n == n)) return n;
  const int ni = static_cast<int>(n);
  const int n1 = ni >> 1;
  const int n2 = ni - n1;
  return FMul(FMul(j, ldexpf(1.0f, n1)), ldexpf(1.0f, n2));
}

// x / (1 + e^-x), as the CPU's SwiGLU computes whole 16-element groups.
WICK_HD float Silu(float x) {
  return FDiv(x, FAdd(1.0f, RefExp(FSub(0.0f, x))));
}

// The tanh GELU as the CPU's activation.cpp computes it: x * sigmoid(2u), with
// 2u = 2 sqrt(2/pi) x (1 + 0.044715 x^2), through a sigmoid that never overflows.
WICK_HD float GeluTanh(float x) {
  constexpr float kTwoSqrt2OverPi = 1.5957691216057308f;
  constexpr float kCubic = kTwoSqrt2OverPi * 0.044715f;
  const float two_u = FMul(x, fmaf(FMul(x, x), kCubic, kTwoSqrt2OverPi));
  const float e = expf(-fabsf(two_u));
  const float positive = FDiv(1.0f, FAdd(1.0f, e));
  return FMul(x, two_u < 0.0f ? FMul(e, positive) : positive);
}

// ---- RoPE ----

// Everything about the angles that does not depend on the position, computed on the host
// with exactly the CPU's operations (kernels/cpu/rope.cpp, Prepare).
struct RopeAngleParams {
  int n_dims;
  float theta_scale;  // base^(-2/n_dims)
  float freq_scale;   // 1/factor for linear and YaRN scaling
  float ext_factor;   // YaRN's extrapolation mix; 0 outside YaRN
  float mscale;       // attn_factor
  float yarn_mscale;  // 1 + 0.1 ln(1/freq_scale), applied when ext_factor != 0
  float corr_low;     // YaRN ramp
  float corr_high;
  bool llama3;   // per-pair Llama 3 divisors when no freq_factors are given
  float factor;  // Llama 3
  int orig_ctx;
  float low_freq_factor;
  float high_freq_factor;
  float freq_base;
};

inline float YarnCorrDim(int n_dims, int orig_ctx, float n_rot, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(orig_ctx) / (n_rot * 2 * std::numbers::pi_v<float>)) /
         (2 * std::log(base));
}

inline RopeAngleParams PrepareRope(const RopeConfig& config) {
  RopeAngleParams p{};
  p.n_dims = config.n_dims;
  p.theta_scale = std::pow(config.freq_base, -2.0f / static_cast<float>(config.n_dims));
  const bool scaled =
      config.scaling == RopeScaling::kLinear || config.scaling == RopeScaling::kYarn;
  p.freq_scale = scaled ? 1.0f / config.factor : 1.0f;
  p.ext_factor = config.scaling == RopeScaling::kYarn ? config.ext_factor : 0.0f;
  p.mscale = config.attn_factor;
  p.yarn_mscale = 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
  if (p.ext_factor != 0.0f) {
    const float start =
        std::floor(YarnCorrDim(config.n_dims, config.orig_ctx, config.beta_fast, config.freq_base));
    const float end =
        std::ceil(YarnCorrDim(config.n_dims, config.orig_ctx, config.beta_slow, config.freq_base));
    p.corr_low = start > 0.0f ? start : 0.0f;
    p.corr_high =
        end < static_cast<float>(config.n_dims - 1) ? end : static_cast<float>(config.n_dims - 1);
  }
  p.llama3 = config.scaling == RopeScaling::kLlama3;
  p.factor = config.factor;
  p.orig_ctx = config.orig_ctx;
  p.low_freq_factor = config.low_freq_factor;
  p.high_freq_factor = config.high_freq_factor;
  p.freq_base = config.freq_base;
  return p;
}

// The Llama 3 divisor of pair `pair`, in f64 as the CPU computes it.
WICK_HD float Llama3Factor(const RopeAngleParams& p, int pair) {
  const double freq =
      1.0 / pow(static_cast<double>(p.freq_base), 2.0 * pair / static_cast<double>(p.n_dims));
  const double wavelen = 2 * std::numbers::pi / static_cast<double>(static_cast<float>(freq));
  const double orig = p.orig_ctx;
  const double low = p.low_freq_factor;
  const double high = p.high_freq_factor;
  if (wavelen < orig / high) return 1.0f;
  if (wavelen > orig / low || high <= low) return p.factor;
  const double smooth = (orig / wavelen - low) / (high - low);
  return static_cast<float>(1.0 / ((1 - smooth) / p.factor + smooth));
}

// ggml's rope_yarn_ramp for the pair starting at dimension i0.
WICK_HD float YarnRamp(float low, float high, int i0) {
  const float y = FDiv(FSub(static_cast<float>(i0 / 2), low), fmaxf(0.001f, FSub(high, low)));
  return FSub(1.0f, fminf(1.0f, fmaxf(0.0f, y)));
}

// The unscaled angle of pair `pair` at `position`: theta advanced by repeated multiplication
// from the position, as the CPU (and ggml) does, so the angles agree to the last bit.
WICK_HD float RopeThetaExtrap(const RopeAngleParams& p, int64_t position, int pair) {
  float theta = static_cast<float>(position);
  for (int i = 0; i < pair; ++i) theta = FMul(theta, p.theta_scale);
  return theta;
}

// cos and sin of pair `pair` (dimension i0 = 2 * pair) at `position`, magnitude included.
// `freq_factor` is the pair's divisor (freq_factors[pair], the Llama 3 one, or 1).
WICK_HD void RopeCosSin(const RopeAngleParams& p, int64_t position, int pair, float freq_factor,
                        float* cos_theta, float* sin_theta) {
  const float theta_extrap = FDiv(RopeThetaExtrap(p, position, pair), freq_factor);
  const float theta_interp = FMul(p.freq_scale, theta_extrap);
  float theta = theta_interp;
  float mscale = p.mscale;
  if (p.ext_factor != 0.0f) {
    const float ramp_mix = FMul(YarnRamp(p.corr_low, p.corr_high, 2 * pair), p.ext_factor);
    theta = FAdd(FMul(theta_interp, FSub(1.0f, ramp_mix)), FMul(theta_extrap, ramp_mix));
    mscale = FMul(mscale, p.yarn_mscale);
  }
  *cos_theta = FMul(cosf(theta), mscale);
  *sin_theta = FMul(sinf(theta), mscale);
}

// The divisor of pair `pair` when no freq_factors table is given.
WICK_HD float RopeDefaultFactor(const RopeAngleParams& p, int pair) {
  return p.llama3 ? Llama3Factor(p, pair) : 1.0f;
}

// Rotates one pair: (x0, x1) -> (x0 c - x1 s, x0 s + x1 c), fused as the CPU fuses it.
WICK_HD void RopeRotate(float c, float s, float* x0, float* x1) {
  const float a = *x0;
  const float b = *x1;
  *x0 = fmaf(a, c, -FMul(b, s));
  *x1 = fmaf(a, s, FMul(b, c));
}

}  // namespace wick::kernels::cuda::math
