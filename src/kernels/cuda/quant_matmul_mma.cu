// The tensor-core GEMV (GemvActivations::kInt8TensorCores) for the legacy formats (Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0) and the k-quants whose 32-column sub-blocks have a scale and min of their
// own (Q4_K, Q5_K): the decode products of a batch of sequences on int8 mma instructions.
//
// Why: the CUDA-core GEMV (quant_matmul.cu) spends its instructions per weight and activation
// row, so 16 or 64 sequences decoding together are bound by arithmetic (measured on an H100:
// 812 and 909 t/s for a 7B Q4_0 model, against llama.cpp's 1404 and 2620). One
// mma.m16n8k32 takes 16 weight rows times 8 activation rows times one 32-column block, the
// integer sums of 4096 products, in one instruction; what is left per output and block is
// the one float step the int8 GEMV takes too (Int8Step: scales, offset, bias).
//
// The layout (gemv_chunk.cuh, "The tensor-core GEMV"): a CTA of 4 warps owns 16 weight rows
// (the mma's M) and 16 activation rows, two tiles of the mma's N = 8. Its threads copy the
// rows' chunks of 1024 columns into shared memory with cp.async, two chunks ahead, and the
// chunk of x one chunk ahead, quantised to int8 per 32 columns once before the product
// (QuantizeX, the int8 GEMV's quantisation; each CTA quantising its 16 rows of x itself would
// read 4 to 7 times the weights' bytes of f32 x from L2). Warp w takes blocks w, w + 4, ... of
// the chunk, each one decoded once for both tiles (MmaBlock, gemv_mma.cuh).
//
// More than 16 activation rows take the wide tiles of quant_matmul_mma_tile.cu (32 or 64
// weight rows by 64 activation rows a CTA) unless WICK_CUDA_GEMV_TILES=0, and then run here as
// groups of 16 side by side, as the GEMV's do. Up to 4 take FewRowsGemvKernel below.
//
// A result depends only on its own weight row and activation row, in a fixed order: blocks in
// order within each warp's share, then the warps' sums in warp order. So a sequence's logits
// are the same alone or in any batch, which the server's tests require, as long as every
// product of the type takes these kernels (GemvMany sends every call of kInt8TensorCores
// here): all three give the same bits.
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/gemv_chunk.cuh"
#include "kernels/cuda/gemv_common.cuh"
#include "kernels/cuda/gemv_mma.cuh"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/ops_math.cuh"
#include "kernels/cuda/quant_matmul.h"
#include "kernels/cuda/weight_types.cuh"

