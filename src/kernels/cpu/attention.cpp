// Highway compiles this file once per SIMD target (see simd.h); HWY_DYNAMIC_DISPATCH picks
// the best one the CPU supports at run time.
//
// The arithmetic is that of llama.cpp's attention without flash attention, which is what
// GGUF reference outputs are made with: the query is rounded to the cache's element type
// before the dot products (a matmul converts its activations to the weight type), the
// softmax is exact (global maximum, sum in double) and its probabilities are rounded to the
// V cache's type before they weight V. Rounding at other points (the online softmax of
// flash attention, say) moves a logit by ~1e-3, which random-weight test models amplify
// into different greedy picks.
//
// Work is split into tasks of (a tile of query tokens, one kv head, a range of the cache).
// A task handles every query head of its kv head's group together, so each tile of K/V is
// loaded (and, for f16, converted) once and reused by group x tokens query rows. A task
// keeps its rows' scores, computes the softmax, then walks V. When there are fewer tasks
// than threads (decode), the cache range is split too: a first pass gives each split's
// maximum and sum, and a second pass, knowing the row's softmax, sums each split's
// weighted V.
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
#include "kernels/cpu/quant_ref.h"

// clang-format off
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>
// A per-target header, so it must follow highway.h.
#include <hwy/contrib/math/math-inl.h>
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
// tile many times, few enough that the per-row accumulators stay in L1/L2.
constexpr int64_t kTargetRows = 32;
// A task keeps its rows' scores for the whole cache range; fewer rows per task once that
// would pass this many floats (long contexts).
constexpr int64_t kMaxScoreFloats = int64_t{1} << 20;
// A decode split covers at least this many tiles, so its second pass and the merge stay
// cheap next to computing it.
constexpr int64_t kMinBlocksPerSplit = 2;

// Largest head_dim a q8_0 cache supports (the query's blocks live on the stack).
constexpr int kMaxHeadDim = 1024;

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

// What a task does: everything for its rows, or one of the two passes of a split cache.
enum class TaskPass { kWhole, kStats, kValues };

struct AttentionTask {
  int64_t t_begin;  // query tokens [t_begin, t_end)
  int64_t t_end;
  int kv_head;
  int64_t kv_begin;  // cache positions [kv_begin, kv_end), before the causal limit
  int64_t kv_end;
  TaskPass pass;
  // kStats writes, kValues reads, per row [n_tokens][n_head]: the split's maximum and sum
  // (then, after the merge, the row's maximum and 1 / sum).
  float* row_max;
  float* row_sum;
  // kValues: this split's unnormalised share of out, [n_tokens][n_head][head_dim].
  float* partial;
};

// Floats of scratch a task with `n_rows` rows over `n_positions` cache positions needs.
int64_t ScratchFloats(int64_t n_rows, int64_t n_positions, int head_dim) {
  return n_rows * n_positions + n_rows * head_dim * 2 + kBlock + 2 * kBlock * head_dim;
}

}  // namespace
}  // namespace wick::kernels
#endif  // WICK_KERNELS_CPU_ATTENTION_SHARED_

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void RoundToF16(float* x, int64_t n);

// Consecutive cache rows as f32: `base + j * stride` is row j.
struct RowsF32 {
  const float* base;
  int64_t stride;
};

float Dot(const float* a, const float* b, int n) {
  const hn::ScalableTag<float> d;
  const int lanes = static_cast<int>(hn::Lanes(d));
  // Four independent sums hide the latency of the fused multiply-adds.
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  int i = 0;
  for (; i + 4 * lanes <= n; i += 4 * lanes) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + lanes), hn::LoadU(d, b + i + lanes), s1);
    s2 = hn::MulAdd(hn::LoadU(d, a + i + 2 * lanes), hn::LoadU(d, b + i + 2 * lanes), s2);
    s3 = hn::MulAdd(hn::LoadU(d, a + i + 3 * lanes), hn::LoadU(d, b + i + 3 * lanes), s3);
  }
  for (; i + lanes <= n; i += lanes) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  }
  float sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

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

