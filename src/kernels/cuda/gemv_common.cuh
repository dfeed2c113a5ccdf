// What the decode GEMV kernels share (quant_matmul.cu, and the tensor-core kernel of
// quant_matmul_mma.cu): the launch's table of weight matrices and which rows each CTA owns,
// the cp.async copies of a row's chunk into shared memory, loading a chunk of x and staging
// it quantised to int8, and the launch helpers.
#pragma once

#include <cuda_runtime.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <cstring>

#include "kernels/cuda/gemv_chunk.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/quant_matmul.h"

namespace wick::kernels::cuda::gemv {

// A CTA of W warps, each owning R consecutive weight rows. More rows per warp reuse every
// activation load R times; fewer give the memory system more warps (a decode GEMV of one
// activation row is a single wave of CTAs whose warps each stream a few chunks, so what
// limits it is how many loads are in flight). A row's arithmetic is the same in every layout.
template <int W, int R>
struct Layout {
  static constexpr int kWarps = W;
  static constexpr int kRows = R;
  static constexpr int kThreads = W * dq::kWarpLanes;
  static constexpr int kRowsPerCta = W * R;
};

constexpr unsigned kFullMask = 0xffffffffu;
constexpr size_t kDefaultSharedBytes = 48 * 1024;  // above this a kernel must opt in

__host__ __device__ __forceinline__ int64_t MinI64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

// ---- Primitives ----

#ifndef WICK_CUDA_EMU
__device__ __forceinline__ void CpAsync16(void* smem, const void* gmem) {
  const auto s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
}

__device__ __forceinline__ void CpAsyncCommit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}

// Waits until at most `kPending` of this thread's committed groups are still in flight.
template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// 16 bytes of weights that are read once: not kept in L1.
__device__ __forceinline__ uint4 LoadStreaming16(const void* p) {
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
}
#else
// The CUDA emulator (tests/cuda_emu) has no PTX: the copy completes at once, which is one of
// the orders the hardware may choose, and the checks are those the hardware makes.
__device__ __forceinline__ void CpAsync16(void* smem, const void* gmem) {
  if (reinterpret_cast<uintptr_t>(smem) % 16 != 0 || reinterpret_cast<uintptr_t>(gmem) % 16 != 0) {
    wick_emu::DeviceFault("cp.async.cg of 16 bytes at an address not 16-byte aligned");
  }
  std::memcpy(smem, gmem, 16);
}
__device__ __forceinline__ void CpAsyncCommit() {}
template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {}
__device__ __forceinline__ uint4 LoadStreaming16(const void* p) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) {
    wick_emu::DeviceFault("ld.global.nc.v4.u32 at an address not 16-byte aligned");
  }
  return *static_cast<const uint4*>(p);
}
#endif

// The matrices of one launch as the kernels see them: part p's weight rows are row blocks
// [first_block[p], first_block[p + 1]) of the grid. kSwiGlu: one part of output rows, whose
// gate rows are at w[0] and up rows at w[1].
struct PartTable {
  const uint8_t* w[kMaxGemvParts];
  float* y[kMaxGemvParts];
  int64_t n[kMaxGemvParts];
  int64_t y_stride[kMaxGemvParts];
  int64_t first_block[kMaxGemvParts + 1];
  int count;
};

// Output rows a CTA of layout L writes: kSwiGlu reads two weight rows (gate, up) for each.
// (The output is a kernel argument, not a template one: the branches on it are uniform and
// cost nothing next to the weights' loads, and a template would triple the kernels built.)
template <class L>
__host__ __device__ constexpr int OutRowsPerCta(GemvOutput out) {
  return out == GemvOutput::kSwiGlu ? L::kRowsPerCta / 2 : L::kRowsPerCta;
}

// The R weight rows one warp reads and where their results go. Rows past the part's end point
// at its row 0 (readable; their sums are dropped).
template <int R>
struct WarpRows {
  const uint8_t* w[R];
  bool valid[R];
  float* y;  // the part's output, rows y_stride apart
  int64_t y_stride;
  int64_t row0;  // the warp's first output row in the part
  int64_t n;     // the part's output rows
};

