// The fastest available dot-product kernel for each weight type: weight row . activation row
// (in the type's dot partner format, see QuantTraits::dot_type). SIMD kernels where wick has
// them, the scalar reference otherwise.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace wick::kernels {

using VecDotFn = float (*)(const void* w, const void* a, int64_t n);
// kDotRows weight rows, `row_bytes` apart, against one activation row, into out[0..kDotRows).
inline constexpr int kDotRows = 4;
using VecDotRowsFn = void (*)(const void* w, uint64_t row_bytes, const void* a, int64_t n,
                              float* out);
inline constexpr int kDotTokens = 4;
// The same for `count` (1 to the kernel's tokens_per_call()) activation rows `a_stride` bytes
// apart into out[kDotRows * t + r], each result bit-identical to a VecDotRowsFn call (a batched
// decode step or a prompt loads and unpacks the weights once for all).
using VecDotRowsTokensFn = void (*)(const void* w, uint64_t row_bytes, const void* a,
                                    uint64_t a_stride, int count, int64_t n, float* out);
// One weight row against `count` (at most the kernel's tokens_per_call(), itself at most
// kMaxDotTokens) activation rows `a_stride` bytes apart, each result bit-identical to a
// VecDotFn call (a prompt's tokens share each unpacked block).
inline constexpr int kMaxDotTokens = 8;
using VecDotTokensFn = void (*)(const void* w, const void* a, uint64_t a_stride, int count,
                                int64_t n, float* out);
// dot_gemm over `rows` weight rows x `tokens` activation rows at once, into
// y[t * y_stride + r]: each result bit-identical to a dot_gemm call.
using GemmTileFn = void (*)(const void* w, uint64_t w_stride, int rows, const void* a,
                            uint64_t a_stride, int tokens, int64_t k, float* y, int64_t y_stride);
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

struct VecDotKernel {
  DType dot_type;                // format of the activation operand
  QuantizeRowFn quantize_input;  // f32 activations -> dot_type
  VecDotFn dot;
  // Optional: several rows at once, sharing the activation's work (null: `dot` row by row).
  VecDotRowsFn dot_rows = nullptr;
  VecDotRowsTokensFn dot_rows_tokens = nullptr;  // optional, only with dot_rows
  // Optional, only with dot_rows_tokens: the same for 2 * kDotRows weight rows.
  VecDotRowsTokensFn dot_rows8_tokens = nullptr;
  // Optional: the dot in the order of llama.cpp's GEMM, which it uses for steps of several
  // tokens on rows whose length is a multiple of gemm_multiple (see ref_order.h).
  VecDotFn dot_gemm = nullptr;
  int64_t gemm_multiple = 0;
  VecDotTokensFn dot_tokens = nullptr;  // optional
  // dot_tokens' (or dot_rows_tokens') largest count on the running target (null: kDotTokens),
  // at most kMaxDotTokens: as many tokens as keep their accumulators in registers and their
  // activation rows in L1.
  int (*tokens_per_call)() = nullptr;
  GemmTileFn gemm_tile = nullptr;  // optional, only with dot_gemm
  // Optional: rows x tokens in `dot`'s own order, each result bit-identical to a `dot` call,
  // for steps of at least tokens_tile_min() tokens (0: not on the running target).
  GemmTileFn tokens_tile = nullptr;
  int (*tokens_tile_min)() = nullptr;  // with tokens_tile
  // Optional, only with gemm_tile: the activations gemm_tile takes, when not dot_type's (f16
  // weights: f32 values rounded through f16, so that a tile converts only the weights).
  QuantizeRowFn gemm_quantize_input = nullptr;
  DType gemm_input_type = DType::kF32;
};

// nullptr when the weight type has no dot product (activation-only or unsupported types).
const VecDotKernel* FindVecDot(DType weight_type);
// The kernel for a weight tensor of `rows` rows: for Q4_0 the summation order depends on
// whether llama.cpp would repack the tensor (rows a multiple of 8; see ref_order.h).
const VecDotKernel* FindVecDot(DType weight_type, int64_t rows);

}  // namespace wick::kernels
