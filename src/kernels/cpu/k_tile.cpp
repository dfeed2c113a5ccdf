// A prompt's Q4_K and Q5_K matmuls on AVX-512 VNNI as transposed 16-row tiles (see
// lanes_tile.cpp): up to 16 weight rows against all the step's tokens, each result
// bit-identical to the one-row dot's (DotQ4_KQ8_K, DotQ5_KQ8_K).
//
// The reference (dot_k.cpp's DotRows) keeps eight int32 lanes a super-block: lane i gains, for
// every sub-block s, scale_s * (the four products of elements 4i..4i+3 of s); then one fused
// multiply-add of d per lane, and the mins in four lanes of their own. In the tile, lane r of
// every vector is row r, so lane i of the reference is a vector of its own: the quant bytes
// that hold elements 4i..4i+3 of sub-blocks 2h (low nibbles) and 2h + 1 (high nibbles) are
// one dword of a row, transposed as they are stored. A token's four activations come as the
// broadcast operand of vpdpbusd; the two sub-blocks' four-sums (below 2^15) are interleaved as
// the int16 halves of each lane and scaled together by one vpdpwssd, as the row kernel does.
// Q5_K's fifth bits of lane i's elements are likewise one dword of its qh (bit s for
// sub-block s).
// Highway compiles this file once per SIMD target: AVX3_DL has these tiles, AVX2 the 8-lane
// ones of k_tile_avx2-inl.h, the others none (see KTileMinTokens).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/k_tile.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/quant_blocks.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/k_scales.h"
#include "kernels/cpu/k_tile_avx2-inl.h"  // per target: after highway.h
#include "kernels/cpu/tile_x86-inl.h"     // per target: after highway.h
#include "kernels/cpu/vnni_evex-inl.h"    // per target: after highway.h

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace {

#ifdef WICK_ROW_TILES
template <class Block>
constexpr bool kFifthBit = std::is_same_v<Block, Q5_KBlock>;

using tile_x86::BroadcastInt32;
using tile_x86::kTileRows;
using tile_x86::ToFloats;

// One super-block of the tile's 16 rows. Q5_K's quants[h][j][i][r]: row r's quants 4i..4i+3
// of sub-block 2h + j as bytes, unpacked once per tile (unpacked once per token pair, its bits
// took a fifth of the kernel's instructions: 11.6 -> 9.1 cycles a token-block); Q4_K's
// quants[h][0][i][r]: row r's quant dword 32h + 4i as stored, which holds lane i of
// sub-blocks 2h (low nibbles) and 2h + 1 (high), unpacked by the kernel (unpacked in the tile,
// twice the bytes, it ran 3-10 % slower from L2); scales[h][r] and mins[l][r]: sub-blocks 2h, 2h +
// 1's scales (and 2l, 2l + 1's mins) as the low and high int16; start[i][r] what lane i of row r
// starts from (see KTileTokens); d and dmin the row's f16 factors as floats.
template <class Block>
struct alignas(64) KTileBlock {
  int32_t quants[4][kFifthBit<Block> ? 2 : 1][8][kTileRows];
  int32_t scales[4][kTileRows];
  int32_t mins[4][kTileRows];
  int32_t start[8][kTileRows];
  float d[kTileRows];
  float dmin[kTileRows];
};

// 32 bytes of each of 8 rows (row i at rows[i] + offset), transposed into out[j][8 * half..].
HWY_INLINE void TransposeRows(const uint8_t* const* rows, size_t offset, int32_t (*out)[kTileRows],
                              int half) {
  __m256i q[8];
  for (int i = 0; i < 8; ++i) {
    q[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(rows[i] + offset));
  }
  __m256i units[8];
  tile_x86::Transpose8x8(q, units);
  for (int j = 0; j < 8; ++j) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(&out[j][8 * half]), units[j]);
  }
}

