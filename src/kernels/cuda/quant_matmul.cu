// The decode GEMV on the GPU (see quant_matmul.h; the f16 dequantisation is dequant_f16.cu).
//
// Quantised weights (QuantGemvKernel, its per-lane parts in gemv_chunk.cuh). A CTA of W warps
// owns W * R consecutive weight rows, R per warp (the Layout), and walks k in chunks of 1024
// columns; in every chunk, lane L of a warp owns the same 32 elements (one slice, dequant.cuh)
// of each of its warp's rows. Why this shape:
//  - Weights are streamed once, with 16-byte loads: each warp copies its rows' chunk bytes
//    into shared memory with cp.async, kStages - 1 chunks ahead of the one it computes. Rows
//    are contiguous but blocks of 18, 34 or 210 bytes are only 2-byte aligned, so the copy
//    moves the aligned 16-byte words inside a row's chunk and the few bytes at either end with
//    2-byte loads; lanes then read their slices from shared memory, where misalignment costs a
//    funnel shift rather than a split load. The first copies are issued before the kernel
//    waits for the one before it (launch.cuh).
//  - A lane decodes 32 elements with one set of scale loads, 8 at a time, and multiplies them
//    with activations from shared memory: the CTA stages each chunk of the m activation rows
//    once for its rows (read from L1 instead, the lanes' columns 128 bytes apart would cost
//    one cache line per lane per load), skewed so that a quarter warp's 16-byte reads hit
//    distinct banks. R rows per lane reuse every x load R times.
//  - Codes become floats by landing in a float's mantissa (no slow int-to-float conversion),
//    and each piece's dot with x is scaled once: scale * sum(q x) + bias * sum(x).
//  - Lanes' partial sums are reduced with warp shuffles in a fixed order. Nothing depends on
//    m, so a row's result is the same whether it is computed alone or beside 7 others.
//  - GemvActivations::kInt8 stages x quantised to int8 per 32 columns instead (StageXInt8;
//    every CTA quantises the chunk itself, the same way, except a batch's whole groups of
//    rows, quantised once per call: PrequantizedRows), and lanes take integer dot products
//    of codes and x (AccumulateChunkInt8): about a quarter of the f32 path's instructions per
//    weight, which at HBM speeds is what a 4-bit GEMV runs out of.
// Float weights (FloatGemvKernel): each lane owns 8 consecutive columns in every 256, so
// weights (16-byte streaming loads) and x (__ldg) both coalesce.
// Both kernels take up to kMaxGemvParts matrices (PartTable: consecutive CTAs walk one part,
// then the next) and write each result as the call's GemvOutput says: stored, added to y, or,
// with a warp's rows split between gate and up rows, as silu(gate) * up.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "kernels/cuda/gemv_chunk.cuh"
#include "kernels/cuda/gemv_common.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/ops_math.cuh"
#include "kernels/cuda/quant_matmul.h"
#include "kernels/cuda/weight_types.cuh"

namespace wick::kernels::cuda {

namespace {

using namespace gemv;  // NOLINT(google-build-using-namespace): the kernels' shared parts

constexpr int kStages = 3;  // chunk buffers per warp: two in flight while one is computed

using WideLayout = Layout<4, 4>;    // activation rows 2..8
using NarrowLayout = Layout<8, 2>;  // one activation row, quantised weights
using ThinLayout = Layout<8, 1>;    // one activation row, float weights

// CTAs an SM should fit by registers, for 4-warp CTAs: 5 (at most 102 registers a thread) for
// one activation row, where the kernels are memory-bound and want warps, down to 2 for 7 and 8
// rows, where they are busy with arithmetic and want registers (fewer would spill).
template <int M, class L>
constexpr int kMinCtasPerSm = std::max(1, (M == 1   ? 5
                                           : M == 2 ? 4
                                           : M <= 6 ? 3
                                                    : 2) *
                                              4 / L::kWarps);

// The activation rows an int8 call quantises once before its products (QuantizeX) instead of
// in every CTA: those of its whole groups of kGemvGroupRows (a batch), whose CTAs of 16
// weight rows would each read f32 x of 2 to 4 times their weights' bytes. The rest of a
// batch (one launch) and a single sequence's decode are spared the extra launch, and the
// kernels of fewer rows its registers. The bits are the same either way.
int64_t PrequantizedRows(const GemvManyArgs& a) {
  if (a.activations != GemvActivations::kInt8 || IsFloatType(a.type)) return 0;
  return a.m / kGemvGroupRows * kGemvGroupRows;
}

// acc summed over the warp's lanes, in the same order on every lane.
__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(kFullMask, v, offset);
  return v;
}

// Writes the sums over lanes of acc[r][i] to the warp's outputs as `Out` says; lane r * M + i
// writes output (r, i).
template <int M, int R>
__device__ __forceinline__ void StoreRows(float (&acc)[R][M], int lane, const WarpRows<R>& rows,
                                          GemvOutput output) {
  static_assert(R * M <= dq::kWarpLanes);
  if (R % 2 == 0 && output == GemvOutput::kSwiGlu) {
    constexpr int kHalf = R / 2;
#pragma unroll
    for (int r = 0; r < kHalf; ++r) {
#pragma unroll
      for (int i = 0; i < M; ++i) {
        const float gate = WarpSum(acc[r][i]);
        const float up = WarpSum(acc[r + kHalf][i]);
        if (lane == r * M + i && rows.row0 + r < rows.n) {
          rows.y[i * rows.y_stride + rows.row0 + r] = math::FMul(math::Silu(gate), up);
        }
      }
    }
  } else {
#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
      for (int i = 0; i < M; ++i) {
        const float v = WarpSum(acc[r][i]);
        if (lane == r * M + i && rows.row0 + r < rows.n) {
          float* out = rows.y + i * rows.y_stride + rows.row0 + r;
          *out = output == GemvOutput::kAccumulate ? *out + v : v;
        }
      }
    }
  }
}

