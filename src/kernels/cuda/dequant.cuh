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

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "core/dtype.h"
#include "core/quant_blocks.h"
#include "kernels/cuda/float_bits.cuh"

namespace wick::kernels::cuda::dq {

using namespace fp;  // NOLINT(google-build-using-namespace): dq::F16ToF32 and the rest

// ---- Byte intrinsics, emulated on the host ----

// Byte n of the result is byte ((s >> 4n) & 7) of the 8 bytes y:x (x the low four).
WICK_HD uint32_t BytePerm(uint32_t x, uint32_t y, uint32_t s) {
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
WICK_HD uint32_t FunnelShiftR(uint32_t lo, uint32_t hi, uint32_t sh) {
#ifdef __CUDA_ARCH__
  return __funnelshift_r(lo, hi, sh);
#else
  return static_cast<uint32_t>(((static_cast<uint64_t>(hi) << 32) | lo) >> (sh & 31));
#endif
}

// ---- Reading a block's bytes ----
//
// Blocks start at any even address (an 18-byte block after an 18-byte block), so their fields
// are read as little-endian 32-bit words through one of two readers.

// A T at p, which the device requires to be aligned to sizeof(T).
template <class T>
WICK_HD T LoadAligned(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const T*>(p);
#else
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
#endif
}

// For the GEMV's shared-memory copies: N + 1 aligned 32-bit loads and N funnel shifts. It reads
// the aligned words around [p, p + 4N): up to 3 bytes before p and 4 bytes after the range, so
// the buffer needs that much slack on either side.
struct PaddedReader {
  WICK_HD static uint16_t U16(const uint8_t* p) { return LoadAligned<uint16_t>(p); }
  template <int N>
  WICK_HD static void Words(const uint8_t* p, uint32_t (&out)[N]) {
    const uint32_t mis = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p) & 3);
    const uint8_t* base = p - mis;
    uint32_t w[N + 1];
#pragma unroll
    for (int i = 0; i <= N; ++i) w[i] = LoadAligned<uint32_t>(base + 4 * i);
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = FunnelShiftR(w[i], w[i + 1], 8 * mis);
  }
};

// For blocks read in place (global memory): 16-bit loads of exactly the bytes asked for.
struct ExactReader {
  WICK_HD static uint16_t U16(const uint8_t* p) { return LoadAligned<uint16_t>(p); }
  template <int N>
  WICK_HD static void Words(const uint8_t* p, uint32_t (&out)[N]) {
#pragma unroll
    for (int i = 0; i < N; ++i) {
      out[i] = LoadAligned<uint16_t>(p + 4 * i) |
               (static_cast<uint32_t>(LoadAligned<uint16_t>(p + 4 * i + 2)) << 16);
    }
  }
};

// ---- Small integer helpers ----

// The nibbles of w's four bytes, low (upper = 0) or high (upper = 1), one per byte.
WICK_HD uint32_t Nibbles(uint32_t w, int upper) {
  return (w >> (4 * upper)) & 0x0f0f0f0fu;
}

// Bit i of the low four bits moves to bit 8i (bit 0 of byte i).
WICK_HD uint32_t SpreadBits4(uint32_t bits) {
  return ((bits & 0xfu) * 0x00204081u) & 0x01010101u;
}

