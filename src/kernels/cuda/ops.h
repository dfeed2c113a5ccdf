// The small per-token operations of a transformer layer on the GPU, the counterparts of
// kernels/cpu/ops.h (same arguments, same results within f32 rounding). Every pointer is
// device memory; every function only enqueues work on `stream` and returns the launch error.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "kernels/cpu/ops.h"

namespace wick::kernels::cuda {

// out = x / sqrt(mean(x^2) + eps) * weight, for `rows` rows of n. `weight` may be null; `out`
// may alias `x`.
cudaError_t RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t n,
                    float eps, cudaStream_t stream);

// out = (x - mean) / sqrt(variance + eps) * weight + bias, for `rows` rows of n. `weight` and
// `bias` may be null; `out` may alias `x`.
cudaError_t LayerNorm(const float* x, const float* weight, const float* bias, float* out,
                      int64_t rows, int64_t n, float eps, cudaStream_t stream);

// RoPE in place on n_tokens rows of [n_heads][head_dim], token t at position pos0 + t, every
// mode and scaling of RopeConfig; config.freq_factors, when set, is a device pointer.
cudaError_t Rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
                 const RopeConfig& config, cudaStream_t stream);
// The same with token t at positions[t] (device memory): a batch of sequences' decode tokens.
cudaError_t RopeAt(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                   const int32_t* positions, const RopeConfig& config, cudaStream_t stream);

// A decode batch's RoPE and KV store in one launch: RopeAt on q ([n_tokens][n_head]
// [head_dim]) and k ([n_tokens][n_head_kv][head_dim]) at `positions`, then StoreRowsAt of the
// roped k rows to k_dst and the v rows to v_dst, with the same results. config.n_dims 0: no
// RoPE (learned positions), only the store.
cudaError_t RopeStoreAt(float* q, float* k, const float* v, int64_t n_tokens, int64_t n_head,
                        int64_t n_head_kv, int64_t head_dim, const int32_t* positions,
                        const RopeConfig& config, uint8_t* const* k_dst, uint8_t* const* v_dst,
                        DType type, cudaStream_t stream);

// out = silu(gate) * up; out may alias either input.
cudaError_t SwiGlu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);

// out = gelu(gate) * up (tanh approximation); out may alias either input.
cudaError_t GeGlu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream);

// out = gelu(x) (tanh approximation); out may alias x.
cudaError_t Gelu(const float* x, float* out, int64_t n, cudaStream_t stream);

// x *= s, in place.
cudaError_t Scale(float* x, float s, int64_t n, cudaStream_t stream);
// x = cap * tanh(x / cap), in place (cap > 0).
cudaError_t Softcap(float* x, float cap, int64_t n, cudaStream_t stream);

// out = a + b; out may alias either input.
cudaError_t Add(const float* a, const float* b, float* out, int64_t n, cudaStream_t stream);

// x[r] = x[r] + bias for each of `rows` rows of n floats (back to back), the CPU's f32
// addition: a layer's bias for all of a step's tokens at once.
cudaError_t AddBias(float* x, const float* bias, int64_t rows, int64_t n, cudaStream_t stream);

// Row r of src ([rows][n] f32) to dst + r * row_bytes as `type`: F32, F16 (round to nearest
// even) or Q8_0 (n a multiple of 32, rounded as the CPU's QuantizeQ8_0). For the KV cache.
cudaError_t StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                      int64_t row_bytes, cudaStream_t stream);
// The same with row r going to row_dst[r] (a device array of device pointers, each aligned as
// StoreRows requires): each sequence's new row into its own cache.
cudaError_t StoreRowsAt(const float* src, int64_t rows, int64_t n, uint8_t* const* row_dst,
                        DType type, cudaStream_t stream);

// n floats to IEEE binary16, round to nearest even (activations for the f16 GEMM).
cudaError_t ConvertF32ToF16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream);

}  // namespace wick::kernels::cuda