namespace wick::kernels::cuda::gemv {

namespace {

constexpr int kMmaStages = 3;  // weight chunk buffers: two in flight while one is computed
constexpr int kXStages = 2;    // x's: one in flight (from L2: the workspace is small and hot)
constexpr int kMmaThreads = dq::kMmaWarps * dq::kWarpLanes;
using MmaLayout = Layout<1, dq::kMmaRows>;        // the CTA's rows, as RowsOf and TableFor see them
constexpr int kTiles = dq::kMmaActs / dq::kMmaN;  // mma per decoded block

constexpr size_t kXCodeBytes = dq::kMmaActs * kXRowGroups * sizeof(uint2);
constexpr size_t kXBytes = kXCodeBytes + dq::kMmaActs * dq::kChunkBlocks * sizeof(dq::XBlock);
static_assert(kXCodeBytes % 16 == 0 && kXBytes % 16 == 0);
static_assert(kXBytes >= dq::kMmaWarps * dq::kMmaRows * dq::kMmaActs * sizeof(float));

template <class F>
constexpr size_t MmaSharedBytes() {
  return kXStages * kXBytes +
         static_cast<size_t>(kMmaStages) * dq::kMmaRows * dq::Chunk<F>::kSegStride;
}

// x's block sums of a row chunk, in 16-byte words (the rows past the call's last are zeroed).
constexpr int kBlockCopies = dq::kChunkBlocks * static_cast<int>(sizeof(dq::XBlock)) / 16;
static_assert(dq::kChunkBlocks * sizeof(dq::XBlock) % 16 == 0);

// Shared memory: x's chunk in two stages (kXBytes each, the first reused for the warps' sums
// at the end), then per stage and row one weight chunk copy of kSegStride bytes: 69 to 94 KB,
// so 2 or 3 CTAs an SM, which the registers are held to (at most 170 a thread: ptxas spills
// the Q5 kernels otherwise). `groups` groups of kMmaActs activation rows (xq's rows and y's
// rows apart), of which the call has m in all.
template <DType T>
__global__ void __launch_bounds__(kMmaThreads, 3)
    MmaGemvKernel(const PartTable parts, GemvOutput output, int64_t k, PrequantizedX xq_all,
                  int groups, int64_t m) {
  using F = dq::Format<T>;
  using C = dq::Chunk<F>;
  const CtaWork work = WorkOf(groups);
  const int warp = static_cast<int>(threadIdx.x) / dq::kWarpLanes;
  const int lane = static_cast<int>(threadIdx.x) % dq::kWarpLanes;
  const int g = lane / 4, t = lane % 4;
  const int64_t row_bytes = k / F::kBlockElems * F::kBlockBytes;
  WarpRows<dq::kMmaRows> rows = RowsOf<MmaLayout>(parts, output, work.row_block, 0, row_bytes);
  const int acts = static_cast<int>(MinI64(dq::kMmaActs, m - work.group * dq::kMmaActs));
  const int64_t chunks = xq_all.chunks;
  const int64_t first = work.group * dq::kMmaActs * chunks;  // the group's first row's chunk
  rows.y += work.group * dq::kMmaActs * rows.y_stride;
  extern __shared__ uint4 smem_words[];
  uint8_t* const smem = reinterpret_cast<uint8_t*>(smem_words);
  uint8_t* wbuf = smem + kXStages * kXBytes;

  const MmaRowPicks picks = PickMmaRows(rows, warp);
  const ChunkBuffers<C, kMmaStages> buffers{wbuf, dq::kMmaRows};
  auto x_stage = [&](int64_t c) { return smem + static_cast<int>(c % kXStages) * kXBytes; };
  // Chunk c of x's rows, codes at MmaXSlots::Of(i, 0), block sums at BlockOf(i, 0), as one
  // cp.async group (empty past the last chunk: every iteration commits the same groups).
  auto issue_x = [&](int64_t c) {
    if (c < chunks) {
      IssueXRows<MmaXSlots::kRowChunkBytes, dq::kChunkBlocks, kMmaThreads>(
          xq_all, first, c, acts, 0, 0, x_stage(c), kXRowGroups * int{sizeof(uint2)},
          static_cast<int>(kXCodeBytes), dq::kChunkBlocks * int{sizeof(dq::XBlock)});
    }
    CpAsyncCommit();
  };
  // Chunk c of the rows this warp copies.
  auto issue = [&](int64_t c) {
    buffers.Issue(c, chunks, row_bytes, picks.copy_w, picks.copy_valid,
                  warp * MmaRowPicks::kCopyRows, lane);
  };

  // The rows past the call's last activation row are never copied: zeros in both stages (their
  // sums land only in outputs that are not written, but are read).
  for (int s = 0; s < kXStages; ++s) {
    for (int q = acts * kXRowGroups * 8 / 16 + static_cast<int>(threadIdx.x);
         q < dq::kMmaActs * kXRowGroups * 8 / 16; q += kMmaThreads) {
      reinterpret_cast<uint4*>(x_stage(s))[q] = make_uint4(0, 0, 0, 0);
    }
    for (int q = acts * kBlockCopies + static_cast<int>(threadIdx.x);
         q < dq::kMmaActs * kBlockCopies; q += kMmaThreads) {
      reinterpret_cast<uint4*>(x_stage(s) + kXCodeBytes)[q] = make_uint4(0, 0, 0, 0);
    }
  }
  static_assert(kXRowGroups * 8 % 16 == 0);

  // cp.async groups complete in order. Committed: W0, W1, X0, then per iteration c X(c + 1)
  // and W(c + 2). Chunk c needs W(c) and X(c): at c = 0 all but the last 2 groups, after
  // that all but the last 3 (W(c + 1) stays in flight).
  static_assert(kMmaStages == 3 && kXStages == 2);
#pragma unroll
  for (int s = 0; s < kMmaStages - 1; ++s) issue(s);
  // The weights are already on their way; x and y belong to the kernels before this one.
  LetNextStart();
  WaitForPrevious();
  issue_x(0);
  // acc[n][h][j]: weight row g + 8h, activation row 8n + 2t + j (tile n).
  float acc[kTiles][2][2] = {};
  const int tiles = (acts + dq::kMmaN - 1) / dq::kMmaN;
  for (int64_t c = 0; c < chunks; ++c) {
    // Every warp is done with chunk c - 1: its x stage and weight buffers are free.
    __syncthreads();
    issue_x(c + 1);
    issue(c + kMmaStages - 1);
    if (c == 0) {
      CpAsyncWait<2>();
    } else {
      CpAsyncWait<3>();
    }
    __syncthreads();
    const int cols = ChunkColsOf(k, c);
    const MmaXView xv{reinterpret_cast<const uint2*>(x_stage(c)),
                      reinterpret_cast<const dq::XBlock*>(x_stage(c) + kXCodeBytes), kXRowGroups,
                      dq::kChunkBlocks};
    // Rows past the part's end were not copied: their buffers hold stale bytes, whose sums
    // land only in outputs that are not written.
    const uint8_t* row_g = buffers.Chunk(c, g, picks.w_g);
    const uint8_t* row_g8 = buffers.Chunk(c, g + 8, picks.w_g8);
    const int blocks = cols / 32;
    for (int b = warp; b < blocks; b += dq::kMmaWarps) {
      MmaBlock<F, kTiles>(row_g, row_g8, xv, b, tiles, acc);
    }
  }

  // The warps' sums, added in warp order, each output by one thread.
  __syncthreads();  // x's stages are free (no copy is in flight past the last chunk)
  float* sums = reinterpret_cast<float*>(smem_words);  // [warp][weight row][activation row]
  auto at = [&](int w, int r, int i) { return sums + (w * dq::kMmaRows + r) * dq::kMmaActs + i; };
#pragma unroll
  for (int n = 0; n < kTiles; ++n) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
#pragma unroll
      for (int j = 0; j < 2; ++j) *at(warp, g + 8 * h, n * dq::kMmaN + 2 * t + j) = acc[n][h][j];
    }
  }
  __syncthreads();
  for (int o = static_cast<int>(threadIdx.x); o < dq::kMmaRows * dq::kMmaActs; o += kMmaThreads) {
    const int r = o / dq::kMmaActs, i = o % dq::kMmaActs;
    auto total = [&](int row) {
      float v[dq::kMmaWarps];
#pragma unroll
      for (int w = 0; w < dq::kMmaWarps; ++w) v[w] = *at(w, row, i);
      return dq::MmaTotal(v);
    };
    if (i >= acts) continue;
    if (output == GemvOutput::kSwiGlu) {
      // Rows 0..7 are gate rows, 8..15 the up rows of the same outputs (RowsOf).
      constexpr int kHalf = dq::kMmaRows / 2;
      if (r < kHalf && rows.row0 + r < rows.n) {
        rows.y[i * rows.y_stride + rows.row0 + r] =
            math::FMul(math::Silu(total(r)), total(r + kHalf));
      }
    } else if (rows.row0 + r < rows.n) {
      const float v = total(r);
      float* out = rows.y + i * rows.y_stride + rows.row0 + r;
      *out = output == GemvOutput::kAccumulate ? *out + v : v;
    }
  }
}

