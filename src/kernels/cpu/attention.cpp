// Highway compiles this file once per SIMD target (see simd.h); HWY_DYNAMIC_DISPATCH picks
// the best one the CPU supports at run time.
//
// Work is split into tasks of (a tile of query tokens, one kv head, a range of the cache).
// A task handles every query head of its kv head's group together, so each tile of K/V is
// loaded (and, for f16, converted) once and reused by group x tokens query rows. Within a task
// each query row keeps a running maximum, a running sum of exponentials and an unnormalised
// output (the online softmax), updated tile by tile.
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
// A decode split covers at least this many tiles, so merging partial results stays cheap
// next to computing them.
constexpr int64_t kMinBlocksPerSplit = 2;

struct AttentionTask {
  int64_t t_begin;  // query tokens [t_begin, t_end)
  int64_t t_end;
  int kv_head;
  int64_t kv_begin;  // cache positions [kv_begin, kv_end), before the causal limit
  int64_t kv_end;
  // Null: write normalised rows to params.out. Otherwise one split's partial results,
  // [n_tokens][n_head][head_dim + 2]: the unnormalised output, the running max, the sum.
  float* partial;
};

// Floats of scratch a task with `n_rows` query rows needs (see AttendTaskImpl).
int64_t ScratchFloats(int64_t n_rows, int head_dim) {
  return kBlock + n_rows * (head_dim + 2) + 2 * kBlock * head_dim;
}

}  // namespace
}  // namespace wick::kernels
#endif  // WICK_KERNELS_CPU_ATTENTION_SHARED_

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

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
// ([count][head_dim]) for f16.
RowsF32 CacheRows(const AttentionParams& p, const void* cache, int64_t first, int64_t count,
                  int kv_head, float* buf) {
  const auto* bytes =
      static_cast<const uint8_t*>(cache) + first * p.kv_row_stride + kv_head * p.kv_head_stride;
  if (p.kv_type == DType::kF32) {
    return {reinterpret_cast<const float*>(bytes), p.kv_row_stride / 4};
  }
  for (int64_t j = 0; j < count; ++j) {
    F16ToF32(reinterpret_cast<const uint16_t*>(bytes + j * p.kv_row_stride), buf + j * p.head_dim,
             p.head_dim);
  }
  return {buf, p.head_dim};
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

// x[i] = exp(x[i] - shift); returns the sum of the new values.
float ExpShiftedInPlace(float* x, int64_t n, float shift) {
  const hn::ScalableTag<float> d;
  const auto lanes = static_cast<int64_t>(hn::Lanes(d));
  const auto vshift = hn::Set(d, shift);
  auto sum = hn::Zero(d);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto e = hn::Exp(d, hn::Sub(hn::LoadU(d, x + i), vshift));
    hn::StoreU(e, d, x + i);
    sum = hn::Add(sum, e);
  }
  float result = hn::GetLane(hn::SumOfLanes(d, sum));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - shift);
    result += x[i];
  }
  return result;
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

