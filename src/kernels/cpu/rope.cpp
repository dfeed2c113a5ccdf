// Rotary position embedding with ggml_rope_ext's semantics: the same f32 operations in the
// same order as ggml's CPU backend, fused where GCC fuses them when it builds ggml, so wick
// rotates exactly as llama.cpp does.
//
// Scalar on purpose: the angles (one cosf and sinf per pair, shared by every head) dominate,
// and a token's heads are a few KB that sit in L1.
//
// Accuracy: like ggml, theta_i is advanced as theta *= base^(-2/n_dims) from theta_0 =
// position, so theta_i carries a relative error of about (i + 2) f32 ulps; the absolute
// angle error grows with the position (about position * 3e-7 radians at worst, largest for
// the first few pairs). Computing theta in f64 would be more exact but would no longer match
// the models' reference implementation.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <numbers>

#include "kernels/cpu/ops.h"

namespace wick::kernels {

namespace {

// Everything about the angles that does not depend on the position.
struct RopeParams {
  float theta_scale;  // base^(-2/n_dims)
  float freq_scale;   // 1/factor for linear and YaRN scaling
  float ext_factor;   // YaRN's extrapolation mix; 0 outside YaRN
  float mscale;       // attn_factor
  float corr_low;     // YaRN: pairs below keep their extrapolated (unscaled) angle...
  float corr_high;    // ...pairs above are fully interpolated, with a ramp between
};

// ggml_rope_yarn_corr_dim: the dimension whose wavelength fits n_rot times into orig_ctx.
float YarnCorrDim(int n_dims, int orig_ctx, float n_rot, float base) {
  return static_cast<float>(n_dims) *
         std::log(static_cast<float>(orig_ctx) / (n_rot * 2 * std::numbers::pi_v<float>)) /
         (2 * std::log(base));
}

RopeParams Prepare(const RopeConfig& config) {
  assert(config.n_dims > 0 && config.n_dims % 2 == 0);
  RopeParams p{};
  p.theta_scale = std::pow(config.freq_base, -2.0f / static_cast<float>(config.n_dims));
  const bool scaled =
      config.scaling == RopeScaling::kLinear || config.scaling == RopeScaling::kYarn;
  p.freq_scale = scaled ? 1.0f / config.factor : 1.0f;
  p.ext_factor = config.scaling == RopeScaling::kYarn ? config.ext_factor : 0.0f;
  p.mscale = config.attn_factor;
  if (p.ext_factor != 0.0f) {
    assert(config.orig_ctx > 0);
    float start =
        std::floor(YarnCorrDim(config.n_dims, config.orig_ctx, config.beta_fast, config.freq_base));
    float end =
        std::ceil(YarnCorrDim(config.n_dims, config.orig_ctx, config.beta_slow, config.freq_base));
    p.corr_low = std::max(0.0f, start);
    p.corr_high = std::min(static_cast<float>(config.n_dims - 1), end);
  }
  return p;
}

// ggml's rope_yarn_ramp: 1 for pairs below corr_low, 0 above corr_high, linear between.
float YarnRamp(float low, float high, int i0) {
  const float y = (static_cast<float>(i0 / 2) - low) / std::max(0.001f, high - low);
  return 1 - std::min(1.0f, std::max(0.0f, y));
}

// The Llama 3 divisor of pair `pair`, computed in f64 from the f32 frequency as the
// converter does it (in f32 torch; the two agree to an ulp).
float Llama3Factor(const RopeConfig& config, int pair) {
  const double freq = 1.0 / std::pow(static_cast<double>(config.freq_base),
                                     2.0 * pair / static_cast<double>(config.n_dims));
  const double wavelen = 2 * std::numbers::pi / static_cast<double>(static_cast<float>(freq));
  const double orig = config.orig_ctx;
  const double low = config.low_freq_factor;
  const double high = config.high_freq_factor;
  if (wavelen < orig / high) return 1.0f;
  if (wavelen > orig / low || high <= low) return config.factor;
  const double smooth = (orig / wavelen - low) / (high - low);
  return static_cast<float>(1.0 / ((1 - smooth) / config.factor + smooth));
}

float FreqFactor(const RopeConfig& config, int pair) {
  if (config.freq_factors != nullptr) return config.freq_factors[pair];
  if (config.scaling == RopeScaling::kLlama3) return Llama3Factor(config, pair);
  return 1.0f;
}

// ggml's rope_yarn for the pair starting at dimension i0 (even) with unscaled angle theta.
void CosSin(const RopeParams& p, float theta_extrap, int i0, float* cos_theta, float* sin_theta) {
  const float theta_interp = p.freq_scale * theta_extrap;
  float theta = theta_interp;
  float mscale = p.mscale;
  if (p.ext_factor != 0.0f) {
    const float ramp_mix = YarnRamp(p.corr_low, p.corr_high, i0) * p.ext_factor;
    theta = theta_interp * (1 - ramp_mix) + theta_extrap * ramp_mix;
    // YaRN's magnitude correction for the interpolated attention logits.
    mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
  }
  *cos_theta = std::cos(theta) * mscale;
  *sin_theta = std::sin(theta) * mscale;
}

// Calls visit(i0, cos, sin) for every pair start i0 = 0, 2, ..., n_dims - 2.
template <class Visit>
void ForEachPairAngle(const RopeConfig& config, int64_t position, Visit visit) {
  const RopeParams p = Prepare(config);
  auto theta = static_cast<float>(position);
  for (int i0 = 0; i0 < config.n_dims; i0 += 2) {
    float c;
    float s;
    CosSin(p, theta / FreqFactor(config, i0 / 2), i0, &c, &s);
    visit(i0, c, s);
    theta *= p.theta_scale;
  }
}

// Rotates the pair for angle index i0 in every head: dimensions (i0, i0 + 1) for kNormal,
// (i0/2, i0/2 + n_dims/2) for kNeox.
void RotatePair(float* x, int64_t n_heads, int64_t head_dim, const RopeConfig& config, int i0,
                float c, float s) {
  const bool neox = config.type == RopeType::kNeox;
  const int64_t first = neox ? i0 / 2 : i0;
  const int64_t offset = neox ? config.n_dims / 2 : 1;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    const float x0 = head[first];
    const float x1 = head[first + offset];
    // Fused as GCC contracts ggml's `x0*cos - x1*sin` and `x0*sin + x1*cos` (its default for
    // GNU dialects), so the rotation rounds as the reference's does.
    head[first] = std::fma(x0, c, -(x1 * s));
    head[first + offset] = std::fma(x0, s, x1 * c);
  }
}

}  // namespace

