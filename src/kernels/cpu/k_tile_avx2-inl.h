// A prompt's Q4_K, Q5_K and Q6_K matmuls on AVX2 as transposed tiles of 16 rows (two vectors
// of 8: lane r of a vector is row r), every result keeping the bits of the one-row dot
// (dot_k.cpp's DotRows), whose eight int32 lanes a super-block gain, for every run s of 32
// elements, scale * (the four products of elements 4i..4i+3 of s) in lane i.
//
// Without VNNI a four-product sum costs two multiplies (pmaddubsw, pmaddwd), and the row
// kernel spends both on every 32 products. Here the tile pairs runs 2j and 2j + 1 (elements
// 64j..64j+63) and interleaves them by pairs of elements: dword u of pair j holds elements
// 2u, 2u + 1 of run 2j and the same two of run 2j + 1. pmaddubsw of lane i's two dwords
// (u = 2i, 2i + 1) against the activations arranged alike gives int16 pair sums that add,
// still exact, into [four-sum of run 2j, four-sum of run 2j + 1], and one pmaddwd by the two
// runs' scales adds both, scaled, to the lane: three multiplies for 64 products where the row
// kernel has four. The activations go in as unsigned bytes (a + 128) and the quants as signed
// ones, read by the multiplies straight from the tile; each lane starts from the tile's
// -128 * sum(scale * quants), which takes the 128 * quants back off. The unpacking, the scales
// and the f16 factors are the tile's, paid once for all the tokens.
// Include it after <hwy/highway.h> in k_tile.cpp.
#if defined(WICK_KERNELS_CPU_K_TILE_AVX2_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_K_TILE_AVX2_INL_H_
#undef WICK_KERNELS_CPU_K_TILE_AVX2_INL_H_
#else
#define WICK_KERNELS_CPU_K_TILE_AVX2_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/quant_blocks.h"
#include "kernels/cpu/f16_table.h"
#include "kernels/cpu/k_scales.h"
#include "kernels/cpu/tile_x86-inl.h"  // per target: after highway.h

#ifdef WICK_ROW_TILES8
HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace k_tile_avx2 {

constexpr int kRows = 16;
constexpr int kHalf = 8;
// Tokens a pass over the tile takes; each token's activations are arranged once per tile.
constexpr int kTokens = 4;
// Fewer tokens than this take the row kernels. One thread, Q4_K, 4096 x 2048, cycles a
// row-token-super-block (row kernels, tile): 4 tokens 23.8, 33.5; 8 tokens 30.4, 26.5;
// 12 tokens 30.5, 15.4; 512 tokens 19.4, 12.3.
constexpr int kMinTokens = 8;

template <class Block>
constexpr bool kHasMins = !std::is_same_v<Block, Q6_KBlock>;

// Runs 2j (lo) and 2j + 1 (hi) as bytes, interleaved by pairs: dword u of out[0] (u < 8) and
// out[1] (u - 8) holds lo[2u], lo[2u + 1], hi[2u], hi[2u + 1].
HWY_INLINE void InterleavePairs(__m256i lo, __m256i hi, __m256i* out) {
  // 64-bit units 0, 2, 1, 3: the in-lane unpacks then take pairs 0..7 and 8..15 in order.
  lo = _mm256_permute4x64_epi64(lo, 0xD8);
  hi = _mm256_permute4x64_epi64(hi, 0xD8);
  out[0] = _mm256_unpacklo_epi16(lo, hi);
  out[1] = _mm256_unpackhi_epi16(lo, hi);
}

// One super-block of the tile's 16 rows: quants[j][u][r] dword u of row r's pair j (as
// InterleavePairs lays it out); scales[j][s][r] the pair's two scales for lanes 4s..4s+3 as
// the low and high int16; start[i][r] what lane i of row r starts from; d the row's f16
// factor. Q4_K and Q5_K also have mins[l][r] (mins 2l and 2l + 1 as the low and high int16)
// and dmin.
struct alignas(64) KTile8Block {
  int32_t quants[4][16][kRows];
  int32_t scales[4][2][kRows];
  int32_t start[8][kRows];
  int32_t mins[4][kRows];
  float d[kRows];
  float dmin[kRows];
};

HWY_INLINE __m256i LoadHalf(const int32_t* rows16, int half) {
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(rows16 + kHalf * half));
}
HWY_INLINE void StoreHalf(int32_t* rows16, int half, __m256i v) {
  _mm256_store_si256(reinterpret_cast<__m256i*>(rows16 + kHalf * half), v);
}

