// Highway compiles this file once per SIMD target (see simd.h); HWY_DYNAMIC_DISPATCH picks
// the best one the CPU supports at run time.
//
// The arithmetic is that of llama.cpp's attention without flash attention, which is what
// GGUF reference outputs are made with: the query is rounded to the cache's element type
// before the dot products (a matmul converts its activations to the weight type), the
// softmax is exact (global maximum, llama.cpp's vector exp, sum in double) and its
// probabilities are rounded to the V cache's type before they weight V, every sum in the
// reference's order (ref_order.h). Rounding at other points (the online softmax of flash
// attention, say) moves a logit by ~1e-3, which random-weight test models amplify into
// different greedy picks.
//
// Work is split into tasks of (a tile of query tokens, one kv head). A task handles every
// query head of its kv head's group together, so each tile of K/V is loaded (and, for f16,
// converted) once and reused by group x tokens query rows. A task keeps its rows' scores,
// computes the softmax, then walks V. The cache range is not split between threads: the
// reference's sums run over whole rows.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/attention.cpp"
#include "kernels/cpu/attention.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cpu/ref_order.h"

// clang-format off
#include <hwy/cache_control.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// A per-target header, so it must follow highway.h.
#include <hwy/contrib/math/math-inl.h>
#include "kernels/cpu/ref_exp-inl.h"
#include "kernels/cpu/attention_x86-inl.h"
// clang-format on

// Shared by every per-target copy of the code below, so defined once.
#ifndef WICK_KERNELS_CPU_ATTENTION_SHARED_
#define WICK_KERNELS_CPU_ATTENTION_SHARED_
namespace wick::kernels {
namespace {

// Cache positions per tile: a tile of f16 K and V converted to f32 (2 x 64 x head_dim floats)
// stays in L2 while every query row of a task walks it.
constexpr int64_t kBlock = 64;
// Query rows (tokens x heads of one group) a prefill task aims for: enough to reuse each K/V
// tile many times (each task reads its kv head's whole cache range, from L3 at long
// contexts), few enough that the rows' scores stay in L2 (64 ran 3-6% faster than 32 at 4096
// positions, the same at 512; 128 was slower).
constexpr int64_t kTargetRows = 64;
// A task keeps its rows' scores for the whole cache range; fewer rows per task once that
// would pass this many floats (long contexts).
constexpr int64_t kMaxScoreFloats = int64_t{1} << 20;
// A decode split covers at least this many tiles, so its second pass and the merge stay
// cheap next to computing it.

// Largest head_dim a q8_0 cache supports (the query's blocks live on the stack).
constexpr int kMaxHeadDim = 1024;

// Cache rows read ahead of their conversion.
constexpr int64_t kPrefetchRows = 32;

// Set by tests: the one-position kernels everywhere, to compare with the block kernels.
std::atomic<bool> one_position_kernels{false};

// Bytes of one head's keys or values at one position.
int64_t HeadBytes(DType kv_type, int head_dim) {
  switch (kv_type) {
    case DType::kF32:
      return int64_t{head_dim} * 4;
    case DType::kQ8_0:
      return int64_t{head_dim} / 32 * static_cast<int64_t>(sizeof(Q8_0Block));
    default:
      return int64_t{head_dim} * 2;
  }
}

// What cache pointers and strides must be multiples of.
int64_t ElementAlignment(DType kv_type) {
  return kv_type == DType::kF32 ? 4 : 2;
}

struct AttentionTask {
  int64_t t_begin;  // query tokens [t_begin, t_end)
  int64_t t_end;
  int kv_head;
};

// The cache length llama.cpp's attention runs over: the used cells padded to 32 (the
// unpadded rest is masked). Where a product's terms fall against its 64-element steps
// depends on it.
constexpr int64_t kRefKvPad = 32;

// Sum slots per row for the weighted V: 16 lanes when several tokens run at once (the
// reference's GEMM), 64 for one token (its dot product's four 16-lane accumulators).
constexpr int kPrefillSlots = 16;
constexpr int kDecodeSlots = 64;
// So that a position's slot is a mask, not a division, in the innermost loop.
static_assert((kPrefillSlots & (kPrefillSlots - 1)) == 0 &&
              (kDecodeSlots & (kDecodeSlots - 1)) == 0);

// Cache positions per block of a prompt's weighted V on x86: each slot takes 8 of them in
// registers, and the block's values (16 KiB of f16 at head_dim 64) stay in L2 while every row
// of the task walks them (128 ran 3% faster than 64 or 256, 1024 20% slower).
constexpr int64_t kValueBlock = 128;
static_assert(kValueBlock % kPrefillSlots == 0);

// Floats of scratch a task with `n_rows` rows over `n_positions` cache positions needs.
// Scores are padded to whole 16-element groups, and the tail sums are doubles.
int64_t ScratchFloats(int64_t n_rows, int64_t n_positions, int head_dim) {
  const int64_t score_stride = (n_positions + 15) & ~int64_t{15};
  return n_rows * score_stride + n_rows * head_dim + n_rows * head_dim * kDecodeSlots +
         2 * n_rows * head_dim + 2 * kBlock * head_dim;
}

}  // namespace
}  // namespace wick::kernels
#endif  // WICK_KERNELS_CPU_ATTENTION_SHARED_

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void RoundToF16(float* x, int64_t n, float scale = 1.0f);