// Sub-blocks 2h (lo) and 2h + 1 (hi)'s quants of one lane, as bytes, from the tile's packed
// nibbles and (Q5_K) fifth bits.
template <class Block>
HWY_INLINE void LaneQuants(__m512i packed, __m512i high, int h, __m512i& lo, __m512i& hi) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  lo = _mm512_and_si512(packed, low4);
  hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low4);
  if constexpr (kFifthBit<Block>) {
    // Bits 2h and 2h + 1 of each byte to bit 4. A 16-bit shift by at most 4 brings no bit of
    // the other byte to bit 4, so masking bit 4 is exact.
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    const __m512i lo_bit =
        h < 2 ? _mm512_slli_epi16(high, 4 - 2 * h) : _mm512_srli_epi16(high, 2 * h - 4);
    const __m512i hi_bit =
        h < 2 ? _mm512_slli_epi16(high, 3 - 2 * h) : _mm512_srli_epi16(high, 2 * h - 3);
    lo = _mm512_or_si512(lo, _mm512_and_si512(lo_bit, bit4));
    hi = _mm512_or_si512(hi, _mm512_and_si512(hi_bit, bit4));
  }
}

// Sub-block 2h's quants of lane i as bytes.
template <class Block>
HWY_INLINE __m512i EvenQuants(const KTileBlock<Block>& tb, int h, int i) {
  if constexpr (kFifthBit<Block>) return _mm512_load_si512(tb.quants[h][0][i]);
  __m512i lo, hi;
  LaneQuants<Block>(_mm512_load_si512(tb.quants[h][0][i]), _mm512_setzero_si512(), h, lo, hi);
  return lo;
}

// Transposes `rows` (1 to 16) rows' nb super-blocks into tile; a missing row repeats the last
// one (its results are not stored).
template <class Block>
void TransposeK(const uint8_t* w, uint64_t w_stride, int rows, int64_t nb,
                KTileBlock<Block>* tile) {
  const Block* row[kTileRows];
  for (int r = 0; r < kTileRows; ++r) {
    row[r] = reinterpret_cast<const Block*>(w + std::min(r, rows - 1) * w_stride);
  }
  // The stored dwords transposed (a row's quant dword 32h + 4i holds lane i of sub-blocks 2h
  // and 2h + 1, its qh dword i their fifth bits), then unpacked into the tile.
  alignas(64) int32_t packed[4][8][kTileRows];
  alignas(64) int32_t high[8][kTileRows] = {};
  for (int64_t b = 0; b < nb; ++b) {
    KTileBlock<Block>& tb = tile[b];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* qs[8];
      const uint8_t* qh[8];
      for (int i = 0; i < 8; ++i) {
        qs[i] = row[8 * half + i][b].qs;
        if constexpr (kFifthBit<Block>) qh[i] = row[8 * half + i][b].qh;
      }
      for (int h = 0; h < 4; ++h) TransposeRows(qs, 32 * h, packed[h], half);
      if constexpr (kFifthBit<Block>) TransposeRows(qh, 0, high, half);
    }
    for (int h = 0; h < 4; ++h) {
      for (int i = 0; i < 8; ++i) {
        if constexpr (kFifthBit<Block>) {
          __m512i lo, hi;
          LaneQuants<Block>(_mm512_load_si512(packed[h][i]), _mm512_load_si512(high[i]), h, lo, hi);
          _mm512_store_si512(tb.quants[h][0][i], lo);
          _mm512_store_si512(tb.quants[h][1][i], hi);
        } else {
          _mm512_store_si512(tb.quants[h][0][i], _mm512_load_si512(packed[h][i]));
        }
      }
    }
    for (int r = 0; r < kTileRows; ++r) {
      const Block& wb = row[r][b];
      const Bytes16 scale_min = UnpackScaleMin6(wb.scales);
      const auto byte = [](uint64_t v, int j) {
        return static_cast<int32_t>((v >> (8 * j)) & 0xff);
      };
      for (int h = 0; h < 4; ++h) {
        tb.scales[h][r] = byte(scale_min.lo, 2 * h) | (byte(scale_min.lo, 2 * h + 1) << 16);
        tb.mins[h][r] = byte(scale_min.hi, 2 * h) | (byte(scale_min.hi, 2 * h + 1) << 16);
      }
      tb.d[r] = F16ToF32ByTable(wb.d);
      tb.dmin[r] = F16ToF32ByTable(wb.dmin);
    }
    // -128 * sum over h of scale(2h) * (the four quants of lane i in sub-block 2h): what the
    // kernel's unsigned activations (a + 128) add to the even sub-blocks' lane sums.
    const __m512i ones = _mm512_set1_epi8(1);
    const __m512i low16 = _mm512_set1_epi32(0xffff);
    for (int i = 0; i < 8; ++i) {
      __m512i extra = _mm512_setzero_si512();
      for (int h = 0; h < 4; ++h) {
        const __m512i four = vnni::DotBytes(_mm512_setzero_si512(), EvenQuants(tb, h, i), ones);
        const __m512i scale = _mm512_and_si512(_mm512_load_si512(tb.scales[h]), low16);
        extra = _mm512_add_epi32(extra, _mm512_mullo_epi32(four, scale));
      }
      _mm512_store_si512(tb.start[i],
                         _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(extra, 7)));
    }
  }
}