// Runs 2j and 2j + 1 of a block as signed bytes: Q4_K and Q5_K's sub-blocks (4 or 5 bits),
// Q6_K's quants less 32.
template <class Block>
HWY_INLINE void RunPair(const Block& wb, int j, __m256i& lo, __m256i& hi) {
  const __m256i low4 = _mm256_set1_epi8(0x0f);
  const auto load = [](const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  };
  // 16-bit shifts, masked per byte: no bit of the other byte reaches the kept bits.
  if constexpr (std::is_same_v<Block, Q6_KBlock>) {
    // Run r: the low four bits from nibble r / 2 % 2 of ql bytes 64 (r / 4) + 32 (r % 2)..,
    // the top two from crumb r % 4 of qh bytes 32 (r / 4)..
    const auto run = [&](int r) {
      const int h = r / 4;
      const int k = r % 4;
      const __m256i ql = load(wb.ql + 64 * h + 32 * (k % 2));
      const __m256i low = _mm256_and_si256(_mm256_srli_epi16(ql, 4 * (k / 2)), low4);
      const __m256i high =
          _mm256_and_si256(_mm256_srli_epi16(load(wb.qh + 32 * h), 2 * k), _mm256_set1_epi8(3));
      return _mm256_sub_epi8(_mm256_or_si256(low, _mm256_slli_epi16(high, 4)),
                             _mm256_set1_epi8(32));
    };
    lo = run(2 * j);
    hi = run(2 * j + 1);
  } else {
    const __m256i packed = load(wb.qs + 32 * j);
    lo = _mm256_and_si256(packed, low4);
    hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
    if constexpr (std::is_same_v<Block, Q5_KBlock>) {
      // The fifth bit of element e of sub-block s is bit s of qh[e].
      const __m256i qh = load(wb.qh);
      const __m256i bit0 = _mm256_set1_epi8(1);
      lo = _mm256_or_si256(
          lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j), bit0), 4));
      hi = _mm256_or_si256(
          hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * j + 1), bit0), 4));
    }
  }
}

// The scales, mins and factors of row r of the tile.
template <class Block>
HWY_INLINE void RowScales(const Block& wb, int r, KTile8Block& tb) {
  if constexpr (std::is_same_v<Block, Q6_KBlock>) {
    const auto scale = [&](int group) {
      return static_cast<int32_t>(static_cast<uint16_t>(static_cast<int16_t>(wb.scales[group])));
    };
    // Run r's lanes 4s..4s+3 lie in its 16-element group 2r + s.
    for (int j = 0; j < 4; ++j) {
      for (int s = 0; s < 2; ++s)
        tb.scales[j][s][r] = scale(4 * j + s) | (scale(4 * j + 2 + s) << 16);
    }
  } else {
    const Bytes16 scale_min = UnpackScaleMin6(wb.scales);
    const auto byte = [](uint64_t v, int j) { return static_cast<int32_t>((v >> (8 * j)) & 0xff); };
    for (int j = 0; j < 4; ++j) {
      const int32_t pair = byte(scale_min.lo, 2 * j) | (byte(scale_min.lo, 2 * j + 1) << 16);
      tb.scales[j][0][r] = tb.scales[j][1][r] = pair;
      tb.mins[j][r] = byte(scale_min.hi, 2 * j) | (byte(scale_min.hi, 2 * j + 1) << 16);
    }
    tb.dmin[r] = F16ToF32ByTable(wb.dmin);
  }
  tb.d[r] = F16ToF32ByTable(wb.d);
}

// One token's step of lane i in pair j: the unsigned activations against the signed quants.
HWY_INLINE void LaneStep(__m256i& lane, __m256i even, __m256i odd, __m256i scale, __m256i act_even,
                         __m256i act_odd) {
  // Each pair sum is at most 2 * 255 * 32 in magnitude: both add exactly in int16.
  const __m256i both =
      _mm256_add_epi16(_mm256_maddubs_epi16(act_even, even), _mm256_maddubs_epi16(act_odd, odd));
  lane = _mm256_add_epi32(lane, _mm256_madd_epi16(both, scale));
  // Kept a running sum: GCC otherwise regroups a lane's adds into a tree after the loop and
  // parks every product on the stack until then.
  asm("" : "+x"(lane));
}

