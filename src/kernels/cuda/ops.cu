// The per-token operations on the GPU. Each agrees with its kernels/cpu counterpart within
// f32 rounding, and several bit for bit: StoreRows and ConvertF32ToF16 produce the CPU's
// bytes, Rope computes the CPU's angles with the same f32 operations (only the device's
// cosf/sinf differ from glibc's, by an ulp or so). The shared arithmetic is in ops_math.cuh.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/quant_blocks.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/ops_math.cuh"

namespace wick::kernels::cuda {

namespace {

namespace m = math;

constexpr int kThreads = 256;
// Grid-stride kernels stop growing the grid here: enough blocks to fill any current GPU.
constexpr int64_t kMaxBlocks = 4096;

int GridFor(int64_t work, int per_block = kThreads) {
  return static_cast<int>(std::clamp<int64_t>((work + per_block - 1) / per_block, 1, kMaxBlocks));
}

bool Aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// ---- Norms ----

// The sum of every thread's v over a block of kBlock threads, returned to all of them.
// `partial` holds kBlock / 32 doubles; the caller's next write to it must follow a barrier.
template <int kBlock>
__device__ __forceinline__ double BlockSum(double v, double* partial, double* total) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  if (threadIdx.x % 32 == 0) partial[threadIdx.x / 32] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    double sum = 0.0;
    for (int w = 0; w < kBlock / 32; ++w) sum += partial[w];
    *total = sum;
  }
  __syncthreads();
  return *total;
}

// One block per row (grid-stride over rows). The sum of squares is kept in f64 as on the
// CPU: it costs nothing in a memory-bound kernel and makes the scale agree to an ulp.
template <int kBlock>
__global__ void RmsNormKernel(const float* x, const float* weight, float* out, int64_t rows,
                              int64_t n, float eps, bool vec4) {
  __shared__ double partial[kBlock / 32];
  __shared__ double total;
  LetNextStart();
  WaitForPrevious();
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * n;
    float* outr = out + r * n;
    double sum = 0.0;
    if (vec4) {
      const auto* x4 = reinterpret_cast<const float4*>(xr);
      for (int64_t i = threadIdx.x; i < n / 4; i += kBlock) {
        const float4 v = x4[i];
        sum += static_cast<double>(v.x) * v.x + static_cast<double>(v.y) * v.y +
               static_cast<double>(v.z) * v.z + static_cast<double>(v.w) * v.w;
      }
    } else {
      for (int64_t i = threadIdx.x; i < n; i += kBlock) {
        const double v = xr[i];
        sum += v * v;
      }
    }
    const double mean_square = BlockSum<kBlock>(sum, partial, &total) / static_cast<double>(n);
    const auto scale = static_cast<float>(1.0 / sqrt(mean_square + static_cast<double>(eps)));
    // Every element is read again and written by the same thread, after the whole row was
    // summed (the barrier above), so out may alias x.
    if (vec4) {
      const auto* x4 = reinterpret_cast<const float4*>(xr);
      const auto* w4 = reinterpret_cast<const float4*>(weight);
      auto* o4 = reinterpret_cast<float4*>(outr);
      for (int64_t i = threadIdx.x; i < n / 4; i += kBlock) {
        float4 v = x4[i];
        v.x = m::FMul(v.x, scale);
        v.y = m::FMul(v.y, scale);
        v.z = m::FMul(v.z, scale);
        v.w = m::FMul(v.w, scale);
        if (weight != nullptr) {
          const float4 w = w4[i];
          v.x = m::FMul(v.x, w.x);
          v.y = m::FMul(v.y, w.y);
          v.z = m::FMul(v.z, w.z);
          v.w = m::FMul(v.w, w.w);
        }
        o4[i] = v;
      }
    } else {
      for (int64_t i = threadIdx.x; i < n; i += kBlock) {
        float v = m::FMul(xr[i], scale);
        if (weight != nullptr) v = m::FMul(v, weight[i]);
        outr[i] = v;
      }
    }
    // partial and total are reused by the next row.
    __syncthreads();
  }
}

