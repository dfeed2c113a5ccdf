// Causal GQA attention on the GPU (with a sliding window and softcapped scores where the
// parameters ask) with kernels/cpu/attention.cpp's arithmetic: the query is
// rounded to the cache's type before the dot products (f16, or through the q8_0 activation
// quantizer), and for an f16 cache the probabilities exp(s - max) / sum are rounded to f16
// before they weight V, which needs the row's final max and sum before any V is read. So an
// f16 cache takes two passes over K (statistics, then values); f32 and q8_0 caches take one
// pass with an online softmax (rescaling the accumulators when the max grows), which differs
// from the CPU's exact softmax only by f32 rounding.
//
// Prefill with an f16 cache runs on tensor cores (attention_wmma.cuh). One SIMT kernel body
// serves every other case, and f16 prefill where tensor cores are turned off or the device
// lacks the shared memory. A block has 4 warps and owns up to 4 * RW query rows
// (a row is a query token and one head of a kv head's group; the block's rows all share that
// kv head, so each K/V tile it stages is reused by all of them). It walks the cache in tiles
// of 32 positions, converted to f32 in shared memory. A warp owns RW rows: for the scores
// lane j takes position j of the tile (dot products against the row's query in shared
// memory); the softmax is then warp-local (shuffles), and for P.V lane j owns dimensions
// j, j + 32, ... of the row's accumulators, so a row's state never leaves its warp.
//
//  - prefill (n_tokens > kDecodeMaxTokens): blocks over (row tiles, kv heads), each walking
//    the cache from 0 to its last row's causal limit; the last row tiles (the longest) first.
//  - decode: the cache is cut into kSplits chunks, one more grid dimension. Each block leaves
//    its rows' partial (max, sum, accumulators) in scratch and a combine kernel merges them.
//    For f16 a statistics kernel runs first and the value kernel merges the splits' (max,
//    sum) itself, so its partials are already normalised and the combine only adds them.
//    Where one CTA owns all the splits of its rows (a large batch of sequences), it runs both
//    passes itself, one kernel: the values pass then rereads K tiles it has just read,
//    likely still in L2, where the value kernel would read them from memory again.
//
// Inside a block, positions between a row's causal limit and the block's are masked to a
// zero probability, but their V rows are still multiplied by it: a non-finite V there (a
// later token of the same batch) would reach an earlier row as NaN, where the CPU never
// reads it.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>

#include "core/quant_blocks.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_args.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/ops_math.cuh"

