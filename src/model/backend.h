// The operations a model's forward pass is written in. Model code calls these and nothing
// else, so running on another device means another Backend, not another model file.
//
// Every pointer an op takes is in the backend's memory: host memory for the CPU backend,
// device memory for CUDA. Model code moves data between the two only through the copy
// functions, and gets device memory and device copies of weights from the backend. Ops may
// run asynchronously (CUDA enqueues them on a stream); CopyToHost waits for the work before
// it. Ops that return void report a failure through the next call that returns a Status.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "model/weights.h"

namespace wick::model {

// Frees what a backend allocated. Shared by the backend and every buffer it hands out, so a
// buffer may outlive the Backend object that made it (a model destroyed after its backend).
class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;
  virtual void Free(void* data) = 0;
};

// A block of a backend's memory, or of the host memory it hands out (AllocateHost), freed
// when the buffer is destroyed.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::shared_ptr<DeviceMemory> owner, void* data, size_t bytes)
      : owner_(std::move(owner)), data_(data), bytes_(bytes) {}
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : owner_(std::move(o.owner_)),
        data_(std::exchange(o.data_, nullptr)),
        bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      Release();
      owner_ = std::move(o.owner_);
      data_ = std::exchange(o.data_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { Release(); }

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  explicit operator bool() const { return data_ != nullptr; }

 private:
  void Release() {
    if (data_ != nullptr && owner_) owner_->Free(data_);
    data_ = nullptr;
    bytes_ = 0;
  }

  std::shared_ptr<DeviceMemory> owner_;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// One sequence's rows of an attention layer (Backend::AttendSequences).
struct SequenceAttention {
  // Its queries (n_tokens rows at q, roped in place), output rows, cache and its rows: the new
  // rows are stored at cache row attention.pos0, and kv_type and kv_row_stride are the cache's.
  kernels::AttentionParams attention;
  // The position of its first token, for RoPE: attention.pos0 less the position in cache row
  // 0 (a sliding window's cache that has dropped its earliest rows).
  int64_t pos0 = 0;
  float* k = nullptr;        // its n_tokens new k rows, [n_head_kv][head_dim] each, roped
  const float* v = nullptr;  // its new v rows
  void* k_dst = nullptr;     // cache row pos0 of the layer's keys
  void* v_dst = nullptr;     // and of its values
};

// One product of Backend::MatmulMany: y = w x.
struct MatmulTarget {
  const TensorRef* w = nullptr;
  float* y = nullptr;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu", "cuda:0": for log lines and errors.
  virtual std::string name() const = 0;
  // True when the ops read and write host memory (the model's own buffers and the mapped
  // file), so nothing needs to be allocated, uploaded or copied for them.
  virtual bool host_memory() const = 0;

  // ---- Memory ----
  // `bytes` of the backend's memory, aligned for any op; an error names the size and the
  // memory left.
  virtual Result<DeviceBuffer> Allocate(size_t bytes) = 0;
  // Host to backend memory; `src` may be reused as soon as the call returns.
  virtual Status CopyToDevice(void* dst, const void* src, size_t bytes) = 0;
  // Backend to host memory, after every op enqueued before it has finished. Inside a step
  // (BeginStep .. EndStep) it lands when EndStep returns, and no later op of the step may
  // write `src`.
  virtual Status CopyToHost(void* dst, const void* src, size_t bytes) = 0;
  // Host memory that CopyToHost fills without an extra copy: pinned memory that a GPU's copy
  // engine writes directly, where other host memory goes through the backend's staging
  // buffer. Plain host memory on the CPU. For buffers refilled every step, such as logits.
  virtual Result<DeviceBuffer> AllocateHost(size_t bytes) = 0;
  // A tensor the ops of this backend can read: the same view for host memory, otherwise a
  // device copy that the backend keeps until it is destroyed.
  virtual Result<TensorRef> Upload(const TensorRef& tensor) = 0;
  // Device memory the backend holds now (weights, buffers, its own workspaces), for reports.
  virtual uint64_t bytes_in_use() const { return 0; }

  // A forward step whose work the backend may record once and replay (CUDA graphs): the
  // ops between BeginStep and EndStep are the same kernels every time a step with the same
  // `shape` runs, only their arguments change (models sharing a backend give their steps
  // distinct shapes). EndStep runs the step. No-ops on the CPU.
  virtual void BeginStep(int64_t shape) { (void)shape; }
  virtual Status EndStep() { return OkStatus(); }
  // Drops a step that an error ended before EndStep (what it recorded, its pending copies), so
  // that the backend is usable again at once; nothing when no step is open.
  virtual void AbortStep() {}

  // ---- Ops ----

  // y[i][r] = sum_j w[r][j] * x[i][j] for m rows of x; `path` as kernels::MatmulParams.
  virtual Status Matmul(const TensorRef& w, const float* x, int64_t m, float* y,
                        kernels::MatmulPath path = kernels::MatmulPath::kAuto) = 0;
  // Products of one x with several weights (a layer's q, k and v), each as Matmul gives it. A
  // device may run them as one pass; the default calls Matmul for each.
  virtual Status MatmulMany(std::span<const MatmulTarget> targets, const float* x, int64_t m,
                            kernels::MatmulPath path);
  // out = silu(gate x) * (up x), as Matmul, Matmul and SwiGlu give it; out: m rows of
  // gate.rows. up_scratch: as many floats, for up x where the device computes it apart.
  virtual Status MatmulSwiGlu(const TensorRef& gate, const TensorRef& up, const float* x, int64_t m,
                              float* out, float* up_scratch, kernels::MatmulPath path);
  // residual += w x (m rows of w.rows), as Matmul then Add give it. scratch: as many floats,
  // for w x where the device computes it apart.
  virtual Status MatmulAdd(const TensorRef& w, const float* x, int64_t m, float* residual,
                           float* scratch, kernels::MatmulPath path);
  // Rows `ids` of an embedding table, as f32.
  virtual Status GetRows(const TensorRef& table, const int32_t* ids, int64_t n, float* out) = 0;
  // RMSNorm of `rows` rows of n, times weight.
  virtual void RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t n,
                       float eps) = 0;
  // LayerNorm of `rows` rows of n: (x - mean) / sqrt(variance + eps) * weight + bias (GPT-2).
  // `out` may alias `x`.
  virtual void LayerNorm(const float* x, const float* weight, const float* bias, float* out,
                         int64_t rows, int64_t n, float eps) = 0;
  // RoPE in place on n_tokens rows of [n_heads][head_dim], token t at position pos0 + t.
  virtual void Rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
                    const kernels::RopeConfig& config) = 0;
  // out = silu(gate) * up over rows x cols (rows of the FFN's hidden width).
  virtual void SwiGlu(const float* gate, const float* up, float* out, int64_t rows,
                      int64_t cols) = 0;
  // out = gelu(gate) * up (tanh approximation), as SwiGlu: Gemma's FFN.
  virtual void GeGlu(const float* gate, const float* up, float* out, int64_t rows,
                     int64_t cols) = 0;
  // out = gelu(x) (tanh approximation) over n floats: GPT-2's FFN. `out` may alias `x`.
  virtual void Gelu(const float* x, float* out, int64_t n) = 0;
  // x *= s over n floats (Gemma's embeddings).
  virtual void Scale(float* x, float s, int64_t n) = 0;
  // x = cap * tanh(x / cap) over n floats (Gemma 2's final logits).
  virtual void Softcap(float* x, float cap, int64_t n) = 0;
  virtual void Add(const float* a, const float* b, float* out, int64_t n) = 0;
  // x[r] = x[r] + bias for each of `rows` rows of n (back to back).
  virtual void AddBias(float* x, const float* bias, int64_t rows, int64_t n) = 0;
  virtual Status Attention(const kernels::AttentionParams& params) = 0;
  // Independent attention calls in one pass, each row computed as if alone.
  virtual Status AttentionBatch(std::span<const kernels::AttentionParams> batch) = 0;
  // The per-sequence part of an attention layer for sequences side by side (a batch, or one
  // sequence): for each, RoPE on its q and k rows at its positions, its k and v rows stored in
  // its cache, then its attention. Each is computed as it would be alone. The default makes
  // the calls above; a device may do each step for all sequences at once.
  virtual Status AttendSequences(std::span<const SequenceAttention> seqs,
                                 const kernels::RopeConfig& rope);
  // Copies f32 rows into a cache of `type` (F32, F16 or Q8_0), rows `row_bytes` apart.
  virtual void StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                         int64_t row_bytes) = 0;
  // dst = src, n floats, both in this backend's memory.
  virtual void Copy(const float* src, float* dst, int64_t n) = 0;
  // `bytes` from src to dst in this backend's memory, which may overlap as in memmove (a
  // sliding-window KV cache moving its rows to the front). Not within a step.
  virtual void MoveBytes(void* dst, const void* src, size_t bytes) = 0;

 protected:
  // The sequences' attention parameters side by side, in a buffer kept for the next layer's
  // call (no allocation per layer).
  std::span<const kernels::AttentionParams> GatherAttention(
      std::span<const SequenceAttention> seqs);
  // AttendSequences' default, given GatherAttention(seqs): the calls above, sequence by
  // sequence, then one attention pass.
  Status AttendEach(std::span<const SequenceAttention> seqs,
                    std::span<const kernels::AttentionParams> params,
                    const kernels::RopeConfig& rope);

 private:
  std::vector<kernels::AttentionParams> attention_params_;
};

