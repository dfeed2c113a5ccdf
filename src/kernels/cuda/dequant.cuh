// Decoders of GGUF weight blocks for the CUDA kernels, compiled for the host as well, where
// tests/kernels/cuda/dequant_host_test.cu checks them bit for bit against the CPU
// dequantizers (kernels/cpu/quant_*.cpp). gemv_chunk.cuh builds the GEMV's lanes on them.
//
// A quantised row is read in slices of 32 elements (one lane's share of a block per chunk of
// the GEMV) and every slice in 4 pieces of 8 consecutive columns. A piece comes out as 8
// unsigned codes, one per byte of two words, and the scale and bias shared by all 8:
//
//   weight = scale * (code - kOffset) + bias       (no bias for the symmetric formats)
//
// The slices are chosen so that their bytes are contiguous in the block: a legacy 32-element
// block is one slice, and a k-quant super-block splits into 8 slices that each own a run of
// its quant bytes (so a slice's columns are not always contiguous; PieceCol says where each
// piece lies). Scale and bias are the CPU's own f32 products (d * sc, dmin * m), so
// Weight() reproduces the CPU dequantizer exactly: each of its operations is a single IEEE
// operation that nvcc may not fuse (the _rn intrinsics on the device).
#pragma once

#include <cuda_fp16.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "core/quant_blocks.h"

#define WICK_DQ_HD __host__ __device__ __forceinline__

namespace wick::kernels::cuda::dq {

// ---- Bits and single IEEE operations ----

WICK_DQ_HD float AsFloat(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

WICK_DQ_HD uint32_t AsUint(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

// Never contracted into an FMA with a neighbouring operation.
WICK_DQ_HD float FMul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

WICK_DQ_HD float FAdd(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

WICK_DQ_HD float FSub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

WICK_DQ_HD float FFma(float a, float b, float c) {
#ifdef __CUDA_ARCH__
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}

// Byte n of the result is byte ((s >> 4n) & 7) of the 8 bytes y:x (x the low four).
WICK_DQ_HD uint32_t BytePerm(uint32_t x, uint32_t y, uint32_t s) {
#ifdef __CUDA_ARCH__
  return __byte_perm(x, y, s);
#else
  const uint64_t v = (static_cast<uint64_t>(y) << 32) | x;
  uint32_t r = 0;
  for (int n = 0; n < 4; ++n) {
    const uint32_t sel = (s >> (4 * n)) & 7;
    r |= static_cast<uint32_t>((v >> (8 * sel)) & 0xff) << (8 * n);
  }
  return r;
#endif
}

// The low 32 bits of hi:lo shifted right by (sh & 31).
WICK_DQ_HD uint32_t FunnelShiftR(uint32_t lo, uint32_t hi, uint32_t sh) {
#ifdef __CUDA_ARCH__
  return __funnelshift_r(lo, hi, sh);
#else
  return static_cast<uint32_t>(((static_cast<uint64_t>(hi) << 32) | lo) >> (sh & 31));
#endif
}

// ---- f16 and bf16 ----

// Exact (every f16 value is an f32 value). The device uses the hardware conversion, which
// agrees everywhere except possibly in the payload bits of a NaN.
WICK_DQ_HD float F16ToF32(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(h));
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return AsFloat(sign | 0x7f800000u | (mant << 13));
  if (exp != 0) return AsFloat(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return AsFloat(sign);
  // Subnormal, mant * 2^-24: shift the leading one up to the implicit bit.
  uint32_t e = 113;
  while ((mant & 0x400) == 0) {
    mant <<= 1;
    --e;
  }
  return AsFloat(sign | (e << 23) | ((mant & 0x3ff) << 13));
#endif
}

WICK_DQ_HD float Bf16ToF32(uint16_t h) {
  return AsFloat(static_cast<uint32_t>(h) << 16);
}

// core/half.h's F32ToF16 in integer operations, the same on host and device: round to nearest
// even, overflow to infinity, a NaN keeps its sign and top payload bits and becomes quiet.
WICK_DQ_HD uint16_t F32ToF16(float f) {
  const uint32_t x = AsUint(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00 | ((abs >> 13) & 0x3ff));
  if (abs >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // rounds to >= 65520
  if (abs >= 0x38800000) {                                             // a normal f16
    uint32_t h = (((abs >> 23) - 112) << 10) | ((abs >> 13) & 0x3ff);
    const uint32_t rest = abs & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) ++h;  // may carry into the exponent
    return static_cast<uint16_t>(sign | h);
  }
  // A subnormal f16 (or zero), counted in steps of 2^-24. At most 2^-25 rounds to zero (2^-25
  // itself is a tie that goes to the even zero); f32 subnormals are far below.
  const uint32_t exp = abs >> 23;
  if (exp < 102) return static_cast<uint16_t>(sign);
  const uint32_t mant = (abs & 0x7fffff) | 0x800000;  // value = mant * 2^(exp - 150)
  const uint32_t shift = 126 - exp;                   // 14..24
  uint32_t m = mant >> shift;
  const uint32_t rest = mant & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (m & 1))) ++m;  // may become the smallest normal
  return static_cast<uint16_t>(sign | m);
}

// F32ToF16(F16ToF32(h)) as the CPU computes it: the identity, except that a NaN becomes quiet.
WICK_DQ_HD uint16_t F16RoundTrip(uint16_t h) {
  const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
  return nan ? static_cast<uint16_t>(h | 0x200) : h;
}

// ---- Reading a block's bytes ----
//
// Blocks start at any even address (an 18-byte block after an 18-byte block), so their fields
// are read as little-endian 32-bit words through one of two readers.

WICK_DQ_HD uint32_t LoadAlignedU32(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const uint32_t*>(p);
#else
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
#endif
}

WICK_DQ_HD uint16_t LoadU16(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const uint16_t*>(p);
#else
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
#endif
}

// For the GEMV's shared-memory copies: N + 1 aligned 32-bit loads and N funnel shifts. It reads
// the aligned words around [p, p + 4N): up to 3 bytes before p and 4 bytes after the range, so
// the buffer needs that much slack on either side.
struct PaddedReader {
  WICK_DQ_HD static uint16_t U16(const uint8_t* p) { return LoadU16(p); }
  template <int N>
  WICK_DQ_HD static void Words(const uint8_t* p, uint32_t (&out)[N]) {
    const uint32_t mis = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) & 3);
    const uint8_t* base = p - mis;
    uint32_t w[N + 1];
#pragma unroll
    for (int i = 0; i <= N; ++i) w[i] = LoadAlignedU32(base + 4 * i);
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = FunnelShiftR(w[i], w[i + 1], 8 * mis);
  }
};