// One block per row (grid-stride), as RmsNormKernel. Two passes in f64 (the mean, then the
// squared deviations from it) and the CPU's f32 normalisation: ((x - mean) * scale) * weight
// + bias. Only GPT-style models use it, on rows of a few thousand floats: no vector loads.
template <int kBlock>
__global__ void LayerNormKernel(const float* x, const float* weight, const float* bias, float* out,
                                int64_t rows, int64_t n, float eps) {
  __shared__ double partial[kBlock / 32];
  __shared__ double total;
  LetNextStart();
  WaitForPrevious();
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const float* xr = x + r * n;
    float* outr = out + r * n;
    double sum = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += kBlock) sum += xr[i];
    const double mean = BlockSum<kBlock>(sum, partial, &total) / static_cast<double>(n);
    double squares = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += kBlock) {
      const double d = static_cast<double>(xr[i]) - mean;
      squares += d * d;
    }
    const double variance = BlockSum<kBlock>(squares, partial, &total) / static_cast<double>(n);
    const auto scale = static_cast<float>(1.0 / sqrt(variance + static_cast<double>(eps)));
    const auto shift = static_cast<float>(mean);
    // Each element is read again and written by the thread that summed it, after the whole
    // row was (the barriers above), so out may alias x.
    for (int64_t i = threadIdx.x; i < n; i += kBlock) {
      float v = m::FMul(m::FSub(xr[i], shift), scale);
      if (weight != nullptr) v = m::FMul(v, weight[i]);
      if (bias != nullptr) v = m::FAdd(v, bias[i]);
      outr[i] = v;
    }
    __syncthreads();  // partial and total are reused by the next row
  }
}

// ---- Rope ----

// The pairs' cos and sin for position pos into table[n_dims/2][2] (one angle per pair, shared
// by every head), by the block's first n_dims/2 threads.
__device__ __forceinline__ void RopeTable(const m::RopeAngleParams& p, const float* freq_factors,
                                          int64_t pos, float* table) {
  for (int i = threadIdx.x; i < p.n_dims / 2; i += blockDim.x) {
    const float factor = freq_factors != nullptr ? freq_factors[i] : m::RopeDefaultFactor(p, i);
    m::RopeCosSin(p, pos, i, factor, &table[2 * i], &table[2 * i + 1]);
  }
}

// Rotates every (head, pair) of one token's row of n_heads heads, by the block's threads.
__device__ __forceinline__ void RopeRow(float* row, int64_t n_heads, int64_t head_dim, int half,
                                        const float* table, bool neox) {
  const int64_t pairs = n_heads * half;
  for (int64_t k = threadIdx.x; k < pairs; k += blockDim.x) {
    const int64_t h = k / half;
    const int i = static_cast<int>(k % half);
    float* head = row + h * head_dim;
    float* x0 = neox ? head + i : head + 2 * i;
    float* x1 = neox ? x0 + half : x0 + 1;
    m::RopeRotate(table[2 * i], table[2 * i + 1], x0, x1);
  }
}

// One block per token (grid-stride): the table, then every (head, pair).
// positions: token t's position (device memory), or null for pos0 + t.
__global__ void RopeKernel(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                           int64_t pos0, const int32_t* positions, m::RopeAngleParams p,
                           const float* freq_factors, bool neox) {
  extern __shared__ float table[];  // [n_dims/2][2]
  for (int64_t t = blockIdx.x; t < n_tokens; t += gridDim.x) {
    RopeTable(p, freq_factors, positions != nullptr ? positions[t] : pos0 + t, table);
    __syncthreads();
    RopeRow(x + t * n_heads * head_dim, n_heads, head_dim, p.n_dims / 2, table, neox);
    __syncthreads();  // the table is rewritten for the next token
  }
}

// ---- Element-wise ----

__global__ void SwiGluKernel(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = m::FMul(m::Silu(gate[i]), up[i]);
  }
}

__global__ void SwiGluKernel4(const float4* gate, const float4* up, float4* out, int64_t n4) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n4;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float4 g = gate[i];
    const float4 u = up[i];
    out[i] = make_float4(m::FMul(m::Silu(g.x), u.x), m::FMul(m::Silu(g.y), u.y),
                         m::FMul(m::Silu(g.z), u.z), m::FMul(m::Silu(g.w), u.w));
  }
}