// The tile's rows against kTokens activation rows `a_stride` bytes apart, into
// y[t * y_stride + r] for r < rows. Lane r of sums[t][i] is the reference's lane i of the pair
// (row r, token t), and lane r of mins[t][l] its min lane l (Q4_K; Q5_K's min term is one
// scalar, mins[t][0]): the same exact integers, the same fused multiply-adds, super-block by
// super-block.
template <class Block, int kTokens>
HWY_INLINE void KTileTokens(const KTileBlock<Block>* tile, int64_t nb, const uint8_t* a,
                            uint64_t a_stride, float* y, int64_t y_stride, int rows) {
  constexpr int kMinLanes = kFifthBit<Block> ? 1 : 4;
  const Q8_KBlock* act[kTokens];
  for (int t = 0; t < kTokens; ++t) act[t] = reinterpret_cast<const Q8_KBlock*>(a + t * a_stride);
  __m512 sums[kTokens][8];
  __m512 mins[kTokens][kMinLanes];
  for (int t = 0; t < kTokens; ++t) {
    for (__m512& v : sums[t]) v = _mm512_setzero_ps();
    for (__m512& v : mins[t]) v = _mm512_setzero_ps();
  }
  // Each token's sub-block sums (the reference's hadd of its 16-element sums), pair l as the
  // int16 halves of dword l, a super-block ahead, to be broadcast.
  alignas(16) int32_t sub_sums[2][kTokens][4];
  // The even sub-blocks' activations as unsigned bytes (a + 128), also a super-block ahead.
  alignas(32) int32_t moved[2][kTokens][4][8];
  const __m256i top = _mm256_set1_epi8(static_cast<char>(0x80));
  const auto ahead = [&](int64_t b) {
    for (int t = 0; t < kTokens; ++t) {
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[t][b].bsums));
      _mm_store_si128(
          reinterpret_cast<__m128i*>(sub_sums[b & 1][t]),
          _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1)));
      for (int h = 0; h < 4; ++h) {
        const __m256i qs =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[t][b].qs + 64 * h));
        _mm256_store_si256(reinterpret_cast<__m256i*>(moved[b & 1][t][h]),
                           _mm256_xor_si256(qs, top));
      }
    }
  };
  ahead(0);
  for (int64_t b = 0; b < nb; ++b) {
    if (b + 1 < nb) ahead(b + 1);
    const KTileBlock<Block>& tb = tile[b];
    __m512 d[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      d[t] = _mm512_mul_ps(_mm512_set1_ps(act[t][b].d), _mm512_load_ps(tb.d));
    }
    // Unrolled whole: with i as a run-time index the sums live on the stack.
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      __m512i lane[kTokens];
      for (__m512i& v : lane) v = _mm512_load_si512(tb.start[i]);
#pragma GCC unroll 4
      for (int h = 0; h < 4; ++h) {
        __m512i lo, hi;
        if constexpr (kFifthBit<Block>) {
          lo = _mm512_load_si512(tb.quants[h][0][i]);
          hi = _mm512_load_si512(tb.quants[h][1][i]);
        } else {
          LaneQuants<Block>(_mm512_load_si512(tb.quants[h][0][i]), _mm512_setzero_si512(), h, lo,
                            hi);
        }
        const __m512i scale = _mm512_load_si512(tb.scales[h]);
        for (int t = 0; t < kTokens; ++t) {
          // Sub-block 2h + 1's four-sum (below 2^15 in magnitude) in the high int16 of each
          // lane, then sub-block 2h's against the unsigned activations added below it: at
          // least 0 and below 2^15 (4 * 31 * 255), so no borrow reaches the high half. The
          // tile's start takes the 128 * scale * quants that the unsigned activations add
          // back off.
          const __m512i four_hi = vnni::DotBytesBroadcast(_mm512_setzero_si512(), hi,
                                                          act[t][b].qs + 64 * h + 32 + 4 * i);
          const __m512i both = vnni::DotBytes(_mm512_slli_epi32(four_hi, 16),
                                              BroadcastInt32(&moved[b & 1][t][h][i]), lo);
          lane[t] = vnni::DotPairs(lane[t], both, scale);
        }
      }
      for (int t = 0; t < kTokens; ++t) {
        sums[t][i] = _mm512_fmadd_ps(ToFloats(lane[t]), d[t], sums[t][i]);
      }
    }
    const __m512 dmin_w = _mm512_load_ps(tb.dmin);
    for (int t = 0; t < kTokens; ++t) {
      const __m512 dmin = _mm512_mul_ps(_mm512_set1_ps(-act[t][b].d), dmin_w);
      // Lane pair l: mins 2l and 2l + 1 against sub-block sums 2l and 2l + 1.
      __m512i four[4];
      for (int l = 0; l < 4; ++l) {
        four[l] = vnni::DotPairs(_mm512_setzero_si512(), _mm512_load_si512(tb.mins[l]),
                                 BroadcastInt32(&sub_sums[b & 1][t][l]));
      }
      if constexpr (kFifthBit<Block>) {
        // Q5_K: the four lanes' exact integer total, one fused multiply-add.
        const __m512i total = _mm512_add_epi32(_mm512_add_epi32(four[0], four[1]),
                                               _mm512_add_epi32(four[2], four[3]));
        mins[t][0] = _mm512_fmadd_ps(dmin, ToFloats(total), mins[t][0]);
      } else {
        for (int l = 0; l < 4; ++l)
          mins[t][l] = _mm512_fmadd_ps(dmin, ToFloats(four[l]), mins[t][l]);
      }
    }
  }
  const __mmask16 stored = static_cast<__mmask16>((1u << rows) - 1);
  for (int t = 0; t < kTokens; ++t) {
    // hsum_float_8's order over the lanes i, then the min term as DotRows adds it.
    const __m512 lanes = tile_x86::SumLanes8(sums[t]);
    __m512 min_total = mins[t][0];
    if constexpr (!kFifthBit<Block>) {
      min_total = _mm512_add_ps(_mm512_add_ps(mins[t][0], mins[t][2]),
                                _mm512_add_ps(mins[t][1], mins[t][3]));
    }
    _mm512_mask_storeu_ps(y + t * y_stride, stored, _mm512_add_ps(lanes, min_total));
  }
}