// Byte i of the little-endian words w (i < 4N), with selects instead of an indexed load, so
// the words stay in registers when i is only known at run time.
template <int N>
WICK_HD uint32_t ByteAt(const uint32_t (&w)[N], int i) {
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
//   kScaleRun                 consecutive pieces of a slice that share their scale, bias and
//                             32-column block of activations (the int8 GEMV sums them as one)
//   Slice, Load<Reader>(block, slot), Decode(slice, k) -> piece k (0..3) of the slice
//   PieceAt<Reader>(block, k)  the legacy formats only: Decode(Load(block, 0), k)
//   PieceCol(slot, k)         the block column of the first element of piece k
// The bases below hold what a family of formats shares; each Format adds its own quants.
template <DType T>
struct Format;

// Piece k of 16 bytes of nibbles (four words), where element 16u + l sits in nibble u of
// byte l: the low nibbles of bytes 8k .. 8k + 7 for k < 2, the high ones of bytes 8(k - 2) ..
// above.
WICK_HD void NibblePiece(const uint32_t* qs, int k, uint32_t (&u)[2]) {
  u[0] = Nibbles(qs[2 * (k & 1)], k >> 1);
  u[1] = Nibbles(qs[2 * (k & 1) + 1], k >> 1);
}

// The legacy formats: a 32-element block is one slice of contiguous pieces under an f16 scale d
// and, in the _1 variants, an f16 bias m (the _0 variants centre their codes instead).
template <class Block>
struct LegacyFormat {
  static constexpr int kBlockElems = 32;
  static constexpr int kBlockBytes = sizeof(Block);
  static constexpr int kSlots = 1;
  static constexpr int kSkewPeriod = 32;
  static constexpr int kScaleRun = 4;
  static constexpr bool kHasBias = requires { &Block::m; };
  struct Scales {
    float d;
    float m;  // 0 without a bias
  };
  template <class Rd>
  WICK_HD static Scales LoadScales(const uint8_t* blk) {
    Scales s{F16ToF32(Rd::U16(blk + offsetof(Block, d))), 0.0f};
    if constexpr (kHasBias) s.m = F16ToF32(Rd::U16(blk + offsetof(Block, m)));
    return s;
  }
  WICK_HD static int PieceCol(int /*slot*/, int k) { return 8 * k; }
};
static_assert(kQK4_0 == 32 && kQK4_1 == 32 && kQK5_0 == 32 && kQK5_1 == 32 && kQK8_0 == 32);

// The fifth bits of Q5_0 and Q5_1: element e's at bit e of qh.
WICK_HD uint32_t FifthBits(uint32_t qh, int k, int j) {
  return SpreadBits4(qh >> (8 * k + 4 * j)) << 4;
}

// Q4_0, Q4_1, Q5_0 and Q5_1: 16 bytes of nibbles (qs), and in the Q5 formats a fifth bit per
// element in the word qh just before them.
template <class Block>
struct LegacyNibbleFormat : LegacyFormat<Block> {
  using Base = LegacyFormat<Block>;
  static constexpr bool kFifthBit = requires { &Block::qh; };
  static constexpr float kOffset = Base::kHasBias ? 0.0f : (kFifthBit ? 16.0f : 8.0f);
  struct Slice {
    typename Base::Scales sc;
    uint32_t w[kFifthBit ? 5 : 4];  // [qh,] qs[0..15]
  };
  template <class Rd>
  WICK_HD static Slice Load(const uint8_t* blk, int /*slot*/) {
    Slice s;
    s.sc = Base::template LoadScales<Rd>(blk);
    if constexpr (kFifthBit) {
      static_assert(offsetof(Block, qs) == offsetof(Block, qh) + 4);
      Rd::Words(blk + offsetof(Block, qh), s.w);
    } else {
      Rd::Words(blk + offsetof(Block, qs), s.w);
    }
    return s;
  }
  WICK_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    NibblePiece(s.w + (kFifthBit ? 1 : 0), k, p.u);
    if constexpr (kFifthBit) {
      p.u[0] |= FifthBits(s.w[0], k, 0);
      p.u[1] |= FifthBits(s.w[0], k, 1);
    }
    p.scale = s.sc.d;
    p.bias = s.sc.m;
    return p;
  }
  // Decode(Load(blk), k) for a k known only at run time (a lane's place in the tensor-core
  // GEMV's fragments), reading only the words piece k needs.
  template <class Rd>
  WICK_HD static Piece PieceAt(const uint8_t* blk, int k) {
    uint32_t w[2];
    Rd::Words(blk + offsetof(Block, qs) + 8 * (k & 1), w);
    Piece p;
    p.u[0] = Nibbles(w[0], k >> 1);
    p.u[1] = Nibbles(w[1], k >> 1);
    if constexpr (kFifthBit) {
      uint32_t qh[1];
      Rd::Words(blk + offsetof(Block, qh), qh);
      p.u[0] |= FifthBits(qh[0], k, 0);
      p.u[1] |= FifthBits(qh[0], k, 1);
    }
    const typename Base::Scales sc = Base::template LoadScales<Rd>(blk);
    p.scale = sc.d;
    p.bias = sc.m;
    return p;
  }
};

template <>
struct Format<DType::kQ4_0> : LegacyNibbleFormat<Q4_0Block> {};
template <>
struct Format<DType::kQ4_1> : LegacyNibbleFormat<Q4_1Block> {};
template <>
struct Format<DType::kQ5_0> : LegacyNibbleFormat<Q5_0Block> {};
template <>
struct Format<DType::kQ5_1> : LegacyNibbleFormat<Q5_1Block> {};
static_assert(Format<DType::kQ4_0>::kOffset == 8.0f && Format<DType::kQ5_0>::kOffset == 16.0f &&
              Format<DType::kQ4_1>::kHasBias && Format<DType::kQ5_1>::kHasBias);