template <class L>
__device__ __forceinline__ WarpRows<L::kRows> RowsOf(const PartTable& t, GemvOutput output,
                                                     int64_t row_block, int warp,
                                                     int64_t row_bytes) {
  constexpr int R = L::kRows;
  int p = 0;
  while (p + 1 < t.count && row_block >= t.first_block[p + 1]) ++p;
  const int64_t local = row_block - t.first_block[p];
  WarpRows<R> out;
  out.y = t.y[p];
  out.y_stride = t.y_stride[p];
  out.n = t.n[p];
  // kSwiGlu: rows [0, R/2) are gate rows (w[0]), [R/2, R) the up rows (w[1]) of the same
  // outputs.
  const bool paired = R % 2 == 0 && output == GemvOutput::kSwiGlu;
  const int per_warp = paired ? R / 2 : R;
  out.row0 = local * OutRowsPerCta<L>(output) + warp * per_warp;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t row = out.row0 + r % per_warp;
    out.valid[r] = row < out.n;
    out.w[r] = t.w[paired ? r / per_warp : p] + (out.valid[r] ? row : 0) * row_bytes;
  }
  return out;
}

// ---- Quantised weights ----

// Starts copying one row's chunk (`nbytes` at `src`) into `dst` (16-byte aligned), its first
// byte at dst + (src mod 16): the whole 16-byte words by cp.async, the ends by 2-byte copies.
__device__ __forceinline__ void CopyChunk(const uint8_t* src, int nbytes, uint8_t* dst, int lane) {
  const dq::SegmentPlan p = dq::PlanSegment(reinterpret_cast<uintptr_t>(src), nbytes);
  for (int off = p.lo + 16 * lane; off < p.hi; off += 16 * dq::kWarpLanes) {
    CpAsync16(dst + off, src + (off - p.s0));
  }
  if (lane < dq::HalfwordCount(p)) {
    const int off = dq::HalfwordPos(p, lane);
    *reinterpret_cast<uint16_t*>(dst + off) =
        __ldg(reinterpret_cast<const unsigned short*>(src + (off - p.s0)));
  }
}

// A CTA's copies of its weight rows' chunks: kStages sets of `rows` buffers of kSegStride
// bytes each, chunk c in set c % kStages, so that copies run kStages - 1 chunks ahead of the
// one the kernel computes.
template <class C, int kStages>
struct ChunkBuffers {
  uint8_t* base;
  int rows;

  __device__ __forceinline__ uint8_t* At(int64_t c, int row) const {
    return base + (static_cast<int>(c % kStages) * rows + row) * C::kSegStride;
  }
  // Where chunk c of the weight row at w lies in buffer `row` (its first byte at the
  // buffer's start plus the source's misalignment, as CopyChunk leaves it).
  __device__ __forceinline__ const uint8_t* Chunk(int64_t c, int row, const uint8_t* w) const {
    return At(c, row) + (reinterpret_cast<uintptr_t>(w + c * C::kBytes) & 15);
  }
  // Starts copying chunk c of R weight rows (w, those valid) into buffers first_row.., as
  // one cp.async group of the calling thread: empty past the last chunk, so that every
  // iteration of a kernel's loop commits exactly one.
  template <int R>
  __device__ __forceinline__ void Issue(int64_t c, int64_t chunks, int64_t row_bytes,
                                        const uint8_t* const (&w)[R], const bool (&valid)[R],
                                        int first_row, int lane) const {
    if (c < chunks) {
      const auto nbytes = static_cast<int>(MinI64(C::kBytes, row_bytes - c * C::kBytes));
#pragma unroll
      for (int j = 0; j < R; ++j) {
        if (valid[j]) CopyChunk(w[j] + c * C::kBytes, nbytes, At(c, first_row + j), lane);
      }
    }
    CpAsyncCommit();
  }
};

