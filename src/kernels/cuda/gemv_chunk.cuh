// How the decode GEMV (quant_matmul.cu) walks a quantised row: which columns each lane owns
// in a chunk, where the chunk's activations sit in shared memory, how a warp copies a row's
// chunk there, and one lane's arithmetic on it. Host and device, so that
// tests/kernels/cuda/dequant_host_test.cu can replay the kernel's arithmetic on the CPU.
#pragma once

#include <cmath>
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

// The lane's slice of each of its R rows' chunk copies (see AccumulateChunk).
template <class F, int R>
WICK_HD void LoadSlices(const uint8_t* const (&rows)[R], int lane, typename F::Slice (&slice)[R]) {
  using C = Chunk<F>;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    slice[r] = F::template Load<PaddedReader>(rows[r] + C::LaneBlock(lane) * F::kBlockBytes,
                                              C::LaneSlot(lane));
  }
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
  typename F::Slice slice[R];
  LoadSlices<F, R>(rows, lane, slice);
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

// ---- Int8 activations (GemvActivations::kInt8) ----
//
// x quantised per 32-column block as GGUF's Q8_0 does (d = amax / 127, q = round(x * 127 /
// amax)), so that a lane's dot products are exact integer sums (dp4a: four products a cycle)
// and only one float step per run of pieces remains, where the f32 path spends an FMA per
// weight. A row's arithmetic still depends on nothing but its own x, whatever M is.

// One piece's 8 columns of x as the lanes read them: one 16-byte shared-memory load.
struct XGroup {
  uint32_t q[2];  // the 8 int8 values, column e in byte e % 4 of q[e / 4]
  float sum;      // their sum (an integer, exact)
  float d;        // the scale of their 32-column block
};
static_assert(sizeof(XGroup) == 16);

inline constexpr int kChunkGroups = kChunkCols / 8;
inline constexpr int kChunkBlocks = kChunkCols / 32;

// A 32-column block of x as a whole: the sum of its int8 values (exact) and its scale.
struct XBlock {
  float sum;
  float d;
};
static_assert(sizeof(XBlock) == 8);

// |v|'s bits: for non-negative floats (and NaN above infinity) the unsigned order of the bits
// is the order of the values, so a block's amax is an integer max.
WICK_HD uint32_t AbsBits(float v) {
  return AsUint(v) & 0x7fffffffu;
}

// The block's amax from the max of its AbsBits, a NaN counted as infinite so that it reaches
// y (through an infinite scale).
WICK_HD float AmaxOf(uint32_t max_abs_bits) {
  return AsFloat(max_abs_bits < 0x7f800000u ? max_abs_bits : 0x7f800000u);
}

// The block's scale, and the factor that quantises its values: 0 for a zero block, whose
// products are then 0, and for an infinite amax, whose infinite scale makes them non-finite.
WICK_HD float XScale(float amax) {
  return FMul(amax, 1.0f / 127.0f);
}
WICK_HD float XInverse(float amax) {
  return amax > 0.0f && amax < INFINITY ? FDiv(127.0f, amax) : 0.0f;
}

// round(v * inv), ties to even. |v| <= amax makes it at most 127; a NaN (v infinite or NaN
// where inv is 0) becomes 0, as the device's conversion makes it.
WICK_HD int QuantizeX(float v, float inv) {
#ifdef __CUDA_ARCH__
  return __float2int_rn(FMul(v, inv));
#else
  const float r = FMul(v, inv);
  return r == r ? static_cast<int>(std::nearbyint(std::fmax(-127.0f, std::fmin(127.0f, r)))) : 0;
#endif
}

// The low bytes of a, b, c, d as one word, a in byte 0.
WICK_HD uint32_t PackInt8(int a, int b, int c, int d) {
  const uint32_t ab = BytePerm(static_cast<uint32_t>(a), static_cast<uint32_t>(b), 0x0040u);
  const uint32_t cd = BytePerm(static_cast<uint32_t>(c), static_cast<uint32_t>(d), 0x0040u);
  return BytePerm(ab, cd, 0x5410u);
}

// c + the sum of the products of a's and b's signed bytes.
WICK_HD int Dp4a(uint32_t a, uint32_t b, int c) {
#ifdef __CUDA_ARCH__
  return __dp4a(static_cast<int>(a), static_cast<int>(b), c);
#else
  for (int i = 0; i < 4; ++i) {
    c += static_cast<int8_t>(a >> (8 * i)) * static_cast<int8_t>(b >> (8 * i));
  }
  return c;
#endif
}