// Transposes `rows` (1 to 16) rows' nb super-blocks into tile; a missing row repeats the last
// one (its results are not stored).
template <class Block>
void Transpose8(const uint8_t* w, uint64_t w_stride, int rows, int64_t nb, KTile8Block* tile) {
  const Block* row[kRows];
  for (int r = 0; r < kRows; ++r) {
    row[r] = reinterpret_cast<const Block*>(w + std::min(r, rows - 1) * w_stride);
  }
  for (int64_t b = 0; b < nb; ++b) {
    KTile8Block& tb = tile[b];
    for (int j = 0; j < 4; ++j) {
      for (int half = 0; half < 2; ++half) {
        __m256i first[kHalf], second[kHalf];
        for (int i = 0; i < kHalf; ++i) {
          __m256i lo, hi, pairs[2];
          RunPair(row[kHalf * half + i][b], j, lo, hi);
          InterleavePairs(lo, hi, pairs);
          first[i] = pairs[0];
          second[i] = pairs[1];
        }
        __m256i units[8];
        tile_x86::Transpose8x8(first, units);
        for (int u = 0; u < 8; ++u) StoreHalf(tb.quants[j][u], half, units[u]);
        tile_x86::Transpose8x8(second, units);
        for (int u = 0; u < 8; ++u) StoreHalf(tb.quants[j][8 + u], half, units[u]);
      }
    }
    for (int r = 0; r < kRows; ++r) RowScales(row[r][b], r, tb);
    // -128 * sum(scale * quants) per lane: the kernel's steps against 128s, as ones shifted.
    const __m256i ones = _mm256_set1_epi8(1);
    for (int i = 0; i < 8; ++i) {
      for (int half = 0; half < 2; ++half) {
        __m256i extra = _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
          LaneStep(extra, LoadHalf(tb.quants[j][2 * i], half),
                   LoadHalf(tb.quants[j][2 * i + 1], half), LoadHalf(tb.scales[j][i / 4], half),
                   ones, ones);
        }
        StoreHalf(tb.start[i], half,
                  _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(extra, 7)));
      }
    }
  }
}

// p's int32 in all eight lanes, loaded as such (see tile_x86::BroadcastInt32).
HWY_INLINE __m256i Broadcast8(const int32_t* p) {
  __m256i v;
  asm("vpbroadcastd %[p], %[v]" : [v] "=x"(v) : [p] "m"(*p));
  return v;
}

// A token's super-block as the kernel reads it: the quants as unsigned bytes (a + 128),
// interleaved as the tile's (InterleavePairs); the sub-block sums (the reference's hadd of its
// 16-element sums, pair l as the int16 halves of dword l); and its scale.
struct alignas(32) ArrangedBlock {
  int32_t quants[4][16];
  int32_t sub_sums[4];
  float d;
};

// Arranges `count` tokens' nb super-blocks into out[t * nb + b].
void Arrange(const uint8_t* a, uint64_t a_stride, int count, int64_t nb, ArrangedBlock* out) {
  const __m256i top = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int t = 0; t < count; ++t) {
    const auto* act = reinterpret_cast<const Q8_KBlock*>(a + t * a_stride);
    for (int64_t b = 0; b < nb; ++b) {
      const Q8_KBlock& ab = act[b];
      ArrangedBlock& ob = out[t * nb + b];
      for (int j = 0; j < 4; ++j) {
        __m256i pairs[2];
        InterleavePairs(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs + 64 * j)),
                        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.qs + 64 * j + 32)),
                        pairs);
        for (int p = 0; p < 2; ++p) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(ob.quants[j] + 8 * p),
                             _mm256_xor_si256(pairs[p], top));
        }
      }
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ab.bsums));
      _mm_store_si128(
          reinterpret_cast<__m128i*>(ob.sub_sums),
          _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1)));
      ob.d = ab.d;
    }
  }
}

