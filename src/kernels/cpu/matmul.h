// Matrix multiplication of a weight matrix (any supported GGUF type) with f32 activations:
// GEMV for decode (one activation row) and GEMM for prefill (many rows), on the thread pool.
//
//   y[i][r] = sum_j W[r][j] * x[i][j]     for activation rows i < m and weight rows r < n
//
// W is stored as GGUF stores a 2-D tensor: n rows of k elements (shape [k, n], ne0 = k).
// Two paths:
//  - fewer than kGemmMinRows activation rows (decode): activations are converted once to the
//    weight type's dot partner (Q8_0, Q8_K, f16…) and each weight row is dotted in its own
//    format, so the weights stream from memory exactly once;
//  - kGemmMinRows rows or more (prefill, compute-bound): the activations are rounded through
//    the same dot partner (so both paths compute the same products, as llama.cpp does), then
//    each thread dequantizes a tile of weight rows to f32 and runs the register-blocked f32
//    GEMM over all activation rows.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace wick::kernels {

inline constexpr int64_t kGemmMinRows = 16;

// Which path computes a call. kAuto picks by m as above. A caller that needs each row's result
// to be independent of the other rows in the call (a server batching unrelated sequences, whose
// output must not depend on its neighbours) forces one: each path computes every row the same
// way whatever m is, but the two paths round differently.
enum class MatmulPath { kAuto, kDot, kGemm };

struct MatmulParams {
  const void* w = nullptr;  // [n][k] in w_type
  DType w_type = DType::kF32;
  int64_t n = 0;             // weight rows = output columns
  int64_t k = 0;             // row length, a multiple of the type's block size
  const float* x = nullptr;  // [m][k]
  int64_t m = 0;             // activation rows
  float* y = nullptr;        // [m][n]
  MatmulPath path = MatmulPath::kAuto;
};

// Reusable buffers for converted activations, so repeated calls allocate nothing.
struct MatmulScratch {
  std::vector<uint8_t> activations;
  std::vector<float> rounded;
};

Status Matmul(const MatmulParams& params, ThreadPool& pool, MatmulScratch& scratch);

}  // namespace wick::kernels