// For blocks read in place (global memory): 16-bit loads of exactly the bytes asked for.
struct ExactReader {
  WICK_DQ_HD static uint16_t U16(const uint8_t* p) { return LoadU16(p); }
  template <int N>
  WICK_DQ_HD static void Words(const uint8_t* p, uint32_t (&out)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) {
      out[i] = LoadU16(p + 4 * i) | (static_cast<uint32_t>(LoadU16(p + 4 * i + 2)) << 16);
    }
  }
};

// ---- Small integer helpers ----

// The nibbles of w's four bytes, low (upper = 0) or high (upper = 1), one per byte.
WICK_DQ_HD uint32_t Nibbles(uint32_t w, int upper) {
  return (w >> (4 * upper)) & 0x0f0f0f0fu;
}

// Bit i of the low four bits moves to bit 8i (bit 0 of byte i).
WICK_DQ_HD uint32_t SpreadBits4(uint32_t bits) {
  return ((bits & 0xfu) * 0x00204081u) & 0x01010101u;
}

// Byte i of the little-endian words w (i < 4N), with selects instead of an indexed load, so
// the words stay in registers when i is only known at run time.
template <int N>
WICK_DQ_HD uint32_t ByteAt(const uint32_t (&w)[N], int i) {
  uint32_t word = w[0];
#pragma unroll
  for (int j = 1; j < N; ++j) word = (i >> 2) == j ? w[j] : word;
  return (word >> (8 * (i & 3))) & 0xff;
}

// ---- Formats ----

