// Attention's scores and values a block of cache positions at a time, for Highway's x86
// targets from AVX2 up (attention.cpp): the same products, slots and trees as the one-position
// kernels there, with the positions in the lanes at the end. Include it after <hwy/highway.h>
// in a file that Highway's foreach_target.h re-includes; WICK_ATTENTION_X86 says whether this
// target has them.
//
// A score is q . k summed in slots (16 for a prompt's GEMM, 64 for a decode step's dot
// product), the slots folded to 16 lanes and the 16 lanes added as halves of halves (lane
// i + 8 onto lane i, then + 4, + 2, + 1). One position at a time, that last tree is four
// shuffles and four adds for a single number. Here a vector of 16 slot lanes per position
// is kept for a register's width of positions, and four levels of two-input shuffles add the
// positions' halves side by side, so the tree's adds (the same adds: IEEE addition is
// commutative) serve every position at once and leave position p in lane p.
#if defined(WICK_KERNELS_CPU_ATTENTION_X86_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_ATTENTION_X86_INL_H_
#undef WICK_KERNELS_CPU_ATTENTION_X86_INL_H_
#else
#define WICK_KERNELS_CPU_ATTENTION_X86_INL_H_
#endif

#include <hwy/highway.h>

#include <cstdint>

#undef WICK_ATTENTION_X86
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
#define WICK_ATTENTION_X86 1
#include <immintrin.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace attention_x86 {
namespace hn = hwy::HWY_NAMESPACE;

// Slot lanes: 16 on AVX-512, 8 (two vectors of the 16 slots) on AVX2.
using DSlots = hn::CappedTag<float, 16>;
using VSlots = hn::Vec<DSlots>;
constexpr int kLanes = static_cast<int>(hn::MaxLanes(DSlots()));