// Stages columns [0, cols) of the chunk starting at xc (x + chunk offset; rows k apart) into
// xs, laid out by Chunk::XIdx, M rows kXStride apart.
template <class C, int M, int kThreads>
__device__ __forceinline__ void StageX(const float* __restrict__ xc, int64_t k, int cols, float* xs,
                                       bool vec4) {
  constexpr int kPer = dq::kChunkCols / 4 / kThreads;
  float4 v[M][kPer];
  LoadXChunk<M, kThreads>(xc, k, cols, M, vec4, v);
#pragma unroll
  for (int i = 0; i < M; ++i) {
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const int f = static_cast<int>(threadIdx.x) + j * kThreads;
      if (4 * f < cols) *reinterpret_cast<float4*>(xs + i * C::kXStride + C::XIdx(4 * f)) = v[i][j];
    }
  }
}

// Shared memory for the chunk of x: M rows of floats (XIdx) or of int8 groups.
template <class F, int M, GemvActivations A>
constexpr size_t XStageBytes() {
  return A == GemvActivations::kInt8 ? M * dq::kChunkGroups * sizeof(dq::XGroup)
                                     : M * dq::Chunk<F>::kXStride * sizeof(float);
}

template <class F, int M, class L, GemvActivations A>
constexpr size_t QuantSharedBytes() {
  static_assert(XStageBytes<F, M, A>() % 16 == 0);
  return XStageBytes<F, M, A>() +
         static_cast<size_t>(kStages) * L::kRowsPerCta * dq::Chunk<F>::kSegStride;
}

