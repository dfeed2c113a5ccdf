// The SIMT attention's constants, launch arguments, decode scratch layout and cache-tile
// loads: part of attention.cu (included there once), apart so that the kernels' file stays
// readable. attention.cu's opening comment describes the kernels that use them.
#pragma once

#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

#include "core/quant_blocks.h"
#include "kernels/cuda/ops_math.cuh"

namespace wick::kernels::cuda {
namespace {

namespace m = math;

constexpr int kWarps = 4;
constexpr int kThreads = kWarps * 32;
constexpr int kTile = 32;  // cache positions per tile: one per lane
constexpr int kMaxHeadDim = 256;
// Up to this many query tokens take the split (decode) path.
constexpr int64_t kDecodeMaxTokens = 8;
// Cache chunks of the decode path: one per lane in the merges. Fixed, so the scratch size and
// the launch shapes do not depend on n_kv (a captured graph keeps its topology as it grows).
constexpr int kSplits = 32;
constexpr float kNegInf = -INFINITY;
constexpr size_t kDefaultSmemLimit = 48 * 1024;

enum class Mode : int {
  kWhole,        // online softmax, normalised output to out
  kWholeExact,   // two passes (statistics, then f16-rounded probabilities), output to out
  kSplitOnline,  // online softmax over the split's chunk: (max, sum, unnormalised acc)
  kSplitStats,   // the split's (max, sum) only
  kSplitValues,  // merges every split's (max, sum), then normalised, rounded P.V of its chunk
  // kSplitStats over every split, then kSplitValues over every split, in one CTA: only with
  // split_groups 1, so the statistics the values pass merges are all the CTA's own.
  kSplitStatsThenValues,
};

enum class KvKind : int { kF32, kF16, kQ8_0 };

// One sequence of a batched decode launch, in device memory: its cache and positions (its q,
// out and scratch follow from its index).
struct DecodeSeq {
  const uint8_t* k;
  const uint8_t* v;
  int64_t pos0;
  int64_t n_kv;
  int64_t chunk;
};

struct Args {
  const float* q;
  int64_t q_token_stride;
  const uint8_t* k;
  const uint8_t* v;
  int64_t kv_row_stride;
  int64_t kv_head_stride;
  KvKind kv;
  bool vec;  // cache pointers and strides 16-byte aligned: 128-bit loads
  int64_t n_tokens;
  int64_t pos0;
  int64_t n_kv;
  int n_head;
  int group;  // query heads per kv head
  int head_dim;
  float scale;
  int64_t window;     // sliding window in positions; 0: none
  float softcap;      // scores become softcap * tanh(score / softcap); 0: none
  float inv_softcap;  // 1 / softcap, as the CPU's Softcap computes it
  float* out;
  int64_t out_token_stride;
  float* scratch;  // split modes, see SplitMax
  int64_t chunk;   // split modes: cache positions per split, a multiple of kTile
  // Split modes: CTAs per (sequence, row tile, kv head); split s runs in CTA s % split_groups.
  int split_groups = kSplits;
  Mode mode;
  // Batched decode (n_tokens 1): sequence i's cache and positions; its q, out and scratch at
  // i times the strides from the first's. Null: one call.
  const DecodeSeq* seqs;
};

// The decode scratch of one query token: kSplits partials of every head.
__host__ __device__ __forceinline__ int64_t TokenScratchFloats(int n_head, int head_dim) {
  return int64_t{kSplits} * n_head * (head_dim + 2);
}

// A batched launch's arguments for sequence `seq`, as a call of its own would have them.
__device__ __forceinline__ Args ForSequence(const Args& batch, int64_t seq) {
  Args a = batch;
  const DecodeSeq s = batch.seqs[seq];
  a.k = s.k;
  a.v = s.v;
  a.pos0 = s.pos0;
  a.n_kv = s.n_kv;
  a.chunk = s.chunk;
  a.q += seq * a.q_token_stride;
  a.out += seq * a.out_token_stride;
  a.scratch += seq * TokenScratchFloats(a.n_head, a.head_dim);
  return a;
}

// The first cache position query token t sees: 0, or its window's start.
__device__ __forceinline__ int64_t WindowStart(const Args& a, int64_t t) {
  return a.window > 0 ? max(int64_t{0}, a.pos0 + t + 1 - a.window) : int64_t{0};
}

// A row's score of cache position `pos` from its dot product: scaled and softcapped as the
// CPU's kernel computes it, -inf outside the row's positions [lo, hi).
__device__ __forceinline__ float MaskedScore(const Args& a, float dot, int64_t pos, int64_t lo,
                                             int64_t hi) {
  if (pos < lo || pos >= hi) return kNegInf;
  const float s = m::FMul(dot, a.scale);
  return a.softcap > 0.0f ? m::FMul(tanhf(m::FMul(s, a.inv_softcap)), a.softcap) : s;
}

__device__ __forceinline__ float WarpMax(float x) {
  for (int offset = 16; offset > 0; offset /= 2) {
    x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, offset));
  }
  return x;
}

__device__ __forceinline__ float WarpSum(float x) {
  for (int offset = 16; offset > 0; offset /= 2) x += __shfl_xor_sync(0xffffffffu, x, offset);
  return x;
}

__device__ __forceinline__ float RoundF16(float x) {
  return __half2float(__float2half_rn(x));
}

__device__ __forceinline__ float HalfBits(uint16_t bits) {
  return __half2float(__ushort_as_half(bits));
}