// Thread t's share of columns [0, cols) of the chunk at xc (M rows k apart, of which the
// first `rows` exist): 4 consecutive columns of every kThreads * 4, zeros past cols (a
// multiple of 4) and in the rows past `rows`. vec4: x is 16-byte aligned (its rows then are
// too, k being a multiple of 32).
template <int M, int kThreads>
__device__ __forceinline__ void LoadXChunk(const float* __restrict__ xc, int64_t k, int cols,
                                           int rows, bool vec4,
                                           float4 (&v)[M][dq::kChunkCols / 4 / kThreads]) {
  constexpr int kPer = dq::kChunkCols / 4 / kThreads;
#pragma unroll
  for (int i = 0; i < M; ++i) {
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const int f = static_cast<int>(threadIdx.x) + j * kThreads;
      const float* p = xc + i * k + 4 * f;
      if (4 * f >= cols || i >= rows) {
        v[i][j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      } else if (vec4) {
        v[i][j] = __ldg(reinterpret_cast<const float4*>(p));
      } else {
        v[i][j] = make_float4(__ldg(p), __ldg(p + 1), __ldg(p + 2), __ldg(p + 3));
      }
    }
  }
}

// Where the GEMV's lanes find group g of activation row i (AccumulateChunkInt8). They take
// no whole-block sums.
template <class F>
struct GemvXSlots {
  static constexpr bool kCodesOnly = false;
  static constexpr bool kBlockSums = false;
  static constexpr int kRowChunkBytes = dq::kChunkGroups * sizeof(dq::XGroup);  // one row's
  __device__ __forceinline__ static int Of(int i, int g) {
    return i * dq::kChunkGroups + dq::GroupSlot<F>(g);
  }
};

// Int8 activations: StageXInt8 (after its halves) quantises columns [0, cols) of the chunk at xc (M
// rows k apart, of which the first `rows` exist) per 32-column block into xg, group g of row i (8
// columns) at Slots::Of(i, g) as a dq::XGroup, or where Slots::kCodesOnly as its 8 int8 values (a
// uint2); where Slots::kBlockSums, block b's sum and scale into xb[Slots::BlockOf(i, b)]. Blocks
// past cols and rows past `rows` become zeros. Thread t takes 4 consecutive columns of every
// kThreads * 4, so the 8 threads of a block are 8 consecutive lanes, which agree on its amax
// (and sum) by shuffles.
//
// Its two halves, LoadXChunk and StoreXInt8 (the quantisation of what a thread loaded), may
// also be called apart, so that a chunk's loads are in flight while the one before is used.
template <class Slots, int M, int kThreads>
__device__ __forceinline__ void StoreXInt8(const float4 (&v)[M][dq::kChunkCols / 4 / kThreads],
                                           void* xg, dq::XBlock* xb) {
  constexpr int kPer = dq::kChunkCols / 4 / kThreads;
  static_assert(kThreads % dq::kWarpLanes == 0 && kPer >= 1);
#pragma unroll
  for (int i = 0; i < M; ++i) {
#pragma unroll
    for (int j = 0; j < kPer; ++j) {
      const int f = static_cast<int>(threadIdx.x) + j * kThreads;
      const float4 u = v[i][j];
      uint32_t bits =
          max(max(dq::AbsBits(u.x), dq::AbsBits(u.y)), max(dq::AbsBits(u.z), dq::AbsBits(u.w)));
#pragma unroll
      for (int offset = 1; offset < 8; offset *= 2) {
        bits = max(bits, __shfl_xor_sync(kFullMask, bits, offset));
      }
      const float amax = dq::AmaxOf(bits);
      const float inv = dq::XInverse(amax);
      const uint32_t packed = dq::PackInt8(dq::QuantizeX(u.x, inv), dq::QuantizeX(u.y, inv),
                                           dq::QuantizeX(u.z, inv), dq::QuantizeX(u.w, inv));
      const int sum = dq::Dp4a(packed, 0x01010101u, 0);
      const uint32_t next = __shfl_xor_sync(kFullMask, packed, 1);
      const int next_sum = __shfl_xor_sync(kFullMask, sum, 1);
      if (f % 2 == 0) {
        if constexpr (Slots::kCodesOnly) {
          static_cast<uint2*>(xg)[Slots::Of(i, f / 2)] = make_uint2(packed, next);
        } else {
          static_cast<uint4*>(xg)[Slots::Of(i, f / 2)] =
              make_uint4(packed, next, __float_as_uint(dq::IntToFloat(sum + next_sum)),
                         __float_as_uint(dq::XScale(amax)));
        }
      }
      if constexpr (Slots::kBlockSums) {
        int block_sum = sum + next_sum;
        block_sum += __shfl_xor_sync(kFullMask, block_sum, 2);
        block_sum += __shfl_xor_sync(kFullMask, block_sum, 4);
        if (f % 8 == 0) {
          xb[Slots::BlockOf(i, f / 8)] = {dq::IntToFloat(block_sum), dq::XScale(amax)};
        }
      }
    }
  }
}