// v as a float, for |v| < 2^22 (the int8 products' sums stay below 2^20). Not the conversion
// instruction, which issues at an eighth of the FMA rate: v added to the bits of 1.5 * 2^23,
// whose last mantissa bit is worth 1, then 1.5 * 2^23 subtracted, both exact.
WICK_HD float IntToFloat(int v) {
  return FSub(AsFloat(0x4B400000u + static_cast<uint32_t>(v)), 12582912.0f);
}

// Where group g (columns 8g .. 8g + 7 of a chunk) sits among the chunk's kChunkGroups: a
// permutation within every 8 groups, so that the 8 lanes of a quarter warp read 8 distinct
// 16-byte bank groups (the lanes' pieces are 4 groups apart in the legacy formats, 2 or 8
// in the nibble k-quants, 1 or 16 in the plane k-quants).
template <class F>
WICK_HD int GroupSlot(int g) {
  if constexpr (F::kSkewPeriod == 64) {
    return g ^ (((g >> 3) & 1) | ((g >> 2) & 4));
  } else {
    return g ^ ((g >> 2) & 7);
  }
}

// A piece's codes as signed bytes and the offset still to subtract: Q8_0's codes are its
// int8 quants with the sign bit flipped, every other format's are below 128.
template <class F>
inline constexpr bool kCodesAreInt8 = F::kOffset == 128.0f;
template <class F>
WICK_HD uint32_t SignedCodes(uint32_t u) {
  return kCodesAreInt8<F> ? u ^ 0x80808080u : u;
}

// One float step of the int8 products: the run of pieces whose integer sums are dot (codes
// times x's int8 values) and xsum (x's int8 values), under weight scale and bias and x's
// block scale xd, added to acc. The integer parts are exact (|sums| < 2^20); the rest is one
// rounding per operation, in this order on every path.
//
// Int8Term is its part before acc, which kernels may compute apart from the additions.
template <class F>
WICK_HD float Int8Term(int dot, float xsum, float scale, float bias) {
  constexpr float kOffset = kCodesAreInt8<F> ? 0.0f : F::kOffset;
  float q = IntToFloat(dot);
  if constexpr (kOffset != 0.0f) q = FFma(-kOffset, xsum, q);
  float t = FMul(scale, q);
  if constexpr (F::kHasBias) t = FFma(bias, xsum, t);
  return t;
}
template <class F>
WICK_HD float Int8Step(int dot, float xsum, float xd, float scale, float bias, float acc) {
  return FFma(xd, Int8Term<F>(dot, xsum, scale, bias), acc);
}

// Int8Step's bits with two float operations fewer, for the tensor-core kernels, whose float
// steps (one per block, weight row and activation row) are most of their instructions:
// - the codes' offset comes off in the integer domain (OffsetFreeCodes: code - offset as a
//   signed byte), so the integer sum is dot - offset * xsum. Int8Term's first FFma computes
//   exactly that value (all integers below 2^24, so the one rounding changes nothing);
// - the integer sum arrives with IntToFloat's 1.5 * 2^23 bits already added (kIntToFloatBits,
//   the mma's accumulator input), so that one subtraction makes it a float.
inline constexpr uint32_t kIntToFloatBits = 0x4B400000u;

template <class F>
WICK_HD uint32_t OffsetFreeCodes(uint32_t u) {
  if constexpr (kCodesAreInt8<F>) {
    return u ^ 0x80808080u;
  } else if constexpr (F::kOffset == 0.0f) {
    return u;
  } else {
    // Codes below 128: code + 128 - offset is a byte, which the XOR turns into the signed
    // code - offset.
    static_assert(F::kOffset > 0.0f && F::kOffset < 128.0f);
    constexpr uint32_t kOffsets = static_cast<uint32_t>(F::kOffset) * 0x01010101u;
    return ((u | 0x80808080u) - kOffsets) ^ 0x80808080u;
  }
}

// Int8Step(dot, ...) for biased_dot = kIntToFloatBits + the integer sum of the piece's
// OffsetFreeCodes with x's int8 values (whose sum is xsum).
template <class F>
WICK_HD float Int8StepBiased(int biased_dot, float xsum, float xd, float scale, float bias,
                             float acc) {
  float t = FMul(scale, FSub(AsFloat(static_cast<uint32_t>(biased_dot)), 12582912.0f));
  if constexpr (F::kHasBias) t = FFma(bias, xsum, t);
  return FFma(xd, t, acc);
}