template <>
struct Format<DType::kQ8_0> : LegacyFormat<Q8_0Block> {
  static constexpr float kOffset = 128.0f;
  struct Slice {
    Scales sc;
    uint32_t qs[8];
  };
  template <class Rd>
  WICK_HD static Slice Load(const uint8_t* blk, int /*slot*/) {
    Slice s;
    s.sc = LoadScales<Rd>(blk);
    Rd::Words(blk + offsetof(Q8_0Block, qs), s.qs);
    return s;
  }
  // Flipping the sign bit turns an int8 q into the code q + 128.
  WICK_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = s.qs[2 * k] ^ 0x80808080u;
    p.u[1] = s.qs[2 * k + 1] ^ 0x80808080u;
    p.scale = s.sc.d;
    p.bias = s.sc.m;
    return p;
  }
  template <class Rd>
  WICK_HD static Piece PieceAt(const uint8_t* blk, int k) {
    uint32_t w[2];
    Rd::Words(blk + offsetof(Q8_0Block, qs) + 8 * k, w);
    Piece p;
    p.u[0] = w[0] ^ 0x80808080u;
    p.u[1] = w[1] ^ 0x80808080u;
    const Scales sc = LoadScales<Rd>(blk);
    p.scale = sc.d;
    p.bias = sc.m;
    return p;
  }
};

// The k-quants: a 256-element super-block in 8 slices, each slot owning a run of quant bytes.
template <class Block, int SkewPeriod>
struct KQuantFormat {
  static constexpr int kBlockElems = kQK_K;
  static constexpr int kBlockBytes = sizeof(Block);
  static constexpr int kSlots = 8;
  static constexpr int kSkewPeriod = SkewPeriod;
};

// Q2_K, Q3_K and Q6_K keep element 128h + 32k + l in byte 32h + l of their 2-bit planes (qs,
// qh) at bits 2k. Slot s = 4h + i owns bytes 32h + 8i .. + 7 of those planes: piece k is
// elements 128h + 32k + 8i .. + 7, under the 16-element scale 8h + 2k + i/2.
template <class Block>
struct PlaneFormat : KQuantFormat<Block, 128> {
  static constexpr int kScaleRun = 1;  // pieces 32 columns apart, under scales of their own
  WICK_HD static int PieceCol(int slot, int k) {
    return 128 * (slot >> 2) + 32 * k + 8 * (slot & 3);
  }
};

template <>
struct Format<DType::kQ2_K> : PlaneFormat<Q2_KBlock> {
  static constexpr float kOffset = 0.0f;
  static constexpr bool kHasBias = true;
  struct Slice {
    uint32_t qs[2];
    float dl[4];  // d * scale of piece k
    float ml[4];  // dmin * min of piece k
  };
  template <class Rd>
  WICK_HD static Slice Load(const uint8_t* blk, int slot) {
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
  WICK_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = (s.qs[0] >> (2 * k)) & 0x03030303u;
    p.u[1] = (s.qs[1] >> (2 * k)) & 0x03030303u;
    p.scale = s.dl[k];
    p.bias = -s.ml[k];  // the CPU's dl * q - ml, as an addition
    return p;
  }
};

template <>
struct Format<DType::kQ3_K> : PlaneFormat<Q3_KBlock> {
  static constexpr float kOffset = 4.0f;
  static constexpr bool kHasBias = false;
  struct Slice {
    uint32_t qs[2];
    uint32_t hm[2];  // hmask[8i .. 8i + 7] >> 4h: element's third bit at bit k of its byte
    float dl[4];
  };
  template <class Rd>
  WICK_HD static Slice Load(const uint8_t* blk, int slot) {
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
  WICK_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
    p.u[0] = ((s.qs[0] >> (2 * k)) & 0x03030303u) | (((s.hm[0] >> k) & 0x01010101u) << 2);
    p.u[1] = ((s.qs[1] >> (2 * k)) & 0x03030303u) | (((s.hm[1] >> k) & 0x01010101u) << 2);
    p.scale = s.dl[k];
    p.bias = 0.0f;
    return p;
  }
};