// Shared memory: the x chunk (XStageBytes), then per stage, warp and row one chunk copy of
// kSegStride bytes. x_vec4: x is 16-byte aligned (its rows then are too, k being a multiple
// of 32). `groups` groups of M activation rows, M rows of x and y apart. x_int8: kInt8's x
// quantised once for the call (QuantizeX, as GemvXSlots lays it out), or null where each CTA
// quantises its rows itself.
template <DType T, int M, class L, GemvActivations A>
__global__ void __launch_bounds__(L::kThreads, (kMinCtasPerSm<M, L>))
    QuantGemvKernel(const PartTable parts, GemvOutput output, int64_t k,
                    const float* __restrict__ x, bool x_vec4, const uint4* __restrict__ x_int8,
                    int groups) {
  using F = dq::Format<T>;
  using C = dq::Chunk<F>;
  constexpr int kRowsPerWarp = L::kRows;
  const CtaWork work = WorkOf(groups);
  const int warp = static_cast<int>(threadIdx.x) / dq::kWarpLanes;
  const int lane = static_cast<int>(threadIdx.x) % dq::kWarpLanes;
  const int64_t row_bytes = k / F::kBlockElems * F::kBlockBytes;
  WarpRows<kRowsPerWarp> rows = RowsOf<L>(parts, output, work.row_block, warp, row_bytes);
  x += work.group * M * k;
  rows.y += work.group * M * rows.y_stride;
  const int64_t chunks = ChunksOf(k);
  if (x_int8 != nullptr) x_int8 += work.group * M * chunks * dq::kChunkGroups;
  extern __shared__ uint4 smem_words[];
  constexpr bool kInt8 = A == GemvActivations::kInt8;
  float* xs = reinterpret_cast<float*>(smem_words);
  auto* xg = reinterpret_cast<dq::XGroup*>(smem_words);
  uint8_t* wbuf = reinterpret_cast<uint8_t*>(smem_words) + XStageBytes<F, M, A>();

  const ChunkBuffers<C, kStages> buffers{wbuf, L::kRowsPerCta};
  auto issue = [&](int64_t c) {
    buffers.Issue(c, chunks, row_bytes, rows.w, rows.valid, warp * kRowsPerWarp, lane);
  };

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) issue(s);
  // The weights are already on their way; x and y belong to the kernels before this one.
  LetNextStart();
  WaitForPrevious();
  float acc[kRowsPerWarp][M];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int i = 0; i < M; ++i) acc[r][i] = 0.0f;
  }

  for (int64_t c = 0; c < chunks; ++c) {
    // Every warp is done with xs and with the buffers chunk c + kStages - 1 is about to reuse
    // (those of chunk c - 1).
    __syncthreads();
    issue(c + kStages - 1);
    const int cols = ChunkColsOf(k, c);
    if constexpr (kInt8) {
      if (M == kGemvGroupRows && x_int8 != nullptr) {
        // Row i's chunk is already in GemvXSlots order: slot s goes to Of(i, ...) = i * 128 + s.
        static_assert(GemvXSlots<F>::kRowChunkBytes == dq::kChunkGroups * sizeof(uint4));
        for (int q = static_cast<int>(threadIdx.x); q < M * dq::kChunkGroups; q += L::kThreads) {
          const int i = q / dq::kChunkGroups, slot = q % dq::kChunkGroups;
          smem_words[q] = __ldg(x_int8 + (i * chunks + c) * dq::kChunkGroups + slot);
        }
      } else {
        StageXInt8<GemvXSlots<F>, M, L::kThreads>(x + c * dq::kChunkCols, k, cols, M, xg, nullptr,
                                                  x_vec4);
      }
    } else {
      StageX<C, M, L::kThreads>(x + c * dq::kChunkCols, k, cols, xs, x_vec4);
    }
    // Groups committed so far: chunks 0 .. c + kStages - 1; chunk c's is done when at most
    // the kStages - 1 newer ones are pending.
    CpAsyncWait<kStages - 1>();
    __syncthreads();
    if (C::LaneBlock(lane) < cols / F::kBlockElems) {
      const uint8_t* copies[kRowsPerWarp];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        copies[r] = buffers.Chunk(c, warp * kRowsPerWarp + r, rows.w[r]);
      }
      if constexpr (kInt8) {
        dq::AccumulateChunkInt8<F, M, kRowsPerWarp>(copies, xg, lane, acc);
      } else {
        dq::AccumulateChunk<F, M, kRowsPerWarp>(copies, xs, lane, acc);
      }
    }
  }
  StoreRows<M, kRowsPerWarp>(acc, lane, rows, output);
}

template <DType T, int M, class L, GemvActivations A>
cudaError_t LaunchQuantGemvAs(const GemvManyArgs& a, const GroupLaunch& g, cudaStream_t stream) {
  constexpr size_t kShared = QuantSharedBytes<dq::Format<T>, M, L, A>();
  static std::atomic<uint64_t> configured{0};
  auto* kernel = QuantGemvKernel<T, M, L, A>;
  if (const cudaError_t err = AllowSharedBytes(kernel, kShared, configured); err != cudaSuccess) {
    return err;
  }
  unsigned grid = 0;
  const PartTable table = TableFor<L>(a, g, &grid);
  const float* x = a.x + g.row0 * a.k;
  const uint4* x_int8 = nullptr;
  if (M == kGemvGroupRows && A == GemvActivations::kInt8 && PrequantizedRows(a) > 0) {
    x_int8 = static_cast<const uint4*>(a.workspace) + g.row0 * ChunksOf(a.k) * dq::kChunkGroups;
  }
  return LaunchOverlapped(kernel, grid, L::kThreads, kShared, stream, table, a.output, a.k, x,
                          Aligned(x, 16), x_int8, g.groups);
}

