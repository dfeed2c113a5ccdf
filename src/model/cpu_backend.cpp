#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "kernels/cpu/convert.h"
#include "kernels/cpu/dot_simd.h"
#include "model/backend.h"

namespace wick::model {

namespace {

// Element-wise ops are split into chunks of this many floats: big enough that the pool's
// hand-off cost is small, a multiple of 16 so no two threads share a cache line.
constexpr int64_t kElementGrain = 4096;

// Rows of n a chunk of row-wise ops takes: about kElementGrain floats, at least one row.
int64_t RowGrain(int64_t n) {
  return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(n, 1));
}

// Host memory, 64-byte aligned as the SIMD kernels prefer.
class HostMemory : public DeviceMemory {
 public:
  void Free(void* data) override { ::operator delete (data, std::align_val_t{64}); }
};

}  // namespace

Result<DeviceBuffer> CpuBackend::Allocate(size_t bytes) {
  static const auto memory = std::make_shared<HostMemory>();
  // operator new reports failure by throwing; model buffers turn it into an error instead.
  void* p = ::operator new (std::max<size_t>(bytes, 1), std::align_val_t{64}, std::nothrow);
  if (p == nullptr) {
    return Error(ErrorCode::kOutOfRange,
                 fmt::format("cannot allocate {} bytes of host memory", bytes));
  }
  return DeviceBuffer(memory, p, bytes);
}

Status CpuBackend::CopyToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, src, bytes);
  return OkStatus();
}

Status CpuBackend::CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memcpy(dst, src, bytes);
  return OkStatus();
}

void CpuBackend::Copy(const float* src, float* dst, int64_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void CpuBackend::MoveBytes(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memmove(dst, src, bytes);
}

Status CpuBackend::Matmul(const TensorRef& w, const float* x, int64_t m, float* y,
                          kernels::MatmulPath path) {
  return kernels::Matmul({.w = w.data,
                          .w_type = w.type,
                          .n = w.rows,
                          .k = w.row_len,
                          .x = x,
                          .m = m,
                          .y = y,
                          .path = path},
                         pool_, matmul_scratch_);
}

Status CpuBackend::GetRows(const TensorRef& table, const int32_t* ids, int64_t n, float* out) {
  return kernels::GetRows(table.data, table.type, table.rows, table.row_len, ids, n, out);
}

void CpuBackend::RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t n,
                         float eps) {
  pool_.ParallelFor(rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) kernels::RmsNorm(x + r * n, weight, out + r * n, n, eps);
  });
}

void CpuBackend::LayerNorm(const float* x, const float* weight, const float* bias, float* out,
                           int64_t rows, int64_t n, float eps) {
  pool_.ParallelFor(rows, 1, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      kernels::LayerNorm(x + r * n, weight, bias, out + r * n, n, eps);
    }
  });
}

void CpuBackend::Rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
                      const kernels::RopeConfig& config) {
  if (config.n_dims == 0) return;  // learned positions: nothing to rotate
  pool_.ParallelFor(n_tokens, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      kernels::ApplyRope(x + t * n_heads * head_dim, n_heads, head_dim, pos0 + t, config);
    }
  });
}

void CpuBackend::SwiGlu(const float* gate, const float* up, float* out, int64_t rows,
                        int64_t cols) {
  pool_.ParallelFor(rows, RowGrain(cols), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      kernels::SwiGlu(gate + r * cols, up + r * cols, out + r * cols, cols);
    }
  });
}

void CpuBackend::GeGlu(const float* gate, const float* up, float* out, int64_t rows, int64_t cols) {
  pool_.ParallelFor(rows, RowGrain(cols), [&](int64_t begin, int64_t end) {
    kernels::GeGlu(gate + begin * cols, up + begin * cols, out + begin * cols,
                   (end - begin) * cols);
  });
}

void CpuBackend::Gelu(const float* x, float* out, int64_t n) {
  pool_.ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    kernels::Gelu(x + begin, out + begin, end - begin);
  });
}

void CpuBackend::Scale(float* x, float s, int64_t n) {
  pool_.ParallelFor(n, kElementGrain,
                    [&](int64_t begin, int64_t end) { kernels::Scale(x + begin, s, end - begin); });
}

void CpuBackend::Softcap(float* x, float cap, int64_t n) {
  pool_.ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    kernels::Softcap(x + begin, cap, end - begin);
  });
}

void CpuBackend::Add(const float* a, const float* b, float* out, int64_t n) {
  pool_.ParallelFor(n, kElementGrain, [&](int64_t begin, int64_t end) {
    kernels::Add(a + begin, b + begin, out + begin, end - begin);
  });
}

void CpuBackend::AddBias(float* x, const float* bias, int64_t rows, int64_t n) {
  pool_.ParallelFor(rows, RowGrain(n), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) kernels::Add(x + r * n, bias, x + r * n, n);
  });
}

Status CpuBackend::Attention(const kernels::AttentionParams& params) {
  return kernels::Attention(params, pool_);
}

Status CpuBackend::AttentionBatch(std::span<const kernels::AttentionParams> batch) {
  return kernels::AttentionBatch(batch, pool_);
}

void CpuBackend::StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                           int64_t row_bytes) {
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t r = 0; r < rows; ++r) {
    if (type == DType::kF16) {
      kernels::F32ToF16Row(src + r * n, reinterpret_cast<uint16_t*>(out + r * row_bytes), n);
    } else if (type == DType::kQ8_0) {
      // Rounded as llama.cpp stores a q8_0 cache (its activation quantizer).
      kernels::simd::QuantizeQ8_0(src + r * n, out + r * row_bytes, n);
    } else {
      std::memcpy(out + r * row_bytes, src + r * n, static_cast<size_t>(n) * sizeof(float));
    }
  }
}

}  // namespace wick::model