// AccumulateChunk with int8 x: xg holds the chunk's groups at GroupSlot, per activation row
// kChunkGroups apart. For each run of pieces under one scale, bias and x block:
//   acc += d_x * (scale * (sum q_w q_x - offset * sum q_x) + bias * sum q_x)
// where the integer parts are exact (|sums| < 2^24) and the rest is one rounding per step.
template <class F, int M, int R>
WICK_HD void AccumulateChunkInt8(const uint8_t* const (&rows)[R], const XGroup* xg, int lane,
                                 float (&acc)[R][M]) {
  using C = Chunk<F>;
  constexpr int kRun = F::kScaleRun;
  typename F::Slice slice[R];
  LoadSlices<F, R>(rows, lane, slice);
#pragma unroll
  for (int k0 = 0; k0 < 4; k0 += kRun) {
    int dot[R][M] = {};
    float xsum[M] = {};  // the first piece's sum is assigned: its FAdd would not fold away
    float xd[M] = {};
    float scale[R] = {};
    float bias[R] = {};
#pragma unroll
    for (int k = k0; k < k0 + kRun; ++k) {
      uint32_t codes[R][2];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const Piece p = F::Decode(slice[r], k);
        codes[r][0] = SignedCodes<F>(p.u[0]);
        codes[r][1] = SignedCodes<F>(p.u[1]);
        scale[r] = p.scale;
        bias[r] = p.bias;
      }
      const XGroup* g = xg + GroupSlot<F>(C::LanePieceCol(lane, k) / 8);
#pragma unroll
      for (int i = 0; i < M; ++i) {
        XGroup v;
#ifdef __CUDA_ARCH__
        const uint4 raw = *reinterpret_cast<const uint4*>(g + i * kChunkGroups);
        v = {{raw.x, raw.y}, __uint_as_float(raw.z), __uint_as_float(raw.w)};
#else
        v = g[i * kChunkGroups];
#endif
        xsum[i] = k == k0 ? v.sum : FAdd(xsum[i], v.sum);
        xd[i] = v.d;
#pragma unroll
        for (int r = 0; r < R; ++r) {
          dot[r][i] = Dp4a(codes[r][1], v.q[1], Dp4a(codes[r][0], v.q[0], dot[r][i]));
        }
      }
    }
#pragma unroll
    for (int i = 0; i < M; ++i) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
        acc[r][i] = Int8Step<F>(dot[r][i], xsum[i], xd[i], scale[r], bias[r], acc[r][i]);
      }
    }
  }
}

// ---- The tensor-core GEMV (GemvActivations::kInt8TensorCores, quant_matmul_mma.cu) ----
//
// A CTA of kMmaWarps warps owns kMmaRows weight rows and one group of kMmaActs activation
// rows. Warp w takes blocks w, w + kMmaWarps, ... of every chunk; for each block, int8 mma
// instructions give the integer sums of all its rows' pieces with x, and each output takes
// one Int8Step in block order. The CTA adds its warps' sums in warp order (MmaTotal). Nothing
// depends on how many activation rows the call has.
inline constexpr int kMmaWarps = 4;
inline constexpr int kMmaRows = 16;  // the mma's M: weight rows
inline constexpr int kMmaN = 8;      // the mma's N: activation rows of one instruction
inline constexpr int kMmaActs = 16;  // activation rows per CTA: a block decoded once for 2 mma

// Piece t (columns 8t .. 8t + 7) of the 32-column block b of a row, from `row`: the row's
// bytes, or a copy of them that starts at one of the format's blocks. The tensor-core
// GEMV's unit, one x block: a legacy block, or a k-quant super-block's sub-block b % 8
// (Q4_K and Q5_K, whose 32 columns share one scale and min).
//
// kMmaFormat<F>: whether MmaPiece reads F (TensorCoreGemvTakes' types).
template <class F>
inline constexpr bool kMmaFormat = F::kSlots == 1 || requires(const uint8_t* p) {
  F::template Sub32PieceAt<PaddedReader>(p, 0, 0);
};

template <class F, class Rd>
WICK_HD Piece MmaPiece(const uint8_t* row, int64_t b, int t) {
  static_assert(kMmaFormat<F> && F::kBlockElems == 32 * F::kSlots);
  if constexpr (F::kSlots == 1) {
    return F::template PieceAt<Rd>(row + b * F::kBlockBytes, t);
  } else {
    return F::template Sub32PieceAt<Rd>(row + b / F::kSlots * F::kBlockBytes,
                                        static_cast<int>(b % F::kSlots), t);
  }
}

WICK_HD float MmaTotal(const float (&warp_sums)[kMmaWarps]) {
  float v = warp_sums[0];
  for (int w = 1; w < kMmaWarps; ++w) v = FAdd(v, warp_sums[w]);
  return v;
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