// Q4_K and Q5_K keep element 64h + 32u + l in nibble u of qs[32h + l], under the 32-element
// scale and min 2h + u. Slot s = 2h + i owns qs[32h + 16i .. + 15]: pieces k = 0, 1 are the
// low nibbles (elements 64h + 16i + 8k ..), k = 2, 3 the high ones (32 further on).
//
// The 6-bit scale and min of sub-block j (0..7) come from their 12 bytes: j < 4 in the low six
// bits of bytes j (scale) and j + 4 (min); j >= 4 with the low four bits in byte j + 4 (scale
// low nibble, min high nibble) and the top two in the spare top bits of bytes j - 4 (scale)
// and j (min). Unpacked four at a time with word operations, then the pair a slot needs is
// picked: sub-blocks 2h and 2h + 1 in bytes 0 and 1 of *scales and *mins.
WICK_HD void ScaleMinPair6(const uint32_t (&sc)[3], int h, uint32_t* scales, uint32_t* mins) {
  constexpr uint32_t kLow6 = 0x3f3f3f3fu, kLow4 = 0x0f0f0f0fu, kTop2 = 0x03030303u;
  const uint32_t low_scales = sc[0] & kLow6;  // sub-blocks 0..3, one per byte
  const uint32_t low_mins = sc[1] & kLow6;
  const uint32_t high_scales = (sc[2] & kLow4) | (((sc[0] >> 6) & kTop2) << 4);  // 4..7
  const uint32_t high_mins = ((sc[2] >> 4) & kLow4) | (((sc[1] >> 6) & kTop2) << 4);
  const int shift = 16 * (h & 1);
  *scales = (h < 2 ? low_scales : high_scales) >> shift;
  *mins = (h < 2 ? low_mins : high_mins) >> shift;
}

template <class Block>
struct NibbleFormat : KQuantFormat<Block, 64> {
  static constexpr float kOffset = 0.0f;
  static constexpr int kScaleRun = 2;  // pieces 0, 1 (low nibbles) and 2, 3 (high)
  static constexpr bool kHasBias = true;
  struct Scales {
    float dl[2];  // d * scale of the low nibbles, the high nibbles
    float ml[2];  // dmin * min of the same
  };
  template <class Rd>
  WICK_HD static Scales LoadScales(const uint8_t* blk, int h) {
    uint32_t sc[3];
    Rd::Words(blk + offsetof(Block, scales), sc);
    const float d = F16ToF32(Rd::U16(blk + offsetof(Block, d)));
    const float dmin = F16ToF32(Rd::U16(blk + offsetof(Block, dmin)));
    uint32_t scales, mins;
    ScaleMinPair6(sc, h, &scales, &mins);
    Scales s;
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      s.dl[u] = FMul(d, static_cast<float>(static_cast<int>((scales >> (8 * u)) & 0xff)));
      s.ml[u] = FMul(dmin, static_cast<float>(static_cast<int>((mins >> (8 * u)) & 0xff)));
    }
    return s;
  }
  // Piece k from the slot's 16 bytes of qs: its low four bits and its scale and min.
  WICK_HD static Piece PieceOf(const uint32_t (&qs)[4], const Scales& sc, int k) {
    Piece p;
    NibblePiece(qs, k, p.u);
    p.scale = sc.dl[k >> 1];
    p.bias = -sc.ml[k >> 1];
    return p;
  }
  WICK_HD static int PieceCol(int slot, int k) {
    return 64 * (slot >> 1) + 16 * (slot & 1) + 8 * (k & 1) + 32 * (k >> 1);
  }

  // The tensor-core GEMV reads 32-column blocks: here sub-block j (0..7), elements 32j ..
  // 32j + 31 under one scale and min, nibble j % 2 of qs[32(j / 2) ..]. Piece t of it is
  // elements 32j + 8t .. + 7.
  template <class Rd>
  WICK_HD static void Sub32Scales(const uint8_t* blk, int j, Piece& p) {
    const Scales sc = LoadScales<Rd>(blk, j >> 1);
    // Selects, not sc.dl[j & 1]: an index known only at run time puts the array in local
    // memory.
    const bool high = (j & 1) != 0;
    p.scale = high ? sc.dl[1] : sc.dl[0];
    p.bias = -(high ? sc.ml[1] : sc.ml[0]);
  }
  template <class Rd>
  WICK_HD static void Sub32Nibbles(const uint8_t* blk, int j, int t, Piece& p) {
    uint32_t w[2];
    Rd::Words(blk + offsetof(Block, qs) + 32 * (j >> 1) + 8 * t, w);
    p.u[0] = Nibbles(w[0], j & 1);
    p.u[1] = Nibbles(w[1], j & 1);
  }
};

