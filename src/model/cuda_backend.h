// The CUDA backend: the model's ops as kernels (kernels/cuda) on one stream of one device,
// weights uploaded once, prefill GEMMs through cuBLAS on f16 tensor cores, and decode steps
// recorded as CUDA graphs and replayed.
//
// Everything is enqueued on the stream; the host waits only in CopyToHost and EndStep (once
// per step, for the logits). A step given a shape by BeginStep runs eagerly the first time
// (so every buffer it needs exists) and is captured into a graph the second time. From then
// on, where every value that changes between steps reached the kernels through device memory
// (a decode step's positions and cache rows, which AttendSequences copies there), the graph is
// launched as recorded and the step's ops only write the staging memory its copies read:
// hundreds of kernels for the host cost of one launch. Any allocation or free since the
// recording, or a step whose ops differ from it, records again; a step with per-step values
// in kernel arguments is captured anew every time and applied with cudaGraphExecUpdate.
// WICK_CUDA_GRAPHS=0 turns graphs off; WICK_CUDA_FUSE=0 runs the fused products as separate
// ops; WICK_CUDA_GEMV=f32|int8|mma runs every decode product of quantised weights on f32 x,
// int8 x, or int8 x and tensor-core instructions for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 (default,
// =auto: each type's DefaultGemvActivations).
#pragma once

#include <cuda_runtime_api.h>

#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "kernels/cuda/quant_matmul.h"
#include "model/backend.h"
#include "model/cublas_loader.h"

namespace wick::model {

class CudaBackend : public Backend {
 public:
  static Result<std::unique_ptr<CudaBackend>> Create(int device);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override;
  bool host_memory() const override { return false; }
  Result<DeviceBuffer> Allocate(size_t bytes) override;
  Status CopyToDevice(void* dst, const void* src, size_t bytes) override;
  Status CopyToHost(void* dst, const void* src, size_t bytes) override;
  Result<DeviceBuffer> AllocateHost(size_t bytes) override;
  Result<TensorRef> Upload(const TensorRef& tensor) override;
  uint64_t bytes_in_use() const override;
  void BeginStep(int64_t shape) override;
  Status EndStep() override;
  void AbortStep() override;

  Status Matmul(const TensorRef& w, const float* x, int64_t m, float* y,
                kernels::MatmulPath path = kernels::MatmulPath::kAuto) override;
  // On the GEMV path, one launch: the products of weights of one type side by side, the
  // SwiGLU and the residual add in the GEMV's output.
  Status MatmulMany(std::span<const MatmulTarget> targets, const float* x, int64_t m,
                    kernels::MatmulPath path) override;
  Status MatmulSwiGlu(const TensorRef& gate, const TensorRef& up, const float* x, int64_t m,
                      float* out, float* up_scratch, kernels::MatmulPath path) override;
  Status MatmulAdd(const TensorRef& w, const float* x, int64_t m, float* residual, float* scratch,
                   kernels::MatmulPath path) override;
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
  // A batch of decode tokens (one per sequence) takes one launch per kernel for all of them.
  Status AttendSequences(std::span<const SequenceAttention> seqs,
                         const kernels::RopeConfig& rope) override;
  void StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                 int64_t row_bytes) override;
  void Copy(const float* src, float* dst, int64_t n) override;
  void MoveBytes(void* dst, const void* src, size_t bytes) override;

  int device() const { return device_; }
  // Whether MatmulMany, MatmulSwiGlu and MatmulAdd run as one launch each (default; off with
  // WICK_CUDA_FUSE=0). Changing it records decode steps again.
  void set_fused_products(bool on);
  // How the decode GEMV takes x with quantised weights: f32 (WICK_CUDA_GEMV=f32), int8 per 32
  // columns as the CPU backend's dot products do (=int8; fewer instructions per weight), or
  // that on tensor cores for the legacy formats (=mma: for batched decode), for every type;
  // nullopt (default, =auto) each type's DefaultGemvActivations. Changing it records decode
  // steps again.
  void set_gemv_activations(std::optional<kernels::cuda::GemvActivations> a);
  kernels::cuda::GemvActivations GemvActivationsFor(DType type) const {
    return gemv_activations_.value_or(kernels::cuda::DefaultGemvActivations(type));
  }
  // Whether prefill runs on cuBLAS (false: it could not be loaded; GEMV kernels instead).
  bool has_cublas() const { return blas_ != nullptr; }
  // Steps launched from a recorded graph, for tests and `wick bench`.
  int64_t graph_launches() const { return graph_launches_; }
  // Of those, steps launched without recording them again (see BeginStep).
  int64_t replayed_steps() const { return replayed_steps_; }
  // Recorded steps whose arguments went to the device in one copy (UploadStepArgs).
  int64_t steps_with_one_args_copy() const { return steps_with_one_args_copy_; }
  // Layers whose sequences' attention ran as one batched launch (AttendSequences).
  int64_t batched_attention_layers() const { return batched_attention_layers_; }

 private:
  class Memory;
  class PinnedHostMemory;
  struct PendingCopy {
    void* dst;
    const void* staged;
    size_t bytes;
  };
  // A recorded step's copy to the host, enqueued by EndStep after the step's kernels.
  struct DeferredCopy {
    void* dst;
    const void* src;
    size_t bytes;
  };

