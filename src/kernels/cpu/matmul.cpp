#include "kernels/cpu/matmul.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/vec_dot.h"

namespace wick::kernels {

namespace {

// Threads take weight rows in multiples of this, so two threads never write the same
// 64-byte line of an output row.
constexpr int64_t kRowGrain = 16;
// Weight rows kept hot in cache while every activation row passes over them: for a prompt,
// each weight byte then comes from memory once per call instead of once per token.
constexpr int64_t kRowTile = 16;

Error Invalid(const std::string& message) {
  return Error(ErrorCode::kInvalidArgument, "matmul: " + message);
}

}  // namespace

Status Matmul(const MatmulParams& p, ThreadPool& pool, MatmulScratch& scratch) {
  if (p.n < 0 || p.k < 0 || p.m < 0) {
    return Invalid(fmt::format("negative size n={} k={} m={}", p.n, p.k, p.m));
  }
  if (p.n == 0 || p.m == 0) return OkStatus();
  if (p.w == nullptr || p.x == nullptr || p.y == nullptr) return Invalid("null pointer");
  const VecDotKernel* kernel = FindVecDot(p.w_type, p.n);
  if (kernel == nullptr) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("matmul: no kernel for {} weights", NameOf(p.w_type)));
  }
  // llama.cpp's GEMM order for a step of several tokens, where the type has one and the row
  // length suits it (ref_order.h).
  const bool gemm = p.path == MatmulPath::kGemm || (p.path == MatmulPath::kAuto && p.m > 1);
  const bool gemm_order = gemm && kernel->dot_gemm != nullptr && p.k % kernel->gemm_multiple == 0;
  // The tiles may take their activations in a format of their own.
  const bool gemm_input =
      gemm_order && kernel->gemm_tile != nullptr && kernel->gemm_quantize_input != nullptr;
  const DType act_type = gemm_input ? kernel->gemm_input_type : kernel->dot_type;
  const QuantizeRowFn quantize = gemm_input ? kernel->gemm_quantize_input : kernel->quantize_input;

  Result<uint64_t> w_row_bytes = BytesFor(p.w_type, static_cast<uint64_t>(p.k));
  Result<uint64_t> a_row_bytes = BytesFor(act_type, static_cast<uint64_t>(p.k));
  if (!w_row_bytes.ok()) return Invalid(w_row_bytes.error().message());
  if (!a_row_bytes.ok()) return Invalid(a_row_bytes.error().message());

  const auto* act = reinterpret_cast<const uint8_t*>(p.x);
  if (act_type != DType::kF32 || gemm_input) {
    scratch.activations.resize(static_cast<size_t>(p.m) * *a_row_bytes);
    uint8_t* dst = scratch.activations.data();
    const uint64_t a_bytes = *a_row_bytes;
    pool.ParallelFor(p.m, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        quantize(p.x + i * p.k, dst + static_cast<uint64_t>(i) * a_bytes, p.k);
      }
    });
    act = dst;
  }

  const auto* w = static_cast<const uint8_t*>(p.w);
  const uint64_t w_bytes = *w_row_bytes;
  const uint64_t a_bytes = *a_row_bytes;
  const VecDotFn dot = gemm_order ? kernel->dot_gemm : kernel->dot;
  const VecDotRowsFn dot_rows = gemm_order ? nullptr : kernel->dot_rows;
  const VecDotRowsTokensFn dot_rows_tokens = gemm_order ? nullptr : kernel->dot_rows_tokens;
  const VecDotRowsTokensFn dot_rows8_tokens = gemm_order ? nullptr : kernel->dot_rows8_tokens;
  const VecDotTokensFn dot_tokens = gemm_order ? nullptr : kernel->dot_tokens;
  // A tile takes the rows against all the tokens: the GEMM order's, or the dot's own where the
  // step is long enough to repay its setup.
  GemmTileFn gemm_tile = gemm_order ? kernel->gemm_tile : nullptr;
  if (!gemm_order && kernel->tokens_tile != nullptr) {
    const int min_tokens = kernel->tokens_tile_min();
    if (min_tokens > 0 && p.m >= min_tokens) gemm_tile = kernel->tokens_tile;
  }
  const int tokens_per_call =
      kernel->tokens_per_call != nullptr ? kernel->tokens_per_call() : kDotTokens;
  // The fewest tokens the rows-tokens kernels take (below, the row kernels): a lone token too
  // where the kernel takes eight rows a call (Q4_0's, whose transposed blocks need no
  // horizontal sums; llama-1b Q4_0 decode ran 3-28 % faster than with the four-row kernel).
  const int64_t rows_tokens_min = dot_rows8_tokens != nullptr ? 1 : 2;
  pool.ParallelFor(p.n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t r0 = begin; r0 < end; r0 += kRowTile) {
      const int64_t r1 = std::min(end, r0 + kRowTile);
      int64_t i = 0;
      if (gemm_tile != nullptr) {
        gemm_tile(w + static_cast<uint64_t>(r0) * w_bytes, w_bytes, static_cast<int>(r1 - r0), act,
                  a_bytes, static_cast<int>(p.m), p.k, p.y + r0, p.n);
        continue;
      }
      // A prompt's tokens several at a time where the kernel can: each weight block unpacked
      // once for them all.
      for (; dot_tokens != nullptr && i + 1 < p.m; i += tokens_per_call) {
        const int count = static_cast<int>(std::min<int64_t>(tokens_per_call, p.m - i));
        const uint8_t* a = act + static_cast<uint64_t>(i) * a_bytes;
        // The tile's results by row, then each token's run of rows at once: y's token rows lie
        // whole pages apart and so share cache sets, which a store per result straight into y
        // kept evicting (one thread, Q4_K, 2048 or 4096 rows: 1-2 % of a prompt's matmul).
        float out[kRowTile][kMaxDotTokens];
        for (int64_t r = r0; r < r1; ++r) {
          dot_tokens(w + static_cast<uint64_t>(r) * w_bytes, a, a_bytes, count, p.k, out[r - r0]);
        }
        for (int t = 0; t < count; ++t) {
          float* y = p.y + (i + t) * p.n + r0;
          for (int64_t r = r0; r < r1; ++r) y[r - r0] = out[r - r0][t];
        }
      }
      // Several activation rows at once where the kernel can: the same results, a fraction of
      // the weight work.
      for (; dot_rows_tokens != nullptr && p.m - i >= rows_tokens_min; i += tokens_per_call) {
        const int count = static_cast<int>(std::min<int64_t>(tokens_per_call, p.m - i));
        const uint8_t* a = act + static_cast<uint64_t>(i) * a_bytes;
        int64_t r = r0;
        float out[2 * kDotRows * kMaxDotTokens];
        for (; dot_rows8_tokens != nullptr && r + 2 * kDotRows <= r1; r += 2 * kDotRows) {
          dot_rows8_tokens(w + static_cast<uint64_t>(r) * w_bytes, w_bytes, a, a_bytes, count, p.k,
                           out);
          for (int t = 0; t < count; ++t) {
            std::copy(out + 2 * kDotRows * t, out + 2 * kDotRows * (t + 1),
                      p.y + (i + t) * p.n + r);
          }
        }
        for (; r + kDotRows <= r1; r += kDotRows) {
          dot_rows_tokens(w + static_cast<uint64_t>(r) * w_bytes, w_bytes, a, a_bytes, count, p.k,
                          out);
          for (int t = 0; t < count; ++t) {
            std::copy(out + kDotRows * t, out + kDotRows * (t + 1), p.y + (i + t) * p.n + r);
          }
        }
        for (; r < r1; ++r) {
          for (int t = 0; t < count; ++t) {
            p.y[(i + t) * p.n + r] = dot(w + static_cast<uint64_t>(r) * w_bytes,
                                         a + static_cast<uint64_t>(t) * a_bytes, p.k);
          }
        }
      }
      for (; i < p.m; ++i) {
        const uint8_t* a = act + static_cast<uint64_t>(i) * a_bytes;
        float* y_row = p.y + i * p.n;
        int64_t r = r0;
        if (dot_rows != nullptr) {
          for (; r + kDotRows <= r1; r += kDotRows) {
            dot_rows(w + static_cast<uint64_t>(r) * w_bytes, w_bytes, a, p.k, y_row + r);
          }
        }
        for (; r < r1; ++r) y_row[r] = dot(w + static_cast<uint64_t>(r) * w_bytes, a, p.k);
      }
    }
  });
  return OkStatus();
}

}  // namespace wick::kernels