// Rows [first, first + count) of kv head `kv_head`: in place for f32, converted into `buf`
// ([count][head_dim]) for f16 and q8_0.
RowsF32 CacheRows(const AttentionParams& p, const void* cache, int64_t first, int64_t count,
                  int kv_head, float* buf) {
  const auto* bytes =
      static_cast<const uint8_t*>(cache) + first * p.kv_row_stride + kv_head * p.kv_head_stride;
  if (p.kv_type == DType::kF32) {
    return {reinterpret_cast<const float*>(bytes), p.kv_row_stride / 4};
  }
  for (int64_t j = 0; j < count; ++j) {
    const uint8_t* row = bytes + j * p.kv_row_stride;
    if (p.kv_type == DType::kF16) {
      F16ToF32(reinterpret_cast<const uint16_t*>(row), buf + j * p.head_dim, p.head_dim);
    } else {
      ref::DequantizeQ8_0(row, buf + j * p.head_dim, p.head_dim);
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

// sum_i exp(x[i] - shift), in double as llama.cpp's softmax sums.
double SumExpShifted(const float* x, int64_t n, float shift) {
  const hn::ScalableTag<float> d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vshift = hn::Set(d, shift);
  double sum = 0.0;
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    sum += hn::GetLane(hn::SumOfLanes(d, hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vshift))));
  }
  for (; i < n; ++i) sum += std::exp(x[i] - shift);
  return sum;
}

// Rounds x[0..n) to f16 and back. AVX2 and later targets have the F16C instruction (round to
// nearest even); elsewhere the scalar encoder does the same.
void RoundToF16(float* x, int64_t n) {
  int64_t i = 0;
#if HWY_TARGET <= HWY_AVX2
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  for (; i + lanes <= n; i += lanes) {
    hn::StoreU(hn::PromoteTo(df, hn::DemoteTo(dh, hn::LoadU(df, x + i))), df, x + i);
  }
#endif
  for (; i < n; ++i) x[i] = wick::F16ToF32(wick::F32ToF16(x[i]));
}

// weights[j] = exp(scores[j] - max) * inv_sum, rounded to f16 when V is f16.
void SoftmaxWeights(const float* scores, int64_t n, float max, float inv_sum, bool round_f16,
                    float* weights) {
  const hn::ScalableTag<float> d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vmax = hn::Set(d, max);
  const auto vinv = hn::Set(d, inv_sum);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, scores + i), vmax));
    hn::StoreU(hn::Mul(e, vinv), d, weights + i);
  }
  for (; i < n; ++i) weights[i] = std::exp(scores[i] - max) * inv_sum;
  if (round_f16) RoundToF16(weights, n);
}

// acc = acc * correction + sum_j weights[j] * v row j. The accumulators for a slice of
// head_dim stay in registers across all rows of the tile.
void AccumulateV(float* acc, float correction, const float* weights, RowsF32 v, int64_t n,
                 int head_dim) {
  const hn::ScalableTag<float> d;
  const int lanes = static_cast<int>(hn::Lanes(d));
  const auto vcorr = hn::Set(d, correction);
  int i = 0;
  for (; i + 4 * lanes <= head_dim; i += 4 * lanes) {
    auto a0 = hn::Mul(hn::LoadU(d, acc + i), vcorr);
    auto a1 = hn::Mul(hn::LoadU(d, acc + i + lanes), vcorr);
    auto a2 = hn::Mul(hn::LoadU(d, acc + i + 2 * lanes), vcorr);
    auto a3 = hn::Mul(hn::LoadU(d, acc + i + 3 * lanes), vcorr);
    for (int64_t j = 0; j < n; ++j) {
      const float* row = v.base + j * v.stride + i;
      const auto w = hn::Set(d, weights[j]);
      a0 = hn::MulAdd(w, hn::LoadU(d, row), a0);
      a1 = hn::MulAdd(w, hn::LoadU(d, row + lanes), a1);
      a2 = hn::MulAdd(w, hn::LoadU(d, row + 2 * lanes), a2);
      a3 = hn::MulAdd(w, hn::LoadU(d, row + 3 * lanes), a3);
    }
    hn::StoreU(a0, d, acc + i);
    hn::StoreU(a1, d, acc + i + lanes);
    hn::StoreU(a2, d, acc + i + 2 * lanes);
    hn::StoreU(a3, d, acc + i + 3 * lanes);
  }
  for (; i + lanes <= head_dim; i += lanes) {
    auto a = hn::Mul(hn::LoadU(d, acc + i), vcorr);
    for (int64_t j = 0; j < n; ++j) {
      a = hn::MulAdd(hn::Set(d, weights[j]), hn::LoadU(d, v.base + j * v.stride + i), a);
    }
    hn::StoreU(a, d, acc + i);
  }
  for (; i < head_dim; ++i) {
    float a = acc[i] * correction;
    for (int64_t j = 0; j < n; ++j) a += weights[j] * v.base[j * v.stride + i];
    acc[i] = a;
  }
}

