// The CUDA emulator's <cuda_fp16.h>: __half as IEEE binary16 bits, converted with the host
// compiler's _Float16 (round to nearest even), independent of wick's own conversions.
#pragma once
#include "cuda_runtime.h"

struct __half {
  unsigned short x;
  __half() = default;
  __half(float f) {  // NOLINT: the CUDA type converts implicitly too
    const _Float16 h = static_cast<_Float16>(f);
    std::memcpy(&x, &h, 2);
  }
  operator float() const {  // NOLINT
    _Float16 h;
    std::memcpy(&h, &x, 2);
    return static_cast<float>(h);
  }
};
struct __half2 {
  __half x, y;
};

inline __half __float2half_rn(float f) {
  return __half(f);
}
inline __half __float2half(float f) {
  return __half(f);
}
inline float __half2float(__half h) {
  return static_cast<float>(h);
}
inline __half __ushort_as_half(unsigned short bits) {
  __half h;
  h.x = bits;
  return h;
}
inline unsigned short __half_as_ushort(__half h) {
  return h.x;
}