// Consecutive cache rows as f32: `base + j * stride` is row j.
struct RowsF32 {
  const float* base;
  int64_t stride;
};

// Cache values are finite, so the emulated conversion on targets without F16C is exact.
void F16ToF32(const uint16_t* src, float* dst, int n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const int lanes = static_cast<int>(hn::Lanes(df));
  const auto* in = reinterpret_cast<const hwy::float16_t*>(src);
  int i = 0;
  for (; i + lanes <= n; i += lanes)
    hn::StoreU(hn::PromoteTo(df, hn::LoadU(dh, in + i)), df, dst + i);
  for (; i < n; ++i) dst[i] = wick::F16ToF32(src[i]);
}

// As ref::DequantizeQ8_0 (each element q * d, one rounding), a vector at a time; n a multiple
// of 32.
void Q8_0ToF32(const uint8_t* src, float* dst, int n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<int32_t, decltype(df)> di;
  const hn::Rebind<int8_t, decltype(df)> d8;
  const int lanes = static_cast<int>(hn::Lanes(df));
  const auto* blocks = reinterpret_cast<const Q8_0Block*>(src);
  for (int b = 0; b < n / 32; ++b) {
    const auto d = hn::Set(df, wick::F16ToF32(blocks[b].d));
    for (int i = 0; i < 32; i += lanes) {
      const auto q = hn::ConvertTo(df, hn::PromoteTo(di, hn::LoadU(d8, blocks[b].qs + i)));
      hn::StoreU(hn::Mul(q, d), df, dst + 32 * b + i);
    }
  }
}

// Rows [first, first + count) of kv head `kv_head`: in place for f32, converted into `buf`
// ([count][head_dim]) for f16 and q8_0.
RowsF32 CacheRows(const AttentionParams& p, const void* cache, int64_t first, int64_t count,
                  int kv_head, float* buf) {
  const auto* bytes =
      static_cast<const uint8_t*>(cache) + first * p.kv_row_stride + kv_head * p.kv_head_stride;
  if (p.kv_type == DType::kF32) {
    return {reinterpret_cast<const float*>(bytes), p.kv_row_stride / 4};
  }
  // Rows of one kv head are whole positions apart: the hardware prefetcher does not follow
  // them from page to page.
  const int64_t row_bytes = HeadBytes(p.kv_type, p.head_dim);
  for (int64_t j = 0; j < count; ++j) {
    const uint8_t* row = bytes + j * p.kv_row_stride;
    if (first + j + kPrefetchRows < p.n_kv) {
      const uint8_t* ahead = row + kPrefetchRows * p.kv_row_stride;
      for (int64_t b = 0; b < row_bytes; b += 64) hwy::Prefetch(ahead + b);
    }
    if (p.kv_type == DType::kF16) {
      F16ToF32(reinterpret_cast<const uint16_t*>(row), buf + j * p.head_dim, p.head_dim);
    } else {
      Q8_0ToF32(row, buf + j * p.head_dim, p.head_dim);
    }
  }
  return {buf, p.head_dim};
}

// The query as a matmul against the K cache would see it: rounded to f16 for an f16 cache,
// through the Q8_0 activation quantizer for a q8_0 one.
void RoundQuery(DType kv_type, float* q, int head_dim) {
  if (kv_type == DType::kF16) {
    RoundToF16(q, head_dim);
  } else if (kv_type == DType::kQ8_0) {
    Q8_0Block blocks[kMaxHeadDim / 32];
    ref::QuantizeQ8_0Activations(q, blocks, head_dim);
    ref::DequantizeQ8_0(blocks, q, head_dim);
  }
}