// 8 consecutive weights: code e (0..7) in byte e % 4 of u[e / 4].
struct Piece {
  uint32_t u[2];
  float scale;
  float bias;  // 0 and unused where the format has none
};

// Format<T>: the block geometry of T and its slice decoder.
//   kBlockElems, kBlockBytes  the block
//   kSlots                    32-element slices per block (1, or 8 for the k-quants)
//   kOffset, kHasBias         weight = scale * (code - kOffset) [+ bias]
//   kSkewPeriod               the GEMV's shared-memory skew for activations (see Chunk)
//   Slice, Load<Reader>(block, slot), Decode(slice, k) -> piece k (0..3) of the slice
//   PieceCol(slot, k)         the block column of the first element of piece k
template <DType T>
struct Format;

template <>
struct Format<DType::kQ4_0> {
  static constexpr int kBlockElems = kQK4_0;
  static constexpr int kBlockBytes = sizeof(Q4_0Block);
  static constexpr int kSlots = 1;
  static constexpr int kSkewPeriod = 32;
  static constexpr float kOffset = 8.0f;
  static constexpr bool kHasBias = false;
  struct Slice {
    float d;
    uint32_t qs[4];
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int /*slot*/) {
    Slice s;
    s.d = F16ToF32(Rd::U16(blk + offsetof(Q4_0Block, d)));
    Rd::Words(blk + offsetof(Q4_0Block, qs), s.qs);
    return s;
  }
  // Element 8k + 4j + i: the low nibble of qs[8k + 4j + i] for k < 2, the high nibble of
  // qs[8(k - 2) + 4j + i] above.
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = Nibbles(s.qs[2 * (k & 1)], k >> 1);
    p.u[1] = Nibbles(s.qs[2 * (k & 1) + 1], k >> 1);
    p.scale = s.d;
    p.bias = 0.0f;
    return p;
  }
  WICK_DQ_HD static int PieceCol(int /*slot*/, int k) { return 8 * k; }
};

template <>
struct Format<DType::kQ4_1> {
  static constexpr int kBlockElems = kQK4_1;
  static constexpr int kBlockBytes = sizeof(Q4_1Block);
  static constexpr int kSlots = 1;
  static constexpr int kSkewPeriod = 32;
  static constexpr float kOffset = 0.0f;
  static constexpr bool kHasBias = true;
  struct Slice {
    float d;
    float m;
    uint32_t qs[4];
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int /*slot*/) {
    Slice s;
    s.d = F16ToF32(Rd::U16(blk + offsetof(Q4_1Block, d)));
    s.m = F16ToF32(Rd::U16(blk + offsetof(Q4_1Block, m)));
    Rd::Words(blk + offsetof(Q4_1Block, qs), s.qs);
    return s;
  }
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = Nibbles(s.qs[2 * (k & 1)], k >> 1);
    p.u[1] = Nibbles(s.qs[2 * (k & 1) + 1], k >> 1);
    p.scale = s.d;
    p.bias = s.m;
    return p;
  }
  WICK_DQ_HD static int PieceCol(int /*slot*/, int k) { return 8 * k; }
};

// The fifth bits of Q5_0 and Q5_1: element e's at bit e of qh.
WICK_DQ_HD uint32_t FifthBits(uint32_t qh, int k, int j) {
  return SpreadBits4(qh >> (8 * k + 4 * j)) << 4;
}

template <>
struct Format<DType::kQ5_0> {
  static constexpr int kBlockElems = kQK5_0;
  static constexpr int kBlockBytes = sizeof(Q5_0Block);
  static constexpr int kSlots = 1;
  static constexpr int kSkewPeriod = 32;
  static constexpr float kOffset = 16.0f;
  static constexpr bool kHasBias = false;
  struct Slice {
    float d;
    uint32_t qhs[5];  // qh, then qs[0..15]
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int /*slot*/) {
    static_assert(offsetof(Q5_0Block, qs) == offsetof(Q5_0Block, qh) + 4);
    Slice s;
    s.d = F16ToF32(Rd::U16(blk + offsetof(Q5_0Block, d)));
    Rd::Words(blk + offsetof(Q5_0Block, qh), s.qhs);
    return s;
  }
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = Nibbles(s.qhs[1 + 2 * (k & 1)], k >> 1) | FifthBits(s.qhs[0], k, 0);
    p.u[1] = Nibbles(s.qhs[2 + 2 * (k & 1)], k >> 1) | FifthBits(s.qhs[0], k, 1);
    p.scale = s.d;
    p.bias = 0.0f;
    return p;
  }
  WICK_DQ_HD static int PieceCol(int /*slot*/, int k) { return 8 * k; }
};

