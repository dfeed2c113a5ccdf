// The byte layouts of GGUF's quantized blocks, exactly as files store them. Scales are raw
// f16 bits (uint16_t); decode them with F16ToF32 from core/half.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace wick {

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK_K = 256;       // super-block of the k-quants
inline constexpr int kKScaleSize = 12;  // packed 6-bit scales and mins of Q4_K and Q5_K

struct Q4_0Block {
  uint16_t d;              // scale (f16)
  uint8_t qs[kQK4_0 / 2];  // element i in the low nibble of qs[i], i+16 in the high
};
struct Q4_1Block {
  uint16_t d;  // scale (f16)
  uint16_t m;  // min (f16)
  uint8_t qs[kQK4_1 / 2];
};
struct Q5_0Block {
  uint16_t d;
  uint8_t qh[4];  // fifth bits, element i at bit i (little-endian uint32)
  uint8_t qs[kQK5_0 / 2];
};
struct Q5_1Block {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
struct Q8_0Block {
  uint16_t d;
  int8_t qs[kQK8_0];
};
// Activation format for Q4_1/Q5_1 dot products: s = d * sum(qs).
struct Q8_1Block {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK8_1];
};

struct Q2_KBlock {
  uint8_t scales[kQK_K / 16];  // low nibble scale, high nibble min, per 16 elements
  uint8_t qs[kQK_K / 4];       // 2-bit quants
  uint16_t d;                  // super-block scale for the scales (f16)
  uint16_t dmin;               // super-block scale for the mins (f16)
};
struct Q3_KBlock {
  uint8_t hmask[kQK_K / 8];  // high bit of each quant
  uint8_t qs[kQK_K / 4];     // low 2 bits
  uint8_t scales[12];        // sixteen 6-bit scales
  uint16_t d;
};
struct Q4_KBlock {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];  // eight 6-bit scales and eight 6-bit mins
  uint8_t qs[kQK_K / 2];
};
struct Q5_KBlock {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct Q6_KBlock {
  uint8_t ql[kQK_K / 2];      // low 4 bits
  uint8_t qh[kQK_K / 4];      // high 2 bits
  int8_t scales[kQK_K / 16];  // 8-bit scales
  uint16_t d;
};
// Activation format for the k-quant dot products.
struct Q8_KBlock {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];  // sums of each 16 quants
};

static_assert(sizeof(Q4_0Block) == 18);
static_assert(sizeof(Q4_1Block) == 20);
static_assert(sizeof(Q5_0Block) == 22);
static_assert(sizeof(Q5_1Block) == 24);
static_assert(sizeof(Q8_0Block) == 34);
static_assert(sizeof(Q8_1Block) == 36);
static_assert(sizeof(Q2_KBlock) == 84);
static_assert(sizeof(Q3_KBlock) == 110);
static_assert(sizeof(Q4_KBlock) == 144);
static_assert(sizeof(Q5_KBlock) == 176);
static_assert(sizeof(Q6_KBlock) == 210);
static_assert(sizeof(Q8_KBlock) == 292);

// Byte offsets of the f16 scale fields (d, and m or dmin) in one block of `type`: where a
// block's scales sit, for code that writes or checks them; none for other types.
inline std::vector<size_t> ScaleFieldOffsets(DType type) {
  switch (type) {
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

}  // namespace wick