// ---- A few activation rows: the same sums on CUDA cores ----
//
// A single sequence's decode would use one eighth of an mma's columns, a few sequences'
// barely more. This kernel computes each output with the same operations in the same order
// as MmaGemvKernel: partial w adds blocks w, w + 4, ... in order, one Int8Step each, and the
// total adds the partials in order. The block's integer sum comes from dp4a instead of mma,
// exact either way, so the bits are the same, and a sequence's logits do not change when it
// joins a batch.
//
// Only the additions into a partial are a chain; everything before them (a block's integer
// sums and its Int8Term) is independent per block. So a warp owns R weight rows and lane L
// computes block L of each row's chunk (the int8 GEMV's parallelism: a 4096-row product has
// 2048 warps), leaves the terms in shared memory, and then R * M * 4 lanes each add one
// partial's 8 terms of the chunk in block order. (Lanes that each walked a partial's blocks
// themselves, 4 a row, gave a 4096-row product 512 warps, one per SM scheduler: measured on
// an H100 at 60% of the int8 GEMV's speed for one row.) The next chunk of x is loaded into
// registers while this one is multiplied.
template <int M>
using FewRowsLayout = std::conditional_t<M == 1, Layout<8, 2>, Layout<4, 4>>;
constexpr int kFewRowsStages = 3;
// A warp's terms: per (weight row, activation row), one float a block, rows 36 floats apart
// so that the 32 lanes adding 8 (row, activation row) pairs' 4 partials read distinct banks.
constexpr int kTermStride = dq::kChunkBlocks + 4;

