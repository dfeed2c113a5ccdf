// The f32 helpers that the CUDA kernels' decoders (dequant.cuh) and their arithmetic
// (ops_math.cuh) share with the host: bit casts, single IEEE operations, and the f16 and bf16
// conversions. Every function is __host__ __device__ so that the host tests can check the
// device's code on the CPU against kernels/cpu bit for bit.
//
// The CPU kernels are compiled as ISO C++ without FMA contraction, while nvcc contracts
// a * b + c into one fused operation by default. Where a result must round exactly as the
// CPU rounds it, the operations go through FMul/FAdd/FSub/FDiv below, which are never
// contracted on the device (the __f*_rn intrinsics) and are plain operators on the host.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#define WICK_HD __host__ __device__ __forceinline__

// Its own namespace: the test files live in wick::kernels::cuda and call core/half.h's
// F32ToF16 and F16ToF32 unqualified as the reference these are checked against.
namespace wick::kernels::cuda::fp {

// ---- Bits ----

WICK_HD float AsFloat(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

WICK_HD uint32_t AsUint(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

// ---- Single IEEE operations ----

WICK_HD float FMul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

WICK_HD float FAdd(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

WICK_HD float FSub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

WICK_HD float FDiv(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}

// Where a fused operation is the intent (dot products): one rounding on both sides.
WICK_HD float FFma(float a, float b, float c) {
#ifdef __CUDA_ARCH__
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// ---- f16 and bf16 ----

// Exact (every f16 value is an f32 value). The device uses the hardware conversion, which
// agrees everywhere except possibly in the payload bits of a NaN.
WICK_HD float F16ToF32(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(h));
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return AsFloat(sign | 0x7f800000u | (mant << 13));
  if (exp != 0) return AsFloat(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return AsFloat(sign);
  // Subnormal, mant * 2^-24: shift the leading one up to the implicit bit.
  uint32_t e = 113;
  while ((mant & 0x400) == 0) {
    mant <<= 1;
    --e;
  }
  return AsFloat(sign | (e << 23) | ((mant & 0x3ff) << 13));
#endif
}

WICK_HD float Bf16ToF32(uint16_t h) {
  return AsFloat(static_cast<uint32_t>(h) << 16);
}

// core/half.h's F32ToF16 in integer operations, the same on host and device: round to nearest
// even, overflow to infinity, a NaN keeps its sign and top payload bits and becomes quiet. (The
// hardware conversion differs in NaN payloads; this one matches the CPU's bytes everywhere.)
WICK_HD uint16_t F32ToF16(float f) {
  const uint32_t x = AsUint(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00 | ((abs >> 13) & 0x3ff));
  if (abs >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to >= 65520
  if (abs >= 0x38800000) {                                             // a normal f16
    uint32_t h = (((abs >> 23) - 112) << 10) | ((abs >> 13) & 0x3ff);
    const uint32_t rest = abs & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // may carry into the exponent
    return static_cast<uint16_t>(sign | h);
  }
  // A subnormal f16 (or zero), counted in steps of 2^-24. At most 2^-25 rounds to zero (2^-25
  // itself is a tie that goes to the even zero); f32 subnormals are far below.
  const uint32_t exp = abs >> 23;
  if (exp < 102) return static_cast<uint16_t>(sign);
  const uint32_t mant = (abs & 0x7fffff) | 0x800000;  // value = mant * 2^(exp - 150)
  const uint32_t shift = 126 - exp;                   // 14..24
  uint32_t m = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (m & 1))) ++m;  // may become the smallest normal
  return static_cast<uint16_t>(sign | m);
}

// F32ToF16(F16ToF32(h)) as the CPU computes it: the identity, except that a NaN becomes quiet.
WICK_HD uint16_t F16RoundTrip(uint16_t h) {
  const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
  return nan ? static_cast<uint16_t>(h | 0x200) : h;
}

}  // namespace wick::kernels::cuda::fp
