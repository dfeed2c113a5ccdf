// What the two tensor-core GEMV kernels share (quant_matmul_mma.cu: 16 weight rows a CTA, for
// up to kMmaActs activation rows; quant_matmul_mma_tile.cu: 32 or 64 weight rows and 64
// activation rows a CTA, for more): the int8 mma instruction, x's layout in the workspace that
// QuantizeX fills, and one warp's work on one 32-column block, so that both give every output the
// same operations in the same order.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/gemv_chunk.cuh"
#include "kernels/cuda/gemv_common.cuh"

namespace wick::kernels::cuda::gemv {

// x in the workspace (PrequantizedX), and in quant_matmul_mma.cu's shared memory: per
// activation row, each group's 8 int8 values (8 bytes), rows kXRowGroups groups apart, so
// that the 16 lanes of a half warp (rows g .. g + 3 of a tile, pieces 0..3) read 16 distinct
// bank pairs; and per row and block its sum and scale. In the workspace every row chunk is
// row 0 of this layout.
inline constexpr int kXRowGroups = dq::kChunkGroups + 4;
struct MmaXSlots {
  static constexpr bool kCodesOnly = true;
  static constexpr bool kBlockSums = true;
  __device__ __forceinline__ static int Of(int i, int g) { return i * kXRowGroups + g; }
  __device__ __forceinline__ static int BlockOf(int i, int b) { return i * dq::kChunkBlocks + b; }
  static constexpr int kRowChunkBytes = dq::kChunkGroups * sizeof(uint2);  // one row's codes
};

// d = c + a . b for a warp: a 16x32 int8 (A, row-major), b 32x8 int8 (B, column-major), c
// the same int32 in every element, d 16x8 int32, in the fragments of PTX's mma.m16n8k32 for
// 8-bit integers. Lane (g, t) holds
//   a[0]: A[g][4t .. 4t+3]       a[1]: A[g+8][4t .. 4t+3]
//   a[2]: A[g][16+4t .. 16+4t+3] a[3]: A[g+8][16+4t .. 16+4t+3]
//   b[0]: B[4t .. 4t+3][g]       b[1]: B[16+4t .. 16+4t+3][g]
//   d[0], d[1]: D[g][2t], D[g][2t+1]    d[2], d[3]: D[g+8][2t], D[g+8][2t+1]
// (byte j of a word is its element j). Every lane of the warp must call it.
__device__ __forceinline__ void MmaS8(const uint32_t (&a)[4], const uint32_t (&b)[2], int c,
                                      int (&d)[4]) {
#ifndef WICK_CUDA_EMU
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%10, %10, %10, %10};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]), "r"(c));
#else
  // The emulator gathers the operands the fragments above spread over the warp.
  uint32_t all_a[dq::kWarpLanes][4];
  uint32_t all_b[dq::kWarpLanes][2];
  wick_emu::WarpGather(a, all_a, sizeof a);
  wick_emu::WarpGather(b, all_b, sizeof b);
  const int lane = static_cast<int>(threadIdx.x) % dq::kWarpLanes;
  const int g = lane / 4, t = lane % 4;
  d[0] = d[1] = d[2] = d[3] = c;
  for (int u = 0; u < 4; ++u) {
    // Columns 4u.. and 16+4u.. of A's rows g and g + 8, from lane (g, u); the same rows of
    // B's columns 2t and 2t + 1, from lanes (2t, u) and (2t + 1, u).
    const uint32_t(&ag)[4] = all_a[4 * g + u];
    const uint32_t(&b0)[2] = all_b[8 * t + u];
    const uint32_t(&b1)[2] = all_b[8 * t + 4 + u];
    d[0] = dq::Dp4a(ag[2], b0[1], dq::Dp4a(ag[0], b0[0], d[0]));
    d[1] = dq::Dp4a(ag[2], b1[1], dq::Dp4a(ag[0], b1[0], d[1]));
    d[2] = dq::Dp4a(ag[3], b0[1], dq::Dp4a(ag[1], b0[0], d[2]));
    d[3] = dq::Dp4a(ag[3], b1[1], dq::Dp4a(ag[1], b1[0], d[3]));
  }
#endif
}

// v[i] for an i known only at run time, by selects over the unrolled array.
template <class T, int N>
__device__ __forceinline__ T PickAt(const T (&v)[N], int i) {
  T out = v[0];
#pragma unroll
  for (int j = 1; j < N; ++j) out = i == j ? v[j] : out;
  return out;
}

// The weight rows a thread of a tensor-core kernel touches, picked once from its row group's
// (indexing rows.w by a lane's number would put it in local memory): the ones its k-warp
// copies, and g and g + 8 of lane (g, t) for its fragments.
struct MmaRowPicks {
  static constexpr int kCopyRows = dq::kMmaRows / dq::kMmaWarps;
  const uint8_t* copy_w[kCopyRows];
  bool copy_valid[kCopyRows];
  const uint8_t* w_g;
  const uint8_t* w_g8;
};

__device__ __forceinline__ MmaRowPicks PickMmaRows(const WarpRows<dq::kMmaRows>& rows, int kwarp) {
  MmaRowPicks p;
#pragma unroll
  for (int j = 0; j < MmaRowPicks::kCopyRows; ++j) {
    p.copy_w[j] = PickAt(rows.w, kwarp * MmaRowPicks::kCopyRows + j);
    p.copy_valid[j] = PickAt(rows.valid, kwarp * MmaRowPicks::kCopyRows + j);
  }
  const int g = static_cast<int>(threadIdx.x) % dq::kWarpLanes / 4;
  p.w_g = PickAt(rows.w, g);
  p.w_g8 = PickAt(rows.w, g + 8);
  return p;
}