// `scratch` holds ScratchFloats(rows, positions, head_dim) floats.
void AttendTaskImpl(const AttentionParams& p, const AttentionTask& task, float* scratch) {
  const int group = p.n_head / p.n_head_kv;
  const int hd = p.head_dim;
  const int64_t n_rows = (task.t_end - task.t_begin) * group;
  // The last token of the tile sees the most of the cache.
  const int64_t kv_end = std::min(task.kv_end, p.pos0 + task.t_end);
  const int64_t n_positions = std::max<int64_t>(0, kv_end - task.kv_begin);
  // Probabilities weight V in its own precision only for f16 (a q8_0 V is dequantized).
  const bool f16 = p.kv_type == DType::kF16;
  float* scores = scratch;                        // [n_rows][n_positions]
  float* q_rows = scores + n_rows * n_positions;  // [n_rows][hd]
  float* acc = q_rows + n_rows * hd;              // [n_rows][hd]
  float* weights = acc + n_rows * hd;             // [kBlock]
  float* k_buf = weights + kBlock;                // [kBlock][hd], f16 caches only
  float* v_buf = k_buf + kBlock * hd;             // [kBlock][hd]

  auto token_of = [&](int64_t r) { return task.t_begin + r / group; };
  auto head_of = [&](int64_t r) { return int64_t{task.kv_head} * group + r % group; };
  // Cache positions row r attends to within this task's range (causal).
  auto valid_of = [&](int64_t r) {
    return std::clamp<int64_t>(p.pos0 + token_of(r) + 1 - task.kv_begin, 0, n_positions);
  };

  for (int64_t r = 0; r < n_rows; ++r) {
    const float* q = p.q + token_of(r) * p.q_token_stride + head_of(r) * hd;
    std::copy(q, q + hd, q_rows + r * hd);
    RoundQuery(p.kv_type, q_rows + r * hd, hd);
  }
  for (int64_t b0 = 0; b0 < n_positions; b0 += kBlock) {
    const int64_t n_block = std::min(kBlock, n_positions - b0);
    const RowsF32 k = CacheRows(p, p.k, task.kv_begin + b0, n_block, task.kv_head, k_buf);
    for (int64_t r = 0; r < n_rows; ++r) {
      const int64_t n_valid = std::min(n_block, valid_of(r) - b0);
      float* s = scores + r * n_positions + b0;
      for (int64_t j = 0; j < n_valid; ++j) {
        s[j] = Dot(q_rows + r * hd, k.base + j * k.stride, hd) * p.scale;
      }
    }
  }

  // The softmax of each row: this task's own, or (second pass of a split) the merged one
  // already in row_max / row_sum.
  for (int64_t r = 0; task.pass != TaskPass::kValues && r < n_rows; ++r) {
    const int64_t i = token_of(r) * p.n_head + head_of(r);
    const int64_t n_valid = valid_of(r);
    const float max = n_valid > 0 ? MaxOf(scores + r * n_positions, n_valid)
                                  : -std::numeric_limits<float>::infinity();
    const double sum = n_valid > 0 ? SumExpShifted(scores + r * n_positions, n_valid, max) : 0.0;
    task.row_max[i] = max;
    // A split reports its sum; a whole row (which sees at least cache position 0, so its sum
    // is positive) stores 1 / sum for the second loop.
    task.row_sum[i] = static_cast<float>(task.pass == TaskPass::kStats ? sum : 1.0 / sum);
  }
  if (task.pass == TaskPass::kStats) return;

  std::fill(acc, acc + n_rows * hd, 0.0f);
  for (int64_t b0 = 0; b0 < n_positions; b0 += kBlock) {
    const int64_t n_block = std::min(kBlock, n_positions - b0);
    const RowsF32 v = CacheRows(p, p.v, task.kv_begin + b0, n_block, task.kv_head, v_buf);
    for (int64_t r = 0; r < n_rows; ++r) {
      const int64_t n_valid = std::min(n_block, valid_of(r) - b0);
      if (n_valid <= 0) continue;
      const int64_t i = token_of(r) * p.n_head + head_of(r);
      SoftmaxWeights(scores + r * n_positions + b0, n_valid, task.row_max[i], task.row_sum[i], f16,
                     weights);
      AccumulateV(acc + r * hd, 1.0f, weights, v, n_valid, hd);
    }
  }
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* a = acc + r * hd;
    float* dst = task.pass == TaskPass::kValues
                     ? task.partial + (token_of(r) * p.n_head + head_of(r)) * hd
                     : p.out + token_of(r) * p.out_token_stride + head_of(r) * hd;
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

// Per-row softmax state of a call: [n_tokens][n_head] entries.
struct SoftmaxRows {
  std::vector<float> max, inv_sum;
};

// The whole row's softmax from its splits': the largest maximum, and the splits' sums rescaled
// to it.
void MergeStats(const std::vector<float>& split_max, const std::vector<float>& split_sum,
                int64_t n_splits, int64_t n_rows, SoftmaxRows& rows) {
  for (int64_t i = 0; i < n_rows; ++i) {
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t s = 0; s < n_splits; ++s) max = std::max(max, split_max[s * n_rows + i]);
    double sum = 0.0;
    for (int64_t s = 0; s < n_splits; ++s) {
      const float part = split_sum[s * n_rows + i];
      if (part > 0.0f) sum += part * std::exp(static_cast<double>(split_max[s * n_rows + i]) - max);
    }
    rows.max[i] = max;
    rows.inv_sum[i] = static_cast<float>(1.0 / sum);
  }
}

}  // namespace

