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

// Byte offsets of the f16 fields (d, and m or dmin) in one block of `t`; none for a float type.
inline std::vector<size_t> HalfFields(DType t) {
  switch (t) {
    case DType::kQ4_0:
      return {offsetof(Q4_0Block, d)};
    case DType::kQ4_1:
      return {offsetof(Q4_1Block, d), offsetof(Q4_1Block, m)};
    case DType::kQ5_0:
      return {offsetof(Q5_0Block, d)};
    case DType::kQ5_1:
      return {offsetof(Q5_1Block, d), offsetof(Q5_1Block, m)};
    case DType::kQ8_0:
      return {offsetof(Q8_0Block, d)};
    case DType::kQ2_K:
      return {offsetof(Q2_KBlock, d), offsetof(Q2_KBlock, dmin)};
    case DType::kQ3_K:
      return {offsetof(Q3_KBlock, d)};
    case DType::kQ4_K:
      return {offsetof(Q4_KBlock, d), offsetof(Q4_KBlock, dmin)};
    case DType::kQ5_K:
      return {offsetof(Q5_KBlock, d), offsetof(Q5_KBlock, dmin)};
    case DType::kQ6_K:
      return {offsetof(Q6_KBlock, d)};
    default:
      return {};
  }
}

}  // namespace wick::kernels::cuda::test
