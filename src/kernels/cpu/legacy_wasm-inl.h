// Dot products of the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) with their Q8
// activations for WebAssembly: one activation row against a few weight rows (a decode step),
// and a tile of weight rows against a prompt's tokens. The formats whose stored quants are
// below 128 have kernels twice, for the module with Relaxed SIMD's integer dot products and for
// the SIMD128 one (wasm_relaxed.h); Q8_0's use all eight bits, which the relaxed dot product
// does not take, so both modules run its SIMD128 code. For a format, every kernel here gives
// each (row, token) the same bits: the blocks' integer dots are exact, and the float steps are
// the same. Include it after <hwy/highway.h> in a file that Highway's foreach_target.h
// re-includes; WICK_LEGACY_WASM says whether this target has them.
#if defined(WICK_KERNELS_CPU_LEGACY_WASM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_LEGACY_WASM_INL_H_
#undef WICK_KERNELS_CPU_LEGACY_WASM_INL_H_
#else
#define WICK_KERNELS_CPU_LEGACY_WASM_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/quant_blocks.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/token_groups.h"
#include "kernels/cpu/wasm_relaxed.h"

#undef WICK_LEGACY_WASM
#if HWY_TARGET == HWY_WASM
#define WICK_LEGACY_WASM 1
#include <wasm_simd128.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace legacy_wasm {

// The summation order, shared by every kernel here: per (row, token), blocks in groups of
// four ("quads"), whose exact integer dots become the lanes of one vector, times d_w * d_a,
// added to a four-lane accumulator (then, for the affine formats, m_w * s_a added to the same
// lanes); the lanes summed as (0 + 1) + (2 + 3) at the end, then the blocks past the last whole
// quad, one by one.

// ------------------------------------------------------------------ quants

// A block's 32 elements as bytes (elements 0-15 and 16-31): the weights' operand of Relaxed
// SIMD's dot instruction, which wants them below 128.
struct BlockI8 {
  v128_t lo, hi;
};

// A block's 32 elements as int16 (elements 0-7, 8-15, 16-23, 24-31): the operands of SIMD128's
// dot instruction (one x86 pmaddwd).
struct BlockI16 {
  v128_t v0, v1, v2, v3;
};

HWY_INLINE BlockI16 WidenSigned(const int8_t* qs) {
  const v128_t lo = wasm_v128_load(qs);
  const v128_t hi = wasm_v128_load(qs + 16);
  return {wasm_i16x8_extend_low_i8x16(lo), wasm_i16x8_extend_high_i8x16(lo),
          wasm_i16x8_extend_low_i8x16(hi), wasm_i16x8_extend_high_i8x16(hi)};
}

// The nibbles of qs (a byte's low nibble is element j, its high nibble element j + 16).
HWY_INLINE BlockI8 Nibbles(const uint8_t* qs) {
  const v128_t packed = wasm_v128_load(qs);
  const v128_t low4 = wasm_i8x16_splat(0x0f);
  return {wasm_v128_and(packed, low4), wasm_v128_and(wasm_u16x8_shr(packed, 4), low4)};
}

// The nibbles widened straight to int16 (fewer instructions than widening Nibbles' bytes).
HWY_INLINE BlockI16 NibblesI16(const uint8_t* qs) {
  const v128_t packed = wasm_v128_load(qs);
  const v128_t e0 = wasm_u16x8_extend_low_u8x16(packed);
  const v128_t e1 = wasm_u16x8_extend_high_u8x16(packed);
  const v128_t low4 = wasm_i16x8_splat(0x0f);
  return {wasm_v128_and(e0, low4), wasm_v128_and(e1, low4), wasm_u16x8_shr(e0, 4),
          wasm_u16x8_shr(e1, 4)};
}