// One super-block of a Q6_K tile's 16 rows. Run (h, k) is elements 128h + 32k..+31; lane i of
// a run is its elements 4i..4i+3, whose low four bits are ql dword 16h + 8(k % 2) + i (low
// nibbles for k < 2, high for k >= 2) and whose top two bits are crumb k of qh dword 8h + i.
// quants[h][c][j][i][r]: row r's lane i of run (h, c + 2j), unpacked, less 32 (signed bytes:
// unpacked once per tile, not once per token pair, which halved the kernel's instructions);
// scales[h][c][s][r]: runs (h, c) and (h, c + 2)'s scales for lanes 4s..4s+3 as the low and
// high int16; start[i][r] what lane i of row r starts from; d the row's f16 factor as a float.
struct alignas(64) Q6_KTileBlock {
  int32_t quants[2][2][2][8][kTileRows];
  int32_t scales[2][2][2][kTileRows];
  int32_t start[8][kTileRows];
  float d[kTileRows];
};

// Runs (h, c) and (h, c + 2)'s quants of one lane, less 32 (signed bytes, -32..31).
HWY_INLINE void Q6_KLaneQuants(__m512i low, __m512i high, int c, __m512i& first, __m512i& second) {
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  const __m512i top2 = _mm512_set1_epi8(0x30);
  const __m512i thirty_two = _mm512_set1_epi8(32);
  // Crumbs c and c + 2 (bits 2c and 2c + 4) to bits 4-5. A 16-bit shift by at most 4 brings
  // no bit of the other byte to bits 4-5.
  const __m512i crumb_first = c == 0 ? _mm512_slli_epi16(high, 4) : _mm512_slli_epi16(high, 2);
  const __m512i crumb_second = c == 0 ? high : _mm512_srli_epi16(high, 2);
  // (nibble | crumb) with one ternary-logic instruction each: a | (b & mask).
  first = _mm512_ternarylogic_epi32(_mm512_and_si512(low, low4), crumb_first, top2, 0xF8);
  second = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(low, 4), low4),
                                     crumb_second, top2, 0xF8);
  first = _mm512_sub_epi8(first, thirty_two);
  second = _mm512_sub_epi8(second, thirty_two);
}