template <>
struct Format<DType::kQ4_K> : NibbleFormat<Q4_KBlock> {
  struct Slice {
    uint32_t qs[4];
    Scales sc;
  };
  template <class Rd>
  WICK_HD static Slice Load(const uint8_t* blk, int slot) {
    const int h = slot >> 1, i = slot & 1;
    Slice s;
    Rd::Words(blk + offsetof(Q4_KBlock, qs) + 32 * h + 16 * i, s.qs);
    s.sc = LoadScales<Rd>(blk, h);
    return s;
  }
  WICK_HD static Piece Decode(const Slice& s, int k) { return PieceOf(s.qs, s.sc, k); }

  // Sub-block j's piece t (NibbleFormat), reading only what it needs.
  template <class Rd>
  WICK_HD static Piece Sub32PieceAt(const uint8_t* blk, int j, int t) {
    Piece p;
    Sub32Nibbles<Rd>(blk, j, t, p);
    Sub32Scales<Rd>(blk, j, p);
    return p;
  }
};

template <>
struct Format<DType::kQ5_K> : NibbleFormat<Q5_KBlock> {
  struct Slice {
    uint32_t qs[4];
    uint32_t qh[4];  // qh[16i .. 16i + 15] >> 2h: the fifth bit at bit u of its byte
    Scales sc;
  };
  template <class Rd>
  WICK_HD static Slice Load(const uint8_t* blk, int slot) {
    const int h = slot >> 1, i = slot & 1;
    Slice s;
    Rd::Words(blk + offsetof(Q5_KBlock, qs) + 32 * h + 16 * i, s.qs);
    // The fifth bit of element e is bit e / 32 = 2h + u of qh[e % 32 = 16i + l].
    Rd::Words(blk + offsetof(Q5_KBlock, qh) + 16 * i, s.qh);
#pragma unroll
    for (int j = 0; j < 4; ++j) s.qh[j] >>= 2 * h;
    s.sc = LoadScales<Rd>(blk, h);
    return s;
  }
  WICK_HD static Piece Decode(const Slice& s, int k) {
    Piece p = PieceOf(s.qs, s.sc, k);
#pragma unroll
    for (int j = 0; j < 2; ++j) p.u[j] |= ((s.qh[2 * (k & 1) + j] >> (k >> 1)) & 0x01010101u) << 4;
    return p;
  }

  // Sub-block j's piece t (NibbleFormat): element 32j + l's fifth bit is bit j of qh[l].
  template <class Rd>
  WICK_HD static Piece Sub32PieceAt(const uint8_t* blk, int j, int t) {
    Piece p;
    Sub32Nibbles<Rd>(blk, j, t, p);
    uint32_t qh[2];
    Rd::Words(blk + offsetof(Q5_KBlock, qh) + 8 * t, qh);
    p.u[0] |= ((qh[0] >> j) & 0x01010101u) << 4;
    p.u[1] |= ((qh[1] >> j) & 0x01010101u) << 4;
    Sub32Scales<Rd>(blk, j, p);
    return p;
  }
};

template <>
struct Format<DType::kQ6_K> : PlaneFormat<Q6_KBlock> {
  static constexpr float kOffset = 32.0f;
  static constexpr bool kHasBias = false;
  struct Slice {
    uint32_t ql[2][2];  // ql[64h + 8i ..] (k = 0, 2) and ql[64h + 32 + 8i ..] (k = 1, 3)
    uint32_t qh[2];
    float dl[4];
  };
  template <class Rd>
  WICK_HD static Slice Load(const uint8_t* blk, int slot) {
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
  WICK_HD static Piece Decode(const Slice& s, int k) {
    Piece p;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      p.u[j] = Nibbles(s.ql[k & 1][j], k >> 1) | (((s.qh[j] >> (2 * k)) & 0x03030303u) << 4);
    }
    p.scale = s.dl[k];
    p.bias = 0.0f;
    return p;
  }
};

// The piece's 8 quants, code - kOffset, as exact floats: the code goes into the low mantissa
// bits of 2^23 and one subtraction removes 2^23 + kOffset (integer-to-float conversions are
// slow on the GPU).
template <class F>
WICK_HD void Quants(const Piece& p, float (&q)[8]) {
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
WICK_HD float Weight(const Piece& p, float q) {
  if constexpr (F::kHasBias) {
    return FAdd(FMul(p.scale, q), p.bias);
  } else {
    return FMul(p.scale, q);
  }
}

}  // namespace wick::kernels::cuda::dq