// `scratch` holds ScratchFloats(rows, head_dim) floats.
void AttendTaskImpl(const AttentionParams& p, const AttentionTask& task, float* scratch) {
  const int group = p.n_head / p.n_head_kv;
  const int hd = p.head_dim;
  const int64_t n_rows = (task.t_end - task.t_begin) * group;
  float* scores = scratch;             // [kBlock], one row at a time
  float* acc = scores + kBlock;        // [n_rows][hd]
  float* row_max = acc + n_rows * hd;  // [n_rows]
  float* row_sum = row_max + n_rows;   // [n_rows]
  float* k_buf = row_sum + n_rows;     // [kBlock][hd], f16 caches only
  float* v_buf = k_buf + kBlock * hd;  // [kBlock][hd]
  std::fill(acc, acc + n_rows * hd, 0.0f);
  std::fill(row_max, row_max + n_rows, -std::numeric_limits<float>::infinity());
  std::fill(row_sum, row_sum + n_rows, 0.0f);

  // The last token of the tile sees the most of the cache.
  const int64_t kv_end = std::min(task.kv_end, p.pos0 + task.t_end);
  for (int64_t b0 = task.kv_begin; b0 < kv_end; b0 += kBlock) {
    const int64_t n_block = std::min(kBlock, kv_end - b0);
    const RowsF32 k = CacheRows(p, p.k, b0, n_block, task.kv_head, k_buf);
    const RowsF32 v = CacheRows(p, p.v, b0, n_block, task.kv_head, v_buf);
    for (int64_t r = 0; r < n_rows; ++r) {
      const int64_t t = task.t_begin + r / group;
      const int64_t h = int64_t{task.kv_head} * group + r % group;
      const int64_t n_valid = std::min(n_block, p.pos0 + t + 1 - b0);  // causal
      if (n_valid <= 0) continue;
      const float* q = p.q + t * p.q_token_stride + h * hd;
      for (int64_t j = 0; j < n_valid; ++j) scores[j] = Dot(q, k.base + j * k.stride, hd) * p.scale;
      const float new_max = std::max(row_max[r], MaxOf(scores, n_valid));
      const float correction = std::exp(row_max[r] - new_max);  // 0 on the first tile
      const float tile_sum = ExpShiftedInPlace(scores, n_valid, new_max);
      row_sum[r] = row_sum[r] * correction + tile_sum;
      row_max[r] = new_max;
      AccumulateV(acc + r * hd, correction, scores, v, n_valid, hd);
    }
  }

  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t t = task.t_begin + r / group;
    const int64_t h = int64_t{task.kv_head} * group + r % group;
    const float* a = acc + r * hd;
    if (task.partial != nullptr) {
      float* dst = task.partial + (t * p.n_head + h) * (hd + 2);
      std::copy(a, a + hd, dst);
      dst[hd] = row_max[r];
      dst[hd + 1] = row_sum[r];
    } else {
      // Every row sees at least cache position 0, so its sum is positive.
      const float inv = 1.0f / row_sum[r];
      float* dst = p.out + t * p.out_token_stride + h * hd;
      for (int i = 0; i < hd; ++i) dst[i] = a[i] * inv;
    }
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
  if (p.kv_type != DType::kF32 && p.kv_type != DType::kF16) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("attention: KV cache type {} (only F32 and F16)", NameOf(p.kv_type)));
  }
  if (p.pos0 > p.n_kv - p.n_tokens) {
    return Invalid(fmt::format("pos0 + n_tokens ({}) exceeds the {} valid cache positions",
                               p.pos0 + p.n_tokens, p.n_kv));
  }
  if (!std::isfinite(p.scale)) return Invalid("scale is not finite");
  const int64_t elem = p.kv_type == DType::kF32 ? 4 : 2;
  const int64_t row_bytes = p.head_dim * elem;
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

// Combines the splits of a task's rows (tokens [t_begin, t_end), the query heads of kv head
// `kv_head`): rescale every partial to the largest maximum, then normalise by the total sum.
void MergeSplits(const AttentionParams& p, const float* partials, int64_t n_splits,
                 const AttentionTask& task) {
  const int hd = p.head_dim;
  const int group = p.n_head / p.n_head_kv;
  const int64_t split_floats = p.n_tokens * p.n_head * (hd + 2);
  for (int64_t t = task.t_begin; t < task.t_end; ++t) {
    for (int64_t h = int64_t{task.kv_head} * group; h < int64_t{task.kv_head + 1} * group; ++h) {
      const float* row = partials + (t * p.n_head + h) * (hd + 2);
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t s = 0; s < n_splits; ++s) max = std::max(max, row[s * split_floats + hd]);
      float* dst = p.out + t * p.out_token_stride + h * hd;
      std::fill(dst, dst + hd, 0.0f);
      float sum = 0.0f;
      for (int64_t s = 0; s < n_splits; ++s) {
        const float* part = row + s * split_floats;
        if (part[hd + 1] == 0.0f) continue;  // a split wholly past this token's causal limit
        const float weight = std::exp(part[hd] - max);
        sum += part[hd + 1] * weight;
        for (int i = 0; i < hd; ++i) dst[i] += part[i] * weight;
      }
      const float inv = 1.0f / sum;
      for (int i = 0; i < hd; ++i) dst[i] *= inv;
    }
  }
}

}  // namespace