__global__ void GeGluKernel(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = m::FMul(m::GeluTanh(gate[i]), up[i]);
  }
}

__global__ void GeluKernel(const float* x, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    out[i] = m::GeluTanh(x[i]);
  }
}

// x = s * x, or with cap > 0, x = cap * tanh(x / cap).
__global__ void ScaleKernel(float* x, float s, float cap, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    x[i] = cap > 0.0f ? m::FMul(tanhf(m::FMul(x[i], s)), cap) : m::FMul(x[i], s);
  }
}

__device__ __forceinline__ float Plus(float x, float y) {
  return x + y;
}
__device__ __forceinline__ float4 Plus(float4 x, float4 y) {
  return make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
}

// out[r][i] = a[r][i] + b[i] for `rows` rows of n (float or float4) back to back: one row of b
// added to every row (a layer's bias for all of a step's tokens, which was a launch per
// token), or with one row, two arrays added. Rows on the grid's y, so that no thread divides.
template <class T>
__global__ void AddRowsKernel(const T* a, const T* b, T* out, int64_t rows, int64_t n) {
  for (int64_t r = blockIdx.y; r < rows; r += gridDim.y) {
    for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
         i += int64_t{gridDim.x} * blockDim.x) {
      out[r * n + i] = Plus(a[r * n + i], b[i]);
    }
  }
}

// AddRowsKernel over float4 where every row allows it, else floats.
cudaError_t AddRows(const float* a, const float* b, float* out, int64_t rows, int64_t n,
                    cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return cudaSuccess;
  const bool vec4 = n % 4 == 0 && Aligned16(a) && Aligned16(b) && Aligned16(out);
  const int64_t width = vec4 ? n / 4 : n;
  const int x_blocks = GridFor(width);
  const dim3 grid(static_cast<unsigned>(x_blocks),
                  static_cast<unsigned>(std::clamp<int64_t>(kMaxBlocks / x_blocks, 1, rows)));
  if (vec4) {
    AddRowsKernel<float4><<<grid, kThreads, 0, stream>>>(
        reinterpret_cast<const float4*>(a), reinterpret_cast<const float4*>(b),
        reinterpret_cast<float4*>(out), rows, width);
  } else {
    AddRowsKernel<float><<<grid, kThreads, 0, stream>>>(a, b, out, rows, width);
  }
  return cudaGetLastError();
}

// ---- Conversions and the KV store ----

// Where row r of a KV store goes: row_dst[r] (device memory) when given, else dst + r *
// row_bytes.
struct RowDst {
  uint8_t* dst;
  int64_t row_bytes;
  uint8_t* const* row_dst;
  __device__ __forceinline__ uint8_t* operator()(int64_t r) const {
    return row_dst != nullptr ? row_dst[r] : dst + r * row_bytes;
  }
};

// One q8_0 block by one warp: lane j quantizes element j of src (32 floats). Blocks are 34
// bytes, so d is written as one 16-bit store and the quants as bytes (the lanes' stores
// coalesce).
__device__ __forceinline__ void StoreQ8_0Block(const float* src, uint8_t* block, int lane) {
  const float x = src[lane];
  float amax = fabsf(x);
  for (int offset = 16; offset > 0; offset /= 2) {
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
  }
  const m::Q8Scales s = m::Q8_0ScalesFor(amax);
  if (lane == 0) *reinterpret_cast<uint16_t*>(block) = m::F32ToF16(s.d);
  reinterpret_cast<int8_t*>(block + 2)[lane] = m::Q8_0Quantize(x, s.id);
}

// Element i of `rows` rows of n.
__global__ void StoreRowsF32Kernel(const float* src, int64_t rows, int64_t n, RowDst dst) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / n;
    reinterpret_cast<float*>(dst(r))[i - r * n] = src[i];
  }
}