// Starts copying a piece of x's workspace (PrequantizedX) into a kernel's shared memory, as
// the calling thread's share of a CTA of kThreads: for activation rows i < acts (row chunk
// `first + i * xq.chunks + c`), kCodeBytes of codes from byte code_at of the row chunk to
// stage + i * code_stride, and kBlocks block sums from block block_at to
// stage + block_base + i * block_stride. Whole 16-byte words, by cp.async.
template <int kCodeBytes, int kBlocks, int kThreads>
__device__ __forceinline__ void IssueXRows(const PrequantizedX& xq, int64_t first, int64_t c,
                                           int acts, int code_at, int block_at, uint8_t* stage,
                                           int code_stride, int block_base, int block_stride) {
  constexpr int kCodeCopies = kCodeBytes / 16;
  constexpr int kBlockCopies = kBlocks * static_cast<int>(sizeof(dq::XBlock)) / 16;
  static_assert(kCodeBytes % 16 == 0 && kBlocks * sizeof(dq::XBlock) % 16 == 0);
  constexpr int kPerRow = kCodeCopies + kBlockCopies;
  for (int q = static_cast<int>(threadIdx.x); q < acts * kPerRow; q += kThreads) {
    const int i = q / kPerRow, j = q % kPerRow;
    const int64_t at = first + i * xq.chunks + c;
    if (j < kCodeCopies) {
      CpAsync16(stage + i * code_stride + 16 * j,
                xq.groups + at * MmaXSlots::kRowChunkBytes + code_at + 16 * j);
    } else {
      const auto* blocks =
          reinterpret_cast<const uint8_t*>(xq.blocks + at * dq::kChunkBlocks + block_at);
      CpAsync16(stage + block_base + i * block_stride + 16 * (j - kCodeCopies),
                blocks + 16 * (j - kCodeCopies));
    }
  }
}

// x's rows in a kernel's shared memory: activation row i's group j (8 columns) at
// codes[i * code_stride + j], its block j's sum and scale at blocks[i * block_stride + j].
struct MmaXView {
  const uint2* codes;
  const dq::XBlock* blocks;
  int code_stride;
  int block_stride;
};

// One warp's share of one 32-column block: its 16 weight rows (block b of the copies of rows
// g and g + 8 of lane (g, t) at row_g and row_g8, as MmaPiece reads it) against `tiles`
// tiles of 8 activation rows (block b of the view; tile n is rows 8n .. 8n + 7). Lane (g, t)
// decodes piece t (8 columns) of its two weight rows into its A fragment, once for every
// tile, and reads piece t of each tile's activation row g as its B fragment (PTX's m16n8k32
// layout maps k = 4t..4t+3 and 16+4t..16+4t+3 of a lane to the 8 columns of piece t, the
// same on both sides, so the sums are those of the block). It then holds the sums of weight
// rows g, g + 8 with each tile's activation rows 2t, 2t + 1, and adds each one's Int8Step
// (as Int8StepBiased) to acc[n][h][j]: weight row g + 8h, activation row 8n + 2t + j.
template <class F, int kTiles>
__device__ __forceinline__ void MmaBlock(const uint8_t* row_g, const uint8_t* row_g8,
                                         const MmaXView& x, int b, int tiles,
                                         float (&acc)[kTiles][2][2]) {
  const int lane = static_cast<int>(threadIdx.x) % dq::kWarpLanes;
  const int g = lane / 4, t = lane % 4;
  const dq::Piece p0 = dq::MmaPiece<F, dq::PaddedReader>(row_g, b, t);
  const dq::Piece p1 = dq::MmaPiece<F, dq::PaddedReader>(row_g8, b, t);
  const uint32_t a[4] = {dq::OffsetFreeCodes<F>(p0.u[0]), dq::OffsetFreeCodes<F>(p1.u[0]),
                         dq::OffsetFreeCodes<F>(p0.u[1]), dq::OffsetFreeCodes<F>(p1.u[1])};
#pragma unroll
  for (int n = 0; n < kTiles; ++n) {
    if (n >= tiles) break;
    const int row0 = n * dq::kMmaN;
    const uint2 raw = x.codes[(row0 + g) * x.code_stride + 4 * b + t];
    const uint32_t bq[2] = {raw.x, raw.y};
    int d[4];
    MmaS8(a, bq, static_cast<int>(dq::kIntToFloatBits), d);
    // The block sums and scales of activation rows 2t and 2t + 1.
    const dq::XBlock x0 = x.blocks[(row0 + 2 * t) * x.block_stride + b];
    const dq::XBlock x1 = x.blocks[(row0 + 2 * t + 1) * x.block_stride + b];
    acc[n][0][0] = dq::Int8StepBiased<F>(d[0], x0.sum, x0.d, p0.scale, p0.bias, acc[n][0][0]);
    acc[n][0][1] = dq::Int8StepBiased<F>(d[1], x1.sum, x1.d, p0.scale, p0.bias, acc[n][0][1]);
    acc[n][1][0] = dq::Int8StepBiased<F>(d[2], x0.sum, x0.d, p1.scale, p1.bias, acc[n][1][0]);
    acc[n][1][1] = dq::Int8StepBiased<F>(d[3], x1.sum, x1.d, p1.scale, p1.bias, acc[n][1][1]);
  }
}

// The tensor-core GEMV of quant_matmul_mma_tile.cu for a call of more than kMmaActs
// activation rows, whose x QuantizeX<MmaXSlots> has put into xq (this launch follows it).
// cudaErrorNotSupported, with nothing launched, where the device cannot give a CTA the
// shared memory of either tile height.
cudaError_t TensorCoreTileGemvMany(const GemvManyArgs& args, const PrequantizedX& xq,
                                   cudaStream_t stream);

}  // namespace wick::kernels::cuda::gemv