// x[0..n) times `scale` (1: exact), rounded to f16 and back. AVX2 and later targets have the
// F16C instruction (round to nearest even); elsewhere the scalar encoder does the same.
void RoundToF16(float* x, int64_t n, float scale) {
  int64_t i = 0;
#if HWY_TARGET <= HWY_AVX2
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto vscale = hn::Set(df, scale);
  for (; i + lanes <= n; i += lanes) {
    const auto scaled = hn::Mul(hn::LoadU(df, x + i), vscale);
    hn::StoreU(hn::PromoteTo(df, hn::DemoteTo(dh, scaled)), df, x + i);
  }
#endif
  for (; i < n; ++i) x[i] = wick::F16ToF32(wick::F32ToF16(x[i] * scale));
}

// The arithmetic below is that of llama.cpp's CPU attention (see ref_order.h): the scores and
// the weighted V are matrix products there, a GEMM (16-lane fused sums, then a tree) when the
// step has several tokens and a dot product per element (four 16-lane accumulators over steps
// of 64, then one term at a time) when it has one.
using D16F = hn::CappedTag<float, 16>;

// slots[s] = fma(a[i], b[i], slots[s]) for i in [begin, end), s = i % n_slots (n_slots a
// multiple of 16 dividing begin).
void SlotSums(const float* a, const float* b, int64_t begin, int64_t end, int n_slots,
              float* slots) {
  const D16F d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  for (int64_t i0 = begin; i0 < end; i0 += n_slots) {
    for (int64_t v = 0; v < n_slots; v += lanes) {
      const auto acc = hn::LoadU(d, slots + v);
      hn::StoreU(hn::MulAdd(hn::LoadU(d, a + i0 + v), hn::LoadU(d, b + i0 + v), acc), d, slots + v);
    }
  }
}