void TransposeQ6_K(const uint8_t* w, uint64_t w_stride, int rows, int64_t nb, Q6_KTileBlock* tile) {
  const Q6_KBlock* row[kTileRows];
  for (int r = 0; r < kTileRows; ++r) {
    row[r] = reinterpret_cast<const Q6_KBlock*>(w + std::min(r, rows - 1) * w_stride);
  }
  // The stored dwords transposed, then unpacked into the tile.
  alignas(64) int32_t low[2][2][8][kTileRows];
  alignas(64) int32_t high[2][8][kTileRows];
  for (int64_t b = 0; b < nb; ++b) {
    Q6_KTileBlock& tb = tile[b];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql[8];
      const uint8_t* qh[8];
      for (int i = 0; i < 8; ++i) {
        ql[i] = row[8 * half + i][b].ql;
        qh[i] = row[8 * half + i][b].qh;
      }
      for (int h = 0; h < 2; ++h) {
        for (int c = 0; c < 2; ++c) TransposeRows(ql, 64 * h + 32 * c, low[h][c], half);
        TransposeRows(qh, 32 * h, high[h], half);
      }
    }
    for (int h = 0; h < 2; ++h) {
      for (int c = 0; c < 2; ++c) {
        for (int i = 0; i < 8; ++i) {
          __m512i first, second;
          Q6_KLaneQuants(_mm512_load_si512(low[h][c][i]), _mm512_load_si512(high[h][i]), c, first,
                         second);
          _mm512_store_si512(tb.quants[h][c][0][i], first);
          _mm512_store_si512(tb.quants[h][c][1][i], second);
        }
      }
    }
    for (int r = 0; r < kTileRows; ++r) {
      const Q6_KBlock& wb = row[r][b];
      const auto scale = [&](int sub) {
        return static_cast<int32_t>(static_cast<uint16_t>(static_cast<int16_t>(wb.scales[sub])));
      };
      for (int h = 0; h < 2; ++h) {
        for (int c = 0; c < 2; ++c) {
          for (int s = 0; s < 2; ++s) {
            tb.scales[h][c][s][r] =
                scale(8 * h + 2 * c + s) | (scale(8 * h + 2 * (c + 2) + s) << 16);
          }
        }
      }
      tb.d[r] = F16ToF32ByTable(wb.d);
    }
    // -128 * the sum over runs of scale * (the lane's four quants less 32): what the kernel's
    // unsigned activations (a + 128) add to each lane.
    const __m512i ones = _mm512_set1_epi8(1);
    for (int i = 0; i < 8; ++i) {
      __m512i extra = _mm512_setzero_si512();
      for (int h = 0; h < 2; ++h) {
        for (int c = 0; c < 2; ++c) {
          const __m512i first = _mm512_load_si512(tb.quants[h][c][0][i]);
          const __m512i second = _mm512_load_si512(tb.quants[h][c][1][i]);
          const __m512i scales = _mm512_load_si512(tb.scales[h][c][i / 4]);
          const __m512i scale_first = _mm512_srai_epi32(_mm512_slli_epi32(scales, 16), 16);
          const __m512i scale_second = _mm512_srai_epi32(scales, 16);
          extra = _mm512_add_epi32(
              extra,
              _mm512_mullo_epi32(vnni::DotBytes(_mm512_setzero_si512(), ones, first), scale_first));
          extra = _mm512_add_epi32(
              extra, _mm512_mullo_epi32(vnni::DotBytes(_mm512_setzero_si512(), ones, second),
                                        scale_second));
        }
      }
      _mm512_store_si512(tb.start[i],
                         _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(extra, 7)));
    }
  }
}

