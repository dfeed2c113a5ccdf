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
#include <span>

#include "kernels/cpu/attention.h"

namespace wick::kernels::cuda {

// Device floats of scratch that Attention needs for `params` (0 where it needs none). Depends
// only on n_tokens, n_head and head_dim, never on n_kv, so a buffer sized once for the largest
// decode batch serves every step.
size_t AttentionScratchFloats(const AttentionParams& params);

// Enqueues the attention; `scratch` holds AttentionScratchFloats(params) floats. Parameters
// are not validated here (the backend checks them on the host before calling).
cudaError_t Attention(const AttentionParams& params, float* scratch, cudaStream_t stream);

// Decode attention for a batch of sequences in one launch per kernel, each sequence computed
// exactly as Attention would compute it alone. The sequences have one query token each, at
// the end of their own cache (pos0 + 1 == n_kv), and the same shape (heads, head size, cache
// type and strides); their q and out rows are consecutive (sequence i's at batch[0]'s plus i
// token strides). CanBatchDecode says whether a batch is such.
//
// The per-sequence arguments live in device memory: PackDecodeBatch writes them to host
// memory (DecodeBatchArgBytes(batch.size()) bytes), the caller copies them to `device_args`
// (16-byte aligned) in stream order before the launch, and `scratch` holds batch.size() times
// AttentionScratchFloats(batch[0]) floats.
bool CanBatchDecode(std::span<const AttentionParams> batch);
size_t DecodeBatchArgBytes(size_t count);
void PackDecodeBatch(std::span<const AttentionParams> batch, void* host);
cudaError_t AttentionDecodeBatch(std::span<const AttentionParams> batch, const void* device_args,
                                 float* scratch, cudaStream_t stream);

// Whether prefill with an f16 cache may use the tensor-core kernel (the default, on devices
// with enough shared memory) rather than the SIMT kernel that serves f32 and q8_0 caches.
// Both compute the CPU's arithmetic; tests run both, and turning it off rules it out when
// debugging. Process-wide.
void SetAttentionTensorCores(bool enabled);

}  // namespace wick::kernels::cuda
