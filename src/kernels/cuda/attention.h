// Causal grouped-query attention over a KV cache on the GPU, the counterpart of
// kernels/cpu/attention.h with the same AttentionParams (every pointer device memory, the
// same layouts, kv_type F32, F16 or Q8_0). Two kernels:
//  - prefill (many query tokens): flash-attention style, each block walks the cache in tiles
//    with an online softmax, never building the score matrix;
//  - decode (few query tokens): split-K, the cache range cut into chunks processed by
//    separate blocks whose partial (max, sum, weighted V) are merged by a second kernel.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/cpu/attention.h"

namespace wick::kernels::cuda {

// Device floats of scratch that Attention needs for `params` (0 where it needs none). Depends
// only on n_tokens, n_head and head_dim, never on n_kv, so a buffer sized once for the largest
// decode batch serves every step.
size_t AttentionScratchFloats(const AttentionParams& params);

// Enqueues the attention; `scratch` holds AttentionScratchFloats(params) floats. Parameters
// are not validated here (the backend checks them on the host before calling).
cudaError_t Attention(const AttentionParams& params, float* scratch, cudaStream_t stream);

// Whether prefill with an f16 cache may use the tensor-core kernel (the default, on devices
// with enough shared memory) rather than the SIMT kernel that serves f32 and q8_0 caches.
// Both compute the CPU's arithmetic; tests run both, and turning it off rules it out when
// debugging. Process-wide.
void SetAttentionTensorCores(bool enabled);

}  // namespace wick::kernels::cuda