template <class Slots, int M, int kThreads>
__device__ __forceinline__ void StageXInt8(const float* __restrict__ xc, int64_t k, int cols,
                                           int rows, void* xg, dq::XBlock* xb, bool vec4) {
  float4 v[M][dq::kChunkCols / 4 / kThreads];
  LoadXChunk<M, kThreads>(xc, k, cols, rows, vec4, v);
  StoreXInt8<Slots, M, kThreads>(v, xg, xb);
}

// ---- x quantised once per call ----
//
// Kernels of many activation rows and few weight rows a CTA would each quantise all of their
// rows of x: the same f32 x read from L2 by every CTA (several times the bytes of its
// weights), and as many instructions spent on it as on the products. Instead the call
// quantises x once into a workspace (GemvWorkspaceBytes): per activation row and chunk of
// 1024 columns, StageXInt8's output for one row as Slots lays out row 0, kRowChunkBytes
// (zeros past k), and after all of them, where Slots::kBlockSums, the chunk's kChunkBlocks
// block sums. The same function as the kernels that quantise x themselves, so the same bits.
struct PrequantizedX {
  uint8_t* groups;     // [m][chunks][Slots::kRowChunkBytes]
  dq::XBlock* blocks;  // [m][chunks][kChunkBlocks], where Slots::kBlockSums
  int64_t chunks;
};

__host__ __device__ constexpr int64_t ChunksOf(int64_t k) {
  return (k + dq::kChunkCols - 1) / dq::kChunkCols;
}

// The columns of chunk c of a k-column row (kChunkCols but in the last chunk).
__host__ __device__ __forceinline__ int ChunkColsOf(int64_t k, int64_t c) {
  return static_cast<int>(MinI64(dq::kChunkCols, k - c * dq::kChunkCols));
}

template <class Slots>
constexpr size_t PrequantizedRowChunkBytes() {
  return Slots::kRowChunkBytes + (Slots::kBlockSums ? dq::kChunkBlocks * sizeof(dq::XBlock) : 0);
}

template <class Slots>
PrequantizedX PrequantizedIn(void* workspace, int64_t m, int64_t k) {
  static_assert(Slots::kRowChunkBytes % 16 == 0);
  const int64_t chunks = ChunksOf(k);
  auto* groups = static_cast<uint8_t*>(workspace);
  auto* blocks = Slots::kBlockSums
                     ? reinterpret_cast<dq::XBlock*>(groups + m * chunks * Slots::kRowChunkBytes)
                     : nullptr;
  return {groups, blocks, chunks};
}

constexpr int kQuantizeThreads = 128;

// CTA q: chunk q % chunks of activation row q / chunks.
template <class Slots>
__global__ void __launch_bounds__(kQuantizeThreads)
    QuantizeXKernel(const float* __restrict__ x, int64_t k, bool x_vec4, PrequantizedX out) {
  const int64_t q = blockIdx.x;
  const int64_t i = q / out.chunks, c = q % out.chunks;
  const int cols = ChunkColsOf(k, c);
  LetNextStart();
  WaitForPrevious();
  StageXInt8<Slots, 1, kQuantizeThreads>(
      x + i * k + c * dq::kChunkCols, k, cols, 1, out.groups + q * Slots::kRowChunkBytes,
      Slots::kBlockSums ? out.blocks + q * dq::kChunkBlocks : nullptr, x_vec4);
}