Status Attention(const AttentionParams& params, ThreadPool& pool) {
  WICK_RETURN_IF_ERROR(Validate(params));
  if (params.n_tokens == 0) return OkStatus();
  AttentionParams p = params;
  const int64_t token_floats = int64_t{p.n_head} * p.head_dim;
  if (p.q_token_stride == 0) p.q_token_stride = token_floats;
  if (p.out_token_stride == 0) p.out_token_stride = token_floats;
  if (p.kv_head_stride == 0) p.kv_head_stride = HeadBytes(p.kv_type, p.head_dim);

  // Token tiles: about kTargetRows query rows per task, smaller while that would leave
  // threads without work or the scores pass their budget.
  const int group = p.n_head / p.n_head_kv;
  const int64_t n_threads = pool.size();
  const int64_t n_attended = p.pos0 + p.n_tokens;
  int64_t tile = std::clamp<int64_t>(kTargetRows / group, 1, p.n_tokens);
  auto tiles_of = [&](int64_t size) { return (p.n_tokens + size - 1) / size; };
  while (tile > 1 && tiles_of(tile) * p.n_head_kv < 4 * n_threads) tile = (tile + 1) / 2;
  while (tile > 1 && tile * group * n_attended > kMaxScoreFloats) tile = (tile + 1) / 2;
  const int64_t n_tiles = tiles_of(tile);

  // With fewer tasks than threads (decode with few kv heads), the cache range is split too.
  const int64_t ctx_blocks = (n_attended + kBlock - 1) / kBlock;
  const int64_t base_tasks = n_tiles * p.n_head_kv;
  int64_t blocks_per_split = ctx_blocks;
  if (base_tasks < n_threads) {
    const int64_t want = (2 * n_threads + base_tasks - 1) / base_tasks;
    const int64_t n = std::min(want, ctx_blocks / kMinBlocksPerSplit);
    if (n > 1) blocks_per_split = (ctx_blocks + n - 1) / n;
  }
  const int64_t n_splits = (ctx_blocks + blocks_per_split - 1) / blocks_per_split;
  const int64_t n_rows = p.n_tokens * p.n_head;

  // Kept between calls (decode runs once per layer per token); owned by the calling thread,
  // so workers see them only through the tasks' pointers.
  thread_local SoftmaxRows softmax;
  thread_local std::vector<float> split_max, split_sum, partials;
  softmax.max.resize(static_cast<size_t>(n_rows));
  softmax.inv_sum.resize(static_cast<size_t>(n_rows));
  if (n_splits > 1) {
    split_max.resize(static_cast<size_t>(n_splits * n_rows));
    split_sum.resize(static_cast<size_t>(n_splits * n_rows));
    partials.resize(static_cast<size_t>(n_splits * n_rows * p.head_dim));
  }

  // Workers would see their own thread_local copies: hand them the caller's by pointer.
  float* const max_data = softmax.max.data();
  float* const inv_sum_data = softmax.inv_sum.data();
  float* const split_max_data = split_max.data();
  float* const split_sum_data = split_sum.data();
  float* const partial_data = partials.data();

  const int64_t n_tasks = base_tasks * n_splits;
  const int64_t scratch_floats =
      ScratchFloats(tile * group, std::min(n_attended, blocks_per_split * kBlock), p.head_dim);
  auto run = [&](TaskPass pass) {
    std::atomic<int64_t> next{0};
    pool.Run([&](int, int) {
      thread_local std::vector<float> scratch;
      if (scratch.size() < static_cast<size_t>(scratch_floats)) {
        scratch.resize(static_cast<size_t>(scratch_floats));
      }
      // Tasks are handed out one by one, last token tiles (the longest, being causal) first.
      for (int64_t i = next.fetch_add(1); i < n_tasks; i = next.fetch_add(1)) {
        const int64_t split = i % n_splits;
        const int64_t tile_index = n_tiles - 1 - i / (n_splits * p.n_head_kv);
        const bool stats = pass == TaskPass::kStats;
        AttentionTask task{
            .t_begin = tile_index * tile,
            .t_end = std::min(p.n_tokens, (tile_index + 1) * tile),
            .kv_head = static_cast<int>((i / n_splits) % p.n_head_kv),
            .kv_begin = split * blocks_per_split * kBlock,
            .kv_end = (split + 1) * blocks_per_split * kBlock,
            .pass = pass,
            .row_max = stats ? split_max_data + split * n_rows : max_data,
            .row_sum = stats ? split_sum_data + split * n_rows : inv_sum_data,
            .partial =
                pass == TaskPass::kValues ? partial_data + split * n_rows * p.head_dim : nullptr,
        };
        HWY_DYNAMIC_DISPATCH(AttendTaskImpl)(p, task, scratch.data());
      }
    });
  };

  if (n_splits == 1) {
    run(TaskPass::kWhole);
    return OkStatus();
  }
  run(TaskPass::kStats);
  MergeStats(split_max, split_sum, n_splits, n_rows, softmax);
  run(TaskPass::kValues);
  // Each split summed its share of the normalised output; add them up.
  for (int64_t t = 0; t < p.n_tokens; ++t) {
    for (int64_t h = 0; h < p.n_head; ++h) {
      float* dst = p.out + t * p.out_token_stride + h * p.head_dim;
      const float* src = partials.data() + (t * p.n_head + h) * p.head_dim;
      std::copy(src, src + p.head_dim, dst);
      for (int64_t s = 1; s < n_splits; ++s) {
        const float* part = src + s * n_rows * p.head_dim;
        for (int i = 0; i < p.head_dim; ++i) dst[i] += part[i];
      }
    }
  }
  return OkStatus();
}

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
    it.tile = std::clamp<int64_t>(kTargetRows / group, 1, p.n_tokens);
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

  thread_local SoftmaxRows softmax;
  softmax.max.resize(static_cast<size_t>(n_rows));
  softmax.inv_sum.resize(static_cast<size_t>(n_rows));
  float* const max_data = softmax.max.data();
  float* const inv_sum_data = softmax.inv_sum.data();
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
          .kv_begin = 0,
          .kv_end = it.p.pos0 + it.p.n_tokens,
          .pass = TaskPass::kWhole,
          .row_max = max_data + it.first_row,
          .row_sum = inv_sum_data + it.first_row,
          .partial = nullptr,
      };
      HWY_DYNAMIC_DISPATCH(AttendTaskImpl)(it.p, task, scratch.data());
    }
  });
  return OkStatus();
}

}  // namespace wick::kernels
#endif  // HWY_ONCE