  explicit CudaBackend(int device);
  Status Init();
  void UseDevice();
  // Records the first failure of a void op; reported by the next Status-returning call.
  void Check(cudaError_t err, const char* what);
  Status TakeStatus();
  // Allocate (device memory) or AllocateHost (pinned host memory).
  Result<DeviceBuffer> AllocateBlock(size_t bytes, bool pinned_host);
  // Grows `buf` to at least `bytes` (contents lost); refused while a step is being recorded.
  Status Reserve(DeviceBuffer& buf, size_t bytes, const char* what);
  // `bytes` of pinned host memory for a copy in this step; waits for the stream when full.
  Result<uint8_t*> Stage(size_t bytes);
  // The stream's copy of `bytes` at device `src` to host `dst`: straight into AllocateHost
  // memory, else into staging memory that Synchronize copies on to `dst`.
  Status EnqueueCopyToHost(void* dst, const void* src, size_t bytes);
  Status Synchronize();
  // Forgets the step's copies to the host (staged and deferred) and its staging memory.
  void DropStepCopies();
  void AbortCapture();
  // Notes an op of the step (`key`: what its launches depend on, for the step's signature)
  // and says whether to launch it: not while replaying a recording. per_step_values: its
  // kernels take values that change every step (positions, cache rows), so that a recording
  // of it cannot be replayed as it is.
  bool Launches(std::initializer_list<uint64_t> key, bool per_step_values = false);
  static uint64_t Key(const void* p) { return reinterpret_cast<uintptr_t>(p); }
  // Changes whenever memory that a recording may point at is allocated or freed.
  uint64_t Generation() const;
  void NoGraphsFor(int64_t shape);
  // Drops the step's pending copies after `err`, runs its shape eagerly from now on, and
  // returns the error.
  Status FailStep(cudaError_t err, const char* what);
  // Whether a product of m rows on `path` takes the GEMV (else the tensor-core GEMM).
  bool UsesGemv(int64_t m, kernels::MatmulPath path) const;
  Status GemvRows(const TensorRef& w, const float* x, int64_t m, float* y);
  // GemvMany with the type's activations (GemvActivationsFor) and the workspace it needs
  // (grown here, so before a step is recorded).
  Status LaunchGemv(kernels::cuda::GemvManyArgs args, const char* what);
  // After a change of which kernels the ops launch: recorded steps are recorded anew.
  void RecordStepsAgain();
  Status CheckAttention(const kernels::AttentionParams& p) const;
  // `bytes` of device memory for arguments that kernels of this step read (16-byte aligned),
  // valid until the next BeginStep; grows only outside recordings.
  Result<uint8_t*> StepArgs(size_t bytes);
  // Copies `bytes` from host `src` to `dst` from StepArgs. In a recorded step whose arguments
  // all fit the first block, as they did in the shape's eager step, the bytes go to that
  // block's pinned mirror, which the step copies in one piece before its first kernel: one
  // copy per step instead of one per layer, none of them between two kernels.
  Status UploadStepArgs(uint8_t* dst, const void* src, size_t bytes);
  Status Gemm(const TensorRef& w, const float* x, int64_t m, float* y);

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  std::shared_ptr<Memory> memory_;
  std::unique_ptr<Cublas> blas_;
  DeviceBuffer blas_workspace_;

  std::vector<DeviceBuffer> weights_;  // uploads, kept for the backend's lifetime
  uint8_t* upload_staging_[2] = {nullptr, nullptr};
  cudaEvent_t upload_done_[2] = {nullptr, nullptr};

  uint8_t* staging_ = nullptr;  // pinned, for CopyToDevice/CopyToHost within a step
  size_t staging_bytes_ = 0;
  size_t staging_used_ = 0;
  std::vector<PendingCopy> pending_;
  std::shared_ptr<PinnedHostMemory> pinned_;  // AllocateHost's blocks
  std::vector<DeferredCopy> deferred_;

  DeviceBuffer attention_scratch_, gemm_weights_, gemm_activations_, gemv_workspace_;
  std::vector<DeviceBuffer> step_args_;  // blocks; this step uses [0, block) and `used` of it
  size_t step_args_block_ = 0;
  size_t step_args_used_ = 0;
  uint8_t* step_args_mirror_ = nullptr;     // pinned, as large as step_args_[0]
  std::map<int64_t, size_t> upfront_args_;  // shape: bytes of block 0 its eager step used
  size_t step_upfront_ = 0;                 // this step's bytes copied from the mirror
  std::vector<uint8_t> decode_args_;        // host copy of a batched decode's device arguments

  Status status_ = OkStatus();
  bool graphs_enabled_ = true;
  // MatmulMany, MatmulSwiGlu and MatmulAdd as one launch each (WICK_CUDA_FUSE=0: the separate
  // ops, a baseline for measuring them).
  bool fuse_products_ = true;
  std::optional<kernels::cuda::GemvActivations> gemv_activations_;  // nullopt: per type
  bool capturing_ = false;
  int64_t step_shape_ = -1;
  std::set<int64_t> seen_shapes_;
  std::set<int64_t> eager_shapes_;  // shapes whose recording failed
  struct RecordedStep {
    cudaGraphExec_t exec = nullptr;
    uint64_t generation = 0;  // Generation() when recorded
    bool replayable = false;  // every per-step value came from device memory
    uint64_t signature = 0;   // of its ops, which a replayed step must repeat
    size_t upfront = 0;       // step_upfront_ when recorded
  };
  static constexpr uint64_t kSignatureSeed = 0xcbf29ce484222325ull;
  std::map<int64_t, RecordedStep> graphs_;
  bool replaying_ = false;
  bool step_replayable_ = true;
  uint64_t step_signature_ = kSignatureSeed;
  uint64_t staging_epoch_ = 0;
  int64_t graph_launches_ = 0;
  int64_t replayed_steps_ = 0;
  int64_t batched_attention_layers_ = 0;
  int64_t steps_with_one_args_copy_ = 0;
};

}  // namespace wick::model
