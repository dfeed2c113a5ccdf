// How the decode GEMV (quant_matmul.cu) walks a quantised row: which columns each lane owns
// in a chunk, where the chunk's activations sit in shared memory, how a warp copies a row's
// chunk there, and one lane's arithmetic on it. Host and device, so that
// tests/kernels/cuda/dequant_host_test.cu can replay the kernel's arithmetic on the CPU.
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/cuda/dequant.cuh"

namespace wick::kernels::cuda::dq {

// A warp covers 1024 columns of its rows per step (a chunk): lane L owns the 32-element slice
// L of the chunk, that is slot L % kSlots of the chunk's block L / kSlots. The chunk's x
// values sit in shared memory at XIdx(col) (per activation row, kXStride floats apart): every
// kSkewPeriod columns skip 4 floats, so that the 8 lanes of a quarter warp, whose pieces are
// kSkewPeriod (legacy), 64 or 128 columns apart, read their 16 bytes from 8 distinct groups of
// four banks.
inline constexpr int kChunkCols = 1024;
inline constexpr int kWarpLanes = 32;

template <class F>
struct Chunk {
  static_assert(kChunkCols == kWarpLanes * 32 && kChunkCols % F::kBlockElems == 0);
  static_assert(F::kBlockElems == 32 * F::kSlots);
  static constexpr int kBlocks = kChunkCols / F::kBlockElems;
  static constexpr int kBytes = kBlocks * F::kBlockBytes;
  // A chunk's bytes in shared memory: up to 15 bytes of misalignment before them and the
  // padded reader's 4 bytes of over-read after, rounded to 16-byte words.
  static constexpr int kSegStride = (kBytes + 15 + 4 + 15) / 16 * 16;
  static constexpr int kXStride = kChunkCols + 4 * (kChunkCols / F::kSkewPeriod);

  WICK_HD static int XIdx(int col) { return col + 4 * (col / F::kSkewPeriod); }
  WICK_HD static int LaneBlock(int lane) { return lane / F::kSlots; }
  WICK_HD static int LaneSlot(int lane) { return lane % F::kSlots; }
  WICK_HD static int LanePieceCol(int lane, int k) {
    return LaneBlock(lane) * F::kBlockElems + F::PieceCol(LaneSlot(lane), k);
  }
};

// 8 consecutive floats from 16-byte aligned memory (two 16-byte loads on the device).
WICK_HD void Load8(const float* p, float (&v)[8]) {
#ifdef __CUDA_ARCH__
  const float4 a = *reinterpret_cast<const float4*>(p);
  const float4 b = *reinterpret_cast<const float4*>(p + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w;
  v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
#else
  std::memcpy(v, p, sizeof v);
#endif
}

// One lane's share of one chunk: acc[r][i] += its slice of row r . its columns of x row i.
// rows[r] points at byte 0 of row r's chunk in the padded copy (for a row past the matrix, at
// any readable buffer: its sums are garbage the caller drops); xs is the chunk of x laid out
// by XIdx. The caller only calls it for lanes whose block lies inside the row. Every operation
// is a single rounding in a fixed order, the same whatever M and R are, so a row's result does
// not depend on the other rows.
template <class F, int M, int R>
WICK_HD void AccumulateChunk(const uint8_t* const (&rows)[R], const float* xs, int lane,
                             float (&acc)[R][M]) {
  using C = Chunk<F>;
  const int block = C::LaneBlock(lane);
  const int slot = C::LaneSlot(lane);
  typename F::Slice slice[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    slice[r] = F::template Load<PaddedReader>(rows[r] + block * F::kBlockBytes, slot);
  }
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    float q[R][8];
    float scale[R];
    float bias[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const Piece p = F::Decode(slice[r], k);
      Quants<F>(p, q[r]);
      scale[r] = p.scale;
      bias[r] = p.bias;
    }
    const float* xp = xs + C::XIdx(C::LanePieceCol(lane, k));
#pragma unroll
    for (int i = 0; i < M; ++i) {
      float xv[8];
      Load8(xp + i * C::kXStride, xv);
      float xsum = 0.0f;
      if constexpr (F::kHasBias) {
        xsum = xv[0];
#pragma unroll
        for (int e = 1; e < 8; ++e) xsum = FAdd(xsum, xv[e]);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        float dot = FMul(q[r][0], xv[0]);
#pragma unroll
        for (int e = 1; e < 8; ++e) dot = FFma(q[r][e], xv[e], dot);
        acc[r][i] = FFma(scale[r], dot, acc[r][i]);
        if constexpr (F::kHasBias) acc[r][i] = FFma(bias[r], xsum, acc[r][i]);
      }
    }
  }
}

// How a warp copies one row's chunk into shared memory. The chunk's first byte lands at
// offset s0 = (its address mod 16) of a 16-byte aligned buffer, so that the aligned 16-byte
// words of global memory map to aligned 16-byte words of the buffer: window bytes [lo, hi)
// are whole words (one 16-byte copy each), and the ends [s0, lo) and [hi, s1) go by 2-byte
// copies (at most 15 of them). Byte offsets are relative to the buffer.
struct SegmentPlan {
  int s0;  // first byte of the chunk
  int lo;  // whole 16-byte words from here ...
  int hi;  // ... to here
  int s1;  // one past the chunk's last byte
};

// src: the chunk's address (even), nbytes: its size (even).
WICK_HD SegmentPlan PlanSegment(uintptr_t src, int nbytes) {
  SegmentPlan p;
  p.s0 = static_cast<int>(src & 15);
  p.s1 = p.s0 + nbytes;
  p.lo = (p.s0 + 15) & ~15;
  p.hi = p.s1 & ~15;
  if (p.hi <= p.lo) p.lo = p.hi = p.s1;  // no whole word: everything goes by 2-byte copies
  return p;
}

WICK_HD int HalfwordCount(const SegmentPlan& p) {
  return (p.lo - p.s0) / 2 + (p.s1 - p.hi) / 2;
}

// The buffer offset of 2-byte copy j < HalfwordCount(p).
WICK_HD int HalfwordPos(const SegmentPlan& p, int j) {
  const int head = (p.lo - p.s0) / 2;
  return j < head ? p.s0 + 2 * j : p.hi + 2 * (j - head);
}

}  // namespace wick::kernels::cuda::dq
