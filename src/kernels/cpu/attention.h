// Causal multi-head attention over a KV cache, with grouped-query heads, for prefill (many
// query tokens) and decode (one token). SIMD with runtime dispatch.
//
// Layout (all element counts, strides in the units stated):
//   q    [n_tokens][n_head][head_dim] f32; tokens `q_token_stride` floats apart
//        (0: n_head * head_dim, i.e. contiguous).
//   k, v one layer's cache: position j (0 <= j < n_kv) of kv head g starts at byte
//        j * kv_row_stride + g * kv_head_stride and holds head_dim elements of kv_type
//        (kF32, kF16 as raw IEEE binary16 bits, or kQ8_0 blocks). kv_head_stride 0 means head_dim
//        elements, i.e. rows laid out as [n_ctx_slots][n_head_kv][head_dim]; a head-major
//        cache [n_head_kv][n_ctx_slots][head_dim] sets kv_row_stride = head_dim * elem and
//        kv_head_stride = n_ctx_slots * head_dim * elem. K and V share the layout.
//   out  [n_tokens][n_head][head_dim] f32; tokens `out_token_stride` floats apart (0:
//        contiguous). Must not overlap q, k or v.
//
// Query token t sits at absolute position pos0 + t, and cache position j holds absolute
// position j, so the token attends to cache positions 0 .. pos0 + t (causal); the caller has
// already written its own K/V there. With a sliding window w > 0 (Gemma 2/3, Mistral) it
// attends only to pos0 + t - w + 1 .. pos0 + t, as llama.cpp's standard SWA mask. Query head h
// reads kv head h / (n_head / n_head_kv).
//
//   out[t][h] = sum_j softmax_j(cap(scale * q[t][h] . k[j][g])) * v[j][g]
//
// where cap(s) = softcap * tanh(s / softcap) when softcap > 0 (Gemma 2), else s.
//
// The arithmetic is llama.cpp's attention without flash attention (see ref_order.h): a row's
// scores, its exact softmax and its weighted V, in that implementation's summation orders
// (which differ between a step of several tokens and a step of one).
#pragma once

#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace wick::kernels {

struct AttentionParams {
  const float* q = nullptr;  // [n_tokens][n_head][head_dim]
  int64_t n_tokens = 0;
  int64_t pos0 = 0;  // absolute position of the first query token
  int n_head = 0;
  int n_head_kv = 0;  // divides n_head
  int head_dim = 0;
  const void* k = nullptr;  // see the layout above
  const void* v = nullptr;
  DType kv_type = DType::kF32;   // kF32, kF16 or kQ8_0 (head_dim a multiple of 32)
  int64_t kv_row_stride = 0;     // bytes between consecutive cache positions
  int64_t kv_head_stride = 0;    // bytes between kv heads within a position; 0: head_dim elems
  int64_t n_kv = 0;              // valid cache positions; at least pos0 + n_tokens
  float scale = 0.0f;            // usually 1 / sqrt(head_dim)
  float* out = nullptr;          // [n_tokens][n_head][head_dim]
  int64_t q_token_stride = 0;    // floats between tokens of q; 0: n_head * head_dim
  int64_t out_token_stride = 0;  // floats between tokens of out; 0: n_head * head_dim
  int64_t window = 0;            // sliding window in positions; 0: none (every earlier one)
  float softcap = 0.0f;          // scores capped to +-softcap by tanh; 0: none
};

// Computes attention as described above on the threads of `pool`. Invalid parameters (null
// pointers, n_head not a multiple of n_head_kv, pos0 + n_tokens > n_kv, strides too small or
// misaligned, a kv_type other than f32/f16/q8_0) give an error and leave `out` untouched.
Status Attention(const AttentionParams& params, ThreadPool& pool);

// Several independent calls (the sequences of a server's batch, each over its own cache) in
// one pass over the pool. Each query row is computed the same way whatever else is in the
// batch; an error in any item leaves every `out` untouched.
Status AttentionBatch(std::span<const AttentionParams> batch, ThreadPool& pool);

// For tests: true makes every target compute each score and value sum one cache position at a
// time, as the targets without block kernels do, so that the two can be compared bit for bit.
void UseOnePositionAttentionKernels(bool one_position);

}  // namespace wick::kernels
