// The tensor-core prefill kernel for an f16 cache, part of attention.cu (included there once,
// after Args and the helpers it uses).
//
// An f16 cache is where the CPU's arithmetic maps exactly onto f16 tensor cores: the query is
// rounded to f16, K is f16, and the probabilities are rounded to f16 before they weight the
// f16 V, so every product is exact and only the f32 accumulation order differs from the CPU.
// The same two passes as the SIMT kernel's kWholeExact (statistics, then values with the
// final max and sum) also mean the accumulators never need rescaling, so they stay in WMMA
// fragments whose element layout is never touched.
//
// A block has 4 warps and 64 query rows (16 per warp), all of one kv head, and walks the
// cache in tiles of 64 positions staged as f16 in shared memory. Per tile a warp computes its
// 16 x 64 scores with mma (Q row-major times K as a column-major K^T), stores them to shared
// memory, where two lanes per row do the softmax, and (second pass) multiplies its 16 x 64
// f16 probabilities by the 64 x D V tile into D/16 accumulator fragments.
#pragma once

#include <mma.h>

#include "kernels/cuda/device_info.h"

namespace wick::kernels::cuda {
namespace {

constexpr int kWmmaRows = 64;            // query rows per block, 16 per warp
constexpr int kWmmaTile = 64;            // cache positions per tile
constexpr int kScoreLd = kWmmaTile + 4;  // floats per score row
constexpr int kProbLd = kWmmaTile + 8;   // halves per probability row
static_assert(kWmmaRows == kWarps * 16);

// Shared memory, each part 128-byte aligned: q, k and v as [64][D + 8] halves (the padding
// staggers rows over the banks), scores [64][kScoreLd] f32, probabilities [64][kProbLd]
// halves. The output staging ([64][D] f32) reuses k and v once the last tile is done.
template <int D>
struct WmmaSmem {
  static constexpr int kLd = D + 8;
  static constexpr size_t kHalfTile = size_t{kWmmaRows} * kLd * 2;
  static constexpr size_t kQ = 0;
  static constexpr size_t kK = kQ + kHalfTile;
  static constexpr size_t kV = kK + kHalfTile;
  static constexpr size_t kS = kV + kHalfTile;
  static constexpr size_t kP = kS + size_t{kWmmaRows} * kScoreLd * 4;
  static constexpr size_t kBytes = kP + size_t{kWmmaRows} * kProbLd * 2;
  static_assert(kHalfTile % 128 == 0 && (kP - kS) % 128 == 0);
  static_assert(size_t{kWmmaRows} * D * 4 <= 2 * kHalfTile, "output staging fits in k and v");
};

// Positions j0 .. j0 + n_valid - 1 of an f16 head into dst ([kWmmaTile][D + 8] halves),
// zeros past n_valid and head_dim.
template <int D>
__device__ __forceinline__ void LoadTileHalf(const Args& a, const uint8_t* head_base, int64_t j0,
                                             int n_valid, __half* dst) {
  constexpr int kChunks = D / 8;
  for (int idx = threadIdx.x; idx < kWmmaTile * kChunks; idx += kThreads) {
    const int r = idx / kChunks;
    const int d0 = (idx % kChunks) * 8;
    uint4 raw = make_uint4(0, 0, 0, 0);
    if (r < n_valid && d0 < a.head_dim) {
      const auto* src =
          reinterpret_cast<const uint16_t*>(head_base + (j0 + r) * a.kv_row_stride) + d0;
      if (a.vec && d0 + 8 <= a.head_dim) {
        raw = __ldg(reinterpret_cast<const uint4*>(src));
      } else {
        uint32_t h[8];
        for (int i = 0; i < 8; ++i) h[i] = d0 + i < a.head_dim ? __ldg(src + i) : 0u;
        raw =
            make_uint4(h[0] | h[1] << 16, h[2] | h[3] << 16, h[4] | h[5] << 16, h[6] | h[7] << 16);
      }
    }
    *reinterpret_cast<uint4*>(dst + r * WmmaSmem<D>::kLd + d0) = raw;
  }
}

template <int D>
__global__ void __launch_bounds__(kThreads) AttentionWmmaKernel(const Args a) {
  namespace wmma = nvcuda::wmma;
  using Smem = WmmaSmem<D>;
  constexpr int kLd = Smem::kLd;
  constexpr int kFrags = D / 16;
  // WMMA loads and stores need 32-byte aligned addresses.
  extern __shared__ __align__(128) uint8_t wmma_smem[];
  uint8_t* base = wmma_smem;
  auto* q_s = reinterpret_cast<__half*>(base + Smem::kQ);
  auto* k_s = reinterpret_cast<__half*>(base + Smem::kK);
  auto* v_s = reinterpret_cast<__half*>(base + Smem::kV);
  auto* s_s = reinterpret_cast<float*>(base + Smem::kS);
  auto* p_s = reinterpret_cast<__half*>(base + Smem::kP);
  auto* o_s = reinterpret_cast<float*>(base + Smem::kK);  // after the last tile

  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int g = static_cast<int>(blockIdx.y);
  const int64_t total_rows = a.n_tokens * a.group;
  const int64_t row0 = (int64_t{gridDim.x} - 1 - blockIdx.x) * kWmmaRows;
  const int64_t last_row = min(row0 + kWmmaRows, total_rows) - 1;
  const int64_t kv_hi = min(a.pos0 + last_row / a.group + 1, a.n_kv);
  // A sliding window's earlier positions are never read (see AttendSplit).
  const int64_t kv_start = WindowStart(a, row0 / a.group) / kWmmaTile * kWmmaTile;
  const uint8_t* k_head = a.k + g * a.kv_head_stride;
  const uint8_t* v_head = a.v + g * a.kv_head_stride;

  // The query rows, rounded to f16 as the CPU rounds them.
  for (int idx = threadIdx.x; idx < kWmmaRows * D; idx += kThreads) {
    const int r = idx / D;
    const int d = idx % D;
    const int64_t rho = row0 + r;
    float x = 0.0f;
    if (rho < total_rows && d < a.head_dim) {
      const int64_t t = rho / a.group;
      const int64_t h = g * a.group + rho % a.group;
      x = a.q[t * a.q_token_stride + h * a.head_dim + d];
    }
    q_s[r * kLd + d] = __float2half_rn(x);
  }

  // Lanes 2i and 2i + 1 own the softmax of the warp's row i (tile positions of their parity).
  const int my_row = warp * 16 + lane / 2;
  const int parity = lane % 2;
  const int64_t my_rho = row0 + my_row;
  const int64_t my_hi =
      my_rho < total_rows ? min(a.pos0 + my_rho / a.group + 1, a.n_kv) : int64_t{0};
  const int64_t my_lo = my_rho < total_rows ? WindowStart(a, my_rho / a.group) : int64_t{0};
  float* my_scores = s_s + my_row * kScoreLd;

  // This warp's 16 x 64 scores of the staged tile into s_s (unscaled).
  auto tile_scores = [&] {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kWmmaTile / 16];
    for (auto& f : acc) wmma::fill_fragment(f, 0.0f);
    for (int kk = 0; kk < kFrags; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> qa;
      wmma::load_matrix_sync(qa, q_s + warp * 16 * kLd + kk * 16, kLd);
#pragma unroll
      for (int c = 0; c < kWmmaTile / 16; ++c) {
        // K^T's column n is key n: K stored [key][d] reads as a column-major K^T.
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> kb;
        wmma::load_matrix_sync(kb, k_s + c * 16 * kLd + kk * 16, kLd);
        wmma::mma_sync(acc[c], qa, kb, acc[c]);
      }
    }
#pragma unroll
    for (int c = 0; c < kWmmaTile / 16; ++c) {
      wmma::store_matrix_sync(s_s + warp * 16 * kScoreLd + c * 16, acc[c], kScoreLd,
                              wmma::mem_row_major);
    }
    __syncwarp();
  };
  // Score i (0..31) of this lane's half of its row, scaled and masked.
  auto score = [&](int64_t j0, int i) {
    const int k = 2 * i + parity;
    return MaskedScore(a, my_scores[k], j0 + k, my_lo, my_hi);
  };