// The Q6_K tile's rows against kTokens activation rows, as KTileTokens. Both runs of a pair
// meet the activations moved to unsigned bytes (their quants, less 32, stay signed), and their
// four-sums (below 2^15 in magnitude, either sign) are interleaved by a blend.
template <int kTokens>
HWY_INLINE void Q6_KTileTokens(const Q6_KTileBlock* tile, int64_t nb, const uint8_t* a,
                               uint64_t a_stride, float* y, int64_t y_stride, int rows) {
  const Q8_KBlock* act[kTokens];
  for (int t = 0; t < kTokens; ++t) act[t] = reinterpret_cast<const Q8_KBlock*>(a + t * a_stride);
  __m512 sums[kTokens][8];
  for (int t = 0; t < kTokens; ++t) {
    for (__m512& v : sums[t]) v = _mm512_setzero_ps();
  }
  // The activations as unsigned bytes (a + 128), a super-block ahead.
  alignas(64) int32_t moved[2][kTokens][64];
  const __m512i top = _mm512_set1_epi8(static_cast<char>(0x80));
  const auto ahead = [&](int64_t b) {
    for (int t = 0; t < kTokens; ++t) {
      for (int q = 0; q < 4; ++q) {
        _mm512_store_si512(moved[b & 1][t] + 16 * q,
                           _mm512_xor_si512(_mm512_loadu_si512(act[t][b].qs + 64 * q), top));
      }
    }
  };
  ahead(0);
  for (int64_t b = 0; b < nb; ++b) {
    if (b + 1 < nb) ahead(b + 1);
    const Q6_KTileBlock& tb = tile[b];
    __m512 d[kTokens];
    for (int t = 0; t < kTokens; ++t) {
      d[t] = _mm512_mul_ps(_mm512_set1_ps(act[t][b].d), _mm512_load_ps(tb.d));
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      __m512i lane[kTokens];
      for (__m512i& v : lane) v = _mm512_load_si512(tb.start[i]);
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
#pragma GCC unroll 2
        for (int c = 0; c < 2; ++c) {
          const __m512i first = _mm512_load_si512(tb.quants[h][c][0][i]);
          const __m512i second = _mm512_load_si512(tb.quants[h][c][1][i]);
          const __m512i scale = _mm512_load_si512(tb.scales[h][c][i / 4]);
          // Activation dwords of elements 128h + 32k + 4i, k = c and c + 2.
          const int first_dword = 32 * h + 8 * c + i;
          for (int t = 0; t < kTokens; ++t) {
            const __m512i four_first = vnni::DotBytes(
                _mm512_setzero_si512(), BroadcastInt32(&moved[b & 1][t][first_dword]), first);
            const __m512i four_second = vnni::DotBytes(
                _mm512_setzero_si512(), BroadcastInt32(&moved[b & 1][t][first_dword + 16]), second);
            const __m512i both = _mm512_mask_blend_epi16(0xAAAAAAAAu, four_first,
                                                         _mm512_slli_epi32(four_second, 16));
            lane[t] = vnni::DotPairs(lane[t], both, scale);
          }
        }
      }
      for (int t = 0; t < kTokens; ++t) {
        sums[t][i] = _mm512_fmadd_ps(ToFloats(lane[t]), d[t], sums[t][i]);
      }
    }
  }
  const __mmask16 stored = static_cast<__mmask16>((1u << rows) - 1);
  for (int t = 0; t < kTokens; ++t) {
    _mm512_mask_storeu_ps(y + t * y_stride, stored, tile_x86::SumLanes8(sums[t]));
  }
}
#endif  // WICK_ROW_TILES