template <DType T, int M, class L>
cudaError_t LaunchQuantGemv(const GemvManyArgs& a, const GroupLaunch& g, cudaStream_t stream) {
  return a.activations == GemvActivations::kInt8
             ? LaunchQuantGemvAs<T, M, L, GemvActivations::kInt8>(a, g, stream)
             : LaunchQuantGemvAs<T, M, L, GemvActivations::kF32>(a, g, stream);
}

// ---- Float weights ----

// Elements col .. col + 7 of a row (16-byte aligned).
template <DType T>
__device__ __forceinline__ void LoadFloat8(const uint8_t* row, int64_t col, float (&v)[8]) {
  const uint8_t* p = row + col * kElemBytes<T>;
  if constexpr (T == DType::kF32) {
    const uint4 a = LoadStreaming16(p);
    const uint4 b = LoadStreaming16(p + 16);
    const uint32_t u[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
    for (int e = 0; e < 8; ++e) v[e] = __uint_as_float(u[e]);
  } else {
    const uint4 a = LoadStreaming16(p);
    const uint32_t u[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if constexpr (T == DType::kF16) {
        v[2 * j] = dq::F16ToF32(static_cast<uint16_t>(u[j] & 0xffff));
        v[2 * j + 1] = dq::F16ToF32(static_cast<uint16_t>(u[j] >> 16));
      } else {
        v[2 * j] = __uint_as_float(u[j] << 16);
        v[2 * j + 1] = __uint_as_float(u[j] & 0xffff0000u);
      }
    }
  }
}

template <DType T>
__device__ __forceinline__ float LoadFloat1(const uint8_t* row, int64_t col) {
  if constexpr (T == DType::kF32) {
    return __ldg(reinterpret_cast<const float*>(row) + col);
  } else {
    const auto h = static_cast<uint16_t>(__ldg(reinterpret_cast<const unsigned short*>(row) + col));
    return T == DType::kF16 ? dq::F16ToF32(h) : dq::Bf16ToF32(h);
  }
}

// kVec: w, x 16-byte aligned and k a multiple of 8; each lane takes 8 consecutive columns per
// 256. Otherwise one column per lane per 32.
template <DType T, int M, bool kVec, class L>
__global__ void __launch_bounds__(L::kThreads, (kMinCtasPerSm<M, L>))
    FloatGemvKernel(const PartTable parts, GemvOutput output, int64_t k,
                    const float* __restrict__ x, int groups) {
  constexpr int kRowsPerWarp = L::kRows;
  const CtaWork work = WorkOf(groups);
  const int warp = static_cast<int>(threadIdx.x) / dq::kWarpLanes;
  const int lane = static_cast<int>(threadIdx.x) % dq::kWarpLanes;
  WarpRows<kRowsPerWarp> wr = RowsOf<L>(parts, output, work.row_block, warp, k * kElemBytes<T>);
  x += work.group * M * k;
  wr.y += work.group * M * wr.y_stride;
  const uint8_t* const(&rows)[kRowsPerWarp] = wr.w;
  const bool(&valid)[kRowsPerWarp] = wr.valid;
  LetNextStart();
  WaitForPrevious();
  float acc[kRowsPerWarp][M];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int i = 0; i < M; ++i) acc[r][i] = 0.0f;
  }

  if constexpr (kVec) {
    // Two steps in flight where registers allow.
#pragma unroll(M <= 4 ? 2 : 1)
    for (int64_t col = 8 * lane; col < k; col += 8 * dq::kWarpLanes) {
      float wv[kRowsPerWarp][8];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        if (valid[r]) {
          LoadFloat8<T>(rows[r], col, wv[r]);
        } else {
#pragma unroll
          for (int e = 0; e < 8; ++e) wv[r][e] = 0.0f;
        }
      }
#pragma unroll
      for (int i = 0; i < M; ++i) {
        const auto* xp = reinterpret_cast<const float4*>(x + i * k + col);
        const float4 a = __ldg(xp);
        const float4 b = __ldg(xp + 1);
        const float xv[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
          for (int e = 0; e < 8; ++e) acc[r][i] = dq::FFma(wv[r][e], xv[e], acc[r][i]);
        }
      }
    }
  } else {
    for (int64_t col = lane; col < k; col += dq::kWarpLanes) {
      float wv[kRowsPerWarp];
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) wv[r] = valid[r] ? LoadFloat1<T>(rows[r], col) : 0.0f;
#pragma unroll
      for (int i = 0; i < M; ++i) {
        const float xv = __ldg(x + i * k + col);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) acc[r][i] = dq::FFma(wv[r], xv, acc[r][i]);
      }
    }
  }
  StoreRows<M, kRowsPerWarp>(acc, lane, wr, output);
}