// x's chunk: M rows of codes, then their block sums, as MmaXSlots lays out any rows; then
// the warps' terms; then the weights' chunk copies.
template <int M>
constexpr size_t FewRowsXCodeBytes() {
  return M * kXRowGroups * sizeof(uint2);
}
template <int M>
constexpr size_t FewRowsXBytes() {
  static_assert(FewRowsXCodeBytes<M>() % 16 == 0);
  return FewRowsXCodeBytes<M>() + M * dq::kChunkBlocks * sizeof(dq::XBlock);
}
template <int M>
constexpr size_t FewRowsTermBytes() {
  using L = FewRowsLayout<M>;
  return static_cast<size_t>(L::kWarps) * L::kRows * M * kTermStride * sizeof(float);
}
template <class F, int M>
constexpr size_t FewRowsSharedBytes() {
  return FewRowsXBytes<M>() + FewRowsTermBytes<M>() +
         static_cast<size_t>(kFewRowsStages) * FewRowsLayout<M>::kRowsPerCta *
             dq::Chunk<F>::kSegStride;
}

// Lane L's block L of a row's chunk copy, all four of its pieces: a legacy block's words
// loaded once and decoded per piece (MmaPiece's bits: PieceAtIsTheDecodedPiece), a k-quant's
// sub-block as MmaPiece reads it.
template <class F, bool kLegacy = F::kSlots == 1>
struct LaneBlock {
  typename F::Slice slice;
  __device__ __forceinline__ LaneBlock(const uint8_t* row, int b)
      : slice(F::template Load<dq::PaddedReader>(row + b * F::kBlockBytes, 0)) {}
  __device__ __forceinline__ dq::Piece Piece(int t) const { return F::Decode(slice, t); }
};
template <class F>
struct LaneBlock<F, false> {
  const uint8_t* row;
  int b;
  __device__ __forceinline__ LaneBlock(const uint8_t* r, int block) : row(r), b(block) {}
  __device__ __forceinline__ dq::Piece Piece(int t) const {
    return dq::MmaPiece<F, dq::PaddedReader>(row, b, t);
  }
};