void TileQ6_K(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
              int tokens, int64_t k, float* y, int64_t y_stride) {
#ifdef WICK_ROW_TILES
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const int64_t nb = k / static_cast<int64_t>(kQK_K);
  thread_local std::vector<Q6_KTileBlock> tile;
  if (tile.size() < static_cast<size_t>(nb)) tile.resize(static_cast<size_t>(nb));
  for (int r0 = 0; r0 < rows; r0 += kTileRows) {
    const int count = std::min(kTileRows, rows - r0);
    TransposeQ6_K(wb + r0 * w_stride, w_stride, count, nb, tile.data());
    int t = 0;
    for (; t + 2 <= tokens; t += 2) {
      Q6_KTileTokens<2>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                        y_stride, count);
    }
    if (t < tokens) {
      Q6_KTileTokens<1>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                        y_stride, count);
    }
  }
#elif defined(WICK_ROW_TILES8)
  k_tile_avx2::KTile8<Q6_KBlock>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
#else
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int t = 0; t < tokens; ++t) {
    for (int r = 0; r < rows; ++r) {
      y[t * y_stride + r] = simd::DotQ6_KQ8_K(wb + r * w_stride, ab + t * a_stride, k);
    }
  }
#endif
}

template <class Block>
void KTile(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride, int tokens,
           int64_t k, float* y, int64_t y_stride,
           float (*one_row)(const void*, const void*, int64_t)) {
#ifdef WICK_ROW_TILES
  (void)one_row;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const int64_t nb = k / static_cast<int64_t>(kQK_K);
  // Grown once per thread to the longest row it meets.
  thread_local std::vector<KTileBlock<Block>> tile;
  if (tile.size() < static_cast<size_t>(nb)) tile.resize(static_cast<size_t>(nb));
  for (int r0 = 0; r0 < rows; r0 += kTileRows) {
    const int count = std::min(kTileRows, rows - r0);
    TransposeK<Block>(wb + r0 * w_stride, w_stride, count, nb, tile.data());
    int t = 0;
    for (; t + 2 <= tokens; t += 2) {
      KTileTokens<Block, 2>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                            y_stride, count);
    }
    if (t < tokens) {
      KTileTokens<Block, 1>(tile.data(), nb, ab + t * a_stride, a_stride, y + t * y_stride + r0,
                            y_stride, count);
    }
  }
#elif defined(WICK_ROW_TILES8)
  (void)one_row;
  k_tile_avx2::KTile8<Block>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
#else
  // Not called where KTileMinTokens is 0; correct anyway, one dot at a time.
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int t = 0; t < tokens; ++t) {
    for (int r = 0; r < rows; ++r) {
      y[t * y_stride + r] = one_row(wb + r * w_stride, ab + t * a_stride, k);
    }
  }
#endif
}

}  // namespace

int KTileMinTokensImpl() {
#if defined(WICK_ROW_TILES)
  return tile_x86::kTileMinTokens;
#elif defined(WICK_ROW_TILES8)
  return k_tile_avx2::kMinTokens;
#else
  return 0;
#endif
}

void TileQ6_KQ8_KImpl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                      int tokens, int64_t k, float* y, int64_t y_stride) {
  TileQ6_K(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void TileQ4_KQ8_KImpl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                      int tokens, int64_t k, float* y, int64_t y_stride) {
  KTile<Q4_KBlock>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride, simd::DotQ4_KQ8_K);
}
void TileQ5_KQ8_KImpl(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                      int tokens, int64_t k, float* y, int64_t y_stride) {
  KTile<Q5_KBlock>(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride, simd::DotQ5_KQ8_K);
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels::simd {

HWY_EXPORT(KTileMinTokensImpl);
HWY_EXPORT(TileQ4_KQ8_KImpl);
HWY_EXPORT(TileQ5_KQ8_KImpl);
HWY_EXPORT(TileQ6_KQ8_KImpl);

int KTileMinTokens() {
  return HWY_DYNAMIC_DISPATCH(KTileMinTokensImpl)();
}

void TileQ4_KQ8_K(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(TileQ4_KQ8_KImpl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}
void TileQ5_KQ8_K(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(TileQ5_KQ8_KImpl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}

void TileQ6_KQ8_K(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride) {
  HWY_DYNAMIC_DISPATCH(TileQ6_KQ8_KImpl)(w, w_stride, rows, a, a_stride, tokens, k, y, y_stride);
}

}  // namespace wick::kernels::simd
#endif  // HWY_ONCE
