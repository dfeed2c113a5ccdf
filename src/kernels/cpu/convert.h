// Row conversions between f32 and the 16-bit float formats, SIMD with runtime dispatch.
// Results are bit-identical to the scalar conversions in core/half.h on every target.
#pragma once

#include <cstdint>

namespace wick::kernels {

void F16ToF32Row(const uint16_t* src, float* dst, int64_t n);
void F32ToF16Row(const float* src, uint16_t* dst, int64_t n);
// F32ToF16Row's values as f32 (exact): src rounded to f16's precision.
void F32ThroughF16Row(const float* src, float* dst, int64_t n);
void Bf16ToF32Row(const uint16_t* src, float* dst, int64_t n);
void F32ToBf16Row(const float* src, uint16_t* dst, int64_t n);

}  // namespace wick::kernels