// m <= M activation rows, x and y rows apart.
template <DType T, int M>
__global__ void __launch_bounds__(FewRowsLayout<M>::kThreads)
    FewRowsGemvKernel(const PartTable parts, GemvOutput output, int64_t k,
                      const float* __restrict__ x, bool x_vec4, int m) {
  using F = dq::Format<T>;
  using C = dq::Chunk<F>;
  using L = FewRowsLayout<M>;
  constexpr int R = L::kRows;
  constexpr int kChains = R * M * dq::kMmaWarps;  // (row, activation row, partial) of a warp
  constexpr int kSlots = (kChains + dq::kWarpLanes - 1) / dq::kWarpLanes;
  static_assert(32 * dq::kWarpLanes == dq::kChunkCols, "lane L: block L");
  static_assert(FewRowsXBytes<M>() % 16 == 0 && FewRowsTermBytes<M>() % 16 == 0);
  const int warp = static_cast<int>(threadIdx.x) / dq::kWarpLanes;
  const int lane = static_cast<int>(threadIdx.x) % dq::kWarpLanes;
  const int64_t row_bytes = k / F::kBlockElems * F::kBlockBytes;
  const WarpRows<R> rows = RowsOf<L>(parts, output, blockIdx.x, warp, row_bytes);
  extern __shared__ uint4 smem_words[];
  uint8_t* const smem = reinterpret_cast<uint8_t*>(smem_words);
  auto* xq = reinterpret_cast<uint2*>(smem);
  auto* xb = reinterpret_cast<dq::XBlock*>(smem + FewRowsXCodeBytes<M>());
  float* const terms =
      reinterpret_cast<float*>(smem + FewRowsXBytes<M>()) + warp * R * M * kTermStride;
  uint8_t* wbuf = smem + FewRowsXBytes<M>() + FewRowsTermBytes<M>();
  const int64_t chunks = ChunksOf(k);
  const ChunkBuffers<C, kFewRowsStages> buffers{wbuf, L::kRowsPerCta};
  auto issue = [&](int64_t c) {
    buffers.Issue(c, chunks, row_bytes, rows.w, rows.valid, warp * R, lane);
  };

#pragma unroll
  for (int s = 0; s < kFewRowsStages - 1; ++s) issue(s);
  LetNextStart();
  WaitForPrevious();
  float4 xv[M][dq::kChunkCols / 4 / L::kThreads];  // the next chunk of x, as loaded
  LoadXChunk<M, L::kThreads>(x, k, ChunkColsOf(k, 0), m, x_vec4, xv);
  float partial[kSlots] = {};  // chain lane + 32 s: (row, activation row) chain / 4, w chain % 4
  for (int64_t c = 0; c < chunks; ++c) {
    // Every warp is done with the chunk before: x's buffer, the terms, the weight buffers.
    __syncthreads();
    issue(c + kFewRowsStages - 1);
    const int cols = ChunkColsOf(k, c);
    StoreXInt8<MmaXSlots, M, L::kThreads>(xv, xq, xb);
    if (c + 1 < chunks) {
      LoadXChunk<M, L::kThreads>(x + (c + 1) * dq::kChunkCols, k, ChunkColsOf(k, c + 1), m, x_vec4,
                                 xv);
    }
    CpAsyncWait<kFewRowsStages - 1>();
    __syncthreads();
    const int blocks = cols / 32;
    if (lane < blocks) {
      // Block `lane` of x's rows: its 4 pieces' codes, 32 consecutive bytes, and its sum.
      uint4 xc[M][2];
      float xsum[M];
#pragma unroll
      for (int i = 0; i < M; ++i) {
        const auto* at = reinterpret_cast<const uint4*>(xq + MmaXSlots::Of(i, 4 * lane));
        xc[i][0] = at[0];
        xc[i][1] = at[1];
        xsum[i] = xb[MmaXSlots::BlockOf(i, lane)].sum;
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const LaneBlock<F> block(buffers.Chunk(c, warp * R + r, rows.w[r]), lane);
        int dot[M] = {};
        dq::Piece p{};
#pragma unroll
        for (int piece = 0; piece < 4; ++piece) {
          p = block.Piece(piece);
          const uint32_t codes[2] = {dq::SignedCodes<F>(p.u[0]), dq::SignedCodes<F>(p.u[1])};
#pragma unroll
          for (int i = 0; i < M; ++i) {
            const uint4 q = xc[i][piece / 2];
            const uint32_t q0 = piece % 2 == 0 ? q.x : q.z;
            const uint32_t q1 = piece % 2 == 0 ? q.y : q.w;
            dot[i] = dq::Dp4a(codes[1], q1, dq::Dp4a(codes[0], q0, dot[i]));
          }
        }
#pragma unroll
        for (int i = 0; i < M; ++i) {
          terms[(r * M + i) * kTermStride + lane] =
              dq::Int8Term<F>(dot[i], xsum[i], p.scale, p.bias);
        }
      }
    }
    __syncwarp();
#pragma unroll
    for (int s = 0; s < kSlots; ++s) {
      const int chain = lane + s * dq::kWarpLanes;
      if (chain >= kChains) break;
      const int pair = chain / dq::kMmaWarps, i = pair % M;
      const float* t = terms + pair * kTermStride;
      for (int b = chain % dq::kMmaWarps; b < blocks; b += dq::kMmaWarps) {
        partial[s] = math::FFma(xb[MmaXSlots::BlockOf(i, b)].d, t[b], partial[s]);
      }
    }
  }

  // The partials to shared memory (the terms' space: this warp's own), then each output's
  // total of its 4 partials in order, as MmaTotal adds the warps'.
  __syncwarp();
#pragma unroll
  for (int s = 0; s < kSlots; ++s) {
    const int chain = lane + s * dq::kWarpLanes;
    if (chain < kChains) terms[chain] = partial[s];
  }
  __syncwarp();
  auto total = [&](int r, int i) {
    float v[dq::kMmaWarps];
#pragma unroll
    for (int w = 0; w < dq::kMmaWarps; ++w) v[w] = terms[(r * M + i) * dq::kMmaWarps + w];
    return dq::MmaTotal(v);
  };
  for (int o = lane; o < R * M; o += dq::kWarpLanes) {
    const int r = o / M, i = o % M;
    if (i >= m) continue;
    float* y = rows.y + i * rows.y_stride;
    if (output == GemvOutput::kSwiGlu) {
      // Rows [0, R/2) are gate rows, [R/2, R) the up rows of the same outputs (RowsOf).
      if (r < R / 2 && rows.row0 + r < rows.n) {
        y[rows.row0 + r] = math::FMul(math::Silu(total(r, i)), total(r + R / 2, i));
      }
    } else if (rows.row0 + r < rows.n) {
      const float v = total(r, i);
      y[rows.row0 + r] = output == GemvOutput::kAccumulate ? y[rows.row0 + r] + v : v;
    }
  }
}