// The fifth bits of eight elements (a byte of qh: element i's at bit i) as what they add to
// the quants: kFifthBits8[b] has 16 in byte i where bit i of b is set, kFifthBits16[b] the same
// in int16 lanes. A table load per byte of qh costs fewer instructions than testing the bits in
// vectors, and needs no byte shuffle (which the browser runs slowly with constant indices).
struct alignas(16) FifthBitTables {
  uint64_t bytes[256];
  uint16_t lanes[256][8];
};
inline constexpr FifthBitTables kFifthBits = [] {
  FifthBitTables t{};
  for (int b = 0; b < 256; ++b) {
    for (int i = 0; i < 8; ++i) {
      if ((b >> i & 1) != 0) {
        t.bytes[b] |= uint64_t{16} << (8 * i);
        t.lanes[b][i] = 16;
      }
    }
  }
  return t;
}();

// Five-bit quants (Q5_0, Q5_1): the nibbles of qs and the fifth bits of qh.
HWY_INLINE BlockI8 FiveBits(const uint8_t* qs, const uint8_t* qh) {
  const auto fifth = [&](int i) {
    const v128_t low = wasm_v128_load64_zero(&kFifthBits.bytes[qh[i]]);
    return wasm_v128_load64_lane(&kFifthBits.bytes[qh[i + 1]], low, 1);
  };
  const BlockI8 n = Nibbles(qs);
  return {wasm_v128_or(n.lo, fifth(0)), wasm_v128_or(n.hi, fifth(2))};
}

HWY_INLINE BlockI16 FiveBitsI16(const uint8_t* qs, const uint8_t* qh) {
  const BlockI16 n = NibblesI16(qs);
  const auto fifth = [&](int i) { return wasm_v128_load(kFifthBits.lanes[qh[i]]); };
  return {wasm_v128_or(n.v0, fifth(0)), wasm_v128_or(n.v1, fifth(1)), wasm_v128_or(n.v2, fifth(2)),
          wasm_v128_or(n.v3, fifth(3))};
}

// A weight format: its blocks and activation blocks; its quants as bytes below 128 (I8, where it
// has them: the Relaxed SIMD kernels) and as int16 (I16); kOffset, by how much the stored quants
// exceed the values (taken off through the activations' sums); kMins, whether each block adds
// m_w * s_a (the affine formats). NibbleFormat is that of the four-bit quants (Q4_0, Q4_1) and
// the five-bit ones (Q5_0, Q5_1: the blocks with qh); the affine ones (with m) pair with Q8_1.
template <class W>
struct NibbleFormat {
  static constexpr bool kFiveBits = requires(const W& w) { w.qh; };
  using WBlock = W;
  static constexpr bool kMins = requires(const W& w) { w.m; };
  using ABlock = std::conditional_t<kMins, Q8_1Block, Q8_0Block>;
  static constexpr bool kI8 = true;
  static constexpr int kOffset = kMins ? 0 : kFiveBits ? 16 : 8;
  static BlockI8 I8(const WBlock& w) {
    if constexpr (kFiveBits) {
      return FiveBits(w.qs, w.qh);
    } else {
      return Nibbles(w.qs);
    }
  }
  static BlockI16 I16(const WBlock& w) {
    if constexpr (kFiveBits) {
      return FiveBitsI16(w.qs, w.qh);
    } else {
      return NibblesI16(w.qs);
    }
  }
};
using Q4_0Format = NibbleFormat<Q4_0Block>;
using Q4_1Format = NibbleFormat<Q4_1Block>;
using Q5_0Format = NibbleFormat<Q5_0Block>;
using Q5_1Format = NibbleFormat<Q5_1Block>;
static_assert(Q4_0Format::kOffset == 8 && Q5_0Format::kOffset == 16 && !Q4_0Format::kMins &&
              Q4_1Format::kMins && Q5_1Format::kFiveBits &&
              std::is_same_v<Q5_1Format::ABlock, Q8_1Block>);

struct Q8_0Format {
  using WBlock = Q8_0Block;
  using ABlock = Q8_0Block;
  static constexpr bool kI8 = false;
  static constexpr int kOffset = 0;
  static constexpr bool kMins = false;
  static BlockI16 I16(const WBlock& w) { return WidenSigned(w.qs); }
};

// The format of a weight block type.
template <class WBlock>
using FormatOf =
    std::conditional_t<std::is_same_v<WBlock, Q8_0Block>, Q8_0Format, NibbleFormat<WBlock>>;

// ------------------------------------------------------------------ integer dots

