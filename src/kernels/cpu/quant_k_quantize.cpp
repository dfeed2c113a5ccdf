// Reference quantizers of the k-quant formats (Q2_K to Q6_K, and Q8_K activations).
//
// llama-quantize without an importance matrix writes exactly what these functions write, and
// tests compare byte for byte with its files. That is why every search below keeps the
// reference's floating-point operations in the reference's order (a reordered sum or a fused
// multiply-add moves a rounding, which flips a quant now and then), rounds with NearestInt
// rather than std::lround, and narrows integers with the same casts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/bit_cast.h"
#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/quant_ref.h"

// A contracted a * b + c rounds once instead of twice and would break bit-exactness on
// targets with FMA; keep every product and sum a separately rounded float operation.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace wick::kernels::ref {

namespace {

// Groups whose largest magnitude is below this quantize to all-zero quants with scale 0.
constexpr float kGroupMaxEps = 1e-15f;

constexpr int kSub16 = kQK_K / 16;  // 16-element sub-blocks per super-block
constexpr int kSub32 = kQK_K / 32;  // 32-element sub-blocks per super-block
constexpr int kMaxScale6 = 63;      // largest 6-bit scale or min

// Rounds to nearest with ties to even, the way the reference does: adding 1.5 * 2^23 makes the
// float adder round away the fraction and leaves the integer in the low mantissa bits. Exact
// halves are common in requantized data, where std::lround (ties away) would differ.
int NearestInt(float v) {
  constexpr float kRoundingBias = 12582912.f;  // 1.5 * 2^23
  const uint32_t bits = BitCast<uint32_t>(v + kRoundingBias);
  return static_cast<int>(bits & 0x007fffff) - 0x00400000;
}

// The element of largest magnitude, with its sign; its magnitude goes to *abs_max. Ties keep
// the first, as the reference does.
float SignedAbsMax(const float* x, int n, float* abs_max) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  *abs_max = amax;
  return max;
}

// How FitScaleAndMin searches: it tries inverse scales (nmax + rmin + rdelta * k) / range for
// k = 0..steps and keeps the one with the lowest weighted error (absolute if use_abs_error,
// else squared).
struct ScaleSearch {
  float rmin;
  float rdelta;
  int steps;
  bool use_abs_error;
};