template <>
struct Format<DType::kQ5_1> {
  static constexpr int kBlockElems = kQK5_1;
  static constexpr int kBlockBytes = sizeof(Q5_1Block);
  static constexpr int kSlots = 1;
  static constexpr int kSkewPeriod = 32;
  static constexpr float kOffset = 0.0f;
  static constexpr bool kHasBias = true;
  struct Slice {
    float d;
    float m;
    uint32_t qhs[5];  // qh, then qs[0..15]
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int /*slot*/) {
    static_assert(offsetof(Q5_1Block, qs) == offsetof(Q5_1Block, qh) + 4);
    Slice s;
    s.d = F16ToF32(Rd::U16(blk + offsetof(Q5_1Block, d)));
    s.m = F16ToF32(Rd::U16(blk + offsetof(Q5_1Block, m)));
    Rd::Words(blk + offsetof(Q5_1Block, qh), s.qhs);
    return s;
  }
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = Nibbles(s.qhs[1 + 2 * (k & 1)], k >> 1) | FifthBits(s.qhs[0], k, 0);
    p.u[1] = Nibbles(s.qhs[2 + 2 * (k & 1)], k >> 1) | FifthBits(s.qhs[0], k, 1);
    p.scale = s.d;
    p.bias = s.m;
    return p;
  }
  WICK_DQ_HD static int PieceCol(int /*slot*/, int k) { return 8 * k; }
};

template <>
struct Format<DType::kQ8_0> {
  static constexpr int kBlockElems = kQK8_0;
  static constexpr int kBlockBytes = sizeof(Q8_0Block);
  static constexpr int kSlots = 1;
  static constexpr int kSkewPeriod = 32;
  static constexpr float kOffset = 128.0f;
  static constexpr bool kHasBias = false;
  struct Slice {
    float d;
    uint32_t qs[8];
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int /*slot*/) {
    Slice s;
    s.d = F16ToF32(Rd::U16(blk + offsetof(Q8_0Block, d)));
    Rd::Words(blk + offsetof(Q8_0Block, qs), s.qs);
    return s;
  }
  // Flipping the sign bit turns an int8 q into the code q + 128.
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = s.qs[2 * k] ^ 0x80808080u;
    p.u[1] = s.qs[2 * k + 1] ^ 0x80808080u;
    p.scale = s.d;
    p.bias = 0.0f;
    return p;
  }
  WICK_DQ_HD static int PieceCol(int /*slot*/, int k) { return 8 * k; }
};

// Q2_K, Q3_K and Q6_K keep element 128h + 32k + l in byte 32h + l of their 2-bit planes (qs,
// qh) at bits 2k. Slot s = 4h + i owns bytes 32h + 8i .. + 7 of those planes: piece k is
// elements 128h + 32k + 8i .. + 7, under the 16-element scale 8h + 2k + i/2.
WICK_DQ_HD int PlaneSlotCol(int slot, int k) {
  return 128 * (slot >> 2) + 32 * k + 8 * (slot & 3);
}