// x's m rows into `out`, on `stream` (an overlapped launch: the product after it may start).
template <class Slots>
cudaError_t QuantizeX(const float* x, int64_t m, int64_t k, const PrequantizedX& out,
                      cudaStream_t stream) {
  if (m * out.chunks > INT32_MAX) return cudaErrorInvalidValue;  // the grid
  return LaunchOverlapped(QuantizeXKernel<Slots>, static_cast<unsigned>(m * out.chunks),
                          kQuantizeThreads, 0, stream, x, k,
                          reinterpret_cast<uintptr_t>(x) % 16 == 0, out);
}

// Which weight rows and which group of M activation rows a CTA computes: CTAs of the same
// weight rows are adjacent in launch order, so that they run together and all but the first
// find the weights in L2.
struct CtaWork {
  int64_t row_block;
  int64_t group;
};
__device__ __forceinline__ CtaWork WorkOf(int groups) {
  return {static_cast<int64_t>(blockIdx.x) / groups, static_cast<int64_t>(blockIdx.x) % groups};
}

// Kernels that need more than 48 KiB of dynamic shared memory must say so, once per device.
template <class Kernel>
cudaError_t AllowSharedBytes(Kernel* kernel, size_t bytes, std::atomic<uint64_t>& configured) {
  if (bytes <= kDefaultSharedBytes) return cudaSuccess;
  int device = 0;
  if (const cudaError_t err = cudaGetDevice(&device); err != cudaSuccess) return err;
  const uint64_t bit = device < 64 ? uint64_t{1} << device : 0;
  if (bit != 0 && (configured.load(std::memory_order_relaxed) & bit) != 0) return cudaSuccess;
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               static_cast<int>(bytes));
  if (err == cudaSuccess) configured.fetch_or(bit, std::memory_order_relaxed);
  return err;
}

// The launch of `groups` groups of M activation rows, from activation row `row0` of the call.
struct GroupLaunch {
  int64_t row0;
  int groups;
};

// The call's parts for a launch of layout L from activation row g.row0, and its grid.
template <class L>
PartTable TableFor(const GemvManyArgs& a, const GroupLaunch& g, unsigned* grid) {
  PartTable t{};
  const int rows_per_cta = OutRowsPerCta<L>(a.output);
  const int count = a.output == GemvOutput::kSwiGlu ? 1 : a.n_parts;
  int64_t blocks = 0;
  for (int p = 0; p < a.n_parts; ++p) {
    const GemvPart& part = a.parts[p];
    const int64_t stride = part.y_stride == 0 ? part.n : part.y_stride;
    t.w[p] = static_cast<const uint8_t*>(part.w);
    t.n[p] = part.n;
    t.y_stride[p] = stride;
    t.y[p] = part.y == nullptr ? nullptr : part.y + g.row0 * stride;
    if (p < count) {
      t.first_block[p] = blocks;
      blocks += (part.n + rows_per_cta - 1) / rows_per_cta;
    }
  }
  t.first_block[count] = blocks;
  t.count = count;
  *grid = static_cast<unsigned>(blocks * g.groups);
  return t;
}

// The tensor-core GEMV (quant_matmul_mma.cu), which GemvMany calls for
// GemvActivations::kInt8TensorCores where TensorCoreGemvTakes(type), after checking args.
cudaError_t TensorCoreGemvMany(const GemvManyArgs& args, cudaStream_t stream);
// Up to this many activation rows it runs on CUDA cores (FewRowsGemvKernel, quantising x
// itself); more take the tensor cores, and x quantised once into the workspace, whose size
// this is.
inline constexpr int kMaxFewRows = 4;
size_t TensorCoreGemvWorkspaceBytes(int64_t k, int64_t m);

}  // namespace wick::kernels::cuda::gemv