#if HWY_TARGET <= HWY_AVX3
// The tree's first two levels for positions g, g + 4, g + 8 and g + 12 (x[0..3]): their
// lanes 0-3 + 4-7 + 8-11 + 12-15, a 128-bit block each. The shuffles below pair positions
// so that these four positions only meet each other in the first two levels, which can
// then run as soon as a group of four positions is done.
HWY_INLINE __m512 QuarterSums(const VSlots* x) {
  __m512 halves[2];  // [lanes 0-7 + 8-15 of one position | of the next]
  for (int i = 0; i < 2; ++i) {
    const __m512 a = x[2 * i].raw, b = x[2 * i + 1].raw;
    halves[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
  }
  return _mm512_add_ps(_mm512_shuffle_f32x4(halves[0], halves[1], 0x88),
                       _mm512_shuffle_f32x4(halves[0], halves[1], 0xDD));
}

// The tree's last two levels over QuarterSums of the position groups g = 0..3: position p in
// lane p.
HWY_INLINE VSlots QuartersToLanes(const __m512* quarters) {
  __m512 pairs[2];  // per block: two lanes 0 + 2, 1 + 3 of two positions
  for (int i = 0; i < 2; ++i) {
    const __m512 a = quarters[2 * i], b = quarters[2 * i + 1];
    pairs[i] = _mm512_add_ps(_mm512_shuffle_ps(a, b, 0x44), _mm512_shuffle_ps(a, b, 0xEE));
  }
  return VSlots{_mm512_add_ps(_mm512_shuffle_ps(pairs[0], pairs[1], 0x88),
                              _mm512_shuffle_ps(pairs[0], pairs[1], 0xDD))};
}

// Scores for 16 positions and kRows query rows, times `scale`, into out[r * out_stride +
// 0..16): lanes(g, l) sets l[r][c] to the 16 slot lanes of row r and position g + 4c, and the
// tree's first two levels (QuarterSums) run as soon as such a group of four is done.
template <int kRows, class GroupLanes>
HWY_INLINE void Scores16(const GroupLanes& lanes, VSlots scale, float* out, int64_t out_stride) {
  __m512 quarters[kRows][4];
  for (int g = 0; g < 4; ++g) {
    VSlots group[kRows][4];
    lanes(g, group);
    for (int r = 0; r < kRows; ++r) quarters[r][g] = QuarterSums(group[r]);
  }
  for (int r = 0; r < kRows; ++r) {
    hn::StoreU(hn::Mul(QuartersToLanes(quarters[r]), scale), DSlots(), out + r * out_stride);
  }
}

// A prompt's scores for 16 positions (rows `stride` floats apart from `k`): 16 slots of fused
// sums over steps of 16, with four query rows by four positions of accumulators, one load per
// two multiply-adds where a row at a time took more than one.
template <int kRows>
HWY_INLINE void GemmScores16(const float* q, int64_t q_stride, const float* k, int64_t stride,
                             int hd, VSlots scale, float* out, int64_t out_stride) {
  Scores16<kRows>(
      [&](int g, VSlots(&acc)[kRows][4]) {
        const DSlots d;
        for (auto& row : acc) {
          for (auto& a : row) a = hn::Zero(d);
        }
        for (int i0 = 0; i0 < hd; i0 += 16) {
          VSlots kv[4];
          for (int c = 0; c < 4; ++c) kv[c] = hn::LoadU(d, k + (g + 4 * c) * stride + i0);
          for (int r = 0; r < kRows; ++r) {
            const auto qv = hn::LoadU(d, q + r * q_stride + i0);
            for (int c = 0; c < 4; ++c) acc[r][c] = hn::MulAdd(qv, kv[c], acc[r][c]);
          }
        }
      },
      scale, out, out_stride);
}

// A decode step's scores for 16 positions: 64 slots of fused sums over steps of 64 (hd a
// multiple of 64), folded to 16 as (s + s+32) + (s+16 + s+48), each cache row's vectors
// loaded once for all the rows.
template <int kRows>
HWY_INLINE void DotScores16(const float* q, int64_t q_stride, const float* k, int64_t stride,
                            int hd, VSlots scale, float* out, int64_t out_stride) {
  Scores16<kRows>(
      [&](int g, VSlots(&lanes)[kRows][4]) {
        const DSlots d;
        for (int c = 0; c < 4; ++c) {
          const float* row = k + (g + 4 * c) * stride;
          VSlots slots[kRows][4];
          for (auto& r : slots) {
            for (auto& a : r) a = hn::Zero(d);
          }
          for (int i0 = 0; i0 < hd; i0 += 64) {
            for (int v = 0; v < 4; ++v) {
              const auto kv = hn::LoadU(d, row + i0 + 16 * v);
              for (int r = 0; r < kRows; ++r) {
                slots[r][v] =
                    hn::MulAdd(hn::LoadU(d, q + r * q_stride + i0 + 16 * v), kv, slots[r][v]);
              }
            }
          }
          for (int r = 0; r < kRows; ++r) {
            lanes[r][c] =
                hn::Add(hn::Add(slots[r][0], slots[r][2]), hn::Add(slots[r][1], slots[r][3]));
          }
        }
      },
      scale, out, out_stride);
}
#else
// AVX2 computes scores a query row at a time: its 16 registers leave no room for a block of
// rows by positions (two rows by two ran no faster).

// Vectors that hold the 16 lanes of the tree.
constexpr int kTreeVectors = 16 / kLanes;

// Lane p of the result: the lanes of x[p] (p < kLanes) added as halves of halves.
HWY_INLINE VSlots HalvesSums(const VSlots* x) {
  constexpr int kOrder[8] = {0, 4, 1, 5, 2, 6, 3, 7};
  __m256 quarters[4];  // [lanes 0-3 + 4-7 of one position | of the next]
  for (int i = 0; i < 4; ++i) {
    const __m256 a = x[kOrder[2 * i]].raw, b = x[kOrder[2 * i + 1]].raw;
    quarters[i] =
        _mm256_add_ps(_mm256_permute2f128_ps(a, b, 0x20), _mm256_permute2f128_ps(a, b, 0x31));
  }
  __m256 pairs[2];
  for (int i = 0; i < 2; ++i) {
    const __m256 a = quarters[2 * i], b = quarters[2 * i + 1];
    pairs[i] = _mm256_add_ps(_mm256_shuffle_ps(a, b, 0x44), _mm256_shuffle_ps(a, b, 0xEE));
  }
  return VSlots{_mm256_add_ps(_mm256_shuffle_ps(pairs[0], pairs[1], 0x88),
                              _mm256_shuffle_ps(pairs[0], pairs[1], 0xDD))};
}

// The tree's first levels over whole vectors (vector v + v + n/2, n halving), as the
// one-position kernels fold them; the last vector's lanes are left to HalvesSums.
HWY_INLINE VSlots FoldVectors(VSlots* v) {
  for (int n = kTreeVectors / 2; n >= 1; n /= 2) {
    for (int i = 0; i < n; ++i) v[i] = hn::Add(v[i], v[i + n]);
  }
  return v[0];
}

// A prompt's score lanes for kPositions rows from `k` (hd a multiple of 16): 16 slots of
// fused sums over steps of 16. A row's sums form one chain of dependent multiply-adds, so
// several rows go side by side.
template <int kPositions>
HWY_INLINE void GemmSlotLanes(const float* q, const float* k, int64_t stride, int hd,
                              VSlots* lanes) {
  const DSlots d;
  VSlots acc[kPositions][kTreeVectors];
  for (auto& row : acc) {
    for (auto& a : row) a = hn::Zero(d);
  }
  for (int i0 = 0; i0 < hd; i0 += 16) {
    for (int v = 0; v < kTreeVectors; ++v) {
      const auto qv = hn::LoadU(d, q + i0 + v * kLanes);
      for (int p = 0; p < kPositions; ++p) {
        acc[p][v] = hn::MulAdd(qv, hn::LoadU(d, k + p * stride + i0 + v * kLanes), acc[p][v]);
      }
    }
  }
  for (int p = 0; p < kPositions; ++p) lanes[p] = FoldVectors(acc[p]);
}

// A decode step's score lanes: 64 slots of fused sums over steps of 64 (hd a multiple of 64),
// folded to 16 as (s + s+32) + (s+16 + s+48).
HWY_INLINE VSlots DotSlotLanes(const float* q, const float* k, int hd) {
  const DSlots d;
  constexpr int kSlotVectors = 64 / kLanes;
  VSlots slots[kSlotVectors];
  for (auto& s : slots) s = hn::Zero(d);
  for (int i0 = 0; i0 < hd; i0 += 64) {
    for (int v = 0; v < kSlotVectors; ++v) {
      slots[v] = hn::MulAdd(hn::LoadU(d, q + i0 + v * kLanes), hn::LoadU(d, k + i0 + v * kLanes),
                            slots[v]);
    }
  }
  VSlots lanes16[kTreeVectors];
  for (int m = 0; m < kTreeVectors; ++m) {
    lanes16[m] = hn::Add(hn::Add(slots[m], slots[m + 2 * kTreeVectors]),
                         hn::Add(slots[m + kTreeVectors], slots[m + 3 * kTreeVectors]));
  }
  return FoldVectors(lanes16);
}
#endif

// f.template operator()<R>(r0) for the rows [r0, r0 + R) of n_rows: R = 4, then the last 1-3.
template <class F>
HWY_INLINE void InGroupsOfFour(int64_t n_rows, const F& f) {
  int64_t r0 = 0;
  for (; r0 + 4 <= n_rows; r0 += 4) f.template operator()<4>(r0);
  switch (n_rows - r0) {
    case 3:
      f.template operator()<3>(r0);
      break;
    case 2:
      f.template operator()<2>(r0);
      break;
    case 1:
      f.template operator()<1>(r0);
      break;
    default:
      break;
  }
}

// out[r * out_stride + j] = scale * (query row r . cache row j) for kRows query rows
// (`q_stride` floats apart) and j < n - n % kLanes, cache rows `stride` floats apart, in the
// prompt's order (gemm) or a decode step's. The positions go outermost, so that each cache
// row, read from L1 by every query row, is read from memory or L2 once.
template <int kRows>
HWY_INLINE void ScoreBlockRows(const float* q, int64_t q_stride, const float* rows, int64_t stride,
                               int64_t n, int hd, bool gemm, float scale, float* out,
                               int64_t out_stride) {
  const DSlots d;
  const auto vscale = hn::Set(d, scale);
  for (int64_t j0 = 0; j0 + kLanes <= n; j0 += kLanes) {
#if HWY_TARGET <= HWY_AVX3
    if (gemm) {
      GemmScores16<kRows>(q, q_stride, rows + j0 * stride, stride, hd, vscale, out + j0,
                          out_stride);
    } else {
      DotScores16<kRows>(q, q_stride, rows + j0 * stride, stride, hd, vscale, out + j0, out_stride);
    }
#else
    VSlots lanes[kRows][kLanes];
    if (gemm) {
      // Eight chains of multiply-adds in flight: four cycles each, two 256-bit a cycle.
      constexpr int kSide = 8 / kTreeVectors;
      for (int p = 0; p < kLanes; p += kSide) {
        for (int r = 0; r < kRows; ++r) {
          GemmSlotLanes<kSide>(q + r * q_stride, rows + (j0 + p) * stride, stride, hd,
                               lanes[r] + p);
        }
      }
    } else {
      for (int p = 0; p < kLanes; ++p) {
        for (int r = 0; r < kRows; ++r) {
          lanes[r][p] = DotSlotLanes(q + r * q_stride, rows + (j0 + p) * stride, hd);
        }
      }
    }
    for (int r = 0; r < kRows; ++r) {
      hn::StoreU(hn::Mul(HalvesSums(lanes[r]), vscale), d, out + r * out_stride + j0);
    }
#endif
  }
}

// ScoreBlockRows for n_rows query rows; returns how many positions it computed.
HWY_INLINE int64_t ScoreBlocks(const float* q, int64_t q_stride, int64_t n_rows, const float* rows,
                               int64_t stride, int64_t n, int hd, bool gemm, float scale,
                               float* out, int64_t out_stride) {
  InGroupsOfFour(n_rows, [&]<int R>(int64_t r0) {
    ScoreBlockRows<R>(q + r0 * q_stride, q_stride, rows, stride, n, hd, gemm, scale,
                      out + r0 * out_stride, out_stride);
  });
  return n - n % kLanes;
}

// kVectors vectors of a cache row's values as f32, from element i.
template <bool kF16, int kVectors>
HWY_INLINE void LoadValues(const uint8_t* row, int i, VSlots* v) {
  const DSlots d;
  if constexpr (kF16) {
    const hn::Rebind<hwy::float16_t, DSlots> dh;
    const auto* h = reinterpret_cast<const hwy::float16_t*>(row) + i;
    for (int c = 0; c < kVectors; ++c) v[c] = hn::PromoteTo(d, hn::LoadU(dh, h + c * kLanes));
  } else {
    const auto* f = reinterpret_cast<const float*>(row) + i;
    for (int c = 0; c < kVectors; ++c) v[c] = hn::LoadU(d, f + c * kLanes);
  }
}

// Elements [i, i + kVectors * kLanes) of slot s of kRows rows' value slots (n_slots slots: 16
// for a prompt's GEMM, 64 for a decode step's dot product): slots[r * slots_stride + s * hd +
// ...] += w[r * w_stride + j] * value row j for positions j = s, s + n_slots, ... below `end`,
// fused in that order (the reference's sum per output element, continued from the slot's sums
// of the positions before). The accumulators stay in registers for the whole range, and each
// value row is read once for all the rows.
template <bool kF16, int kRows, int kVectors>
HWY_INLINE void ValueSlotPart(const uint8_t* v, int64_t stride, const float* w, int64_t w_stride,
                              int64_t s, int64_t end, int64_t n_slots, int hd, int i, float* slots,
                              int64_t slots_stride) {
  const DSlots d;
  VSlots acc[kRows][kVectors];
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kVectors; ++c) {
      acc[r][c] = hn::LoadU(d, slots + r * slots_stride + s * hd + i + c * kLanes);
    }
  }
  for (int64_t j = s; j < end; j += n_slots) {
    VSlots values[kVectors];
    LoadValues<kF16, kVectors>(v + j * stride, i, values);
    for (int r = 0; r < kRows; ++r) {
      const auto weight = hn::Set(d, w[r * w_stride + j]);
      for (int c = 0; c < kVectors; ++c) acc[r][c] = hn::MulAdd(weight, values[c], acc[r][c]);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int c = 0; c < kVectors; ++c) {
      hn::StoreU(acc[r][c], d, slots + r * slots_stride + s * hd + i + c * kLanes);
    }
  }
}