__global__ void StoreRowsF16Kernel(const float* src, int64_t rows, int64_t n, RowDst dst) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < total;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / n;
    reinterpret_cast<uint16_t*>(dst(r))[i - r * n] = m::F32ToF16(src[i]);
  }
}

// One warp per q8_0 block.
__global__ void StoreRowsQ8_0Kernel(const float* src, int64_t rows, int64_t n, RowDst dst) {
  const int64_t blocks_per_row = n / 32;
  const int64_t total = rows * blocks_per_row;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t b = (blockIdx.x * int64_t{blockDim.x} + threadIdx.x) / 32; b < total; b += warps) {
    const int64_t r = b / blocks_per_row;
    const int64_t k = b - r * blocks_per_row;
    StoreQ8_0Block(src + r * n + k * 32, dst(r) + k * static_cast<int64_t>(sizeof(Q8_0Block)),
                   lane);
  }
}

// One row of n by a block's threads, as the StoreRows kernels store it.
__device__ __forceinline__ void StoreRowByBlock(const float* src, int64_t n, uint8_t* dst,
                                                DType type) {
  if (type == DType::kQ8_0) {
    const int lane = static_cast<int>(threadIdx.x % 32);
    for (int64_t b = threadIdx.x / 32; b < n / 32; b += blockDim.x / 32) {
      StoreQ8_0Block(src + b * 32, dst + b * static_cast<int64_t>(sizeof(Q8_0Block)), lane);
    }
  } else if (type == DType::kF16) {
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
      reinterpret_cast<uint16_t*>(dst)[i] = m::F32ToF16(src[i]);
    }
  } else {
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) reinterpret_cast<float*>(dst)[i] = src[i];
  }
}

// A decode batch's RoPE and KV store in one launch, one block per token (grid-stride): its q
// and k rows roped at positions[t] (one table for both), then its k and v rows stored at
// k_dst[t] and v_dst[t]. The same operations as RopeKernel and the StoreRows kernels.
__global__ void RopeStoreKernel(float* q, float* k, const float* v, int64_t n_tokens,
                                int64_t n_head, int64_t n_head_kv, int64_t head_dim,
                                const int32_t* positions, m::RopeAngleParams p,
                                const float* freq_factors, bool neox, uint8_t* const* k_dst,
                                uint8_t* const* v_dst, DType type) {
  extern __shared__ float table[];  // [n_dims/2][2]
  const int64_t kv_dim = n_head_kv * head_dim;
  LetNextStart();
  WaitForPrevious();
  for (int64_t t = blockIdx.x; t < n_tokens; t += gridDim.x) {
    RopeTable(p, freq_factors, positions[t], table);
    __syncthreads();
    RopeRow(q + t * n_head * head_dim, n_head, head_dim, p.n_dims / 2, table, neox);
    RopeRow(k + t * kv_dim, n_head_kv, head_dim, p.n_dims / 2, table, neox);
    __syncthreads();  // the roped k, written by other threads, is stored next
    StoreRowByBlock(k + t * kv_dim, kv_dim, k_dst[t], type);
    StoreRowByBlock(v + t * kv_dim, kv_dim, v_dst[t], type);
    __syncthreads();  // the table is rewritten for the next token
  }
}

__global__ void ConvertF32ToF16Kernel(const float* src, uint16_t* dst, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    dst[i] = m::F32ToF16(src[i]);
  }
}

__global__ void ConvertF32ToF16Kernel4(const float4* src, uint2* dst, int64_t n4) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n4;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float4 v = src[i];
    const uint32_t lo = m::F32ToF16(v.x) | (uint32_t{m::F32ToF16(v.y)} << 16);
    const uint32_t hi = m::F32ToF16(v.z) | (uint32_t{m::F32ToF16(v.w)} << 16);
    dst[i] = make_uint2(lo, hi);
  }
}

}  // namespace