// The lanes of v summed as halves of halves: for 16 lanes SumTree16's order.
template <class D>
HWY_INLINE float HalvesSum(D d, hn::Vec<D> v) {
#if HWY_TARGET == HWY_SCALAR  // one lane, and no UpperHalf
  (void)d;
  return hn::GetLane(v);
#else
  if constexpr (hn::MaxLanes(d) == 1) {
    return hn::GetLane(v);
  } else {
    const hn::Half<D> dh;
    return HalvesSum(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
#endif
}

// 16 lanes in registers: lane s in lane s % N of vector s / N.
constexpr int kVectors16 = static_cast<int>(16 / hn::MaxLanes(D16F()));

// SumTree16 of 16 lanes in registers (`x` is overwritten): the tree's first levels, lanes 8,
// 4, ... apart, add whole vectors.
HWY_INLINE float Tree16(hn::Vec<D16F>* x) {
  for (int n = kVectors16 / 2; n >= 1; n /= 2) {
    for (int v = 0; v < n; ++v) x[v] = hn::Add(x[v], x[v + n]);
  }
  return HalvesSum(D16F(), x[0]);
}

// SlotSums over 16 slots and SumTree16, in registers.
float ScoreGemm(const float* q, const float* k, int hd) {
  const D16F d;
  constexpr int kLanes = static_cast<int>(hn::MaxLanes(d));
  hn::Vec<D16F> acc[kVectors16];
  for (auto& a : acc) a = hn::Zero(d);
  for (int i0 = 0; i0 < hd; i0 += 16) {
    for (int v = 0; v < kVectors16; ++v) {
      acc[v] =
          hn::MulAdd(hn::LoadU(d, q + i0 + v * kLanes), hn::LoadU(d, k + i0 + v * kLanes), acc[v]);
    }
  }
  return Tree16(acc);
}

// q . k as the reference's kq product computes it.
float Score(const float* q, const float* k, int hd, bool gemm, bool f32_cache) {
  if (gemm && hd % 16 == 0) return ScoreGemm(q, k, hd);
  alignas(64) float slots[kDecodeSlots] = {};
  const int64_t vector_part = VectorPart64(hd);
  SlotSums(q, k, 0, vector_part, kDecodeSlots, slots);
  float lanes[16];
  FoldSlots64(slots, lanes);
  const float folded = SumTree16(lanes);
  if (f32_cache) {
    float sum = folded;
    for (int64_t i = vector_part; i < hd; ++i) sum = std::fma(q[i], k[i], sum);
    return sum;
  }
  double sum = folded;
  for (int64_t i = vector_part; i < hd; ++i) sum += static_cast<double>(q[i] * k[i]);
  return static_cast<float>(sum);
}

float MaxOf(const float* x, int64_t n) {
  const hn::ScalableTag<float> d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  auto m = hn::Set(d, -std::numeric_limits<float>::infinity());
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) m = hn::Max(m, hn::LoadU(d, x + i));
  float result = hn::GetLane(hn::MaxOfLanes(d, m));
  for (; i < n; ++i) result = std::max(result, x[i]);
  return result;
}

// In place: the first n of x (the rest of its 16-element group masked) become their softmax
// probabilities, exp(x - max) / sum, the sum taken in double over 16-element groups each
// added as a tree, and rounded to f16 when V is f16.
void Softmax(float* x, int64_t n, bool round_f16) {
  const float max = MaxOf(x, n);
  const D16F d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vmax = hn::Set(d, max);
  const int64_t padded = (n + 15) & ~int64_t{15};
  for (int64_t i = n; i < padded; ++i) x[i] = -std::numeric_limits<float>::infinity();
  double sum = 0.0;
  for (int64_t i0 = 0; i0 < padded; i0 += 16) {
    hn::Vec<D16F> e[kVectors16];
    for (int v = 0; v < kVectors16; ++v) {
      e[v] = RefExp(d, hn::Sub(hn::LoadU(d, x + i0 + v * lanes), vmax));
      hn::StoreU(e[v], d, x + i0 + v * lanes);
    }
    sum += static_cast<double>(Tree16(e));
  }
  const float inv = static_cast<float>(1.0 / sum);
  if (round_f16) {
    // Scaled and rounded in one pass (the padding's zeros stay zero).
    RoundToF16(x, padded, inv);
    return;
  }
  const auto vinv = hn::Set(d, inv);
  for (int64_t i0 = 0; i0 < padded; i0 += lanes) {
    hn::StoreU(hn::Mul(hn::LoadU(d, x + i0), vinv), d, x + i0);
  }
}

// acc[0..hd) = fma(w[j], v[j * v_stride + 0..hd), acc) for j = first, first + step, ... below
// end, in that order: the terms of one slot row in a tile, added in registers (a row's slots
// each take every step-th position, so adding position by position would load and store a
// slot row per term).
void AddWeightedEvery(float* acc, const float* w, const float* v, int64_t v_stride, int64_t first,
                      int64_t end, int64_t step, int hd) {
  const hn::ScalableTag<float> d;
  const int lanes = static_cast<int>(hn::Lanes(d));
  int i = 0;
  for (; i + 4 * lanes <= hd; i += 4 * lanes) {
    auto a0 = hn::LoadU(d, acc + i);
    auto a1 = hn::LoadU(d, acc + i + lanes);
    auto a2 = hn::LoadU(d, acc + i + 2 * lanes);
    auto a3 = hn::LoadU(d, acc + i + 3 * lanes);
    for (int64_t j = first; j < end; j += step) {
      const auto vw = hn::Set(d, w[j]);
      const float* vj = v + j * v_stride + i;
      a0 = hn::MulAdd(vw, hn::LoadU(d, vj), a0);
      a1 = hn::MulAdd(vw, hn::LoadU(d, vj + lanes), a1);
      a2 = hn::MulAdd(vw, hn::LoadU(d, vj + 2 * lanes), a2);
      a3 = hn::MulAdd(vw, hn::LoadU(d, vj + 3 * lanes), a3);
    }
    hn::StoreU(a0, d, acc + i);
    hn::StoreU(a1, d, acc + i + lanes);
    hn::StoreU(a2, d, acc + i + 2 * lanes);
    hn::StoreU(a3, d, acc + i + 3 * lanes);
  }
  for (; i + lanes <= hd; i += lanes) {
    auto a = hn::LoadU(d, acc + i);
    for (int64_t j = first; j < end; j += step) {
      a = hn::MulAdd(hn::Set(d, w[j]), hn::LoadU(d, v + j * v_stride + i), a);
    }
    hn::StoreU(a, d, acc + i);
  }
  for (; i < hd; ++i) {
    float a = acc[i];
    for (int64_t j = first; j < end; j += step) a = std::fma(w[j], v[j * v_stride + i], a);
    acc[i] = a;
  }
}

// a[0..hd) = a + b.
void AddRows(float* a, const float* b, int hd) {
  const hn::ScalableTag<float> d;
  const int lanes = static_cast<int>(hn::Lanes(d));
  int i = 0;
  for (; i + lanes <= hd; i += lanes) {
    hn::StoreU(hn::Add(hn::LoadU(d, b + i), hn::LoadU(d, a + i)), d, a + i);
  }
  for (; i < hd; ++i) a[i] = b[i] + a[i];
}

// Folds 16 slot rows ([16][hd], in place) as SumTree16 folds 16 lanes; the sum ends in row 0.
void TreeRows16(float* slots, int hd) {
  for (int i = 0; i < 8; ++i) AddRows(slots + i * hd, slots + (i + 8) * hd, hd);
  for (int i = 0; i < 4; ++i) AddRows(slots + i * hd, slots + (i + 4) * hd, hd);
  AddRows(slots, slots + 2 * hd, hd);
  AddRows(slots + hd, slots + 3 * hd, hd);
  AddRows(slots, slots + hd, hd);
}

// A task of a sliding-window call starts its cache at the first position any of its rows
// sees: the earlier ones are never read, so a long context costs a window's work per token.
AttentionParams WindowStart(const AttentionParams& p, const AttentionTask& task) {
  AttentionParams w = p;
  if (p.window <= 0) return w;
  const int64_t first = std::max<int64_t>(0, p.pos0 + task.t_begin + 1 - p.window);
  w.k = static_cast<const uint8_t*>(p.k) + first * p.kv_row_stride;
  w.v = static_cast<const uint8_t*>(p.v) + first * p.kv_row_stride;
  w.pos0 -= first;
  w.n_kv -= first;
  return w;
}

// `scratch` holds ScratchFloats(rows, positions, head_dim) floats.
void AttendTaskImpl(const AttentionParams& call, const AttentionTask& task, float* scratch) {
  const AttentionParams p = WindowStart(call, task);
  const int group = p.n_head / p.n_head_kv;
  const int hd = p.head_dim;
  const int64_t n_rows = (task.t_end - task.t_begin) * group;
  // The last token of the tile sees the most of the cache.
  const int64_t n_positions = p.pos0 + task.t_end;
  const bool gemm = p.n_tokens > 1;
  const bool f16 = p.kv_type == DType::kF16;
  const bool f32 = p.kv_type == DType::kF32;
  [[maybe_unused]] const bool q8 = p.kv_type == DType::kQ8_0;
  const int n_slots = gemm ? kPrefillSlots : kDecodeSlots;
  // Scores are padded to whole 16-element groups for the softmax.
  const int64_t score_stride = (n_positions + 15) & ~int64_t{15};
  // The doubles first, where the buffer's alignment suits them.
  auto* tail = reinterpret_cast<double*>(scratch);    // [n_rows][hd]
  float* scores = scratch + 2 * n_rows * hd;          // [n_rows][score_stride]
  float* q_rows = scores + n_rows * score_stride;     // [n_rows][hd]
  float* slots = q_rows + n_rows * hd;                // [n_rows][n_slots][hd]
  float* k_buf = slots + n_rows * kDecodeSlots * hd;  // [kBlock][hd], f16/q8_0
  float* v_buf = k_buf + kBlock * hd;                 // [kBlock][hd]

  auto token_of = [&](int64_t r) { return task.t_begin + r / group; };
  auto head_of = [&](int64_t r) { return int64_t{task.kv_head} * group + r % group; };
  // Cache positions row r attends to (causal).
  auto valid_of = [&](int64_t r) { return p.pos0 + token_of(r) + 1; };

  const bool block_kernels = !one_position_kernels.load(std::memory_order_relaxed);
  // The score kernels' slot orders: 16-lane fused sums (gemm) or 64 slots (decode).
  [[maybe_unused]] const bool score_blocks = block_kernels && hd % (gemm ? 16 : 64) == 0;
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* q = p.q + token_of(r) * p.q_token_stride + head_of(r) * hd;
    std::copy(q, q + hd, q_rows + r * hd);
    RoundQuery(p.kv_type, q_rows + r * hd, hd);
  }
  for (int64_t b0 = 0; b0 < n_positions; b0 += kBlock) {
    const int64_t n_block = std::min(kBlock, n_positions - b0);
    const RowsF32 k = CacheRows(p, p.k, b0, n_block, task.kv_head, k_buf);
    // Positions that every row's block kernel computes: some rows' later ones, past what they
    // attend to, are cache rows all the same, and their softmax ignores them.
    int64_t blocks_done = 0;
#if WICK_ATTENTION_X86
    if (score_blocks) {
      blocks_done = attention_x86::ScoreBlocks(q_rows, hd, n_rows, k.base, k.stride,
                                               std::min(n_block, valid_of(n_rows - 1) - b0), hd,
                                               gemm, p.scale, scores + b0, score_stride);
    }
#endif
    for (int64_t r = 0; r < n_rows; ++r) {
      const int64_t n_valid = std::min(n_block, valid_of(r) - b0);
      float* s = scores + r * score_stride + b0;
      for (int64_t j = blocks_done; j < n_valid; ++j) {
        s[j] = Score(q_rows + r * hd, k.base + j * k.stride, hd, gemm, f32) * p.scale;
      }
    }
  }
  // Row r's first position: a window's earlier ones are masked (their weights become 0).
  auto first_of = [&](int64_t r) {
    return p.window > 0 ? std::max<int64_t>(0, valid_of(r) - p.window) : int64_t{0};
  };
  for (int64_t r = 0; r < n_rows; ++r) {
    float* s = scores + r * score_stride;
    const int64_t lo = first_of(r);
    if (p.softcap > 0.0f) kernels::Softcap(s + lo, p.softcap, valid_of(r) - lo);
    std::fill(s, s + lo, -std::numeric_limits<float>::infinity());
    Softmax(s, valid_of(r), f16);
  }

  // One token: the positions of the reference's 64-element steps, then the rest one by one.
  const int64_t padded_kv = (p.pos0 + p.n_tokens + kRefKvPad - 1) / kRefKvPad * kRefKvPad;
  const int64_t vector_end = gemm ? n_positions : std::min(n_positions, VectorPart64(padded_kv));
  std::fill(slots, slots + n_rows * n_slots * hd, 0.0f);
  bool values_done = false;
#if WICK_ATTENTION_X86
  if (block_kernels && hd % attention_x86::kLanes == 0) {
    // Every row over the same positions, so that a row's slots take whole columns of the
    // cache, read in place: in a prompt's tile, the later tokens' positions get zero weights
    // in the earlier tokens' rows.
    for (int64_t r = 0; gemm && r < n_rows; ++r) {
      std::fill(scores + r * score_stride + valid_of(r), scores + r * score_stride + n_positions,
                0.0f);
    }
    const auto* v_rows = static_cast<const uint8_t*>(p.v) + task.kv_head * p.kv_head_stride;
    const int64_t slots_stride = n_slots * hd;
    // A prompt's many rows each walk a block of positions that stays in L2; a decode step's
    // few walk the whole range once.
    auto value_slots = [&]<int kSlots>(int64_t block) {
      // A q8_0 cache's rows go through v_buf as f32, kBlock (a multiple of both slot counts)
      // at a time: the same values, so the same sums.
      if (q8) block = kBlock;
      for (int64_t b0 = 0; b0 < vector_end; b0 += block) {
        const uint8_t* v = v_rows + b0 * p.kv_row_stride;
        const int64_t n_block = std::min(block, vector_end - b0);
        if (q8) {
          const RowsF32 rows = CacheRows(p, p.v, b0, n_block, task.kv_head, v_buf);
          attention_x86::ValueSlots<false, kSlots>(reinterpret_cast<const uint8_t*>(rows.base),
                                                   rows.stride * 4, scores + b0, score_stride,
                                                   n_rows, n_block, hd, slots, slots_stride);
        } else if (f16) {
          attention_x86::ValueSlots<true, kSlots>(v, p.kv_row_stride, scores + b0, score_stride,
                                                  n_rows, n_block, hd, slots, slots_stride);
        } else {
          attention_x86::ValueSlots<false, kSlots>(v, p.kv_row_stride, scores + b0, score_stride,
                                                   n_rows, n_block, hd, slots, slots_stride);
        }
      }
    };
    if (gemm) {
      value_slots.template operator()<kPrefillSlots>(kValueBlock);
    } else {
      value_slots.template operator()<kDecodeSlots>(vector_end);
    }
    values_done = true;
  }
#endif
  for (int64_t b0 = 0; b0 < n_positions && !values_done; b0 += kBlock) {
    const int64_t n_block = std::min(kBlock, n_positions - b0);
    const RowsF32 v = CacheRows(p, p.v, b0, n_block, task.kv_head, v_buf);
    for (int64_t r = 0; r < n_rows; ++r) {
      const int64_t n_valid = std::min({n_block, valid_of(r) - b0, vector_end - b0});
      const float* w = scores + r * score_stride + b0;
      float* row_slots = slots + r * n_slots * hd;
      // Position b0 + j goes to slot (b0 + j) % n_slots: slot by slot, its positions in order.
      for (int64_t first = 0; first < std::min<int64_t>(n_slots, n_valid); ++first) {
        AddWeightedEvery(row_slots + ((b0 + first) & (n_slots - 1)) * hd, w, v.base, v.stride,
                         first, n_valid, n_slots, hd);
      }
    }
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    float* row_slots = slots + r * n_slots * hd;
    if (!gemm) {
      // Four 16-lane accumulators into one, as GGML_F32x16_REDUCE does.
      for (int s = 0; s < 16; ++s) {
        float* x0 = row_slots + s * hd;
        AddRows(x0, row_slots + (32 + s) * hd, hd);
        float* x1 = row_slots + (16 + s) * hd;
        AddRows(x1, row_slots + (48 + s) * hd, hd);
        AddRows(x0, x1, hd);
      }
    }
    TreeRows16(row_slots, hd);
  }
  float* out_rows = slots;  // row r's result ends in slot row 0 of its slots
  if (!gemm && vector_end < n_positions) {
    // The terms past the last 64-element step, added one at a time after the vector part:
    // in f64 for f16 (each product exact in f32), fused in f32 for f32.
    for (int64_t r = 0; r < n_rows; ++r) {
      float* sum = out_rows + r * n_slots * hd;
      double* sum64 = tail + r * hd;
      for (int i = 0; i < hd; ++i) sum64[i] = sum[i];
    }
    for (int64_t b0 = vector_end; b0 < n_positions; b0 += kBlock) {
      const int64_t n_block = std::min(kBlock, n_positions - b0);
      const RowsF32 v = CacheRows(p, p.v, b0, n_block, task.kv_head, v_buf);
      for (int64_t r = 0; r < n_rows; ++r) {
        const int64_t n_valid = std::min(n_block, valid_of(r) - b0);
        const float* w = scores + r * score_stride + b0;
        float* sum = out_rows + r * n_slots * hd;
        double* sum64 = tail + r * hd;
        for (int64_t j = 0; j < n_valid; ++j) {
          const float* vj = v.base + j * v.stride;
          if (f32) {
            for (int i = 0; i < hd; ++i) sum[i] = std::fma(w[j], vj[i], sum[i]);
          } else {
            for (int i = 0; i < hd; ++i) sum64[i] += static_cast<double>(w[j] * vj[i]);
          }
        }
      }
    }
    if (!f32) {
      for (int64_t r = 0; r < n_rows; ++r) {
        float* sum = out_rows + r * n_slots * hd;
        const double* sum64 = tail + r * hd;
        for (int i = 0; i < hd; ++i) sum[i] = static_cast<float>(sum64[i]);
      }
    }
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* a = out_rows + r * n_slots * hd;
    float* dst = p.out + token_of(r) * p.out_token_stride + head_of(r) * hd;
    std::copy(a, a + hd, dst);
  }
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels {

HWY_EXPORT(AttendTaskImpl);

namespace {

Status Invalid(std::string_view what) {
  return Error(ErrorCode::kInvalidArgument, fmt::format("attention: {}", what));
}

Status Validate(const AttentionParams& p) {
  if (p.n_tokens < 0 || p.pos0 < 0 || p.n_kv < 0) {
    return Invalid(
        fmt::format("negative n_tokens ({}), pos0 ({}) or n_kv ({})", p.n_tokens, p.pos0, p.n_kv));
  }
  if (p.n_head <= 0 || p.n_head_kv <= 0 || p.head_dim <= 0) {
    return Invalid(fmt::format("n_head ({}), n_head_kv ({}) and head_dim ({}) must be positive",
                               p.n_head, p.n_head_kv, p.head_dim));
  }
  if (p.n_head % p.n_head_kv != 0) {
    return Invalid(
        fmt::format("n_head ({}) is not a multiple of n_head_kv ({})", p.n_head, p.n_head_kv));
  }
  if (p.kv_type != DType::kF32 && p.kv_type != DType::kF16 && p.kv_type != DType::kQ8_0) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("attention: KV cache type {} (F32, F16 and Q8_0 are supported)",
                             NameOf(p.kv_type)));
  }
  if (p.kv_type == DType::kQ8_0 && (p.head_dim % 32 != 0 || p.head_dim > kMaxHeadDim)) {
    return Invalid(fmt::format("a Q8_0 cache needs head_dim a multiple of 32 up to {}, not {}",
                               kMaxHeadDim, p.head_dim));
  }
  if (p.pos0 > p.n_kv - p.n_tokens) {
    return Invalid(fmt::format("pos0 + n_tokens ({}) exceeds the {} valid cache positions",
                               p.pos0 + p.n_tokens, p.n_kv));
  }
  if (!std::isfinite(p.scale)) return Invalid("scale is not finite");
  if (p.window < 0) return Invalid(fmt::format("negative window ({})", p.window));
  if (!std::isfinite(p.softcap) || p.softcap < 0.0f) {
    return Invalid(fmt::format("softcap ({}) is not a finite non-negative number", p.softcap));
  }
  const int64_t elem = ElementAlignment(p.kv_type);
  const int64_t row_bytes = HeadBytes(p.kv_type, p.head_dim);
  if (p.kv_row_stride < row_bytes || p.kv_row_stride % elem != 0) {
    return Invalid(fmt::format("kv_row_stride {} is below {} bytes or not a multiple of {}",
                               p.kv_row_stride, row_bytes, elem));
  }
  if (p.kv_head_stride != 0 && (p.kv_head_stride < row_bytes || p.kv_head_stride % elem != 0)) {
    return Invalid(fmt::format("kv_head_stride {} is below {} bytes or not a multiple of {}",
                               p.kv_head_stride, row_bytes, elem));
  }
  const int64_t token_floats = int64_t{p.n_head} * p.head_dim;
  if ((p.q_token_stride != 0 && p.q_token_stride < token_floats) ||
      (p.out_token_stride != 0 && p.out_token_stride < token_floats)) {
    return Invalid(fmt::format("q_token_stride ({}) and out_token_stride ({}) must be 0 or >= {}",
                               p.q_token_stride, p.out_token_stride, token_floats));
  }
  if (p.n_tokens == 0) return OkStatus();  // nothing is read or written
  if (p.q == nullptr || p.k == nullptr || p.v == nullptr || p.out == nullptr) {
    return Invalid("q, k, v and out must not be null");
  }
  if (reinterpret_cast<uintptr_t>(p.k) % elem != 0 ||
      reinterpret_cast<uintptr_t>(p.v) % elem != 0) {
    return Invalid(fmt::format("k and v must be aligned to {} bytes", elem));
  }
  return OkStatus();
}

}  // namespace