template <DType T, int M>
cudaError_t LaunchFewRows(const GemvManyArgs& a, cudaStream_t stream) {
  constexpr size_t kShared = FewRowsSharedBytes<dq::Format<T>, M>();
  static std::atomic<uint64_t> configured{0};
  auto* kernel = FewRowsGemvKernel<T, M>;
  if (const cudaError_t err = AllowSharedBytes(kernel, kShared, configured); err != cudaSuccess) {
    return err;
  }
  unsigned grid = 0;
  const PartTable table = TableFor<FewRowsLayout<M>>(a, GroupLaunch{0, 1}, &grid);
  return LaunchOverlapped(kernel, grid, FewRowsLayout<M>::kThreads, kShared, stream, table,
                          a.output, a.k, a.x, Aligned(a.x, 16), static_cast<int>(a.m));
}

template <DType T>
cudaError_t LaunchMma(const GemvManyArgs& a, cudaStream_t stream) {
  static_assert(kMaxFewRows == 4);
  if (a.m == 1) return LaunchFewRows<T, 1>(a, stream);
  if (a.m == 2) return LaunchFewRows<T, 2>(a, stream);
  if (a.m <= kMaxFewRows) return LaunchFewRows<T, 4>(a, stream);
  constexpr size_t kShared = MmaSharedBytes<dq::Format<T>>();
  static std::atomic<uint64_t> configured{0};
  auto* kernel = MmaGemvKernel<T>;
  if (const cudaError_t err = AllowSharedBytes(kernel, kShared, configured); err != cudaSuccess) {
    return err;
  }
  const PrequantizedX xq = PrequantizedIn<MmaXSlots>(a.workspace, a.m, a.k);
  if (const cudaError_t err = QuantizeX<MmaXSlots>(a.x, a.m, a.k, xq, stream); err != cudaSuccess) {
    return err;
  }
  // kAuto: the tiles past one group of 16 activation rows (one group is what 16 sequences
  // were measured with, level with llama.cpp); a height set by hand: every call here, so
  // that the bench can measure the tiles at 16 rows too.
  const GemvTiles tiles = TensorCoreGemvTiles();
  if (tiles != GemvTiles::kOff && (tiles != GemvTiles::kAuto || a.m > dq::kMmaActs)) {
    // Where the device lacks the tiles' shared memory, the groups of 16 below (the same bits).
    const cudaError_t err = TensorCoreTileGemvMany(a, xq, stream);
    if (err != cudaErrorNotSupported) return err;
  }
  const GroupLaunch g{0, static_cast<int>((a.m + dq::kMmaActs - 1) / dq::kMmaActs)};
  unsigned grid = 0;
  const PartTable table = TableFor<MmaLayout>(a, g, &grid);
  return LaunchOverlapped(kernel, grid, kMmaThreads, kShared, stream, table, a.output, a.k, xq,
                          g.groups, a.m);
}

}  // namespace