// Half `half` of the tile's rows (rows 8 * half + r for r < rows) against four arranged tokens
// act[t] (a repeat of the last where fewer are `count`), into y[t * y_stride + r]. Lane r of
// sums[t][i] is the reference's lane i of the pair (row r, token t), and of mins[t][l] its
// min lane l (Q4_K; Q5_K's min term is one scalar, mins[t][0]; Q6_K has none): the same exact
// integers, the same fused multiply-adds.
template <class Block>
void KTile8Tokens(const KTile8Block* tile, int half, int64_t nb, const ArrangedBlock* const* act,
                  float* y, int64_t y_stride, int rows, int count) {
  constexpr bool kFifthBit = std::is_same_v<Block, Q5_KBlock>;
  constexpr int kMinLanes = kFifthBit ? 1 : 4;
  const int r0 = kHalf * half;
  // Indexed by run-time i: memory, each updated once a super-block.
  alignas(32) float sums[kTokens][8][kHalf] = {};
  __m256 mins[kTokens][kMinLanes];
  for (auto& token : mins) {
    for (__m256& v : token) v = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    const KTile8Block& tb = tile[b];
    const ArrangedBlock* ab[kTokens];
    for (int t = 0; t < kTokens; ++t) ab[t] = &act[t][b];
    const __m256 d_w = _mm256_load_ps(tb.d + r0);
    for (int i = 0; i < 8; ++i) {
      // Named, not an array: GCC kept an array of them on the stack.
      __m256i lane0 = LoadHalf(tb.start[i], half), lane1 = lane0, lane2 = lane0, lane3 = lane0;
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const __m256i even = LoadHalf(tb.quants[j][2 * i], half);
        const __m256i odd = LoadHalf(tb.quants[j][2 * i + 1], half);
        const __m256i scale = LoadHalf(tb.scales[j][i / 4], half);
        const auto step = [&](__m256i& lane, const ArrangedBlock* token) {
          LaneStep(lane, even, odd, scale, Broadcast8(&token->quants[j][2 * i]),
                   Broadcast8(&token->quants[j][2 * i + 1]));
        };
        step(lane0, ab[0]);
        step(lane1, ab[1]);
        step(lane2, ab[2]);
        step(lane3, ab[3]);
      }
      const __m256i lanes[kTokens] = {lane0, lane1, lane2, lane3};
      for (int t = 0; t < kTokens; ++t) {
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(ab[t]->d), d_w);
        float* sum = sums[t][i];
        _mm256_store_ps(sum, _mm256_fmadd_ps(_mm256_cvtepi32_ps(lanes[t]), d, _mm256_load_ps(sum)));
      }
    }
    if constexpr (kHasMins<Block>) {
      const __m256 dmin_w = _mm256_load_ps(tb.dmin + r0);
      for (int t = 0; t < kTokens; ++t) {
        const __m256 dmin = _mm256_mul_ps(_mm256_set1_ps(-ab[t]->d), dmin_w);
        // Lane pair l: mins 2l and 2l + 1 against sub-block sums 2l and 2l + 1.
        __m256i four[4];
        for (int l = 0; l < 4; ++l) {
          four[l] = _mm256_madd_epi16(LoadHalf(tb.mins[l], half), Broadcast8(&ab[t]->sub_sums[l]));
        }
        __m256* m = mins[t];
        if constexpr (kFifthBit) {
          // Q5_K: the four lanes' exact integer total, one fused multiply-add.
          const __m256i total = _mm256_add_epi32(_mm256_add_epi32(four[0], four[1]),
                                                 _mm256_add_epi32(four[2], four[3]));
          m[0] = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(total), m[0]);
        } else {
          for (int l = 0; l < 4; ++l)
            m[l] = _mm256_fmadd_ps(dmin, _mm256_cvtepi32_ps(four[l]), m[l]);
        }
      }
    }
  }
  for (int t = 0; t < count; ++t) {
    __m256 lanes[8];
    for (int i = 0; i < 8; ++i) lanes[i] = _mm256_load_ps(sums[t][i]);
    // hsum_float_8's order over the lanes i, then the min term as DotRows adds it.
    __m256 total = tile_x86::SumLanes8(lanes);
    if constexpr (kHasMins<Block>) {
      const __m256* m = mins[t];
      total = _mm256_add_ps(
          total,
          kFifthBit ? m[0] : _mm256_add_ps(_mm256_add_ps(m[0], m[2]), _mm256_add_ps(m[1], m[3])));
    }
    alignas(32) float out[kHalf];
    _mm256_store_ps(out, total);
    std::copy(out, out + rows, y + t * y_stride);
  }
}

// `rows` (any count) rows against `tokens` activation rows.
template <class Block>
void KTile8(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
            int tokens, int64_t k, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const int64_t nb = k / static_cast<int64_t>(kQK_K);
  // Grown once per thread to the longest row it meets.
  thread_local std::vector<KTile8Block> tile;
  thread_local std::vector<ArrangedBlock> arranged;
  if (tile.size() < static_cast<size_t>(nb)) tile.resize(static_cast<size_t>(nb));
  if (arranged.size() < static_cast<size_t>(kTokens * nb)) {
    arranged.resize(static_cast<size_t>(kTokens * nb));
  }
  for (int r0 = 0; r0 < rows; r0 += kRows) {
    const int rows_here = std::min(kRows, rows - r0);
    Transpose8<Block>(wb + r0 * w_stride, w_stride, rows_here, nb, tile.data());
    for (int t = 0; t < tokens; t += kTokens) {
      const int count = std::min(kTokens, tokens - t);
      Arrange(ab + t * a_stride, a_stride, count, nb, arranged.data());
      const ArrangedBlock* act[kTokens];
      for (int j = 0; j < kTokens; ++j) act[j] = arranged.data() + std::min(j, count - 1) * nb;
      for (int half = 0; half * kHalf < rows_here; ++half) {
        KTile8Tokens<Block>(tile.data(), half, nb, act, y + t * y_stride + r0 + kHalf * half,
                            y_stride, std::min(kHalf, rows_here - kHalf * half), count);
      }
    }
  }
}

}  // namespace k_tile_avx2
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
#endif  // WICK_ROW_TILES8
#endif  // WICK_KERNELS_CPU_K_TILE_AVX2_INL_H_ toggle