template <>
struct Format<DType::kQ2_K> {
  static constexpr int kBlockElems = kQK_K;
  static constexpr int kBlockBytes = sizeof(Q2_KBlock);
  static constexpr int kSlots = 8;
  static constexpr int kSkewPeriod = 128;
  static constexpr float kOffset = 0.0f;
  static constexpr bool kHasBias = true;
  struct Slice {
    uint32_t qs[2];
    float dl[4];  // d * scale of piece k
    float ml[4];  // dmin * min of piece k
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int slot) {
    const int h = slot >> 2, i = slot & 3;
    Slice s;
    Rd::Words(blk + offsetof(Q2_KBlock, qs) + 32 * h + 8 * i, s.qs);
    uint32_t sc[2];  // scales[8h .. 8h + 7]: low nibble scale, high nibble min
    Rd::Words(blk + offsetof(Q2_KBlock, scales) + 8 * h, sc);
    const float d = F16ToF32(Rd::U16(blk + offsetof(Q2_KBlock, d)));
    const float dmin = F16ToF32(Rd::U16(blk + offsetof(Q2_KBlock, dmin)));
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t b = ByteAt(sc, 2 * k + (i >> 1));
      s.dl[k] = FMul(d, static_cast<float>(static_cast<int>(b & 0xf)));
      s.ml[k] = FMul(dmin, static_cast<float>(static_cast<int>(b >> 4)));
    }
    return s;
  }
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = (s.qs[0] >> (2 * k)) & 0x03030303u;
    p.u[1] = (s.qs[1] >> (2 * k)) & 0x03030303u;
    p.scale = s.dl[k];
    p.bias = -s.ml[k];  // the CPU's dl * q - ml, as an addition
    return p;
  }
  WICK_DQ_HD static int PieceCol(int slot, int k) {
    return PlaneSlotCol(slot, k);
  }
};

template <>
struct Format<DType::kQ3_K> {
  static constexpr int kBlockElems = kQK_K;
  static constexpr int kBlockBytes = sizeof(Q3_KBlock);
  static constexpr int kSlots = 8;
  static constexpr int kSkewPeriod = 128;
  static constexpr float kOffset = 4.0f;
  static constexpr bool kHasBias = false;
  struct Slice {
    uint32_t qs[2];
    uint32_t hm[2];  // hmask[8i .. 8i + 7] >> 4h: element's third bit at bit k of its byte
    float dl[4];
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int slot) {
    const int h = slot >> 2, i = slot & 3;
    Slice s;
    Rd::Words(blk + offsetof(Q3_KBlock, qs) + 32 * h + 8 * i, s.qs);
    // The third bit of element e is bit e / 32 = 4h + k of hmask[e % 32 = 8i + l].
    Rd::Words(blk + offsetof(Q3_KBlock, hmask) + 8 * i, s.hm);
    s.hm[0] >>= 4 * h;
    s.hm[1] >>= 4 * h;
    uint32_t sc[3];
    Rd::Words(blk + offsetof(Q3_KBlock, scales), sc);
    const float d = F16ToF32(Rd::U16(blk + offsetof(Q3_KBlock, d)));
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      // Scale j = 8h + a, a = 2k + i/2: low nibble in byte a (low half for h = 0, high for
      // h = 1), top two bits at bits 2(j / 4) = 2(2h + a / 4) of byte 8 + a % 4; stored + 32.
      const int a = 2 * k + (i >> 1);
      const uint32_t low = (ByteAt(sc, a) >> (4 * h)) & 0xf;
      const uint32_t high = (ByteAt(sc, 8 + (a & 3)) >> (2 * (2 * h + (a >> 2)))) & 3;
      const int scale = static_cast<int>(low | (high << 4)) - 32;
      s.dl[k] = FMul(d, static_cast<float>(scale));
    }
    return s;
  }
  // code = low two bits + 4 * third bit; the CPU's q = low - (third ? 0 : 4) = code - 4.
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = ((s.qs[0] >> (2 * k)) & 0x03030303u) | (((s.hm[0] >> k) & 0x01010101u) << 2);
    p.u[1] = ((s.qs[1] >> (2 * k)) & 0x03030303u) | (((s.hm[1] >> k) & 0x01010101u) << 2);
    p.scale = s.dl[k];
    p.bias = 0.0f;
    return p;
  }
  WICK_DQ_HD static int PieceCol(int slot, int k) {
    return PlaneSlotCol(slot, k);
  }
};

