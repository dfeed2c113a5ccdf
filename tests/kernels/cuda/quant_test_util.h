// Helpers the CUDA kernel tests share: the bits of a float, and where a quantised block keeps
// its f16 scales (the fields worth filling with chosen values instead of random bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/quant_blocks.h"

namespace wick::kernels::cuda::test {

inline uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace wick::kernels::cuda::test