// Whether every part's weights and x are 16-byte aligned and rows a multiple of 8 elements
// (the float kernels' vector path).
bool FloatVectorPath(const GemvManyArgs& a, const float* x) {
  bool vec = Aligned(x, 16) && a.k % 8 == 0;
  for (int p = 0; p < a.n_parts; ++p) vec = vec && Aligned(a.parts[p].w, 16);
  return vec;
}

template <DType T, int M, class L>
cudaError_t LaunchFloatGemv(const GemvManyArgs& a, const GroupLaunch& g, cudaStream_t stream) {
  unsigned grid = 0;
  const PartTable table = TableFor<L>(a, g, &grid);
  const float* x = a.x + g.row0 * a.k;
  auto* kernel =
      FloatVectorPath(a, x) ? FloatGemvKernel<T, M, true, L> : FloatGemvKernel<T, M, false, L>;
  return LaunchOverlapped(kernel, grid, L::kThreads, 0, stream, table, a.output, a.k, x, g.groups);
}

template <DType T, int M, class L>
cudaError_t LaunchGemv(const GemvManyArgs& a, const GroupLaunch& g, cudaStream_t stream) {
  if constexpr (IsFloatType(T)) {
    return LaunchFloatGemv<T, M, L>(a, g, stream);
  } else {
    return LaunchQuantGemv<T, M, L>(a, g, stream);
  }
}

// One activation row of float weights: 8 warps of one row each, except for kSwiGlu, whose
// warps need a gate and an up row.
bool UsesThinLayout(DType type, int64_t m, GemvOutput output) {
  return m == 1 && IsFloatType(type) && output != GemvOutput::kSwiGlu;
}

// One activation row: more warps, fewer rows each. Measured on an H100 (tg128 of 7B models):
// 8x2 over 4x4 gave +2% (Q4_0) and +8% (Q4_K), 8x1 lost 12% on Q4_0; the float kernels,
// which stage nothing in shared memory, gained 8% from 8x1 (but kSwiGlu needs a gate and an
// up row in every warp: 8x2).
template <DType T, int M>
cudaError_t LaunchRows(const GemvManyArgs& a, const GroupLaunch& g, cudaStream_t stream) {
  if constexpr (M == 1 && IsFloatType(T)) {
    return UsesThinLayout(T, M, a.output) ? LaunchGemv<T, 1, ThinLayout>(a, g, stream)
                                          : LaunchGemv<T, 1, NarrowLayout>(a, g, stream);
  } else if constexpr (M == 1) {
    return LaunchGemv<T, 1, NarrowLayout>(a, g, stream);
  } else {
    return LaunchGemv<T, M, WideLayout>(a, g, stream);
  }
}

// Whole groups of kGemvGroupRows activation rows in one launch (each CTA's weight rows read
// from memory once for all of them), then the rest in another.
template <DType T>
cudaError_t GemvTyped(const GemvManyArgs& a, cudaStream_t stream) {
  static_assert(kGemvGroupRows == 8);
  if constexpr (!IsFloatType(T)) {
    if (const int64_t rows = PrequantizedRows(a); rows > 0) {
      using Slots = GemvXSlots<dq::Format<T>>;
      const cudaError_t err =
          QuantizeX<Slots>(a.x, rows, a.k, PrequantizedIn<Slots>(a.workspace, rows, a.k), stream);
      if (err != cudaSuccess) return err;
    }
  }
  const int64_t full = a.m / kGemvGroupRows;
  if (full > 0) {
    const GroupLaunch g{0, static_cast<int>(full)};
    if (const cudaError_t err = LaunchRows<T, 8>(a, g, stream); err != cudaSuccess) return err;
  }
  const GroupLaunch rest{full * kGemvGroupRows, 1};
  switch (a.m % kGemvGroupRows) {
    case 0:
      return cudaSuccess;
    case 1:
      return LaunchRows<T, 1>(a, rest, stream);
    case 2:
      return LaunchRows<T, 2>(a, rest, stream);
    case 3:
      return LaunchRows<T, 3>(a, rest, stream);
    case 4:
      return LaunchRows<T, 4>(a, rest, stream);
    case 5:
      return LaunchRows<T, 5>(a, rest, stream);
    case 6:
      return LaunchRows<T, 6>(a, rest, stream);
    default:
      return LaunchRows<T, 7>(a, rest, stream);
  }
}

}  // namespace