// sum(w * a) in int32 lanes.
HWY_INLINE v128_t DotI16(const BlockI16& w, const BlockI16& a) {
  return wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.v0, a.v0), wasm_i32x4_dot_i16x8(w.v1, a.v1)),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.v2, a.v2), wasm_i32x4_dot_i16x8(w.v3, a.v3)));
}

// start + sum(w * a) in int32 lanes; a_lo and a_hi are the activations' halves. `start` must
// not be a constant (see RelaxedDotAddI8I7).
HWY_INLINE v128_t DotI8(const BlockI8& w, v128_t a_lo, v128_t a_hi, v128_t start) {
  return RelaxedDotAddI8I7(a_hi, w.hi, RelaxedDotAddI8I7(a_lo, w.lo, start));
}

// An activation block prepared once for every weight row that meets it: its bytes (the Relaxed
// SIMD kernels) or its int16 widening, and -kOffset * its sums in the dot instruction's lanes
// (what the weights' offset takes off; zero for the formats without one).
template <bool kI8>
struct PreparedAct;
template <>
struct PreparedAct<true> {
  v128_t lo, hi, neg_offset;
};
template <>
struct PreparedAct<false> {
  BlockI16 a;
  v128_t neg_offset;
};

// `zero` is all zeros, but not a constant (see RelaxedDotAddI8I7).
template <class F, bool kI8>
HWY_INLINE PreparedAct<kI8> Prepare(const typename F::ABlock& block, v128_t zero) {
  PreparedAct<kI8> p;
  p.neg_offset = zero;
  if constexpr (kI8) {
    p.lo = wasm_v128_load(block.qs);
    p.hi = wasm_v128_load(block.qs + 16);
    if constexpr (F::kOffset != 0) {
      const v128_t offset = wasm_i8x16_splat(F::kOffset);
      p.neg_offset = wasm_i32x4_sub(
          zero, RelaxedDotAddI8I7(p.hi, offset, RelaxedDotAddI8I7(p.lo, offset, zero)));
    }
  } else {
    p.a = WidenSigned(block.qs);
    if constexpr (F::kOffset != 0) {
      const v128_t offset = wasm_i16x8_splat(F::kOffset);
      p.neg_offset = wasm_i32x4_sub(zero, DotI16(p.a, {offset, offset, offset, offset}));
    }
  }
  return p;
}

// sum((q - kOffset) * a) of a weight block in int32 lanes.
template <class F, bool kI8>
HWY_INLINE v128_t Dot(const typename F::WBlock& w, const PreparedAct<kI8>& p) {
  if constexpr (kI8) {
    return DotI8(F::I8(w), p.lo, p.hi, p.neg_offset);
  } else if constexpr (F::kOffset != 0) {
    return wasm_i32x4_add(DotI16(F::I16(w), p.a), p.neg_offset);
  } else {
    return DotI16(F::I16(w), p.a);
  }
}

// ------------------------------------------------------------------ float steps

// The four lanes' total of each of four vectors, as the lanes of one: two shuffles and an add
// per pair, instead of a horizontal sum (and a scalar conversion and scale) per vector.
HWY_INLINE v128_t Totals(v128_t s0, v128_t s1, v128_t s2, v128_t s3) {
  const v128_t u01 = wasm_i32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5),
                                    wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
  const v128_t u23 = wasm_i32x4_add(wasm_i32x4_shuffle(s2, s3, 0, 4, 1, 5),
                                    wasm_i32x4_shuffle(s2, s3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(u01, u23, 0, 1, 4, 5),
                        wasm_i32x4_shuffle(u01, u23, 2, 3, 6, 7));
}

// The integer total of lane sums (exact).
HWY_INLINE int32_t Total(v128_t s) {
  return wasm_i32x4_extract_lane(s, 0) + wasm_i32x4_extract_lane(s, 1) +
         wasm_i32x4_extract_lane(s, 2) + wasm_i32x4_extract_lane(s, 3);
}