size_t TensorCoreGemvWorkspaceBytes(int64_t k, int64_t m) {
  if (m <= kMaxFewRows || k <= 0) return 0;
  return static_cast<size_t>(m * ChunksOf(k)) * PrequantizedRowChunkBytes<MmaXSlots>();
}

cudaError_t TensorCoreGemvMany(const GemvManyArgs& args, cudaStream_t stream) {
  switch (args.type) {
    case DType::kQ4_0:
      return LaunchMma<DType::kQ4_0>(args, stream);
    case DType::kQ4_1:
      return LaunchMma<DType::kQ4_1>(args, stream);
    case DType::kQ5_0:
      return LaunchMma<DType::kQ5_0>(args, stream);
    case DType::kQ5_1:
      return LaunchMma<DType::kQ5_1>(args, stream);
    case DType::kQ8_0:
      return LaunchMma<DType::kQ8_0>(args, stream);
    case DType::kQ4_K:
      return LaunchMma<DType::kQ4_K>(args, stream);
    case DType::kQ5_K:
      return LaunchMma<DType::kQ5_K>(args, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace wick::kernels::cuda::gemv

namespace wick::kernels::cuda {

bool TensorCoreGemvTakes(DType type) {
  return type == DType::kQ4_0 || type == DType::kQ4_1 || type == DType::kQ5_0 ||
         type == DType::kQ5_1 || type == DType::kQ8_0 || type == DType::kQ4_K ||
         type == DType::kQ5_K;
}

GemvActivations DefaultGemvActivations(DType type) {
  switch (type) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
      return GemvActivations::kF32;
    case DType::kQ8_0:
    case DType::kQ4_K:  // its tensor-core path is new and not yet measured against kInt8
    case DType::kQ5_K:
      return GemvActivations::kInt8;
    default:
      return TensorCoreGemvTakes(type) ? GemvActivations::kInt8TensorCores : GemvActivations::kInt8;
  }
}

}  // namespace wick::kernels::cuda