// The CPU backend: the SIMD kernels on one thread pool.
class CpuBackend : public Backend {
 public:
  explicit CpuBackend(int n_threads = 0) : pool_(n_threads) {}

  ThreadPool& pool() { return pool_; }

  std::string name() const override { return "cpu"; }
  bool host_memory() const override { return true; }
  Result<DeviceBuffer> Allocate(size_t bytes) override;
  Status CopyToDevice(void* dst, const void* src, size_t bytes) override;
  Status CopyToHost(void* dst, const void* src, size_t bytes) override;
  Result<DeviceBuffer> AllocateHost(size_t bytes) override { return Allocate(bytes); }
  Result<TensorRef> Upload(const TensorRef& tensor) override { return tensor; }

  Status Matmul(const TensorRef& w, const float* x, int64_t m, float* y,
                kernels::MatmulPath path = kernels::MatmulPath::kAuto) override;
  Status GetRows(const TensorRef& table, const int32_t* ids, int64_t n, float* out) override;
  void RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t n,
               float eps) override;
  void LayerNorm(const float* x, const float* weight, const float* bias, float* out, int64_t rows,
                 int64_t n, float eps) override;
  void Rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
            const kernels::RopeConfig& config) override;
  void SwiGlu(const float* gate, const float* up, float* out, int64_t rows, int64_t cols) override;
  void GeGlu(const float* gate, const float* up, float* out, int64_t rows, int64_t cols) override;
  void Gelu(const float* x, float* out, int64_t n) override;
  void Scale(float* x, float s, int64_t n) override;
  void Softcap(float* x, float cap, int64_t n) override;
  void Add(const float* a, const float* b, float* out, int64_t n) override;
  void AddBias(float* x, const float* bias, int64_t rows, int64_t n) override;
  Status Attention(const kernels::AttentionParams& params) override;
  Status AttentionBatch(std::span<const kernels::AttentionParams> batch) override;
  void StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                 int64_t row_bytes) override;
  void Copy(const float* src, float* dst, int64_t n) override;
  void MoveBytes(void* dst, const void* src, size_t bytes) override;

 private:
  ThreadPool pool_;
  kernels::MatmulScratch matmul_scratch_;
};

}  // namespace wick::model