// d of four consecutive blocks (weights or activations) as the lanes of one vector.
template <class Block>
HWY_INLINE v128_t QuadScales(const Block* b) {
  return wasm_f32x4_make(F16ToF32ByTable(b[0].d), F16ToF32ByTable(b[1].d), F16ToF32ByTable(b[2].d),
                         F16ToF32ByTable(b[3].d));
}

// m of four consecutive affine weight blocks, or s of four Q8_1 activation blocks.
template <class Block>
HWY_INLINE v128_t QuadMins(const Block* b) {
  if constexpr (requires { b->m; }) {
    return wasm_f32x4_make(F16ToF32ByTable(b[0].m), F16ToF32ByTable(b[1].m),
                           F16ToF32ByTable(b[2].m), F16ToF32ByTable(b[3].m));
  } else {
    return wasm_f32x4_make(F16ToF32ByTable(b[0].s), F16ToF32ByTable(b[1].s),
                           F16ToF32ByTable(b[2].s), F16ToF32ByTable(b[3].s));
  }
}

// What a (row, token) pair's quad of activation blocks brings to each step: the scales, and for
// the affine formats the sums s.
struct ActScales {
  v128_t d, s;
};

// What a quad of weight blocks brings: the scales and, for the affine formats, the mins.
template <class F>
HWY_INLINE ActScales WeightScales(const typename F::WBlock* wq) {
  ActScales w{QuadScales(wq), wasm_f32x4_splat(0.0f)};
  if constexpr (F::kMins) w.s = QuadMins(wq);
  return w;
}
template <class F>
HWY_INLINE ActScales ActivationScales(const typename F::ABlock* aq) {
  ActScales a{QuadScales(aq), wasm_f32x4_splat(0.0f)};
  if constexpr (F::kMins) a.s = QuadMins(aq);
  return a;
}

// A quad's step of the summation order: acc + totals * (d_w * d_a), then + m_w * s_a.
// (The product of two f16 values is exact in f32, so the scales' order does not matter.)
template <class F>
HWY_INLINE v128_t AddQuad(v128_t acc, v128_t totals, const ActScales& w, const ActScales& a) {
  acc = wasm_f32x4_add(acc,
                       wasm_f32x4_mul(wasm_f32x4_convert_i32x4(totals), wasm_f32x4_mul(w.d, a.d)));
  if constexpr (F::kMins) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(w.s, a.s));
  return acc;
}

// One block's sum((q - kOffset) * a), for the blocks past the quads.
template <class F, bool kI8>
v128_t BlockDot(const typename F::WBlock& w, const typename F::ABlock& a) {
  return Dot<F, kI8>(w, Prepare<F, kI8>(a, RuntimeZero()));
}

// The result from a (row, token)'s accumulator and the blocks past its last whole quad.
template <class F, bool kI8>
HWY_INLINE float Finish(v128_t acc, const typename F::WBlock* w, const typename F::ABlock* a,
                        int64_t nb4, int64_t nb) {
  float rest = 0.0f;
  for (int64_t b = nb4; b < nb; ++b) {
    const auto total = static_cast<float>(Total(BlockDot<F, kI8>(w[b], a[b])));
    rest += total * (F16ToF32ByTable(w[b].d) * F16ToF32ByTable(a[b].d));
    if constexpr (F::kMins) rest += F16ToF32ByTable(w[b].m) * F16ToF32ByTable(a[b].s);
  }
  return (wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1)) +
         (wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3)) + rest;
}

// ------------------------------------------------------------------ decode

// Activation blocks prepared at a time: each of the rows is read in sequential runs of this
// many blocks (the whole row up to 8192 weights), which the CPU's prefetcher follows. Four rows
// read block by block in step decoded 20 % slower: the kernel is too long per block for the CPU
// to run far enough ahead of four interleaved streams' cache misses.
constexpr int64_t kChunk = 256;