// Fits x[i] ~ scale * levels[i] - min_offset with levels in [0, nmax] and min_offset >= 0 by
// weighted least squares over a small set of candidate roundings (make_qkx2_quants). Returns
// the scale; the offset goes to *min_offset.
float FitScaleAndMin(int n, int nmax, const float* x, const float* weights, uint8_t* levels,
                     float* min_offset, const ScaleSearch& search) {
  float min = x[0];
  float max = x[0];
  float sum_w = weights[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    const float w = weights[i];
    sum_w += w;
    sum_x += w * x[i];
  }
  // The offset only ever moves the range down: an all-positive group keeps zero exact.
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(levels, levels + n, uint8_t{0});
    *min_offset = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    const int l = NearestInt(iscale * (x[i] - min));
    levels[i] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
    float diff = scale * levels[i] + min - x[i];
    diff = search.use_abs_error ? std::fabs(diff) : diff * diff;
    best_error += weights[i] * diff;
  }
  if (search.steps < 1) {
    *min_offset = -min;
    return scale;
  }
  uint8_t trial[32];
  for (int step = 0; step <= search.steps; ++step) {
    iscale = (search.rmin + search.rdelta * step + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(NearestInt(iscale * (x[i] - min)), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      const float w = weights[i];
      sum_l += w * l;
      sum_l2 += w * l * l;
      sum_xl += w * l * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        float diff = this_scale * trial[i] + this_min - x[i];
        diff = search.use_abs_error ? std::fabs(diff) : diff * diff;
        error += weights[i] * diff;
      }
      if (error < best_error) {
        std::copy(trial, trial + n, levels);
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *min_offset = -min;
  return scale;
}

// Fits x[i] ~ scale * (levels[i] - nmax) with levels in [0, 2 nmax) for a symmetric format,
// minimising the error weighted by x^2 (so large weights are kept most accurately) over 19
// perturbations of the max-based scale (make_qx_quants with rmse_type 1). Returns the scale,
// negative when the largest-magnitude element is positive.
float FitSymmetricScale(int n, int nmax, const float* x, int8_t* levels) {
  float amax;
  const float max = SignedAbsMax(x, n, &amax);
  if (amax < kGroupMaxEps) {
    std::fill(levels, levels + n, int8_t{0});
    return 0.f;
  }
  float iscale = -nmax / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
    levels[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int step = -9; step <= 9; ++step) {
    if (step == 0) continue;
    iscale = -(nmax + 0.1f * step) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    // Compares sumlx^2 / suml2 (the error reduction) without dividing.
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) {
        const int l = std::clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
        levels[i] = static_cast<int8_t>(l + nmax);
      }
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Like FitSymmetricScale, but refines the max-based rounding one element at a time: each
// level moves to its best value for the scale the others imply, while that lowers the
// x^2-weighted error, for at most five sweeps (make_q3_quants).
float FitSymmetricScaleByDescent(int n, int nmax, const float* x, int8_t* levels) {
  constexpr int kMaxSweeps = 5;
  float amax;
  const float max = SignedAbsMax(x, n, &amax);
  if (amax < kGroupMaxEps) {
    std::fill(levels, levels + n, int8_t{0});
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(NearestInt(iscale * x[i]), -nmax, nmax - 1);
    levels[i] = static_cast<int8_t>(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int sweep = 0; sweep < kMaxSweeps; ++sweep) {
    int changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * levels[i];
      if (slx <= 0) continue;
      float sl2 = suml2 - w * levels[i] * levels[i];
      const int new_l = std::clamp(NearestInt(x[i] * sl2 / slx), -nmax, nmax - 1);
      if (new_l == levels[i]) continue;
      slx += w * x[i] * new_l;
      sl2 += w * new_l * new_l;
      if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
        levels[i] = static_cast<int8_t>(new_l);
        sumlx = slx;
        suml2 = sl2;
        ++changed;
      }
    }
    if (changed == 0) break;
  }
  for (int i = 0; i < n; ++i) levels[i] = static_cast<int8_t>(levels[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// Q2_K and Q3_K keep the low two bits of element 128 h + 32 k + l in bits 2k of qs[32 h + l].
void Pack2BitLevels(const uint8_t* levels, uint8_t* qs) {
  for (int half = 0; half < kQK_K; half += 128) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t* at = levels + half + l;
      qs[half / 4 + l] =
          static_cast<uint8_t>(at[0] | (at[32] << 2) | (at[64] << 4) | (at[96] << 6));
    }
  }
}

// Q4_K and Q5_K: the first four scales and mins fill the low six bits of bytes 0-3 and 4-7;
// the last four keep their low nibbles in bytes 8-11 and their top two bits in the spare top
// bits of bytes 0-7.
void PackScaleMin6(int j, uint8_t scale, uint8_t min, uint8_t* packed) {
  if (j < 4) {
    packed[j] = scale;
    packed[j + 4] = min;
  } else {
    packed[j + 4] = static_cast<uint8_t>((scale & 0xF) | ((min & 0xF) << 4));
    packed[j - 4] |= static_cast<uint8_t>((scale >> 4) << 6);
    packed[j] |= static_cast<uint8_t>((min >> 4) << 6);
  }
}

// Q3_K's sixteen 6-bit scales (stored + 32): low nibbles in bytes 0-7 (j and j + 8 share a
// byte), top two bits in bytes 8-11.
void PackQ3_KScale(int j, int biased, uint8_t* packed) {
  if (j < 8) {
    packed[j] = static_cast<uint8_t>(biased & 0xF);
  } else {
    packed[j - 8] |= static_cast<uint8_t>((biased & 0xF) << 4);
  }
  packed[8 + j % 4] |= static_cast<uint8_t>((biased >> 4) << (2 * (j / 4)));
}

// Scale and min of each sub-block of a Q4_K or Q5_K super-block, the part the two share:
// 32-element groups fitted with weights |x| + rms(group), then quantized to 6 bits relative to
// the largest, whose ratio goes into the f16 d and dmin.
struct ScalesAndMins {
  uint8_t scale[kSub32];
  uint8_t min[kSub32];
  float d;
  float dmin;
};

ScalesAndMins FitScalesAndMins32(const float* x, int nmax, const ScaleSearch& search,
                                 uint8_t* levels, uint8_t* packed, uint16_t* d_bits,
                                 uint16_t* dmin_bits) {
  float scales[kSub32];
  float mins[kSub32];
  float weights[32];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < kSub32; ++j) {
    const float* g = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += g[l] * g[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(g[l]);
    scales[j] = FitScaleAndMin(32, nmax, g, weights, levels + 32 * j, &mins[j], search);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  ScalesAndMins out;
  const float inv_scale = max_scale > 0 ? kMaxScale6 / max_scale : 0.f;
  const float inv_min = max_min > 0 ? kMaxScale6 / max_min : 0.f;
  std::memset(packed, 0, kKScaleSize);
  for (int j = 0; j < kSub32; ++j) {
    // Narrowed to uint8_t before clamping, as the reference does.
    const auto ls = static_cast<uint8_t>(NearestInt(inv_scale * scales[j]));
    const auto lm = static_cast<uint8_t>(NearestInt(inv_min * mins[j]));
    out.scale[j] = std::min<uint8_t>(kMaxScale6, ls);
    out.min[j] = std::min<uint8_t>(kMaxScale6, lm);
    PackScaleMin6(j, out.scale[j], out.min[j], packed);
  }
  *d_bits = F32ToF16(max_scale / kMaxScale6);
  *dmin_bits = F32ToF16(max_min / kMaxScale6);
  out.d = F16ToF32(*d_bits);
  out.dmin = F16ToF32(*dmin_bits);
  return out;
}

// Re-rounds each 32-element group against its decoded (quantized) scale and min, so the levels
// match what dequantization will multiply them by.
void RequantizeAgainstDecoded(const float* x, const ScalesAndMins& sm, int nmax, uint8_t* levels) {
  for (int j = 0; j < kSub32; ++j) {
    const float d = sm.d * sm.scale[j];
    if (d == 0) continue;
    const float dm = sm.dmin * sm.min[j];
    for (int i = 0; i < 32; ++i) {
      const int l = NearestInt((x[32 * j + i] + dm) / d);
      levels[32 * j + i] = static_cast<uint8_t>(std::clamp(l, 0, nmax));
    }
  }
}

void QuantizeBlockQ2_K(const float* x, Q2_KBlock& y) {
  constexpr float kMaxScale4 = 15.f;
  constexpr ScaleSearch kSearch{-0.5f, 0.1f, 15, true};
  uint8_t levels[kQK_K];
  float scales[kSub16];
  float mins[kSub16];
  float weights[16];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < kSub16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = FitScaleAndMin(16, 3, x + 16 * j, weights, levels + 16 * j, &mins[j], kSearch);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  if (max_scale > 0) {
    const float iscale = kMaxScale4 / max_scale;
    for (int j = 0; j < kSub16; ++j) {
      y.scales[j] = static_cast<uint8_t>(NearestInt(iscale * scales[j]));
    }
    y.d = F32ToF16(max_scale / kMaxScale4);
  } else {
    std::memset(y.scales, 0, sizeof(y.scales));
    y.d = F32ToF16(0.f);
  }
  if (max_min > 0) {
    const float iscale = kMaxScale4 / max_min;
    for (int j = 0; j < kSub16; ++j) {
      y.scales[j] |= static_cast<uint8_t>(NearestInt(iscale * mins[j]) << 4);
    }
    y.dmin = F32ToF16(max_min / kMaxScale4);
  } else {
    y.dmin = F32ToF16(0.f);
  }
  const float d_all = F16ToF32(y.d);
  const float dmin_all = F16ToF32(y.dmin);
  for (int j = 0; j < kSub16; ++j) {
    const float d = d_all * (y.scales[j] & 0xF);
    if (d == 0) continue;
    const float dm = dmin_all * (y.scales[j] >> 4);
    for (int i = 0; i < 16; ++i) {
      const int l = NearestInt((x[16 * j + i] + dm) / d);
      levels[16 * j + i] = static_cast<uint8_t>(std::clamp(l, 0, 3));
    }
  }
  Pack2BitLevels(levels, y.qs);
}

// Fits a symmetric scale to each 16-element sub-block with `fit` (writing its levels) and
// returns the scale of largest magnitude, sign kept, the first among equals: the one the
// super-block scale is derived from in Q3_K and Q6_K.
template <typename Fit>
float FitSubBlockScales(const float* x, int8_t* levels, float* scales, Fit fit) {
  float max_scale = 0;
  float max_abs = 0;
  for (int j = 0; j < kSub16; ++j) {
    scales[j] = fit(x + 16 * j, levels + 16 * j);
    const float a = std::fabs(scales[j]);
    if (a > max_abs) {
      max_abs = a;
      max_scale = scales[j];
    }
  }
  return max_scale;
}

void QuantizeBlockQ3_K(const float* x, Q3_KBlock& y) {
  int8_t levels[kQK_K];
  float scales[kSub16];
  const float max_scale = FitSubBlockScales(x, levels, scales, [](const float* xs, int8_t* ls) {
    return FitSymmetricScaleByDescent(16, 4, xs, ls);
  });
  int sub_scale[kSub16] = {};  // decoded 6-bit scales, -32..31
  std::memset(y.scales, 0, sizeof(y.scales));
  if (max_scale != 0) {
    const float iscale = -32.f / max_scale;
    for (int j = 0; j < kSub16; ++j) {
      // Narrowed to int8_t before clamping, as the reference does.
      const auto l = static_cast<int8_t>(NearestInt(iscale * scales[j]));
      const int biased = std::clamp<int>(l, -32, 31) + 32;
      PackQ3_KScale(j, biased, y.scales);
      sub_scale[j] = biased - 32;
    }
    y.d = F32ToF16(1 / iscale);
  } else {
    // All scales pack as 0, which decodes to -32; harmless since d is 0.
    std::fill(sub_scale, sub_scale + kSub16, -32);
    y.d = F32ToF16(0.f);
  }
  const float d_all = F16ToF32(y.d);
  for (int j = 0; j < kSub16; ++j) {
    const float d = d_all * sub_scale[j];
    if (d == 0) continue;
    for (int i = 0; i < 16; ++i) {
      const int l = std::clamp(NearestInt(x[16 * j + i] / d), -4, 3);
      levels[16 * j + i] = static_cast<int8_t>(l + 4);
    }
  }
  // Bit 2 of element e goes to bit e / 32 of hmask[e % 32]; the low two bits pack as Q2_K's.
  uint8_t low[kQK_K];
  std::memset(y.hmask, 0, sizeof(y.hmask));
  for (int e = 0; e < kQK_K; ++e) {
    int l = levels[e];
    if (l > 3) {
      y.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
      l -= 4;
    }
    low[e] = static_cast<uint8_t>(l);
  }
  Pack2BitLevels(low, y.qs);
}

void QuantizeBlockQ4_K(const float* x, Q4_KBlock& y) {
  constexpr int kNmax = 15;
  constexpr ScaleSearch kSearch{-1.f, 0.1f, 20, false};
  uint8_t levels[kQK_K];
  const ScalesAndMins sm = FitScalesAndMins32(x, kNmax, kSearch, levels, y.scales, &y.d, &y.dmin);
  RequantizeAgainstDecoded(x, sm, kNmax, levels);
  // Element 64 h + l sits in the low nibble of qs[32 h + l], element 64 h + 32 + l in the high.
  for (int h = 0; h < kQK_K / 64; ++h) {
    for (int l = 0; l < 32; ++l) {
      y.qs[32 * h + l] = static_cast<uint8_t>(levels[64 * h + l] | (levels[64 * h + 32 + l] << 4));
    }
  }
}

void QuantizeBlockQ5_K(const float* x, Q5_KBlock& y) {
  constexpr int kNmax = 31;
  constexpr ScaleSearch kSearch{-0.5f, 0.1f, 15, false};
  uint8_t levels[kQK_K];
  const ScalesAndMins sm = FitScalesAndMins32(x, kNmax, kSearch, levels, y.scales, &y.d, &y.dmin);
  RequantizeAgainstDecoded(x, sm, kNmax, levels);
  // Low nibbles as Q4_K; bit 4 of element e goes to bit e / 32 of qh[e % 32].
  std::memset(y.qh, 0, sizeof(y.qh));
  for (int h = 0; h < kQK_K / 64; ++h) {
    for (int l = 0; l < 32; ++l) {
      const int lo = levels[64 * h + l];
      const int hi = levels[64 * h + 32 + l];
      y.qs[32 * h + l] = static_cast<uint8_t>((lo & 0xF) | ((hi & 0xF) << 4));
      y.qh[l] |= static_cast<uint8_t>(((lo >> 4) << (2 * h)) | ((hi >> 4) << (2 * h + 1)));
    }
  }
}

void QuantizeBlockQ6_K(const float* x, Q6_KBlock& y) {
  int8_t levels[kQK_K];
  float scales[kSub16];
  const float max_scale = FitSubBlockScales(x, levels, scales, [](const float* xs, int8_t* ls) {
    return FitSymmetricScale(16, 32, xs, ls);
  });
  if (std::fabs(max_scale) < kGroupMaxEps) {
    std::memset(&y, 0, sizeof(y));
    return;
  }
  const float iscale = -128.f / max_scale;
  y.d = F32ToF16(1 / iscale);
  for (int j = 0; j < kSub16; ++j) {
    y.scales[j] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scales[j])));
  }
  const float d_all = F16ToF32(y.d);
  for (int j = 0; j < kSub16; ++j) {
    const float d = d_all * y.scales[j];
    if (d == 0) continue;
    for (int i = 0; i < 16; ++i) {
      const int l = std::clamp(NearestInt(x[16 * j + i] / d), -32, 31);
      levels[16 * j + i] = static_cast<int8_t>(l + 32);
    }
  }
  // Element 128 h + 32 k + l: its low nibble in ql[64 h + 32 (k % 2) + l] (low nibble for
  // k < 2, high for k >= 2), its top two bits at bits 2k of qh[32 h + l].
  for (int h = 0; h < kQK_K / 128; ++h) {
    const int8_t* at = levels + 128 * h;
    uint8_t* ql = y.ql + 64 * h;
    uint8_t* qh = y.qh + 32 * h;
    for (int l = 0; l < 32; ++l) {
      ql[l] = static_cast<uint8_t>((at[l] & 0xF) | ((at[l + 64] & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((at[l + 32] & 0xF) | ((at[l + 96] & 0xF) << 4));
      qh[l] = static_cast<uint8_t>((at[l] >> 4) | ((at[l + 32] >> 4) << 2) |
                                   ((at[l + 64] >> 4) << 4) | ((at[l + 96] >> 4) << 6));
    }
  }
}

void QuantizeBlockQ8_K(const float* x, Q8_KBlock& y) {
  float amax;
  const float max = SignedAbsMax(x, kQK_K, &amax);
  if (amax == 0) {
    // The reference leaves bsums unset here; zero is what they sum to.
    std::memset(&y, 0, sizeof(y));
    return;
  }
  // -127 rather than -128 keeps every quant's negation in range for the SIMD kernels.
  const float iscale = -127.f / max;
  for (int i = 0; i < kQK_K; ++i) {
    y.qs[i] = static_cast<int8_t>(std::min(127, NearestInt(iscale * x[i])));
  }
  for (int j = 0; j < kSub16; ++j) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += y.qs[16 * j + i];
    y.bsums[j] = static_cast<int16_t>(sum);
  }
  y.d = 1 / iscale;
}

template <typename Block, void (*kQuantizeBlock)(const float*, Block&)>
void QuantizeRow(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Block*>(dst);
  for (int64_t b = 0; b < n / kQK_K; ++b) kQuantizeBlock(src + b * kQK_K, blocks[b]);
}

}  // namespace

void QuantizeQ2_K(const float* src, void* dst, int64_t n) {
  QuantizeRow<Q2_KBlock, QuantizeBlockQ2_K>(src, dst, n);
}
void QuantizeQ3_K(const float* src, void* dst, int64_t n) {
  QuantizeRow<Q3_KBlock, QuantizeBlockQ3_K>(src, dst, n);
}
void QuantizeQ4_K(const float* src, void* dst, int64_t n) {
  QuantizeRow<Q4_KBlock, QuantizeBlockQ4_K>(src, dst, n);
}
void QuantizeQ5_K(const float* src, void* dst, int64_t n) {
  QuantizeRow<Q5_KBlock, QuantizeBlockQ5_K>(src, dst, n);
}
void QuantizeQ6_K(const float* src, void* dst, int64_t n) {
  QuantizeRow<Q6_KBlock, QuantizeBlockQ6_K>(src, dst, n);
}
void QuantizeQ8_K(const float* src, void* dst, int64_t n) {
  QuantizeRow<Q8_KBlock, QuantizeBlockQ8_K>(src, dst, n);
}

}  // namespace wick::kernels::ref