cudaError_t RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t n,
                    float eps, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return cudaSuccess;
  const bool vec4 =
      n % 4 == 0 && Aligned16(x) && Aligned16(out) && (weight == nullptr || Aligned16(weight));
  // Short rows leave most of a 256-thread block idle; 128 threads cover every usual width.
  const int grid = static_cast<int>(std::min<int64_t>(rows, int64_t{1} << 30));
  if (n <= 2048) {
    return LaunchOverlapped(RmsNormKernel<128>, grid, 128, 0, stream, x, weight, out, rows, n, eps,
                            vec4);
  }
  return LaunchOverlapped(RmsNormKernel<256>, grid, 256, 0, stream, x, weight, out, rows, n, eps,
                          vec4);
}

cudaError_t LayerNorm(const float* x, const float* weight, const float* bias, float* out,
                      int64_t rows, int64_t n, float eps, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return cudaSuccess;
  const int grid = static_cast<int>(std::min<int64_t>(rows, int64_t{1} << 30));
  return LaunchOverlapped(LayerNormKernel<256>, grid, 256, 0, stream, x, weight, bias, out, rows, n,
                          eps);
}

namespace {

// RoPE's shape, checked by every launch that ropes: pairs of dimensions, within a head.
bool RopeDimsFit(const RopeConfig& config, int64_t head_dim) {
  return config.n_dims % 2 == 0 && config.n_dims <= head_dim;
}

// The KV cache types a row can be stored as: F32, F16, Q8_0 in whole blocks.
bool StorableAs(DType type, int64_t n) {
  return type == DType::kF32 || type == DType::kF16 || (type == DType::kQ8_0 && n % 32 == 0);
}

cudaError_t LaunchRope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
                       const int32_t* positions, const RopeConfig& config, cudaStream_t stream) {
  if (n_tokens <= 0 || n_heads <= 0 || config.n_dims <= 0) return cudaSuccess;
  if (!RopeDimsFit(config, head_dim)) return cudaErrorInvalidValue;
  const m::RopeAngleParams p = m::PrepareRope(config);
  const int grid = static_cast<int>(std::min<int64_t>(n_tokens, int64_t{1} << 30));
  const auto smem = static_cast<size_t>(config.n_dims) * sizeof(float);
  RopeKernel<<<grid, kThreads, smem, stream>>>(x, n_tokens, n_heads, head_dim, pos0, positions, p,
                                               config.freq_factors, config.type == RopeType::kNeox);
  return cudaGetLastError();
}

cudaError_t LaunchStoreRows(const float* src, int64_t rows, int64_t n, RowDst dst, DType type,
                            cudaStream_t stream) {
  if (!StorableAs(type, n)) return cudaErrorInvalidValue;
  if (type == DType::kF32) {
    StoreRowsF32Kernel<<<GridFor(rows * n), kThreads, 0, stream>>>(src, rows, n, dst);
  } else if (type == DType::kF16) {
    StoreRowsF16Kernel<<<GridFor(rows * n), kThreads, 0, stream>>>(src, rows, n, dst);
  } else {
    // One warp per 32-element block.
    StoreRowsQ8_0Kernel<<<GridFor(rows * n), kThreads, 0, stream>>>(src, rows, n, dst);
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t Rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
                 const RopeConfig& config, cudaStream_t stream) {
  return LaunchRope(x, n_tokens, n_heads, head_dim, pos0, nullptr, config, stream);
}

cudaError_t RopeAt(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim,
                   const int32_t* positions, const RopeConfig& config, cudaStream_t stream) {
  if (positions == nullptr) return cudaErrorInvalidValue;
  return LaunchRope(x, n_tokens, n_heads, head_dim, 0, positions, config, stream);
}

cudaError_t RopeStoreAt(float* q, float* k, const float* v, int64_t n_tokens, int64_t n_head,
                        int64_t n_head_kv, int64_t head_dim, const int32_t* positions,
                        const RopeConfig& config, uint8_t* const* k_dst, uint8_t* const* v_dst,
                        DType type, cudaStream_t stream) {
  if (n_tokens <= 0 || n_head_kv <= 0 || head_dim <= 0) return cudaSuccess;
  if (positions == nullptr || k_dst == nullptr || v_dst == nullptr || config.n_dims < 0 ||
      !RopeDimsFit(config, head_dim) || n_head < 0 || !StorableAs(type, n_head_kv * head_dim)) {
    return cudaErrorInvalidValue;
  }
  // n_dims 0 (learned positions): no pairs to turn, only the store.
  const m::RopeAngleParams p = config.n_dims > 0 ? m::PrepareRope(config) : m::RopeAngleParams{};
  const int grid = static_cast<int>(std::min<int64_t>(n_tokens, int64_t{1} << 30));
  const auto smem = static_cast<size_t>(config.n_dims) * sizeof(float);
  return LaunchOverlapped(RopeStoreKernel, grid, kThreads, smem, stream, q, k, v, n_tokens, n_head,
                          n_head_kv, head_dim, positions, p, config.freq_factors,
                          config.type == RopeType::kNeox, k_dst, v_dst, type);
}

cudaError_t SwiGlu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (n % 4 == 0 && Aligned16(gate) && Aligned16(up) && Aligned16(out)) {
    SwiGluKernel4<<<GridFor(n / 4), kThreads, 0, stream>>>(reinterpret_cast<const float4*>(gate),
                                                           reinterpret_cast<const float4*>(up),
                                                           reinterpret_cast<float4*>(out), n / 4);
  } else {
    SwiGluKernel<<<GridFor(n), kThreads, 0, stream>>>(gate, up, out, n);
  }
  return cudaGetLastError();
}

