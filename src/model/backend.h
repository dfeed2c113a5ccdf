// The operations a model's forward pass is written in. Model code calls these and nothing
// else, so running on another device means another Backend, not another model file.
// Buffers are host memory for now (the CPU backend); a device backend will bring its own
// buffer type with it.
#pragma once

#include <cstdint>
#include <span>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/weights.h"

namespace wick::model {

class Backend {
 public:
  virtual ~Backend() = default;

  // y[i][r] = sum_j w[r][j] * x[i][j] for m rows of x; `path` as kernels::MatmulParams.
  virtual Status Matmul(const TensorRef& w, const float* x, int64_t m, float* y,
                        kernels::MatmulPath path = kernels::MatmulPath::kAuto) = 0;
  // Rows `ids` of an embedding table, as f32.
  virtual Status GetRows(const TensorRef& table, const int32_t* ids, int64_t n, float* out) = 0;
  // RMSNorm of `rows` rows of n, times weight.
  virtual void RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t n,
                       float eps) = 0;
  // RoPE in place on n_tokens rows of [n_heads][head_dim], token t at position pos0 + t.
  virtual void Rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
                    const kernels::RopeConfig& config) = 0;
  virtual void SwiGlu(const float* gate, const float* up, float* out, int64_t n) = 0;
  virtual void Add(const float* a, const float* b, float* out, int64_t n) = 0;
  virtual Status Attention(const kernels::AttentionParams& params) = 0;
  // Independent attention calls in one pass, each row computed as if alone.
  virtual Status AttentionBatch(std::span<const kernels::AttentionParams> batch) = 0;
  // Copies f32 rows into a cache of `type` (F32, F16 or Q8_0), rows `row_bytes` apart.
  virtual void StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                         int64_t row_bytes) = 0;
};

// The CPU backend: the SIMD kernels on one thread pool.
class CpuBackend : public Backend {
 public:
  explicit CpuBackend(int n_threads = 0) : pool_(n_threads) {}

  ThreadPool& pool() { return pool_; }

  Status Matmul(const TensorRef& w, const float* x, int64_t m, float* y,
                kernels::MatmulPath path = kernels::MatmulPath::kAuto) override;
  Status GetRows(const TensorRef& table, const int32_t* ids, int64_t n, float* out) override;
  void RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t n,
               float eps) override;
  void Rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
            const kernels::RopeConfig& config) override;
  void SwiGlu(const float* gate, const float* up, float* out, int64_t n) override;
  void Add(const float* a, const float* b, float* out, int64_t n) override;
  Status Attention(const kernels::AttentionParams& params) override;
  Status AttentionBatch(std::span<const kernels::AttentionParams> batch) override;
  void StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                 int64_t row_bytes) override;

 private:
  ThreadPool pool_;
  kernels::MatmulScratch matmul_scratch_;
};

}  // namespace wick::model