Status AttentionBatch(std::span<const AttentionParams> batch, ThreadPool& pool) {
  struct Item {
    AttentionParams p;
    int64_t tile = 0;
    int64_t n_tiles = 0;
    int64_t first_task = 0;
    int64_t first_row = 0;  // of this item's softmax rows in the shared arrays
  };
  std::vector<Item> items;
  items.reserve(batch.size());
  const int64_t n_threads = pool.size();
  int64_t n_tasks = 0, n_rows = 0, scratch_floats = 0;
  for (const AttentionParams& params : batch) {
    WICK_RETURN_IF_ERROR(Validate(params));
    if (params.n_tokens == 0) continue;
    Item it{.p = params};
    AttentionParams& p = it.p;
    const int64_t token_floats = int64_t{p.n_head} * p.head_dim;
    if (p.q_token_stride == 0) p.q_token_stride = token_floats;
    if (p.out_token_stride == 0) p.out_token_stride = token_floats;
    if (p.kv_head_stride == 0) p.kv_head_stride = HeadBytes(p.kv_type, p.head_dim);
    const int group = p.n_head / p.n_head_kv;
    const int64_t n_attended = p.pos0 + p.n_tokens;
    // Token tiles: about kTargetRows query rows per task, smaller while that would leave
    // threads without work (a lone prompt) or the scores pass their budget.
    it.tile = std::clamp<int64_t>(kTargetRows / group, 1, p.n_tokens);
    auto tiles_of = [&](int64_t size) { return (p.n_tokens + size - 1) / size; };
    while (batch.size() == 1 && it.tile > 1 && tiles_of(it.tile) * p.n_head_kv < 4 * n_threads) {
      it.tile = (it.tile + 1) / 2;
    }
    while (it.tile > 1 && it.tile * group * n_attended > kMaxScoreFloats) {
      it.tile = (it.tile + 1) / 2;
    }
    it.n_tiles = (p.n_tokens + it.tile - 1) / it.tile;
    it.first_task = n_tasks;
    it.first_row = n_rows;
    n_tasks += it.n_tiles * p.n_head_kv;
    n_rows += p.n_tokens * p.n_head;
    scratch_floats =
        std::max(scratch_floats, ScratchFloats(it.tile * group, n_attended, p.head_dim));
    items.push_back(it);
  }
  if (n_tasks == 0) return OkStatus();

  std::atomic<int64_t> next{0};
  pool.Run([&](int, int) {
    thread_local std::vector<float> scratch;
    if (scratch.size() < static_cast<size_t>(scratch_floats)) {
      scratch.resize(static_cast<size_t>(scratch_floats));
    }
    size_t item = 0;
    for (int64_t i = next.fetch_add(1); i < n_tasks; i = next.fetch_add(1)) {
      while (item + 1 < items.size() && items[item + 1].first_task <= i) ++item;
      while (items[item].first_task > i) --item;
      const Item& it = items[item];
      const int64_t local = i - it.first_task;
      const int64_t tile_index = local / it.p.n_head_kv;
      AttentionTask task{
          .t_begin = tile_index * it.tile,
          .t_end = std::min(it.p.n_tokens, (tile_index + 1) * it.tile),
          .kv_head = static_cast<int>(local % it.p.n_head_kv),
      };
      HWY_DYNAMIC_DISPATCH(AttendTaskImpl)(it.p, task, scratch.data());
    }
  });
  return OkStatus();
}

Status Attention(const AttentionParams& params, ThreadPool& pool) {
  return AttentionBatch({&params, 1}, pool);
}

void UseOnePositionAttentionKernels(bool one_position) {
  one_position_kernels.store(one_position, std::memory_order_relaxed);
}

}  // namespace wick::kernels
#endif  // HWY_ONCE
