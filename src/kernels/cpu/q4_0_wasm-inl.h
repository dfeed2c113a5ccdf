// Q4_0 dot products for WebAssembly: one activation row against a few weight rows (a decode
// step), and a tile of weight rows against a prompt's tokens. Both exist twice, for the module
// with Relaxed SIMD's integer dot products and for the SIMD128 one (wasm_relaxed.h), and all
// four give each (row, token) the same bits: the blocks' integer dots are exact, and the float
// steps are the same. Include it after <hwy/highway.h> in a file that Highway's
// foreach_target.h re-includes; WICK_Q4_0_WASM says whether this target has them.
#if defined(WICK_KERNELS_CPU_Q4_0_WASM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_Q4_0_WASM_INL_H_
#undef WICK_KERNELS_CPU_Q4_0_WASM_INL_H_
#else
#define WICK_KERNELS_CPU_Q4_0_WASM_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>
#include <vector>

#include "core/quant_blocks.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/token_groups.h"
#include "kernels/cpu/wasm_relaxed.h"

#undef WICK_Q4_0_WASM
#if HWY_TARGET == HWY_WASM
#define WICK_Q4_0_WASM 1
#include <wasm_simd128.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace q4_0_wasm {

// The summation order, shared by every kernel here: per (row, token), blocks in groups of
// four ("quads"), whose exact integer dots become the lanes of one vector, times
// d_w * d_a, added to a four-lane accumulator; the lanes summed as (0 + 1) + (2 + 3) at the
// end, then the blocks past the last whole quad, one by one.

// A Q8_0 activation block widened to int16 (elements 0-7, 8-15, 16-23, 24-31), once for all
// the weight rows it meets, with what the Q4 weights' offset of 8 contributes (8 * a, summed
// in pairs as the dot instruction sums).
struct WideQ8Block {
  v128_t a0, a1, a2, a3, offset;
};

HWY_INLINE WideQ8Block Widen(const Q8_0Block& block) {
  const v128_t lo = wasm_v128_load(block.qs);
  const v128_t hi = wasm_v128_load(block.qs + kQK8_0 / 2);
  WideQ8Block w;
  w.a0 = wasm_i16x8_extend_low_i8x16(lo);
  w.a1 = wasm_i16x8_extend_high_i8x16(lo);
  w.a2 = wasm_i16x8_extend_low_i8x16(hi);
  w.a3 = wasm_i16x8_extend_high_i8x16(hi);
  const v128_t eight = wasm_i16x8_splat(8);
  w.offset = wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.a0, eight), wasm_i32x4_dot_i16x8(w.a1, eight)),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.a2, eight), wasm_i32x4_dot_i16x8(w.a3, eight)));
  return w;
}

// A Q4_0 block's nibbles (a byte's low nibble is element j, its high nibble element j + 16)
// widened straight to int16, for SIMD128's dot instruction (one x86 pmaddwd).
struct NibblesI16 {
  v128_t n0, n1, n2, n3;  // elements 0-7, 8-15, 16-23, 24-31
};

HWY_INLINE NibblesI16 UnpackI16(const uint8_t* qs) {
  const v128_t packed = wasm_v128_load(qs);
  const v128_t e0 = wasm_u16x8_extend_low_u8x16(packed);
  const v128_t e1 = wasm_u16x8_extend_high_u8x16(packed);
  const v128_t low4 = wasm_i16x8_splat(0x0f);
  return {wasm_v128_and(e0, low4), wasm_v128_and(e1, low4), wasm_u16x8_shr(e0, 4),
          wasm_u16x8_shr(e1, 4)};
}

// sum(q * a) of a block in int32 lanes, without the offset.
HWY_INLINE v128_t DotI16(const NibblesI16& w, const WideQ8Block& a) {
  return wasm_i32x4_add(
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.n0, a.a0), wasm_i32x4_dot_i16x8(w.n1, a.a1)),
      wasm_i32x4_add(wasm_i32x4_dot_i16x8(w.n2, a.a2), wasm_i32x4_dot_i16x8(w.n3, a.a3)));
}

// sum((q - 8) * a) of a Q4_0 block in int32 lanes, the offset taken off at the end.
HWY_INLINE v128_t Q4_0DotWide(const uint8_t* qs, const WideQ8Block& a) {
  return wasm_i32x4_sub(DotI16(UnpackI16(qs), a), a.offset);
}

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

// Relaxed SIMD (see wasm_relaxed.h): the nibbles stay bytes, and one dot instruction multiplies
// sixteen of them by the activations and adds them to int32 lanes.
struct NibblesI8 {
  v128_t lo, hi;  // elements 0-15 and 16-31
};

