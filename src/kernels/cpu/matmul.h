// Matrix multiplication of a weight matrix (any supported GGUF type) with f32 activations,
// on the thread pool:
//
//   y[i][r] = sum_j W[r][j] * x[i][j]     for activation rows i < m and weight rows r < n
//
// W is stored as GGUF stores a 2-D tensor: n rows of k elements (shape [k, n], ne0 = k).
// The activations are converted once to the weight type's dot partner (Q8_0, Q8_K, f16…) and
// each weight row is dotted in its own format, a tile of weight rows against every activation
// row, so the weights stream from memory once per call. The sums are those of llama.cpp's x86
// kernels (see ref_order.h), whose outputs are the reference; for f32, f16 and bf16 weights a
// step of several tokens sums in the order of its GEMM, one token in that of its dot product.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace wick::kernels {

// Which order computes a call's rows: kDot that of a one-token step, kGemm that of a step of
// several tokens, kAuto kGemm when m > 1. A caller that needs each row's result to be
// independent of the other rows in the call (a server batching unrelated sequences, whose
// output must not depend on its neighbours) forces one per sequence.
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
};

Status Matmul(const MatmulParams& params, ThreadPool& pool, MatmulScratch& scratch);

}  // namespace wick::kernels