// `rows` weight rows (1 to 4, `row_bytes` apart) against one activation row, four blocks of a
// row at a time.
template <class F, bool kI8>
void RowsImpl(const uint8_t* w, uint64_t row_bytes, int rows, const typename F::ABlock* a,
              int64_t nb, float* out) {
  using WBlock = typename F::WBlock;
  const v128_t zero = RuntimeZero();
  PreparedAct<kI8> prepared[kChunk];
  ActScales act_scales[kChunk / 4];
  v128_t acc[4];
  for (v128_t& v : acc) v = wasm_f32x4_splat(0.0f);
  const int64_t nb4 = nb & ~int64_t{3};
  for (int64_t c = 0; c < nb4; c += kChunk) {
    const int64_t n = nb4 - c < kChunk ? nb4 - c : kChunk;
    for (int64_t j = 0; j < n; ++j) prepared[j] = Prepare<F, kI8>(a[c + j], zero);
    for (int64_t j = 0; j < n; j += 4) act_scales[j / 4] = ActivationScales<F>(a + c + j);
    for (int r = 0; r < rows; ++r) {
      const WBlock* wr = reinterpret_cast<const WBlock*>(w + r * row_bytes) + c;
      v128_t sum = acc[r];
      for (int64_t j = 0; j < n; j += 4) {
        const v128_t totals = Totals(
            Dot<F, kI8>(wr[j], prepared[j]), Dot<F, kI8>(wr[j + 1], prepared[j + 1]),
            Dot<F, kI8>(wr[j + 2], prepared[j + 2]), Dot<F, kI8>(wr[j + 3], prepared[j + 3]));
        sum = AddQuad<F>(sum, totals, WeightScales<F>(wr + j), act_scales[j / 4]);
      }
      acc[r] = sum;
    }
  }
  for (int r = 0; r < rows; ++r) {
    out[r] = Finish<F, kI8>(acc[r], reinterpret_cast<const WBlock*>(w + r * row_bytes), a, nb4, nb);
  }
}

// `rows` (1 to 4) rows of format F against one activation row of n elements, with the kernels
// this module has.
template <class F>
void DotRows(const void* w, uint64_t row_bytes, int rows, const void* a, int64_t n, float* out) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const typename F::ABlock*>(a);
  const int64_t nb = n / 32;
  if constexpr (F::kI8) {
    if (kWasmRelaxedDot) {
      RowsImpl<F, true>(wb, row_bytes, rows, ab, nb, out);
      return;
    }
  }
  RowsImpl<F, false>(wb, row_bytes, rows, ab, nb, out);
}

// ------------------------------------------------------------------ prompt

// A prompt's tokens at a time against each weight row: a quad of weight blocks is unpacked and
// its scales converted once for them all, and the weights' offset is taken off once per quad.
// A decode step's RowsImpl does that per (row, token) and also prepares each activation block
// per four rows.
constexpr int kTileTokens = 8;
// Below this many tokens the matmul keeps DotRows.
constexpr int kTileMinTokens = 2;

// Per (token, quad of activation blocks): what the tile adds to the quad's integer totals, and
// the scales.
struct ActQuad {
  v128_t neg_offsets;  // -kOffset * sum(a) of each block: the weights' offset
  ActScales scales;
};