HWY_INLINE NibblesI8 UnpackI8(const uint8_t* qs) {
  const v128_t packed = wasm_v128_load(qs);
  const v128_t low4 = wasm_i8x16_splat(0x0f);
  return {wasm_v128_and(packed, low4), wasm_v128_and(wasm_u16x8_shr(packed, 4), low4)};
}

// start + sum(q * a) of a block in int32 lanes; a_lo and a_hi are its activations' halves.
// `start` must not be a constant (see RelaxedDotAddI8I7).
HWY_INLINE v128_t DotI8(const NibblesI8& w, v128_t a_lo, v128_t a_hi, v128_t start) {
  return RelaxedDotAddI8I7(a_hi, w.hi, RelaxedDotAddI8I7(a_lo, w.lo, start));
}

struct Q8Halves {
  v128_t lo, hi;      // elements 0-15 and 16-31
  v128_t neg_offset;  // -8 * the sums of four activations in the dot instruction's lanes: what
                      // the weights' offset of 8 takes off
};

// `zero` is all zeros, but not a constant (see RelaxedDotAddI8I7).
HWY_INLINE Q8Halves Halves(const Q8_0Block& block, v128_t zero) {
  Q8Halves h;
  h.lo = wasm_v128_load(block.qs);
  h.hi = wasm_v128_load(block.qs + kQK8_0 / 2);
  const v128_t eight = wasm_i8x16_splat(8);
  h.neg_offset =
      wasm_i32x4_sub(zero, RelaxedDotAddI8I7(h.hi, eight, RelaxedDotAddI8I7(h.lo, eight, zero)));
  return h;
}

// sum((q - 8) * a) of a Q4_0 block in int32 lanes.
HWY_INLINE v128_t Q4_0DotRelaxed(const uint8_t* qs, const Q8Halves& a) {
  return DotI8(UnpackI8(qs), a.lo, a.hi, a.neg_offset);
}

// An all-zero vector the optimizers cannot fold.
inline volatile int32_t g_runtime_zero[4] = {0, 0, 0, 0};
HWY_INLINE v128_t RuntimeZero() {
  return wasm_i32x4_make(g_runtime_zero[0], g_runtime_zero[1], g_runtime_zero[2],
                         g_runtime_zero[3]);
}

// d of four consecutive blocks (weights or activations) as the lanes of one vector.
template <class Block>
HWY_INLINE v128_t QuadScales(const Block* b) {
  return wasm_f32x4_make(F16ToF32ByTable(b[0].d), F16ToF32ByTable(b[1].d), F16ToF32ByTable(b[2].d),
                         F16ToF32ByTable(b[3].d));
}

// acc + totals * (w_scales * a_scales), lane by lane: a quad's step of the summation order.
// (The product of two f16 values is exact in f32, so the scales' order does not matter.)
HWY_INLINE v128_t AddQuad(v128_t acc, v128_t totals, v128_t w_scales, v128_t a_scales) {
  return wasm_f32x4_add(
      acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(totals), wasm_f32x4_mul(w_scales, a_scales)));
}

// The result from a (row, token)'s accumulator and the blocks past its last whole quad.
HWY_INLINE float Finish(v128_t acc, const Q4_0Block* w, const Q8_0Block* a, int64_t nb4, int64_t nb,
                        v128_t (*dot)(const Q4_0Block&, const Q8_0Block&)) {
  float rest = 0.0f;
  for (int64_t b = nb4; b < nb; ++b) {
    const auto total = static_cast<float>(Total(dot(w[b], a[b])));
    rest += total * (F16ToF32ByTable(w[b].d) * F16ToF32ByTable(a[b].d));
  }
  return (wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1)) +
         (wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3)) + rest;
}

// The exact integer dot of block b of a Q4_0 row in int32 lanes, through the SIMD128 kernel or
// the Relaxed SIMD one (which the module has: kWasmRelaxedDot).
template <bool kRelaxed>
struct Q4_0Blocks {
  const Q8_0Block* a;
  v128_t zero;  // for the relaxed kernel: all zeros, but not a constant (see RelaxedDotAddI8I7)

  // Per activation block: what every row's dot needs of it.
  auto Prepare(int64_t b) const {
    if constexpr (kRelaxed) {
      return Halves(a[b], zero);
    } else {
      return Widen(a[b]);
    }
  }
  template <class Prepared>
  static v128_t Dot(const Q4_0Block& w, const Prepared& ab) {
    if constexpr (kRelaxed) {
      return Q4_0DotRelaxed(w.qs, ab);
    } else {
      return Q4_0DotWide(w.qs, ab);
    }
  }
};