bool GemvSwiGluKeepsLayout(DType type, int64_t m) {
  return UsesThinLayout(type, m, GemvOutput::kStore) ==
         UsesThinLayout(type, m, GemvOutput::kSwiGlu);
}

size_t GemvWorkspaceBytes(DType type, int64_t k, int64_t m, GemvActivations activations) {
  if (activations == GemvActivations::kInt8TensorCores && TensorCoreGemvTakes(type)) {
    return gemv::TensorCoreGemvWorkspaceBytes(k, m);
  }
  GemvManyArgs a;  // kInt8TensorCores takes the int8 GEMV for the other types
  a.type = type;
  a.m = m;
  a.activations = activations == GemvActivations::kF32 ? activations : GemvActivations::kInt8;
  if (!SupportsWeightType(type) || k <= 0) return 0;
  return static_cast<size_t>(PrequantizedRows(a) * ChunksOf(k)) * dq::kChunkGroups *
         sizeof(dq::XGroup);
}

bool SupportsWeightType(DType type) {
  return VisitWeightType(type, [&]<DType>() {});
}

cudaError_t Gemv(const GemvArgs& args, cudaStream_t stream) {
  GemvManyArgs many;
  many.parts[0] = {.w = args.w, .n = args.n, .y = args.y, .y_stride = args.y_stride};
  many.type = args.type;
  many.k = args.k;
  many.x = args.x;
  many.m = args.m;
  many.activations = args.activations;
  many.workspace = args.workspace;
  many.workspace_bytes = args.workspace_bytes;
  return GemvMany(many, stream);
}

cudaError_t GemvMany(const GemvManyArgs& args, cudaStream_t stream) {
  const bool swiglu = args.output == GemvOutput::kSwiGlu;
  if (args.n_parts < 1 || args.n_parts > kMaxGemvParts || (swiglu && args.n_parts != 2)) {
    return cudaErrorInvalidValue;
  }
  if (args.m < 0 || args.k < 0 || !SupportsWeightType(args.type) ||
      (args.activations != GemvActivations::kF32 && args.activations != GemvActivations::kInt8 &&
       args.activations != GemvActivations::kInt8TensorCores)) {
    return cudaErrorInvalidValue;
  }
  int64_t rows = 0;
  for (int p = 0; p < args.n_parts; ++p) {
    const GemvPart& part = args.parts[p];
    if (part.n < 0 || part.y_stride < 0 || (swiglu && part.n != args.parts[0].n)) {
      return cudaErrorInvalidValue;
    }
    rows += part.n;
  }
  if (rows == 0 || args.m == 0) return cudaSuccess;
  const Geometry g = GeometryOf(args.type);
  if (args.k % g.block_elems != 0 || args.x == nullptr || !Aligned(args.x, 4)) {
    return cudaErrorInvalidValue;
  }
  for (int p = 0; p < args.n_parts; ++p) {
    const GemvPart& part = args.parts[p];
    const int64_t y_stride = part.y_stride == 0 ? part.n : part.y_stride;
    const bool writes = !swiglu || p == 0;
    if (part.w == nullptr || !Aligned(part.w, WeightAlignment(args.type)) ||
        (args.m > 1 && writes && y_stride < part.n)) {
      return cudaErrorInvalidValue;
    }
    if (writes && (part.y == nullptr || !Aligned(part.y, 4))) return cudaErrorInvalidValue;
  }
  if ((rows + kMaxGemvParts) * ((args.m + kGemvGroupRows - 1) / kGemvGroupRows) > INT32_MAX) {
    return cudaErrorInvalidValue;  // the grid: at least a row per CTA
  }
  const size_t workspace = GemvWorkspaceBytes(args.type, args.k, args.m, args.activations);
  if (workspace > 0 && (args.workspace == nullptr || !Aligned(args.workspace, 16) ||
                        args.workspace_bytes < workspace)) {
    return cudaErrorInvalidValue;
  }
  if (args.activations == GemvActivations::kInt8TensorCores) {
    if (TensorCoreGemvTakes(args.type)) return gemv::TensorCoreGemvMany(args, stream);
    GemvManyArgs int8 = args;  // the other types' int8 path
    int8.activations = GemvActivations::kInt8;
    cudaError_t err = cudaSuccess;
    VisitWeightType(args.type, [&]<DType T>() { err = GemvTyped<T>(int8, stream); });
    return err;
  }
  cudaError_t err = cudaSuccess;
  VisitWeightType(args.type, [&]<DType T>() { err = GemvTyped<T>(args, stream); });
  return err;
}

}  // namespace wick::kernels::cuda
