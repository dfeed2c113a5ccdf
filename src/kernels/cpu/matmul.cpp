#include "kernels/cpu/matmul.h"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/cpu/convert.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/gemm_f32.h"
#include "kernels/cpu/quant_traits.h"
#include "kernels/cpu/vec_dot.h"

namespace wick::kernels {

namespace {

// Threads take weight rows in multiples of this, so two threads never write the same
// 64-byte line of an output row.
constexpr int64_t kRowGrain = 16;
// Weight rows kept hot in cache while every activation row passes over them: for GEMM,
// each weight byte then comes from memory once per call instead of once per token.
constexpr int64_t kRowTile = 16;

// Weight rows each GEMM call covers: their f32 copy (rows x k floats, 1 MiB at k = 4096)
// is written once and then packed panel by panel inside GemmF32.
constexpr int64_t kGemmRowTile = 64;

Error Invalid(const std::string& message) {
  return Error(ErrorCode::kInvalidArgument, "matmul: " + message);
}

void F16Rows(const void* src, float* dst, int64_t n) {
  F16ToF32Row(static_cast<const uint16_t*>(src), dst, n);
}
void Bf16Rows(const void* src, float* dst, int64_t n) {
  Bf16ToF32Row(static_cast<const uint16_t*>(src), dst, n);
}

// The activations as the GEMV path's dot products see them: rounded through the weight
// type's dot partner (Q8_0, Q8_K, f16…) and back to f32. Both paths, and llama.cpp's, then
// compute the same products, so a prompt's logits do not depend on how many tokens it has.
Status RoundActivations(const MatmulParams& p, const VecDotKernel& kernel, uint64_t a_row_bytes,
                        ThreadPool& pool, MatmulScratch& scratch) {
  const QuantTraits* partner = FindQuantTraits(kernel.dot_type);
  if (partner == nullptr) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("matmul: cannot dequantize {} activations", NameOf(kernel.dot_type)));
  }
  scratch.rounded.resize(static_cast<size_t>(p.m * p.k));
  float* rounded = scratch.rounded.data();
  pool.ParallelFor(p.m, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> row;
    row.resize(a_row_bytes);
    for (int64_t i = begin; i < end; ++i) {
      kernel.quantize_input(p.x + i * p.k, row.data(), p.k);
      partner->dequantize(row.data(), rounded + i * p.k, p.k);
    }
  });
  return OkStatus();
}

Status GemmPath(MatmulParams p, const VecDotKernel& kernel, uint64_t w_row_bytes,
                uint64_t a_row_bytes, ThreadPool& pool, MatmulScratch& scratch) {
  const QuantTraits* traits = FindQuantTraits(p.w_type);
  if (traits == nullptr) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("matmul: cannot dequantize {} weights", NameOf(p.w_type)));
  }
  if (kernel.dot_type != DType::kF32) {
    WICK_RETURN_IF_ERROR(RoundActivations(p, kernel, a_row_bytes, pool, scratch));
    p.x = scratch.rounded.data();
  }
  // SIMD row converters for the common formats; the others use their reference dequantizer
  // (a fifth of a prefill's time for Q4_K before it had one).
  auto* dequantize = p.w_type == DType::kF16    ? F16Rows
                     : p.w_type == DType::kBF16 ? Bf16Rows
                     : p.w_type == DType::kQ4_0 ? simd::DequantizeQ4_0
                     : p.w_type == DType::kQ8_0 ? simd::DequantizeQ8_0
                     : p.w_type == DType::kQ4_K ? simd::DequantizeQ4_K
                                                : traits->dequantize;
  const auto* w = static_cast<const uint8_t*>(p.w);
  pool.ParallelFor(p.n, kRowGrain, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> tile;
    for (int64_t r0 = begin; r0 < end; r0 += kGemmRowTile) {
      const int64_t rows = std::min(end - r0, kGemmRowTile);
      const float* b;
      if (p.w_type == DType::kF32) {
        b = reinterpret_cast<const float*>(w + static_cast<uint64_t>(r0) * w_row_bytes);
      } else {
        tile.resize(static_cast<size_t>(rows * p.k));
        for (int64_t r = 0; r < rows; ++r) {
          dequantize(w + static_cast<uint64_t>(r0 + r) * w_row_bytes, tile.data() + r * p.k, p.k);
        }
        b = tile.data();
      }
      GemmF32(p.x, p.k, b, p.k, p.y + r0, p.n, p.m, rows, p.k);
    }
  });
  return OkStatus();
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
  Result<uint64_t> w_row_bytes = BytesFor(p.w_type, static_cast<uint64_t>(p.k));
  Result<uint64_t> a_row_bytes = BytesFor(kernel->dot_type, static_cast<uint64_t>(p.k));
  if (!w_row_bytes.ok()) return Invalid(w_row_bytes.error().message());
  if (!a_row_bytes.ok()) return Invalid(a_row_bytes.error().message());

  // Quantized weights always take the dot products: their sums are llama.cpp's (see
  // ref_order.h), which a dequantized f32 GEMM would not keep.
  const bool gemm =
      !InfoOf(p.w_type).quantized &&
      (p.path == MatmulPath::kAuto ? p.m >= kGemmMinRows : p.path == MatmulPath::kGemm);
  if (gemm) {
    return GemmPath(p, *kernel, *w_row_bytes, *a_row_bytes, pool, scratch);
  }

  const auto* act = reinterpret_cast<const uint8_t*>(p.x);
  if (kernel->dot_type != DType::kF32) {
    scratch.activations.resize(static_cast<size_t>(p.m) * *a_row_bytes);
    uint8_t* dst = scratch.activations.data();
    const uint64_t a_bytes = *a_row_bytes;
    pool.ParallelFor(p.m, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        kernel->quantize_input(p.x + i * p.k, dst + static_cast<uint64_t>(i) * a_bytes, p.k);
      }
    });
    act = dst;
  }

  const auto* w = static_cast<const uint8_t*>(p.w);
  const uint64_t w_bytes = *w_row_bytes;
  const uint64_t a_bytes = *a_row_bytes;
  const VecDotFn dot = kernel->dot;
  const VecDotRowsFn dot_rows = kernel->dot_rows;
  const VecDotRows2Fn dot_rows_x2 = kernel->dot_rows_x2;
  pool.ParallelFor(p.n, kRowGrain, [&](int64_t begin, int64_t end) {
    for (int64_t r0 = begin; r0 < end; r0 += kRowTile) {
      const int64_t r1 = std::min(end, r0 + kRowTile);
      int64_t i = 0;
      // Activation rows in pairs where the kernel can: the same results, half the weight work.
      for (; dot_rows_x2 != nullptr && i + 1 < p.m; i += 2) {
        const uint8_t* a0 = act + static_cast<uint64_t>(i) * a_bytes;
        const uint8_t* a1 = a0 + a_bytes;
        float* y0 = p.y + i * p.n;
        float* y1 = y0 + p.n;
        int64_t r = r0;
        for (; r + kDotRows <= r1; r += kDotRows) {
          dot_rows_x2(w + static_cast<uint64_t>(r) * w_bytes, w_bytes, a0, a1, p.k, y0 + r, y1 + r);
        }
        for (; r < r1; ++r) {
          y0[r] = dot(w + static_cast<uint64_t>(r) * w_bytes, a0, p.k);
          y1[r] = dot(w + static_cast<uint64_t>(r) * w_bytes, a1, p.k);
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