cudaError_t GeGlu(const float* gate, const float* up, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  GeGluKernel<<<GridFor(n), kThreads, 0, stream>>>(gate, up, out, n);
  return cudaGetLastError();
}

cudaError_t Gelu(const float* x, float* out, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  GeluKernel<<<GridFor(n), kThreads, 0, stream>>>(x, out, n);
  return cudaGetLastError();
}

cudaError_t Scale(float* x, float s, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  ScaleKernel<<<GridFor(n), kThreads, 0, stream>>>(x, s, 0.0f, n);
  return cudaGetLastError();
}

cudaError_t Softcap(float* x, float cap, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  ScaleKernel<<<GridFor(n), kThreads, 0, stream>>>(x, 1.0f / cap, cap, n);
  return cudaGetLastError();
}

cudaError_t Add(const float* a, const float* b, float* out, int64_t n, cudaStream_t stream) {
  return AddRows(a, b, out, 1, n, stream);
}

cudaError_t AddBias(float* x, const float* bias, int64_t rows, int64_t n, cudaStream_t stream) {
  return AddRows(x, bias, x, rows, n, stream);
}

cudaError_t StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                      int64_t row_bytes, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return cudaSuccess;
  auto* out = static_cast<uint8_t*>(dst);
  // Elements (and a Q8_0 block's f16 scale) are stored whole: a misaligned store faults.
  const int64_t align = type == DType::kF32 ? 4 : 2;
  if (reinterpret_cast<uintptr_t>(dst) % align != 0 || row_bytes % align != 0) {
    return cudaErrorInvalidValue;
  }
  return LaunchStoreRows(src, rows, n, RowDst{out, row_bytes, nullptr}, type, stream);
}

cudaError_t StoreRowsAt(const float* src, int64_t rows, int64_t n, uint8_t* const* row_dst,
                        DType type, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return cudaSuccess;
  if (row_dst == nullptr) return cudaErrorInvalidValue;
  return LaunchStoreRows(src, rows, n, RowDst{nullptr, 0, row_dst}, type, stream);
}

cudaError_t ConvertF32ToF16(const float* src, uint16_t* dst, int64_t n, cudaStream_t stream) {
  if (n <= 0) return cudaSuccess;
  if (n % 4 == 0 && Aligned16(src) && reinterpret_cast<uintptr_t>(dst) % 8 == 0) {
    ConvertF32ToF16Kernel4<<<GridFor(n / 4), kThreads, 0, stream>>>(
        reinterpret_cast<const float4*>(src), reinterpret_cast<uint2*>(dst), n / 4);
  } else {
    ConvertF32ToF16Kernel<<<GridFor(n), kThreads, 0, stream>>>(src, dst, n);
  }
  return cudaGetLastError();
}

}  // namespace wick::kernels::cuda