  // Pass 1: the row's max and sum of exp(s - max).
  float row_max = kNegInf;
  float row_sum = 0.0f;
  for (int64_t j0 = kv_start; j0 < kv_hi; j0 += kWmmaTile) {
    __syncthreads();  // q_s written; every warp done with the previous tile
    LoadTileHalf<D>(a, k_head, j0, static_cast<int>(min(int64_t{kWmmaTile}, kv_hi - j0)), k_s);
    __syncthreads();
    tile_scores();
    float tile_max = kNegInf;
    for (int i = 0; i < kWmmaTile / 2; ++i) tile_max = fmaxf(tile_max, score(j0, i));
    const float new_max = fmaxf(row_max, fmaxf(tile_max, __shfl_xor_sync(~0u, tile_max, 1)));
    const float shift = new_max == kNegInf ? 0.0f : new_max;
    float sum = 0.0f;
    for (int i = 0; i < kWmmaTile / 2; ++i) sum += expf(score(j0, i) - shift);
    sum += __shfl_xor_sync(~0u, sum, 1);
    row_sum = row_sum * expf(row_max - shift) + sum;
    row_max = new_max;
  }
  const float shift = row_max == kNegInf ? 0.0f : row_max;
  const float inv_sum = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;

  // Pass 2: out = sum of f16(exp(s - max) / sum) * v.
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> out[kFrags];
  for (auto& f : out) wmma::fill_fragment(f, 0.0f);
  for (int64_t j0 = kv_start; j0 < kv_hi; j0 += kWmmaTile) {
    const int n_valid = static_cast<int>(min(int64_t{kWmmaTile}, kv_hi - j0));
    __syncthreads();
    LoadTileHalf<D>(a, k_head, j0, n_valid, k_s);
    LoadTileHalf<D>(a, v_head, j0, n_valid, v_s);
    __syncthreads();
    tile_scores();
    for (int i = 0; i < kWmmaTile / 2; ++i) {
      const float p = m::FMul(expf(score(j0, i) - shift), inv_sum);
      p_s[my_row * kProbLd + 2 * i + parity] = __float2half_rn(p);
    }
    __syncwarp();
    for (int kk = 0; kk < kWmmaTile / 16; ++kk) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> pa;
      wmma::load_matrix_sync(pa, p_s + warp * 16 * kProbLd + kk * 16, kProbLd);
#pragma unroll
      for (int c = 0; c < kFrags; ++c) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> vb;
        wmma::load_matrix_sync(vb, v_s + kk * 16 * kLd + c * 16, kLd);
        wmma::mma_sync(out[c], pa, vb, out[c]);
      }
    }
  }

  __syncthreads();  // k_s and v_s become the output staging