// Each of `rows` weight rows against kTokens activation rows; quads[t * nq + q] is token t's
// ActQuad of quad q, and for SIMD128 wide[t * nb + b] its block b widened.
template <class F, bool kI8, int kTokens>
void TileTokens(const uint8_t* w, uint64_t w_stride, int rows,
                const typename F::ABlock* const* acts, const ActQuad* quads, const BlockI16* wide,
                int64_t nb, float* y, int64_t y_stride) {
  using WBlock = typename F::WBlock;
  const int64_t nq = nb / 4;
  const v128_t zero = RuntimeZero();
  for (int r = 0; r < rows; ++r) {
    const auto* wr = reinterpret_cast<const WBlock*>(w + r * w_stride);
    v128_t acc[kTokens];
    for (v128_t& v : acc) v = wasm_f32x4_splat(0.0f);
    for (int64_t q = 0; q < nq; ++q) {
      const WBlock* wq = wr + 4 * q;
      const ActScales w_scales = WeightScales<F>(wq);
      const auto step = [&](int t, v128_t totals) {
        const ActQuad& aq4 = quads[t * nq + q];
        if constexpr (F::kOffset != 0) totals = wasm_i32x4_add(totals, aq4.neg_offsets);
        acc[t] = AddQuad<F>(acc[t], totals, w_scales, aq4.scales);
      };
      if constexpr (kI8) {
        const BlockI8 w0 = F::I8(wq[0]), w1 = F::I8(wq[1]), w2 = F::I8(wq[2]), w3 = F::I8(wq[3]);
        for (int t = 0; t < kTokens; ++t) {
          const auto* aq = acts[t] + 4 * q;
          const auto dot = [&](const BlockI8& wb, const typename F::ABlock& ab) {
            return DotI8(wb, wasm_v128_load(ab.qs), wasm_v128_load(ab.qs + 16), zero);
          };
          step(t, Totals(dot(w0, aq[0]), dot(w1, aq[1]), dot(w2, aq[2]), dot(w3, aq[3])));
        }
      } else {
        const BlockI16 w0 = F::I16(wq[0]), w1 = F::I16(wq[1]), w2 = F::I16(wq[2]),
                       w3 = F::I16(wq[3]);
        for (int t = 0; t < kTokens; ++t) {
          const BlockI16* aw = wide + t * nb + 4 * q;
          step(t,
               Totals(DotI16(w0, aw[0]), DotI16(w1, aw[1]), DotI16(w2, aw[2]), DotI16(w3, aw[3])));
        }
      }
    }
    for (int t = 0; t < kTokens; ++t) {
      y[t * y_stride + r] = Finish<F, kI8>(acc[t], wr, acts[t], 4 * nq, nb);
    }
  }
}

template <class F, bool kI8>
void TileImpl(const uint8_t* w, uint64_t w_stride, int rows, const uint8_t* a, uint64_t a_stride,
              int tokens, int64_t nb, float* y, int64_t y_stride) {
  using ABlock = typename F::ABlock;
  const int64_t nq = nb / 4;
  // Per thread: a group's prepared activations, kTileTokens x (nq quads, and for SIMD128 nb
  // widened blocks: 64 bytes a block, 128 KiB for 8 tokens of 8192 elements).
  thread_local std::vector<ActQuad> quads;
  thread_local std::vector<BlockI16> wide;
  quads.resize(static_cast<size_t>(kTileTokens * nq));
  if (!kI8) wide.resize(static_cast<size_t>(kTileTokens * nb));
  const v128_t zero = RuntimeZero();
  ForTokenGroups<kTileTokens>(tokens, [&](auto group, int first) {
    constexpr int kTokens = decltype(group)::value;
    const ABlock* acts[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      acts[t] = reinterpret_cast<const ABlock*>(a + (first + t) * a_stride);
      for (int64_t q = 0; q < nq; ++q) {
        const ABlock* aq = acts[t] + 4 * q;
        v128_t offsets[4];
        for (int i = 0; i < 4; ++i) {
          const PreparedAct<kI8> p = Prepare<F, kI8>(aq[i], zero);
          offsets[i] = p.neg_offset;
          if constexpr (!kI8) wide[t * nb + 4 * q + i] = p.a;
        }
        ActQuad& quad = quads[t * nq + q];
        quad.neg_offsets = zero;
        if constexpr (F::kOffset != 0) {
          quad.neg_offsets = Totals(offsets[0], offsets[1], offsets[2], offsets[3]);
        }
        quad.scales = ActivationScales<F>(aq);
      }
    }
    TileTokens<F, kI8, kTokens>(w, w_stride, rows, acts, quads.data(), wide.data(), nb,
                                y + first * y_stride, y_stride);
  });
}

// The matmul's tile (GemmTileFn) for format F with the kernels this module has.
template <class F>
void Tile(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride, int tokens,
          int64_t k, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  if constexpr (F::kI8) {
    if (kWasmRelaxedDot) {
      TileImpl<F, true>(wb, w_stride, rows, ab, a_stride, tokens, k / 32, y, y_stride);
      return;
    }
  }
  TileImpl<F, false>(wb, w_stride, rows, ab, a_stride, tokens, k / 32, y, y_stride);
}

}  // namespace legacy_wasm
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // HWY_TARGET == HWY_WASM
#endif  // WICK_KERNELS_CPU_LEGACY_WASM_INL_H_