// Q4_K and Q5_K keep element 64h + 32u + l in nibble u of qs[32h + l], under the 32-element
// scale and min 2h + u. Slot s = 2h + i owns qs[32h + 16i .. + 15]: pieces k = 0, 1 are the
// low nibbles (elements 64h + 16i + 8k ..), k = 2, 3 the high ones (32 further on).
WICK_DQ_HD int NibbleSlotCol(int slot, int k) {
  return 64 * (slot >> 1) + 16 * (slot & 1) + 8 * (k & 1) + 32 * (k >> 1);
}

// The 6-bit scale and min of sub-block j (0..7) of Q4_K and Q5_K from their 12 bytes: j < 4 in
// the low six bits of bytes j (scale) and j + 4 (min); j >= 4 with the low four bits in byte
// j + 4 (scale low nibble, min high nibble) and the top two in the spare top bits of bytes
// j - 4 (scale) and j (min).
WICK_DQ_HD void ScaleMin6(const uint32_t (&sc)[3], int j, int* scale, int* min) {
  if (j < 4) {
    *scale = static_cast<int>(ByteAt(sc, j) & 63);
    *min = static_cast<int>(ByteAt(sc, j + 4) & 63);
  } else {
    const uint32_t lo = ByteAt(sc, j + 4);
    *scale = static_cast<int>((lo & 0xf) | ((ByteAt(sc, j - 4) >> 6) << 4));
    *min = static_cast<int>((lo >> 4) | ((ByteAt(sc, j) >> 6) << 4));
  }
}

template <class Block, class Rd>
WICK_DQ_HD void LoadScaleMin6(const uint8_t* blk, int h, float (&dl)[2], float (&ml)[2]) {
  uint32_t sc[3];
  Rd::Words(blk + offsetof(Block, scales), sc);
  const float d = F16ToF32(Rd::U16(blk + offsetof(Block, d)));
  const float dmin = F16ToF32(Rd::U16(blk + offsetof(Block, dmin)));
#pragma unroll
  for (int u = 0; u < 2; ++u) {
    int scale, min;
    ScaleMin6(sc, 2 * h + u, &scale, &min);
    dl[u] = FMul(d, static_cast<float>(scale));
    ml[u] = FMul(dmin, static_cast<float>(min));
  }
}

template <>
struct Format<DType::kQ4_K> {
  static constexpr int kBlockElems = kQK_K;
  static constexpr int kBlockBytes = sizeof(Q4_KBlock);
  static constexpr int kSlots = 8;
  static constexpr int kSkewPeriod = 64;
  static constexpr float kOffset = 0.0f;
  static constexpr bool kHasBias = true;
  struct Slice {
    uint32_t qs[4];
    float dl[2];  // low nibbles, high nibbles
    float ml[2];
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int slot) {
    const int h = slot >> 1, i = slot & 1;
    Slice s;
    Rd::Words(blk + offsetof(Q4_KBlock, qs) + 32 * h + 16 * i, s.qs);
    LoadScaleMin6<Q4_KBlock, Rd>(blk, h, s.dl, s.ml);
    return s;
  }
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = Nibbles(s.qs[2 * (k & 1)], k >> 1);
    p.u[1] = Nibbles(s.qs[2 * (k & 1) + 1], k >> 1);
    p.scale = s.dl[k >> 1];
    p.bias = -s.ml[k >> 1];
    return p;
  }
  WICK_DQ_HD static int PieceCol(int slot, int k) { return NibbleSlotCol(slot, k); }
};