#pragma unroll
  for (int c = 0; c < kFrags; ++c) {
    wmma::store_matrix_sync(o_s + warp * 16 * D + c * 16, out[c], D, wmma::mem_row_major);
  }
  __syncwarp();
  for (int r = 0; r < 16; ++r) {
    const int64_t rho = row0 + warp * 16 + r;
    if (rho >= total_rows) break;
    const int64_t t = rho / a.group;
    const int64_t h = g * a.group + rho % a.group;
    float* dst = a.out + t * a.out_token_stride + h * a.head_dim;
    for (int d = lane; d < a.head_dim; d += 32) dst[d] = o_s[(warp * 16 + r) * D + d];
  }
}

std::atomic<bool> g_tensor_cores{true};

template <int D>
cudaError_t LaunchWmma(const Args& a, cudaStream_t stream) {
  constexpr size_t kSmem = WmmaSmem<D>::kBytes;
  const cudaError_t err = cudaFuncSetAttribute(
      AttentionWmmaKernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, int{kSmem});
  if (err != cudaSuccess) return err;
  const int64_t row_tiles = (a.n_tokens * a.group + kWmmaRows - 1) / kWmmaRows;
  const dim3 grid(static_cast<unsigned>(row_tiles), static_cast<unsigned>(a.n_head / a.group));
  AttentionWmmaKernel<D><<<grid, kThreads, kSmem, stream>>>(a);
  return cudaGetLastError();
}

// The tensor-core kernel for `a` if it applies (an f16 cache, prefill, enough shared memory
// on this device); cudaErrorNotSupported otherwise, and nothing is launched.
cudaError_t TryWmmaPrefill(const Args& a, cudaStream_t stream) {
  if (!g_tensor_cores.load(std::memory_order_relaxed) || a.kv != KvKind::kF16) {
    return cudaErrorNotSupported;
  }
  const size_t need = a.head_dim <= 64    ? WmmaSmem<64>::kBytes
                      : a.head_dim <= 128 ? WmmaSmem<128>::kBytes
                                          : WmmaSmem<256>::kBytes;
  if (static_cast<size_t>(LimitsOfCurrentDevice().shared_optin) < need) {
    return cudaErrorNotSupported;
  }
  if (a.head_dim <= 64) return LaunchWmma<64>(a, stream);
  if (a.head_dim <= 128) return LaunchWmma<128>(a, stream);
  return LaunchWmma<256>(a, stream);
}

}  // namespace
}  // namespace wick::kernels::cuda
