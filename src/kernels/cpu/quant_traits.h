// One row per supported tensor type: how to turn it into f32 and back, and which activation
// format its dot product takes. Model code and kernels look types up here instead of
// switching on DType.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace wick::kernels {

struct QuantTraits {
  DType type;
  // The activation format that `dot` takes as its second operand.
  DType dot_type;
  void (*dequantize)(const void* src, float* dst, int64_t n);
  // Reference-quality quantizer (the GGUF reference rounding rules).
  void (*quantize)(const float* src, void* dst, int64_t n);
  // Scalar oracle: weights row . activations row (in dot_type); null for activation-only
  // formats (Q8_1, Q8_K).
  float (*dot)(const void* w, const void* a, int64_t n);
};

// The traits of `type`, or nullptr when wick cannot compute with it (yet).
const QuantTraits* FindQuantTraits(DType type);

}  // namespace wick::kernels