template <>
struct Format<DType::kQ5_K> {
  static constexpr int kBlockElems = kQK_K;
  static constexpr int kBlockBytes = sizeof(Q5_KBlock);
  static constexpr int kSlots = 8;
  static constexpr int kSkewPeriod = 64;
  static constexpr float kOffset = 0.0f;
  static constexpr bool kHasBias = true;
  struct Slice {
    uint32_t qs[4];
    uint32_t qh[4];  // qh[16i .. 16i + 15] >> 2h: the fifth bit at bit u of its byte
    float dl[2];
    float ml[2];
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int slot) {
    const int h = slot >> 1, i = slot & 1;
    Slice s;
    Rd::Words(blk + offsetof(Q5_KBlock, qs) + 32 * h + 16 * i, s.qs);
    // The fifth bit of element e is bit e / 32 = 2h + u of qh[e % 32 = 16i + l].
    Rd::Words(blk + offsetof(Q5_KBlock, qh) + 16 * i, s.qh);
#pragma unroll
    for (int j = 0; j < 4; ++j) s.qh[j] >>= 2 * h;
    LoadScaleMin6<Q5_KBlock, Rd>(blk, h, s.dl, s.ml);
    return s;
  }
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      p.u[j] = Nibbles(s.qs[2 * (k & 1) + j], k >> 1) |
               (((s.qh[2 * (k & 1) + j] >> (k >> 1)) & 0x01010101u) << 4);
    }
    p.scale = s.dl[k >> 1];
    p.bias = -s.ml[k >> 1];
    return p;
  }
  WICK_DQ_HD static int PieceCol(int slot, int k) {
    return NibbleSlotCol(slot, k);
  }
};

template <>
struct Format<DType::kQ6_K> {
  static constexpr int kBlockElems = kQK_K;
  static constexpr int kBlockBytes = sizeof(Q6_KBlock);
  static constexpr int kSlots = 8;
  static constexpr int kSkewPeriod = 128;
  static constexpr float kOffset = 32.0f;
  static constexpr bool kHasBias = false;
  struct Slice {
    uint32_t ql[2][2];  // ql[64h + 8i ..] (k = 0, 2) and ql[64h + 32 + 8i ..] (k = 1, 3)
    uint32_t qh[2];
    float dl[4];
  };
  template <class Rd>
  WICK_DQ_HD static Slice Load(const uint8_t* blk, int slot) {
    const int h = slot >> 2, i = slot & 3;
    Slice s;
    // Element 128h + 32k + l: low four bits in nibble k / 2 of ql[64h + 32(k % 2) + l], top
    // two at bits 2k of qh[32h + l].
    Rd::Words(blk + offsetof(Q6_KBlock, ql) + 64 * h + 8 * i, s.ql[0]);
    Rd::Words(blk + offsetof(Q6_KBlock, ql) + 64 * h + 32 + 8 * i, s.ql[1]);
    Rd::Words(blk + offsetof(Q6_KBlock, qh) + 32 * h + 8 * i, s.qh);
    uint32_t sc[2];
    Rd::Words(blk + offsetof(Q6_KBlock, scales) + 8 * h, sc);
    const float d = F16ToF32(Rd::U16(blk + offsetof(Q6_KBlock, d)));
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const auto scale = static_cast<int8_t>(ByteAt(sc, 2 * k + (i >> 1)));
      s.dl[k] = FMul(d, static_cast<float>(scale));
    }
    return s;
  }
  WICK_DQ_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      p.u[j] = Nibbles(s.ql[k & 1][j], k >> 1) | (((s.qh[j] >> (2 * k)) & 0x03030303u) << 4);
    }
    p.scale = s.dl[k];
    p.bias = 0.0f;
    return p;
  }
  WICK_DQ_HD static int PieceCol(int slot, int k) {
    return PlaneSlotCol(slot, k);
  }
};

// The piece's 8 quants, code - kOffset, as exact floats: the code goes into the low mantissa
// bits of 2^23 and one subtraction removes 2^23 + kOffset (integer-to-float conversions are
// slow on the GPU).
template <class F>
WICK_DQ_HD void Quants(const Piece& p, float (&q)[8]) {
  constexpr float kBias = 8388608.0f + F::kOffset;
#pragma unroll
  for (int e = 0; e < 8; ++e) {
    const uint32_t bits =
        BytePerm(p.u[e >> 2], 0x4b000000u, 0x7540u | static_cast<uint32_t>(e & 3));
    q[e] = FSub(AsFloat(bits), kBias);
  }
}

// One weight exactly as the CPU dequantizer computes it from the same quant.
template <class F>
WICK_DQ_HD float Weight(const Piece& p, float q) {
  if constexpr (F::kHasBias) {
    return FAdd(FMul(p.scale, q), p.bias);
  } else {
    return FMul(p.scale, q);
  }
}

}  // namespace wick::kernels::cuda::dq
