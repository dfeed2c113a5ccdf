// Matrix multiplication of a weight matrix (any supported GGUF type) with f32 activations:
// GEMV for decode (one activation row) and GEMM for prefill (many rows), on the thread pool.
//
//   y[i][r] = sum_j W[r][j] * x[i][j]     for activation rows i < m and weight rows r < n
//
// W is stored as GGUF stores a 2-D tensor: n rows of k elements (shape [k, n], ne0 = k).
// Activations are first converted to the weight type's dot partner (Q8_0, Q8_K, f16…), once
// per call, so each weight byte is read once per tile of activation rows.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace wick::kernels {

struct MatmulParams {
  const void* w = nullptr;  // [n][k] in w_type
  DType w_type = DType::kF32;
  int64_t n = 0;             // weight rows = output columns
  int64_t k = 0;             // row length, a multiple of the type's block size
  const float* x = nullptr;  // [m][k]
  int64_t m = 0;             // activation rows
  float* y = nullptr;        // [m][n]
};

// Reusable buffers for converted activations, so repeated calls allocate nothing.
struct MatmulScratch {
  std::vector<uint8_t> activations;
};

Status Matmul(const MatmulParams& params, ThreadPool& pool, MatmulScratch& scratch);

}  // namespace wick::kernels
