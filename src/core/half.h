// IEEE binary16 (f16) and bfloat16 (bf16) conversions, scalar and exact: the reference that
// SIMD conversions are tested against, and what block scales are decoded with.
#pragma once

#include <cstdint>

#include "core/bit_cast.h"

namespace wick {

inline float F16ToF32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);  // inf or nan, payload kept
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    // Subnormal: value = mant * 2^-24, exactly representable in f32.
    float v = static_cast<float>(mant) * 0x1p-24f;
    bits = sign | BitCast<uint32_t>(v);
  }
  return BitCast<float>(bits);
}

// Round to nearest even, overflow to infinity, nan stays nan (as IEEE conversion does).
inline uint16_t F32ToF16(float f) {
  const uint32_t x = BitCast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00 | static_cast<uint16_t>((abs >> 13) & 0x3ff);
  if (abs >= 0x477ff000) return sign | 0x7c00;  // rounds to >= 65520: infinity
  if (abs < 0x38800000) {
    // Result is subnormal (or zero): scale so the f16 subnormal step is 1, round to even.
    float v = BitCast<float>(abs) * 0x1p24f;
    uint32_t m = static_cast<uint32_t>(v);
    float rem = v - static_cast<float>(m);
    if (rem > 0.5f || (rem == 0.5f && (m & 1))) ++m;
    return sign | static_cast<uint16_t>(m);
  }
  uint32_t mant = abs & 0x7fffff;
  uint32_t exp = (abs >> 23) - 112;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // may carry into the exponent
  return sign | static_cast<uint16_t>(h);
}

inline float Bf16ToF32(uint16_t h) {
  return BitCast<float>(static_cast<uint32_t>(h) << 16);
}

// Round to nearest even; nan stays a quiet nan.
inline uint16_t F32ToBf16(float f) {
  uint32_t x = BitCast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

}  // namespace wick
