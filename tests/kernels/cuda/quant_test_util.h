// Helpers the CUDA kernel tests share: the bits of a float, and how far int8 activations may
// move a product.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/dtype.h"
#include "core/quant_blocks.h"
#include "kernels/cuda/quant_matmul.h"

namespace wick::kernels::cuda::test {

inline uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// How a test's trace names the way a GEMV takes x.
inline const char* ActivationsName(GemvActivations a) {
  switch (a) {
    case GemvActivations::kInt8:
      return "int8 x";
    case GemvActivations::kInt8TensorCores:
      return "int8 x, tensor cores";
    default:
      return "f32 x";
  }
}

inline float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Per output of y = w x (w: [n][k], x: at least m rows of k), sum |w| * amax / 254, amax that
// of w's column's 32-column block of x: the most that rounding x to int8 (steps of
// amax / 127) can move the product.
inline std::vector<double> Int8Bound(const std::vector<float>& w, int64_t n, int64_t k,
                                     const std::vector<float>& x, int64_t m) {
  std::vector<double> bound(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    std::vector<double> step(k);
    for (int64_t b = 0; b < k; b += 32) {
      double amax = 0.0;
      for (int64_t j = b; j < b + 32; ++j) amax = std::max(amax, std::fabs(double{x[i * k + j]}));
      for (int64_t j = b; j < b + 32; ++j) step[j] = amax / 254.0;
    }
    for (int64_t r = 0; r < n; ++r) {
      double sum = 0.0;
      for (int64_t j = 0; j < k; ++j) sum += std::fabs(double{w[r * k + j]}) * step[j];
      bound[i * n + r] = sum;
    }
  }
  return bound;
}

}  // namespace wick::kernels::cuda::test