// Elements d0 .. d0 + 7 of the head row at `row` as f32 (zero past head_dim). Rows are only
// 2-byte aligned in general (q8_0 blocks are 34 bytes), so the wide loads need a.vec.
__device__ __forceinline__ void LoadChunk(const Args& a, const uint8_t* row, int d0, float* vals) {
  const bool full = d0 + 8 <= a.head_dim;
  if (a.kv == KvKind::kF32) {
    const auto* src = reinterpret_cast<const float*>(row) + d0;
    if (a.vec && full) {
      const float4 lo = __ldg(reinterpret_cast<const float4*>(src));
      const float4 hi = __ldg(reinterpret_cast<const float4*>(src) + 1);
      vals[0] = lo.x, vals[1] = lo.y, vals[2] = lo.z, vals[3] = lo.w;
      vals[4] = hi.x, vals[5] = hi.y, vals[6] = hi.z, vals[7] = hi.w;
    } else {
      for (int i = 0; i < 8; ++i) vals[i] = d0 + i < a.head_dim ? __ldg(src + i) : 0.0f;
    }
  } else if (a.kv == KvKind::kF16) {
    const auto* src = reinterpret_cast<const uint16_t*>(row) + d0;
    if (a.vec && full) {
      const uint4 raw = __ldg(reinterpret_cast<const uint4*>(src));
      const uint32_t words[4] = {raw.x, raw.y, raw.z, raw.w};
      for (int i = 0; i < 4; ++i) {
        vals[2 * i] = HalfBits(static_cast<uint16_t>(words[i] & 0xffff));
        vals[2 * i + 1] = HalfBits(static_cast<uint16_t>(words[i] >> 16));
      }
    } else {
      for (int i = 0; i < 8; ++i) vals[i] = d0 + i < a.head_dim ? HalfBits(__ldg(src + i)) : 0.0f;
    }
  } else {
    // q8_0: head_dim is a multiple of 32, so the 8 elements lie in one block.
    const uint8_t* block = row + (d0 / 32) * static_cast<int64_t>(sizeof(Q8_0Block));
    const float d = HalfBits(__ldg(reinterpret_cast<const uint16_t*>(block)));
    const auto* qs = reinterpret_cast<const uint16_t*>(block + 2 + d0 % 32);
    for (int i = 0; i < 4; ++i) {
      const uint16_t pair = __ldg(qs + i);
      vals[2 * i] = m::FMul(static_cast<float>(static_cast<int8_t>(pair & 0xff)), d);
      vals[2 * i + 1] = m::FMul(static_cast<float>(static_cast<int8_t>(pair >> 8)), d);
    }
  }
}

// Cache positions j0 .. j0 + n_valid - 1 of one kv head into dst ([kTile][stride] f32);
// the rest of the tile, and dimensions past head_dim, become zeros (never stale values: a
// NaN left in shared memory would survive a zero probability).
template <int D>
__device__ __forceinline__ void LoadTile(const Args& a, const uint8_t* head_base, int64_t j0,
                                         int n_valid, float* dst, int stride) {
  constexpr int kChunks = D / 8;
  for (int idx = threadIdx.x; idx < kTile * kChunks; idx += kThreads) {
    const int r = idx / kChunks;
    const int d0 = (idx % kChunks) * 8;
    float vals[8];
    if (r < n_valid && d0 < a.head_dim) {
      LoadChunk(a, head_base + (j0 + r) * a.kv_row_stride, d0, vals);
    } else {
      for (float& x : vals) x = 0.0f;
    }
    auto* out = reinterpret_cast<float4*>(dst + r * stride + d0);
    out[0] = make_float4(vals[0], vals[1], vals[2], vals[3]);
    out[1] = make_float4(vals[4], vals[5], vals[6], vals[7]);
  }
}

// The decode scratch: [kSplits][rows] maxima, [kSplits][rows] sums, then
// [kSplits][rows][head_dim] accumulators, for rows = n_tokens * n_head (row t * n_head + h).
__device__ __forceinline__ float* SplitMax(const Args& a, int split, int64_t row) {
  return a.scratch + split * a.n_tokens * a.n_head + row;
}
__device__ __forceinline__ float* SplitSum(const Args& a, int split, int64_t row) {
  return a.scratch + (kSplits + split) * a.n_tokens * a.n_head + row;
}
__device__ __forceinline__ float* SplitAcc(const Args& a, int split, int64_t row) {
  const int64_t rows = a.n_tokens * a.n_head;
  return a.scratch + 2 * kSplits * rows + (split * rows + row) * a.head_dim;
}

// Whether any position of the cache lies in `split`: the splits past the cache's end (most of
// them in a short cache) are never run, and their readers take them as empty, (-inf, 0), the
// statistics they would have written.
__device__ __forceinline__ bool SplitInUse(const Args& a, int split) {
  return split * a.chunk < a.n_kv;
}

// Split `split`'s (max, sum) for `row`, as its statistics pass or online softmax wrote them;
// (-inf, 0) for a split not in use.
struct SplitStats {
  float max;
  float sum;
};
__device__ __forceinline__ SplitStats ReadSplitStats(const Args& a, int split, int64_t row) {
  if (!SplitInUse(a, split)) return {kNegInf, 0.0f};
  return {*SplitMax(a, split, row), *SplitSum(a, split, row)};
}

}  // namespace
}  // namespace wick::kernels::cuda
