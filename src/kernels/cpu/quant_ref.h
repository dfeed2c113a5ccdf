// Scalar reference implementations of every GGUF quant format: dequantize to f32, quantize
// from f32 with the same rounding rules as the GGUF reference quantizers (so quantizing a
// model's f32 weights reproduces the bytes llama.cpp's llama-quantize writes), and the dot
// product of a weight row with a row of activations in the format's dot partner type.
//
// These are the oracles the SIMD kernels are tested against, so they favour clarity over
// speed. In every function `n` counts elements and is a multiple of the block size.
#pragma once

#include <cstdint>

namespace wick::kernels::ref {

// F32, F16, BF16 rows.
void DequantizeF32(const void* src, float* dst, int64_t n);
void QuantizeF32(const float* src, void* dst, int64_t n);
float DotF32(const void* w, const void* a, int64_t n);
void DequantizeF16(const void* src, float* dst, int64_t n);
void QuantizeF16(const float* src, void* dst, int64_t n);
float DotF16(const void* w, const void* a, int64_t n);  // f16 weights . f16 activations
void DequantizeBF16(const void* src, float* dst, int64_t n);
void QuantizeBF16(const float* src, void* dst, int64_t n);
float DotBF16(const void* w, const void* a, int64_t n);  // bf16 . bf16

// 32-element block formats. Q4_0, Q5_0 and Q8_0 pair with Q8_0 activations; Q4_1 and Q5_1
// with Q8_1, whose stored sum carries their min term.
void DequantizeQ4_0(const void* src, float* dst, int64_t n);
void QuantizeQ4_0(const float* src, void* dst, int64_t n);
float DotQ4_0Q8_0(const void* w, const void* a, int64_t n);
void DequantizeQ4_1(const void* src, float* dst, int64_t n);
void QuantizeQ4_1(const float* src, void* dst, int64_t n);
float DotQ4_1Q8_1(const void* w, const void* a, int64_t n);
void DequantizeQ5_0(const void* src, float* dst, int64_t n);
void QuantizeQ5_0(const float* src, void* dst, int64_t n);
float DotQ5_0Q8_0(const void* w, const void* a, int64_t n);
void DequantizeQ5_1(const void* src, float* dst, int64_t n);
void QuantizeQ5_1(const float* src, void* dst, int64_t n);
float DotQ5_1Q8_1(const void* w, const void* a, int64_t n);
void DequantizeQ8_0(const void* src, float* dst, int64_t n);
void QuantizeQ8_0(const float* src, void* dst, int64_t n);
float DotQ8_0Q8_0(const void* w, const void* a, int64_t n);
void DequantizeQ8_1(const void* src, float* dst, int64_t n);
void QuantizeQ8_1(const float* src, void* dst, int64_t n);
// Activations for the dot products round as llama.cpp's x86 matmuls do (x * (127 / amax),
// halves to even), not as the file quantizers above (x * (1 / d), halves away from zero).
void QuantizeQ8_0Activations(const float* src, void* dst, int64_t n);
void QuantizeQ8_1Activations(const float* src, void* dst, int64_t n);

// 256-element k-quant super-blocks; all pair with Q8_K activations.
void DequantizeQ2_K(const void* src, float* dst, int64_t n);
void QuantizeQ2_K(const float* src, void* dst, int64_t n);
float DotQ2_KQ8_K(const void* w, const void* a, int64_t n);
void DequantizeQ3_K(const void* src, float* dst, int64_t n);
void QuantizeQ3_K(const float* src, void* dst, int64_t n);
float DotQ3_KQ8_K(const void* w, const void* a, int64_t n);
void DequantizeQ4_K(const void* src, float* dst, int64_t n);
void QuantizeQ4_K(const float* src, void* dst, int64_t n);
float DotQ4_KQ8_K(const void* w, const void* a, int64_t n);
void DequantizeQ5_K(const void* src, float* dst, int64_t n);
void QuantizeQ5_K(const float* src, void* dst, int64_t n);
float DotQ5_KQ8_K(const void* w, const void* a, int64_t n);
void DequantizeQ6_K(const void* src, float* dst, int64_t n);
void QuantizeQ6_K(const float* src, void* dst, int64_t n);
float DotQ6_KQ8_K(const void* w, const void* a, int64_t n);
void DequantizeQ8_K(const void* src, float* dst, int64_t n);
void QuantizeQ8_K(const float* src, void* dst, int64_t n);

}  // namespace wick::kernels::ref
