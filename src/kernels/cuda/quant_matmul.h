// Matrix products with GGUF-typed weights on the GPU: the decode GEMV that dequantises on the
// fly, and the dequantisation to f16 that feeds the tensor-core GEMM (cuBLAS) for prefill.
//
//   y[i][r] = sum_j W[r][j] * x[i][j]     for activation rows i < m and weight rows r < n
//
// W is n rows of k elements of `type`, laid out exactly as GGUF stores it (the blocks of
// core/quant_blocks.h, rows back to back). Every pointer is device memory. All functions only
// enqueue work on `stream` and return the launch error (cudaGetLastError), never synchronise.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace wick::kernels::cuda {

// The weight types with device kernels: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K,
// Q3_K, Q4_K, Q5_K, Q6_K (everything the CPU matmul takes).
bool SupportsWeightType(DType type);

// Activation rows a GEMV kernel computes together (reusing each weight load for all of them).
// A call of more rows runs groups of this many side by side, each CTA's weights read from
// memory once for all groups (the decode path of a batch; calls free to choose a path take
// the tensor-core GEMM beyond one group, see CudaBackend::Matmul).
inline constexpr int64_t kGemvGroupRows = 8;

// How the quantised GEMV multiplies (float weights always take f32 x).
enum class GemvActivations {
  kF32,   // f32 x times the exactly dequantised weights, an FMA per weight
  kInt8,  // x quantised to int8 per 32 columns (d = amax / 127, as GGUF's Q8_0; the CPU
          // backend, like llama.cpp, quantises x too: Q8_0, or Q8_K per 256 for k-quants),
          // integer dot products, a float step per 8-32 weights
  kInt8TensorCores,  // kInt8's x, and for the legacy formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0),
                     // Q4_K and Q5_K int8 mma instructions, 16 weight rows by 8 activation
                     // rows by 32 columns each, for every m (batched decode); other types as
                     // kInt8
};

// The types kInt8TensorCores runs on tensor cores: the legacy 32-element formats, and Q4_K
// and Q5_K, whose 32-element sub-blocks each have one scale and min. (Q2_K, Q3_K and Q6_K
// scale every 16 elements, which a 32-column block's one integer sum cannot take.)
bool TensorCoreGemvTakes(DType type);

// How kInt8TensorCores products of 5 activation rows or more run: in wide tiles of 32 or 64
// weight rows by 64 activation rows a CTA, or as groups of 16 activation rows side by side
// (16 weight rows a CTA). The results are the same bits every way.
enum class GemvTiles {
  kAuto,    // groups of 16 up to 16 rows; past that 64 weight rows where that still gives
            // every SM two CTAs or more, else 32
  kOff,     // groups of 16 activation rows
  kRows32,  // 32 weight rows a CTA, from 5 rows
  kRows64,  // 64 weight rows a CTA, from 5 rows
};
// kAuto unless WICK_CUDA_GEMV_TILES says 0 (kOff), 32 or 64 (for measuring one against
// another); tests set it.
GemvTiles TensorCoreGemvTiles();
void SetTensorCoreGemvTiles(GemvTiles tiles);

// How a backend multiplies weights of `type` unless told otherwise, from what measured fastest
// on an H100 (docs/cuda.md): int8 tensor cores for the legacy 4- and 5-bit formats (one
// sequence's decode as fast as kInt8, a batch's much faster), kInt8 for Q8_0 (whose
// CUDA-core path for a few rows is slower than kInt8's) and the k-quants (Q4_K's and Q5_K's
// tensor-core path not yet measured), f32 x for float weights (which ignore the choice).
// Each type keeps one path for every m, so a sequence's logits do not change when it joins
// a batch.
GemvActivations DefaultGemvActivations(DType type);

struct GemvArgs {
  const void* w = nullptr;  // [n][k] in `type`
  DType type = DType::kF32;
  int64_t n = 0;             // weight rows = output columns
  int64_t k = 0;             // row length, a multiple of the type's block size
  const float* x = nullptr;  // [m][k], rows k floats apart
  int64_t m = 0;             // activation rows
  float* y = nullptr;        // [m][n], rows `y_stride` floats apart
  int64_t y_stride = 0;      // 0: n
  GemvActivations activations = GemvActivations::kF32;
  void* workspace = nullptr;  // GemvWorkspaceBytes, 16-byte aligned
  size_t workspace_bytes = 0;
};

// The device memory a call needs besides its operands (0 for most): kInt8TensorCores with
// more than 4 activation rows, and kInt8 (or kInt8TensorCores on the other quantised types)
// for its whole groups of kGemvGroupRows rows, quantise x once into it for every CTA of the
// product, which would otherwise each quantise the whole of their activation rows' x.
size_t GemvWorkspaceBytes(DType type, int64_t k, int64_t m, GemvActivations activations);

// The decode product. Each output y[i][r] is computed the same way whatever m is (its result
// does not depend on the other rows of x), so a sequence's logits do not depend on what else
// a server batches with it. Streams the weights with 16-byte coalesced loads, from memory once
// per call (the groups of kGemvGroupRows rows meet in L2).
cudaError_t Gemv(const GemvArgs& args, cudaStream_t stream);

// What a GEMV writes for each of its results v (the sum above).
enum class GemvOutput {
  kStore,       // y = v
  kAccumulate,  // y = y + v: a residual add, the same f32 addition as ops.h's Add(y, v)
  kSwiGlu,      // two parts of equal n (gate, up): parts[0].y = silu(v_gate) * v_up, as SwiGlu
};

// One weight matrix of a GemvMany call.
struct GemvPart {
  const void* w = nullptr;  // [n][k] in the call's type
  int64_t n = 0;
  float* y = nullptr;    // [m][n], rows y_stride floats apart (kSwiGlu: parts[1].y unused)
  int64_t y_stride = 0;  // 0: n
};

inline constexpr int kMaxGemvParts = 3;

// Matrices of one type and row length that multiply the same x (a layer's q, k and v; its
// gate and up) in one launch: a decode step's small products then fill the GPU together
// instead of each ramping up and draining alone. Every output is computed exactly as Gemv
// computes it alone, then written as `output` says.
struct GemvManyArgs {
  GemvPart parts[kMaxGemvParts];
  int n_parts = 1;
  DType type = DType::kF32;
  int64_t k = 0;
  const float* x = nullptr;  // [m][k]
  int64_t m = 0;
  GemvOutput output = GemvOutput::kStore;
  GemvActivations activations = GemvActivations::kF32;
  void* workspace = nullptr;  // GemvWorkspaceBytes, 16-byte aligned
  size_t workspace_bytes = 0;
};
cudaError_t GemvMany(const GemvManyArgs& args, cudaStream_t stream);

// Whether kSwiGlu runs m activation rows of `type` in the CTA layout their separate products
// take. Not for float weights and one row: that layout has one weight row per warp (measured
// fastest on an H100), which cannot pair a gate row with its up row.
bool GemvSwiGluKeepsLayout(DType type, int64_t m);

// Rows [row0, row0 + rows) of W, dequantised to IEEE f16 (`out`: [rows][k] raw binary16).
cudaError_t DequantizeRowsF16(const void* w, DType type, int64_t row0, int64_t rows, int64_t k,
                              uint16_t* out, cudaStream_t stream);

}  // namespace wick::kernels::cuda