// Every element of kRows rows' value slots (hd a multiple of kLanes), slot by slot: a slot's
// rows, kSlots positions apart, come from memory once, for its first part of the elements, and
// stay in L1 for the other parts. With the parts outermost, a decode step read the whole cache
// once per part (eight times at head_dim 128 on AVX2), and ran 15% slower there. Fetching the
// next slot's rows (the next positions) while walking a slot, or a slot's rows 16 steps ahead
// as before, changed nothing measurable.
template <bool kF16, int kSlots, int kRows>
HWY_INLINE void ValueSlotRows(const uint8_t* v, int64_t stride, const float* w, int64_t w_stride,
                              int64_t end, int hd, float* slots, int64_t slots_stride) {
  // Accumulators and values within the 16 (AVX2) or 32 (AVX-512) vector registers.
  constexpr int kChunk = kLanes == 16 ? 4 : 2;
  for (int64_t s = 0; s < kSlots && s < end; ++s) {
    int i = 0;
    for (; i + kChunk * kLanes <= hd; i += kChunk * kLanes) {
      ValueSlotPart<kF16, kRows, kChunk>(v, stride, w, w_stride, s, end, kSlots, hd, i, slots,
                                         slots_stride);
    }
    for (; i < hd; i += kLanes) {
      ValueSlotPart<kF16, kRows, 1>(v, stride, w, w_stride, s, end, kSlots, hd, i, slots,
                                    slots_stride);
    }
  }
}

// ValueSlotRows for n_rows rows, every one over positions [0, end) of `v` and `w`, which start
// at a multiple of kSlots (so that position j is slot j % kSlots). A row that attends to fewer
// has zero weights past them: an exact zero added to a sum begun at +0 changes no bit, as the
// reference's masked terms change none.
template <bool kF16, int kSlots>
HWY_INLINE void ValueSlots(const uint8_t* v, int64_t stride, const float* w, int64_t w_stride,
                           int64_t n_rows, int64_t end, int hd, float* slots,
                           int64_t slots_stride) {
  InGroupsOfFour(n_rows, [&]<int R>(int64_t r0) {
    ValueSlotRows<kF16, kSlots, R>(v, stride, w + r0 * w_stride, w_stride, end, hd,
                                   slots + r0 * slots_stride, slots_stride);
  });
}

}  // namespace attention_x86
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();
#endif  // x86, AVX2 and up
#endif  // WICK_KERNELS_CPU_ATTENTION_X86_INL_H_ toggle