// One block's sum((q - 8) * a), through either module's kernel, for the blocks past the quads.
template <bool kRelaxed>
v128_t BlockDot(const Q4_0Block& w, const Q8_0Block& a) {
  const Q4_0Blocks<kRelaxed> block{&a, RuntimeZero()};
  return block.Dot(w, block.Prepare(0));
}

// Activation blocks prepared at a time: each of the rows is read in sequential runs of this
// many blocks (the whole row up to 8192 weights), which the CPU's prefetcher follows. Four rows
// read block by block in step decoded 20 % slower: the kernel is too long per block for the CPU
// to run far enough ahead of four interleaved streams' cache misses.
constexpr int64_t kChunk = 256;

// `rows` Q4_0 rows (1 to 4, `row_bytes` apart) against one activation row, four blocks of a
// row at a time.
template <bool kRelaxed>
void DotRows(const uint8_t* w, uint64_t row_bytes, int rows, const Q8_0Block* a, int64_t nb,
             float* out) {
  const Q4_0Blocks<kRelaxed> blocks{a, RuntimeZero()};
  decltype(blocks.Prepare(0)) prepared[kChunk];
  v128_t act_scales[kChunk / 4];
  v128_t acc[4];
  for (v128_t& v : acc) v = wasm_f32x4_splat(0.0f);
  const int64_t nb4 = nb & ~int64_t{3};
  for (int64_t c = 0; c < nb4; c += kChunk) {
    const int64_t n = nb4 - c < kChunk ? nb4 - c : kChunk;
    for (int64_t j = 0; j < n; ++j) prepared[j] = blocks.Prepare(c + j);
    for (int64_t j = 0; j < n; j += 4) act_scales[j / 4] = QuadScales(a + c + j);
    for (int r = 0; r < rows; ++r) {
      const Q4_0Block* wr = reinterpret_cast<const Q4_0Block*>(w + r * row_bytes) + c;
      v128_t sum = acc[r];
      for (int64_t j = 0; j < n; j += 4) {
        const v128_t totals =
            Totals(blocks.Dot(wr[j], prepared[j]), blocks.Dot(wr[j + 1], prepared[j + 1]),
                   blocks.Dot(wr[j + 2], prepared[j + 2]), blocks.Dot(wr[j + 3], prepared[j + 3]));
        sum = AddQuad(sum, totals, QuadScales(wr + j), act_scales[j / 4]);
      }
      acc[r] = sum;
    }
  }
  for (int r = 0; r < rows; ++r) {
    out[r] = Finish(acc[r], reinterpret_cast<const Q4_0Block*>(w + r * row_bytes), a, nb4, nb,
                    BlockDot<kRelaxed>);
  }
}

// DotRows with the kernels this module has.
inline void DotRows(const void* w, uint64_t row_bytes, int rows, const void* a, int64_t n,
                    float* out) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const Q8_0Block*>(a);
  const int64_t nb = n / kQK4_0;
  if (kWasmRelaxedDot) {
    DotRows<true>(wb, row_bytes, rows, ab, nb, out);
  } else {
    DotRows<false>(wb, row_bytes, rows, ab, nb, out);
  }
}

// A prompt's tokens at a time against each weight row: a quad of weight blocks is unpacked and
// its scales converted once for them all, and the weights' offset of 8 is taken off once per
// quad. A decode step's DotRows does that per (row, token) and also prepares each activation
// block per four rows.
constexpr int kTileTokens = 8;
// Below this many tokens the matmul keeps DotRows.
constexpr int kTileMinTokens = 2;

// Per (token, quad of activation blocks): what the tile adds to the quad's integer totals, and
// the four scales.
struct ActQuad {
  v128_t neg_offsets;  // -8 * sum(a) of each block: the weights' offset of 8
  v128_t scales;
};