void Llama3FreqFactors(const RopeConfig& config, float* factors) {
  for (int i = 0; i < config.n_dims / 2; ++i) factors[i] = Llama3Factor(config, i);
}

void RopeTable(const RopeConfig& config, int64_t position, float* table) {
  ForEachPairAngle(config, position, [table](int i0, float c, float s) {
    table[i0] = c;
    table[i0 + 1] = s;
  });
}

void RopeTables(const RopeConfig& config, int64_t first, int64_t n_positions, float* tables) {
  for (int64_t k = 0; k < n_positions; ++k) {
    RopeTable(config, first + k, tables + k * config.n_dims);
  }
}

void ApplyRopeTable(float* x, int64_t n_heads, int64_t head_dim, const RopeConfig& config,
                    const float* table) {
  assert(config.n_dims <= head_dim);
  for (int i0 = 0; i0 < config.n_dims; i0 += 2) {
    RotatePair(x, n_heads, head_dim, config, i0, table[i0], table[i0 + 1]);
  }
}

void ApplyRope(float* x, int64_t n_heads, int64_t head_dim, int64_t position,
               const RopeConfig& config) {
  assert(config.n_dims <= head_dim);
  ForEachPairAngle(config, position, [&](int i0, float c, float s) {
    RotatePair(x, n_heads, head_dim, config, i0, c, s);
  });
}

}  // namespace wick::kernels