Status Attention(const AttentionParams& params, ThreadPool& pool) {
  WICK_RETURN_IF_ERROR(Validate(params));
  if (params.n_tokens == 0) return OkStatus();
  AttentionParams p = params;
  const int64_t token_floats = int64_t{p.n_head} * p.head_dim;
  const int64_t elem = p.kv_type == DType::kF32 ? 4 : 2;
  if (p.q_token_stride == 0) p.q_token_stride = token_floats;
  if (p.out_token_stride == 0) p.out_token_stride = token_floats;
  if (p.kv_head_stride == 0) p.kv_head_stride = p.head_dim * elem;

  // Token tiles: about kTargetRows query rows per task, smaller while that would leave
  // threads without work.
  const int group = p.n_head / p.n_head_kv;
  const int64_t n_threads = pool.size();
  int64_t tile = std::clamp<int64_t>(kTargetRows / group, 1, p.n_tokens);
  auto tiles_of = [&](int64_t size) { return (p.n_tokens + size - 1) / size; };
  while (tile > 1 && tiles_of(tile) * p.n_head_kv < 4 * n_threads) tile = (tile + 1) / 2;
  const int64_t n_tiles = tiles_of(tile);

  // With fewer tasks than threads (decode with few kv heads), the cache range is split too,
  // and whichever thread finishes a row group's last split merges the partial softmax
  // states, so the call still costs one pass through the pool.
  const int64_t ctx_blocks = (p.pos0 + p.n_tokens + kBlock - 1) / kBlock;
  const int64_t base_tasks = n_tiles * p.n_head_kv;
  int64_t blocks_per_split = ctx_blocks;
  if (base_tasks < n_threads) {
    const int64_t want = (2 * n_threads + base_tasks - 1) / base_tasks;
    const int64_t n = std::min(want, ctx_blocks / kMinBlocksPerSplit);
    if (n > 1) blocks_per_split = (ctx_blocks + n - 1) / n;
  }
  const int64_t n_splits = (ctx_blocks + blocks_per_split - 1) / blocks_per_split;
  // Kept between calls (decode runs once per layer per token); owned by the calling thread,
  // so workers see it only through this pointer.
  const int64_t split_floats = p.n_tokens * p.n_head * (p.head_dim + 2);
  thread_local std::vector<float> partials;
  if (n_splits > 1) partials.resize(static_cast<size_t>(n_splits * split_floats));
  float* const partial_data = partials.data();

  std::vector<std::atomic<int64_t>> splits_left(n_splits > 1 ? base_tasks : 0);
  for (auto& left : splits_left) left.store(n_splits, std::memory_order_relaxed);

  const int64_t n_tasks = base_tasks * n_splits;
  const int64_t scratch_floats = ScratchFloats(tile * group, p.head_dim);
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
      AttentionTask task{
          .t_begin = tile_index * tile,
          .t_end = std::min(p.n_tokens, (tile_index + 1) * tile),
          .kv_head = static_cast<int>((i / n_splits) % p.n_head_kv),
          .kv_begin = split * blocks_per_split * kBlock,
          .kv_end = (split + 1) * blocks_per_split * kBlock,
          .partial = n_splits > 1 ? partial_data + split * split_floats : nullptr,
      };
      HWY_DYNAMIC_DISPATCH(AttendTaskImpl)(p, task, scratch.data());
      // acq_rel: the last thread here sees every other split's partial results.
      if (n_splits > 1 && splits_left[i / n_splits].fetch_sub(1, std::memory_order_acq_rel) == 1) {
        MergeSplits(p, partial_data, n_splits, task);
      }
    }
  });
  return OkStatus();
}

}  // namespace wick::kernels
#endif  // HWY_ONCE