// Each of `rows` weight rows against kTokens activation rows; quads[t * nq + q] is token t's
// ActQuad of quad q, and for SIMD128 wide[t * nb + b] its block b widened.
template <bool kRelaxed, int kTokens>
void TileTokens(const uint8_t* w, uint64_t w_stride, int rows, const Q8_0Block* const* acts,
                const ActQuad* quads, const WideQ8Block* wide, int64_t nb, float* y,
                int64_t y_stride) {
  const int64_t nq = nb / 4;
  const v128_t zero = RuntimeZero();
  for (int r = 0; r < rows; ++r) {
    const auto* wr = reinterpret_cast<const Q4_0Block*>(w + r * w_stride);
    v128_t acc[kTokens];
    for (v128_t& v : acc) v = wasm_f32x4_splat(0.0f);
    for (int64_t q = 0; q < nq; ++q) {
      const Q4_0Block* wq = wr + 4 * q;
      const v128_t w_scales = QuadScales(wq);
      if constexpr (kRelaxed) {
        const NibblesI8 w0 = UnpackI8(wq[0].qs), w1 = UnpackI8(wq[1].qs), w2 = UnpackI8(wq[2].qs),
                        w3 = UnpackI8(wq[3].qs);
        for (int t = 0; t < kTokens; ++t) {
          const Q8_0Block* aq = acts[t] + 4 * q;
          const auto dot = [&](const NibblesI8& wb, const Q8_0Block& ab) {
            return DotI8(wb, wasm_v128_load(ab.qs), wasm_v128_load(ab.qs + kQK8_0 / 2), zero);
          };
          const ActQuad& aq4 = quads[t * nq + q];
          const v128_t totals =
              wasm_i32x4_add(Totals(dot(w0, aq[0]), dot(w1, aq[1]), dot(w2, aq[2]), dot(w3, aq[3])),
                             aq4.neg_offsets);
          acc[t] = AddQuad(acc[t], totals, w_scales, aq4.scales);
        }
      } else {
        const NibblesI16 w0 = UnpackI16(wq[0].qs), w1 = UnpackI16(wq[1].qs),
                         w2 = UnpackI16(wq[2].qs), w3 = UnpackI16(wq[3].qs);
        for (int t = 0; t < kTokens; ++t) {
          const WideQ8Block* aw = wide + t * nb + 4 * q;
          const ActQuad& aq4 = quads[t * nq + q];
          const v128_t totals = wasm_i32x4_add(
              Totals(DotI16(w0, aw[0]), DotI16(w1, aw[1]), DotI16(w2, aw[2]), DotI16(w3, aw[3])),
              aq4.neg_offsets);
          acc[t] = AddQuad(acc[t], totals, w_scales, aq4.scales);
        }
      }
    }
    for (int t = 0; t < kTokens; ++t) {
      y[t * y_stride + r] = Finish(acc[t], wr, acts[t], 4 * nq, nb, BlockDot<kRelaxed>);
    }
  }
}

template <bool kRelaxed>
void Tile(const uint8_t* w, uint64_t w_stride, int rows, const uint8_t* a, uint64_t a_stride,
          int tokens, int64_t nb, float* y, int64_t y_stride) {
  const int64_t nq = nb / 4;
  // Per thread: a group's prepared activations, kTileTokens x (nq quads, and for SIMD128 nb
  // widened blocks: 80 bytes a block, 160 KiB for 8 tokens of 8192 elements).
  thread_local std::vector<ActQuad> quads;
  thread_local std::vector<WideQ8Block> wide;
  quads.resize(static_cast<size_t>(kTileTokens * nq));
  if (!kRelaxed) wide.resize(static_cast<size_t>(kTileTokens * nb));
  const v128_t zero = RuntimeZero();
  ForTokenGroups<kTileTokens>(tokens, [&](auto group, int first) {
    constexpr int kTokens = decltype(group)::value;
    const Q8_0Block* acts[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      acts[t] = reinterpret_cast<const Q8_0Block*>(a + (first + t) * a_stride);
      for (int64_t q = 0; q < nq; ++q) {
        const Q8_0Block* aq = acts[t] + 4 * q;
        v128_t offsets[4];
        for (int i = 0; i < 4; ++i) {
          if constexpr (kRelaxed) {
            offsets[i] = Halves(aq[i], zero).neg_offset;
          } else {
            const WideQ8Block wb = Widen(aq[i]);
            wide[t * nb + 4 * q + i] = wb;
            offsets[i] = wasm_i32x4_sub(zero, wb.offset);
          }
        }
        quads[t * nq + q] = {Totals(offsets[0], offsets[1], offsets[2], offsets[3]),
                             QuadScales(aq)};
      }
    }
    TileTokens<kRelaxed, kTokens>(w, w_stride, rows, acts, quads.data(), wide.data(), nb,
                                  y + first * y_stride, y_stride);
  });
}

// The matmul's tile (GemmTileFn) with the kernels this module has.
inline void Tile(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                 int tokens, int64_t k, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  if (kWasmRelaxedDot) {
    Tile<true>(wb, w_stride, rows, ab, a_stride, tokens, k / kQK4_0, y, y_stride);
  } else {
    Tile<false>(wb, w_stride, rows, ab, a_stride, tokens, k / kQK4_0, y, y_stride);
  }
}

}  // namespace q4_0_wasm
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // HWY_TARGET == HWY_WASM
#endif  // WICK_KERNELS_CPU_Q4_0_WASM_INL_H_