namespace wick::kernels::cuda {

namespace {

constexpr size_t SmemFloats(int d, int rw) {
  const int rows = kWarps * rw;
  return size_t{kTile} * (d + 4) + size_t{kTile} * d + size_t(rows) * d + size_t(rows) * kTile;
}

// One CTA's work for one split of the cache (split modes; 0 otherwise) in `mode` (a.mode but
// for kSplitStatsThenValues's passes). smem4: SmemFloats.
template <int D, int RW>
__device__ __forceinline__ void AttendSplit(const Args& a, Mode mode, int split, float4* smem4) {
  constexpr int kRows = kWarps * RW;
  constexpr int kC = D / 32;       // accumulators per lane per row
  constexpr int kKStride = D + 4;  // keeps float4 rows aligned and lanes on distinct banks
  float* k_s = reinterpret_cast<float*>(smem4);  // [kTile][kKStride]
  float* v_s = k_s + kTile * kKStride;           // [kTile][D]
  float* q_s = v_s + kTile * D;                  // [kRows][D]
  float* p_s = q_s + kRows * D;                  // [kRows][kTile]

  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int g = static_cast<int>(blockIdx.y);
  const bool split_mode = mode != Mode::kWhole && mode != Mode::kWholeExact;
  const int64_t total_rows = a.n_tokens * a.group;
  // Later row tiles see more of the cache: start them first.
  const int64_t row0 = (int64_t{gridDim.x} - 1 - blockIdx.x) * kRows;
  const int64_t last_row = min(row0 + kRows, total_rows) - 1;
  const int64_t block_lim = min(a.pos0 + last_row / a.group + 1, a.n_kv);
  const int64_t kv_lo = split_mode ? split * a.chunk : 0;
  const int64_t kv_hi = split_mode ? min(kv_lo + a.chunk, block_lim) : block_lim;
  // A split past the block's causal limit (a later split of a few-token decode) only writes
  // its empty statistics: no query to stage, no statistics to merge. Splits past the cache's
  // end do not run at all (SplitInUse).
  const bool empty = kv_lo >= kv_hi;
  // A sliding window's earlier positions are never read: the walk starts at the tile holding
  // the block's first row's window start (a split wholly before it walks nothing).
  const int64_t kv_start = max(kv_lo, WindowStart(a, row0 / a.group) / kTile * kTile);
  const uint8_t* k_head = a.k + g * a.kv_head_stride;
  const uint8_t* v_head = a.v + g * a.kv_head_stride;

  // This warp's rows: slot r is block row r * kWarps + warp.
  int64_t row_lo[RW];     // and from this one (its window)
  int64_t row_hi[RW];     // cache positions below this are attended (causal, and in the chunk)
  int64_t row_index[RW];  // t * n_head + h, or -1 for a slot past the last row
#pragma unroll
  for (int r = 0; r < RW; ++r) {
    const int lr = r * kWarps + warp;
    const int64_t rho = row0 + lr;
    float* q_row = q_s + lr * D;
    if (rho >= total_rows) {
      row_lo[r] = 0;
      row_hi[r] = 0;
      row_index[r] = -1;
#pragma unroll
      for (int c = 0; c < kC; ++c) q_row[c * 32 + lane] = 0.0f;
      continue;
    }
    const int64_t t = rho / a.group;
    const int h = g * a.group + static_cast<int>(rho % a.group);
    row_lo[r] = WindowStart(a, t);
    row_hi[r] = min(min(a.pos0 + t + 1, a.n_kv), kv_hi);
    row_index[r] = t * a.n_head + h;
    if (empty) continue;
    const float* q = a.q + t * a.q_token_stride + int64_t{h} * a.head_dim;
#pragma unroll
    for (int c = 0; c < kC; ++c) {
      const int d = c * 32 + lane;
      float x = d < a.head_dim ? q[d] : 0.0f;
      // The query as the CPU's matmul against the cache sees it.
      if (a.kv == KvKind::kF16) {
        x = RoundF16(x);
      } else if (a.kv == KvKind::kQ8_0) {
        // Lanes hold one 32-element block; head_dim is a multiple of 32.
        const m::Q8Scales s = m::Q8_0ScalesFor(WarpMax(fabsf(x)));
        x = m::FMul(static_cast<float>(m::Q8_0Quantize(x, s.id)), m::F16ToF32(m::F32ToF16(s.d)));
      }
      q_row[d] = x;
    }
  }
  __syncwarp();

  // Slot r holds row row0 + r * kWarps + warp, so a warp whose first slot is past the last
  // row has none: it only helps stage the tiles (3 of 4 warps in a decode without GQA).
  const bool warp_has_rows = row_index[0] >= 0;

  // Scores of this lane's position in the staged K tile for the warp's rows; -inf where
  // masked.
  float s[RW];
  auto compute_scores = [&](int64_t j0) {
#pragma unroll
    for (int r = 0; r < RW; ++r) s[r] = 0.0f;
    const float* k_row = k_s + lane * kKStride;
#pragma unroll 4
    for (int d = 0; d < D; d += 4) {
      const float4 kv = *reinterpret_cast<const float4*>(k_row + d);
#pragma unroll
#pragma unroll
      for (int r = 0; r < RW; ++r) {
        const float4 qv = *reinterpret_cast<const float4*>(q_s + (r * kWarps + warp) * D + d);
        s[r] = fmaf(qv.x, kv.x, s[r]);
        s[r] = fmaf(qv.y, kv.y, s[r]);
        s[r] = fmaf(qv.z, kv.z, s[r]);
        s[r] = fmaf(qv.w, kv.w, s[r]);
      }
    }
    const int64_t pos = j0 + lane;
#pragma unroll
    for (int r = 0; r < RW; ++r) s[r] = MaskedScore(a, s[r], pos, row_lo[r], row_hi[r]);
  };

  float row_max[RW];
  float row_sum[RW];
#pragma unroll
  for (int r = 0; r < RW; ++r) {
    row_max[r] = kNegInf;
    row_sum[r] = 0.0f;
  }

  // Pass 1 of the exact modes: each row's max and sum of exp(s - max).
  if (mode == Mode::kWholeExact || mode == Mode::kSplitStats) {
    for (int64_t j0 = kv_start; j0 < kv_hi; j0 += kTile) {
      __syncthreads();  // every warp is done with the previous tile
      LoadTile<D>(a, k_head, j0, static_cast<int>(min(int64_t{kTile}, kv_hi - j0)), k_s, kKStride);
      __syncthreads();
      if (!warp_has_rows) continue;
      compute_scores(j0);
#pragma unroll
      for (int r = 0; r < RW; ++r) {
        const float new_max = fmaxf(row_max[r], WarpMax(s[r]));
        const float shift = new_max == kNegInf ? 0.0f : new_max;  // no -inf - -inf
        const float p = expf(s[r] - shift);
        row_sum[r] = row_sum[r] * expf(row_max[r] - shift) + WarpSum(p);
        row_max[r] = new_max;
      }
    }
  }

  if (mode == Mode::kSplitStats) {
#pragma unroll
    for (int r = 0; r < RW; ++r) {
      if (row_index[r] >= 0 && lane == 0) {
        *SplitMax(a, split, row_index[r]) = row_max[r];
        *SplitSum(a, split, row_index[r]) = row_sum[r];
      }
    }
    return;
  }

  // The rows' global statistics, for the exact modes' second pass.
  const bool exact = mode == Mode::kWholeExact || mode == Mode::kSplitValues;
  float inv_sum[RW];
#pragma unroll
  for (int r = 0; r < RW; ++r) {
    if (mode == Mode::kSplitValues && row_index[r] >= 0 && !empty) {
      // Lane i reads split i.
      const auto [mi, li] = ReadSplitStats(a, lane, row_index[r]);
      const float mx = WarpMax(mi);
      row_max[r] = mx;
      row_sum[r] = WarpSum(li > 0.0f ? li * expf(mi - mx) : 0.0f);
    }
    inv_sum[r] = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
    if (!exact) {
      row_max[r] = kNegInf;
      row_sum[r] = 0.0f;
    }
  }

  float acc[RW][kC];
#pragma unroll
  for (int r = 0; r < RW; ++r) {
#pragma unroll
    for (int c = 0; c < kC; ++c) acc[r][c] = 0.0f;
  }
  for (int64_t j0 = kv_start; j0 < kv_hi; j0 += kTile) {
    const int n_valid = static_cast<int>(min(int64_t{kTile}, kv_hi - j0));
    __syncthreads();
    LoadTile<D>(a, k_head, j0, n_valid, k_s, kKStride);
    LoadTile<D>(a, v_head, j0, n_valid, v_s, D);
    __syncthreads();
    if (!warp_has_rows) continue;
    compute_scores(j0);
#pragma unroll
    for (int r = 0; r < RW; ++r) {
      float p;
      if (exact) {
        const float shift = row_max[r] == kNegInf ? 0.0f : row_max[r];
        p = m::FMul(expf(s[r] - shift), inv_sum[r]);
        if (a.kv == KvKind::kF16) p = RoundF16(p);
      } else {
        const float new_max = fmaxf(row_max[r], WarpMax(s[r]));
        const float shift = new_max == kNegInf ? 0.0f : new_max;
        p = expf(s[r] - shift);
        const float alpha = expf(row_max[r] - shift);
        row_sum[r] = row_sum[r] * alpha + WarpSum(p);
        row_max[r] = new_max;
#pragma unroll
        for (int c = 0; c < kC; ++c) acc[r][c] *= alpha;
      }
      p_s[(r * kWarps + warp) * kTile + lane] = p;
    }
    __syncwarp();
    const int n_steps = (n_valid + 3) / 4;  // V rows past n_valid are zeros, p is 0 there
    for (int step = 0; step < n_steps; ++step) {
      const int j = step * 4;
      float4 p4[RW];
#pragma unroll
      for (int r = 0; r < RW; ++r) {
        p4[r] = *reinterpret_cast<const float4*>(p_s + (r * kWarps + warp) * kTile + j);
      }
#pragma unroll
#pragma unroll
      for (int c = 0; c < kC; ++c) {
        const float v0 = v_s[(j + 0) * D + c * 32 + lane];
        const float v1 = v_s[(j + 1) * D + c * 32 + lane];
        const float v2 = v_s[(j + 2) * D + c * 32 + lane];
        const float v3 = v_s[(j + 3) * D + c * 32 + lane];
#pragma unroll
        for (int r = 0; r < RW; ++r) {
          acc[r][c] = fmaf(p4[r].x, v0, acc[r][c]);
          acc[r][c] = fmaf(p4[r].y, v1, acc[r][c]);
          acc[r][c] = fmaf(p4[r].z, v2, acc[r][c]);
          acc[r][c] = fmaf(p4[r].w, v3, acc[r][c]);
        }
      }
    }
  }

#pragma unroll
  for (int r = 0; r < RW; ++r) {
    const int64_t i = row_index[r];
    if (i < 0) continue;
    if (mode == Mode::kWhole || mode == Mode::kWholeExact) {
      const int64_t t = i / a.n_head;
      const int64_t h = i % a.n_head;
      float* dst = a.out + t * a.out_token_stride + h * a.head_dim;
      const float norm = mode == Mode::kWhole ? 1.0f / row_sum[r] : 1.0f;
#pragma unroll
      for (int c = 0; c < kC; ++c) {
        const int d = c * 32 + lane;
        if (d < a.head_dim) dst[d] = acc[r][c] * norm;
      }
      continue;
    }
    if (mode == Mode::kSplitOnline && lane == 0) {
      *SplitMax(a, split, i) = row_max[r];
      *SplitSum(a, split, i) = row_sum[r];
    }
    // An empty chunk (sum 0) leaves its accumulators unwritten; the combine skips it.
    if (row_sum[r] > 0.0f && kv_lo < row_hi[r]) {
      float* dst = SplitAcc(a, split, i);
#pragma unroll
      for (int c = 0; c < kC; ++c) {
        const int d = c * 32 + lane;
        if (d < a.head_dim) dst[d] = acc[r][c];
      }
    }
  }
}

// kSplit: the split modes (else the whole ones, a kernel of its own: the split loop costs
// registers that prefill's 4 rows a warp would pay in occupancy).
template <int D, int RW, bool kSplit>
__global__ void __launch_bounds__(kThreads) AttentionKernel(const Args args) {
  LetNextStart();
  WaitForPrevious();
  extern __shared__ float4 smem4[];
  if constexpr (!kSplit) {
    AttendSplit<D, RW>(args, args.mode, 0, smem4);
    return;
  }
  // A batched decode launch stacks its sequences' CTAs along z. A CTA walks its splits in
  // turn, each computed as if it had a CTA of its own, so the bits do not depend on
  // split_groups.
  const int groups = args.split_groups;
  const Args a = args.seqs == nullptr ? args : ForSequence(args, blockIdx.z / groups);
  const bool both_passes = a.mode == Mode::kSplitStatsThenValues;
  for (int pass = 0; pass < (both_passes ? 2 : 1); ++pass) {
    const Mode mode = !both_passes ? a.mode : pass == 0 ? Mode::kSplitStats : Mode::kSplitValues;
    for (int split = static_cast<int>(blockIdx.z % groups); split < kSplits && SplitInUse(a, split);
         split += groups) {
      AttendSplit<D, RW>(a, mode, split, smem4);
      // The next split reuses the shared memory; the values pass reads the statistics the
      // CTA's warps wrote to global memory, which this barrier makes visible to all of them.
      __syncthreads();
    }
  }
}

// One warp per query row: merges the kSplits partials (lane i reads split i's statistics).
// `normalised` (f16): the partials already carry the row's softmax and are summed in split
// order, as the CPU sums them.
__global__ void __launch_bounds__(kThreads) CombineKernel(const Args args, bool normalised) {
  LetNextStart();
  WaitForPrevious();
  const Args a = args.seqs == nullptr ? args : ForSequence(args, blockIdx.y);
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t rows_all = a.n_tokens * a.n_head;
  const int64_t i = blockIdx.x * int64_t{kWarps} + threadIdx.x / 32;
  if (i >= rows_all) return;  // uniform per warp
  const auto [mi, li] = ReadSplitStats(a, lane, i);
  float w;
  if (normalised) {
    w = li > 0.0f ? 1.0f : 0.0f;
  } else {
    const float mx = WarpMax(mi);
    const float e = li > 0.0f ? expf(mi - mx) : 0.0f;
    const float total = WarpSum(li * e);
    w = li > 0.0f ? e / total : 0.0f;
  }
  const int64_t t = i / a.n_head;
  const int64_t h = i % a.n_head;
  float* dst = a.out + t * a.out_token_stride + h * a.head_dim;
  for (int d0 = 0; d0 < a.head_dim; d0 += 32) {
    const int d = d0 + lane;
    float sum = 0.0f;
    for (int sp = 0; sp < kSplits; ++sp) {
      const float ws = __shfl_sync(0xffffffffu, w, sp);
      if (ws != 0.0f && d < a.head_dim) {
        const float part = SplitAcc(a, sp, i)[d];
        sum = normalised ? sum + part : fmaf(ws, part, sum);
      }
    }
    if (d < a.head_dim) dst[d] = sum;
  }
}

template <int D, int RW, bool kSplit>
cudaError_t LaunchAttentionKernel(const Args& a, dim3 grid, cudaStream_t stream) {
  const size_t smem = SmemFloats(D, RW) * sizeof(float);
  auto* kernel = AttentionKernel<D, RW, kSplit>;
  if (smem > kDefaultSmemLimit) {
    // Host-side attribute, not a stream operation: allowed while a stream is captured.
    const cudaError_t err = cudaFuncSetAttribute(
        kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    if (err != cudaSuccess) return err;
  }
  return LaunchOverlapped(kernel, grid, kThreads, smem, stream, a);
}

template <int D, int RW>
cudaError_t LaunchAttention(const Args& a, dim3 grid, cudaStream_t stream) {
  if (a.mode != Mode::kWhole && a.mode != Mode::kWholeExact) {
    return LaunchAttentionKernel<D, RW, true>(a, grid, stream);
  }
  // The whole modes run 4 rows a warp (Attention).
  if constexpr (RW == 4) return LaunchAttentionKernel<D, RW, false>(a, grid, stream);
  return cudaErrorInvalidValue;
}

template <int RW>
cudaError_t LaunchForHeadDim(const Args& a, dim3 grid, cudaStream_t stream) {
  // Head dims between these instances are padded up (zeros past head_dim).
  if (a.head_dim <= 64) return LaunchAttention<64, RW>(a, grid, stream);
  if (a.head_dim <= 96) return LaunchAttention<96, RW>(a, grid, stream);
  if (a.head_dim <= 128) return LaunchAttention<128, RW>(a, grid, stream);
  return LaunchAttention<256, RW>(a, grid, stream);
}

cudaError_t Launch(const Args& a, int rows_per_warp, dim3 grid, cudaStream_t stream) {
  switch (rows_per_warp) {
    case 1:
      return LaunchForHeadDim<1>(a, grid, stream);
    case 2:
      return LaunchForHeadDim<2>(a, grid, stream);
    default:
      return LaunchForHeadDim<4>(a, grid, stream);
  }
}

}  // namespace
}  // namespace wick::kernels::cuda

#include "kernels/cuda/attention_wmma.cuh"

namespace wick::kernels::cuda {
namespace {

int64_t HeadBytes(DType type, int head_dim) {
  if (type == DType::kQ8_0) return head_dim / 32 * static_cast<int64_t>(sizeof(Q8_0Block));
  return int64_t{head_dim} * (type == DType::kF32 ? 4 : 2);
}

bool IsDecode(const AttentionParams& p) {
  return p.n_tokens > 0 && p.n_tokens <= kDecodeMaxTokens;
}

}  // namespace

void SetAttentionTensorCores(bool enabled) {
  g_tensor_cores.store(enabled, std::memory_order_relaxed);
}

size_t AttentionScratchFloats(const AttentionParams& params) {
  if (!IsDecode(params)) return 0;
  return static_cast<size_t>(params.n_tokens) *
         static_cast<size_t>(TokenScratchFloats(params.n_head, params.head_dim));
}

namespace {

// The kernels' arguments for one call (scratch: the decode scratch, null for none).
cudaError_t MakeArgs(const AttentionParams& p, float* scratch, Args& a) {
  if (p.head_dim <= 0 || p.head_dim > kMaxHeadDim || p.n_head <= 0 || p.n_head_kv <= 0 ||
      p.n_head % p.n_head_kv != 0 || p.n_head_kv > 65535) {
    return cudaErrorInvalidValue;
  }
  a = Args{};
  switch (p.kv_type) {
    case DType::kF32:
      a.kv = KvKind::kF32;
      break;
    case DType::kF16:
      a.kv = KvKind::kF16;
      break;
    case DType::kQ8_0:
      if (p.head_dim % 32 != 0) return cudaErrorInvalidValue;
      a.kv = KvKind::kQ8_0;
      break;
    default:
      return cudaErrorInvalidValue;
  }
  const int64_t token_floats = int64_t{p.n_head} * p.head_dim;
  a.q = p.q;
  a.q_token_stride = p.q_token_stride != 0 ? p.q_token_stride : token_floats;
  a.k = static_cast<const uint8_t*>(p.k);
  a.v = static_cast<const uint8_t*>(p.v);
  a.kv_row_stride = p.kv_row_stride;
  a.kv_head_stride = p.kv_head_stride != 0 ? p.kv_head_stride : HeadBytes(p.kv_type, p.head_dim);
  a.vec = reinterpret_cast<uintptr_t>(p.k) % 16 == 0 &&
          reinterpret_cast<uintptr_t>(p.v) % 16 == 0 && a.kv_row_stride % 16 == 0 &&
          a.kv_head_stride % 16 == 0;
  a.n_tokens = p.n_tokens;
  a.pos0 = p.pos0;
  a.n_kv = p.n_kv;
  a.n_head = p.n_head;
  a.group = p.n_head / p.n_head_kv;
  a.head_dim = p.head_dim;
  a.scale = p.scale;
  a.window = p.window;
  a.softcap = p.softcap;
  a.inv_softcap = p.softcap > 0.0f ? 1.0f / p.softcap : 0.0f;
  a.out = p.out;
  a.out_token_stride = p.out_token_stride != 0 ? p.out_token_stride : token_floats;
  a.scratch = scratch;
  return cudaSuccess;
}

// Cache positions per split for a cache of n_kv: whole tiles.
int64_t SplitChunk(int64_t n_kv) {
  const int64_t per_split = (n_kv + kSplits - 1) / kSplits;
  return std::max<int64_t>(kTile, (per_split + kTile - 1) / kTile * kTile);
}

// CTAs a (sequence, row tile, kv head)'s kSplits splits run in, for `units` of them: all
// kSplits while that leaves the GPU few CTAs (one sequence), fewer for a batch of sequences,
// down to one CTA walking all its splits. Why: a short cache fills only its first splits,
// and a CTA costs a few microseconds of latency even with nothing to do; 64 sequences of
// llama2-7b's 32 heads at 32 CTAs each were 65536 CTAs a kernel, two kernels a layer,
// about 0.27 ms a sequence a decode step on an H100 (step time less the GEMV bench's times).
// A power of two, so the groups deal out the splits evenly; fixed by the batch's shape, so
// a recorded step's launches stay valid as the cache grows.
constexpr int64_t kDecodeCtaTarget = 2048;
int SplitGroups(int64_t units) {
  int groups = kSplits;
  while (groups > 1 && units * (groups / 2) >= kDecodeCtaTarget) groups /= 2;
  return groups;
}

// The split (decode) kernels for `seqs` sequences (1 for a call of its own, which may have
// several query tokens).
cudaError_t LaunchDecode(Args a, int64_t n_head_kv, int64_t seqs, cudaStream_t stream) {
  const bool f16 = a.kv == KvKind::kF16;
  const int64_t rows = a.n_tokens * a.group;  // per kv head
  // Few rows per kv head, so a warp takes as few as fill the block.
  const int rows_per_warp = rows <= kWarps ? 1 : rows <= 2 * kWarps ? 2 : 4;
  const int64_t row_tiles = (rows + kWarps * rows_per_warp - 1) / (kWarps * rows_per_warp);
  if (seqs * kSplits > 65535) return cudaErrorInvalidValue;
  a.split_groups = SplitGroups(row_tiles * n_head_kv * seqs);
  const dim3 grid(static_cast<unsigned>(row_tiles), static_cast<unsigned>(n_head_kv),
                  static_cast<unsigned>(a.split_groups * seqs));
  if (f16 && a.split_groups == 1) {
    a.mode = Mode::kSplitStatsThenValues;
    const cudaError_t err = Launch(a, rows_per_warp, grid, stream);
    if (err != cudaSuccess) return err;
  } else if (f16) {
    a.mode = Mode::kSplitStats;
    cudaError_t err = Launch(a, rows_per_warp, grid, stream);
    if (err != cudaSuccess) return err;
    a.mode = Mode::kSplitValues;
    err = Launch(a, rows_per_warp, grid, stream);
    if (err != cudaSuccess) return err;
  } else {
    a.mode = Mode::kSplitOnline;
    const cudaError_t err = Launch(a, rows_per_warp, grid, stream);
    if (err != cudaSuccess) return err;
  }
  const int64_t rows_all = a.n_tokens * a.n_head;
  const dim3 combine(static_cast<unsigned>((rows_all + kWarps - 1) / kWarps),
                     static_cast<unsigned>(seqs));
  return LaunchOverlapped(CombineKernel, combine, kThreads, 0, stream, a, f16);
}

}  // namespace

cudaError_t Attention(const AttentionParams& params, float* scratch, cudaStream_t stream) {
  const AttentionParams& p = params;
  if (p.n_tokens <= 0) return cudaSuccess;
  Args a;
  if (const cudaError_t err = MakeArgs(p, scratch, a); err != cudaSuccess) return err;
  if (!IsDecode(p) || scratch == nullptr) {
    if (a.kv == KvKind::kF16) {
      const cudaError_t err = TryWmmaPrefill(a, stream);
      if (err != cudaErrorNotSupported) return err;
    }
    a.mode = a.kv == KvKind::kF16 ? Mode::kWholeExact : Mode::kWhole;
    const int64_t rows = p.n_tokens * a.group;  // per kv head
    const int64_t row_tiles = (rows + kWarps * 4 - 1) / (kWarps * 4);
    if (row_tiles > 0x7fffffff) return cudaErrorInvalidValue;
    return Launch(a, 4, dim3(static_cast<unsigned>(row_tiles), p.n_head_kv, 1), stream);
  }
  a.chunk = SplitChunk(p.n_kv);
  return LaunchDecode(a, p.n_head_kv, 1, stream);
}

bool CanBatchDecode(std::span<const AttentionParams> batch) {
  if (batch.empty()) return false;
  const AttentionParams& f = batch[0];
  const int64_t token_floats = int64_t{f.n_head} * f.head_dim;
  const int64_t q_stride = f.q_token_stride != 0 ? f.q_token_stride : token_floats;
  const int64_t out_stride = f.out_token_stride != 0 ? f.out_token_stride : token_floats;
  const auto vec = [](const AttentionParams& p) {
    return reinterpret_cast<uintptr_t>(p.k) % 16 == 0 && reinterpret_cast<uintptr_t>(p.v) % 16 == 0;
  };
  for (size_t i = 0; i < batch.size(); ++i) {
    const AttentionParams& p = batch[i];
    const auto at = static_cast<int64_t>(i);
    if (p.n_tokens != 1 || p.pos0 + 1 != p.n_kv || p.n_head != f.n_head ||
        p.n_head_kv != f.n_head_kv || p.head_dim != f.head_dim || p.kv_type != f.kv_type ||
        p.kv_row_stride != f.kv_row_stride || p.kv_head_stride != f.kv_head_stride ||
        p.scale != f.scale || p.window != f.window || p.softcap != f.softcap ||
        p.q_token_stride != f.q_token_stride || p.out_token_stride != f.out_token_stride ||
        vec(p) != vec(f) || p.q != f.q + at * q_stride || p.out != f.out + at * out_stride) {
      return false;
    }
  }
  return static_cast<int64_t>(batch.size()) * kSplits <= 65535;
}

size_t DecodeBatchArgBytes(size_t count) {
  return count * sizeof(DecodeSeq);
}

void PackDecodeBatch(std::span<const AttentionParams> batch, void* host) {
  auto* out = static_cast<DecodeSeq*>(host);
  for (size_t i = 0; i < batch.size(); ++i) {
    const AttentionParams& p = batch[i];
    out[i] = DecodeSeq{.k = static_cast<const uint8_t*>(p.k),
                       .v = static_cast<const uint8_t*>(p.v),
                       .pos0 = p.pos0,
                       .n_kv = p.n_kv,
                       .chunk = SplitChunk(p.n_kv)};
  }
}

cudaError_t AttentionDecodeBatch(std::span<const AttentionParams> batch, const void* device_args,
                                 float* scratch, cudaStream_t stream) {
  if (batch.empty()) return cudaSuccess;
  if (device_args == nullptr || scratch == nullptr || !CanBatchDecode(batch)) {
    return cudaErrorInvalidValue;
  }
  Args a;
  if (const cudaError_t err = MakeArgs(batch[0], scratch, a); err != cudaSuccess) return err;
  a.seqs = static_cast<const DecodeSeq*>(device_args);
  return LaunchDecode(a, batch[0].n_head_kv, static_cast<int64_t>(batch.size()), stream);
}

}  // namespace wick::kernels::cuda
