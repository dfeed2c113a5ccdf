#include "model/cuda_backend.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string_view>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/quant_matmul.h"
#include "model/device.h"

namespace wick::model {

namespace {

using kernels::cuda::FromCuda;

// Weights cross from the mapped file to the device through two pinned buffers of this size,
// one filled while the other is copied.
constexpr size_t kUploadChunk = 16u << 20;
// Pinned memory for the copies of one step (inputs, logits), grown when a step needs more.
constexpr size_t kMinStaging = 4u << 20;
constexpr size_t kBlasWorkspace = 32u << 20;

std::string MemoryInfo() {
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    (void)cudaGetLastError();
    return "free memory unknown";
  }
  return fmt::format("{} free of {}", FormatBytes(free_b), FormatBytes(total_b));
}

}  // namespace

// Device memory of one device, shared with every DeviceBuffer handed out, so a buffer freed
// after the backend is gone still goes back to the right device.
class CudaBackend::Memory : public DeviceMemory {
 public:
  explicit Memory(int device) : device_(device) {}
  void Free(void* data) override {
    int current = 0;
    (void)cudaGetDevice(&current);
    if (current != device_) (void)cudaSetDevice(device_);
    (void)cudaFree(data);
    if (current != device_) (void)cudaSetDevice(current);
    (void)cudaGetLastError();  // a failed free must not be blamed on the next launch
    in_use_ -= std::min(in_use_, sizes_[data]);
    sizes_.erase(data);
    ++generation_;
  }
  void Track(void* data, size_t bytes) {
    sizes_[data] = bytes;
    in_use_ += bytes;
    ++generation_;
  }
  uint64_t in_use() const { return in_use_; }
  // Changes with every allocation and free: a recorded step may point at freed memory.
  uint64_t generation() const { return generation_; }

 private:
  int device_;
  uint64_t in_use_ = 0;
  uint64_t generation_ = 0;
  std::map<void*, uint64_t> sizes_;
};

// AllocateHost's pinned blocks, shared with every buffer handed out: CopyToHost asks it
// whether a destination lies in one (a buffer may be freed on another thread).
class CudaBackend::PinnedHostMemory : public DeviceMemory {
 public:
  void Free(void* data) override {
    {
      const std::lock_guard lock(mu_);
      blocks_.erase(reinterpret_cast<uintptr_t>(data));
    }
    (void)cudaFreeHost(data);
    (void)cudaGetLastError();
  }
  void Track(void* data, size_t bytes) {
    const std::lock_guard lock(mu_);
    blocks_[reinterpret_cast<uintptr_t>(data)] = bytes;
  }
  bool Contains(const void* p, size_t bytes) const {
    const auto at = reinterpret_cast<uintptr_t>(p);
    const std::lock_guard lock(mu_);
    auto it = blocks_.upper_bound(at);
    if (it == blocks_.begin()) return false;
    --it;
    return at - it->first <= it->second && bytes <= it->second - (at - it->first);
  }

 private:
  mutable std::mutex mu_;
  std::map<uintptr_t, size_t> blocks_;  // start: bytes
};

Result<std::unique_ptr<Backend>> CreateCudaBackend(int index) {
  WICK_ASSIGN_OR_RETURN(std::unique_ptr<CudaBackend> be, CudaBackend::Create(index));
  return std::unique_ptr<Backend>(std::move(be));
}

CudaBackend::CudaBackend(int device)
    : device_(device),
      memory_(std::make_shared<Memory>(device)),
      pinned_(std::make_shared<PinnedHostMemory>()) {}

Result<std::unique_ptr<CudaBackend>> CudaBackend::Create(int device) {
  std::unique_ptr<CudaBackend> be(new CudaBackend(device));
  Status init = be->Init();
  if (!init.ok()) return std::move(init).error().With(fmt::format("cuda:{}", device));
  return be;
}

Status CudaBackend::Init() {
  WICK_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_), "selecting the device");
  WICK_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                            "creating a stream");
  for (int i = 0; i < 2; ++i) {
    WICK_CUDA_RETURN_IF_ERROR(cudaHostAlloc(reinterpret_cast<void**>(&upload_staging_[i]),
                                            kUploadChunk, cudaHostAllocDefault),
                              "allocating pinned upload buffers");
    WICK_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&upload_done_[i], cudaEventDisableTiming),
                              "creating events");
  }
  WICK_CUDA_RETURN_IF_ERROR(
      cudaHostAlloc(reinterpret_cast<void**>(&staging_), kMinStaging, cudaHostAllocDefault),
      "allocating pinned staging memory");
  staging_bytes_ = kMinStaging;
  if (const char* env = std::getenv("WICK_CUDA_GRAPHS"); env && std::string_view(env) == "0") {
    graphs_enabled_ = false;
  }
  if (const char* env = std::getenv("WICK_CUDA_FUSE"); env && std::string_view(env) == "0") {
    fuse_products_ = false;
  }
  if (const char* env = std::getenv("WICK_CUDA_GEMV"); env != nullptr) {
    const std::string_view mode(env);
    if (mode == "f32") {
      gemv_activations_ = kernels::cuda::GemvActivations::kF32;
    } else if (mode == "int8") {
      gemv_activations_ = kernels::cuda::GemvActivations::kInt8;
    } else if (mode == "mma") {
      gemv_activations_ = kernels::cuda::GemvActivations::kInt8TensorCores;
    } else if (mode != "auto" && !mode.empty()) {
      std::fprintf(stderr,
                   "wick: cuda:%d: WICK_CUDA_GEMV=%s is not auto, f32, int8 or mma; using "
                   "auto (each type's default)\n",
                   device_, env);
    }
  }
  WICK_ASSIGN_OR_RETURN(blas_workspace_, Allocate(kBlasWorkspace));
  Result<std::unique_ptr<Cublas>> blas =
      Cublas::Open(stream_, blas_workspace_.data(), blas_workspace_.bytes());
  if (blas.ok()) {
    blas_ = std::move(*blas);
  } else {
    // Still a working backend: GEMMs become repeated GEMVs.
    std::fprintf(stderr, "wick: cuda:%d: %s; prefill runs without cuBLAS (slower)\n", device_,
                 blas.error().message().c_str());
    blas_workspace_ = DeviceBuffer();
  }
  return OkStatus();
}

CudaBackend::~CudaBackend() {
  (void)cudaSetDevice(device_);
  AbortCapture();
  if (stream_ != nullptr) (void)cudaStreamSynchronize(stream_);
  for (auto& [shape, step] : graphs_) (void)cudaGraphExecDestroy(step.exec);
  blas_.reset();
  for (int i = 0; i < 2; ++i) {
    if (upload_done_[i] != nullptr) (void)cudaEventDestroy(upload_done_[i]);
    if (upload_staging_[i] != nullptr) (void)cudaFreeHost(upload_staging_[i]);
  }
  if (staging_ != nullptr) (void)cudaFreeHost(staging_);
  if (step_args_mirror_ != nullptr) (void)cudaFreeHost(step_args_mirror_);
  if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
}

std::string CudaBackend::name() const {
  return fmt::format("cuda:{}", device_);
}

uint64_t CudaBackend::bytes_in_use() const {
  return memory_->in_use();
}

void CudaBackend::UseDevice() {
  // The calling thread's current device: a server's engine thread is not the one that made
  // the backend, and a stream only takes work from threads on its device.
  int current = -1;
  if (cudaGetDevice(&current) != cudaSuccess || current != device_) {
    Check(cudaSetDevice(device_), "selecting the device");
  }
}

void CudaBackend::Check(cudaError_t err, const char* what) {
  if (err != cudaSuccess && status_.ok()) status_ = FromCuda(err, what);
}

Status CudaBackend::TakeStatus() {
  Status s = std::move(status_);
  status_ = OkStatus();
  return s;
}

Result<DeviceBuffer> CudaBackend::Allocate(size_t bytes) {
  return AllocateBlock(bytes, /*pinned_host=*/false);
}

Result<DeviceBuffer> CudaBackend::AllocateHost(size_t bytes) {
  return AllocateBlock(bytes, /*pinned_host=*/true);
}

Result<DeviceBuffer> CudaBackend::AllocateBlock(size_t bytes, bool pinned_host) {
  UseDevice();
  if (capturing_) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: allocation while a step is being recorded", name()));
  }
  void* p = nullptr;
  const cudaError_t err = pinned_host
                              ? cudaHostAlloc(&p, std::max<size_t>(bytes, 1), cudaHostAllocDefault)
                              : cudaMalloc(&p, std::max<size_t>(bytes, 256));
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return Error(ErrorCode::kOutOfRange,
                 pinned_host ? fmt::format("{}: cannot allocate {} of pinned host memory", name(),
                                           FormatBytes(bytes))
                             : fmt::format("{}: cannot allocate {} of GPU memory ({})", name(),
                                           FormatBytes(bytes), MemoryInfo()));
  }
  if (pinned_host) {
    pinned_->Track(p, bytes);
    return DeviceBuffer(pinned_, p, bytes);
  }
  memory_->Track(p, bytes);
  return DeviceBuffer(memory_, p, bytes);
}

Status CudaBackend::Reserve(DeviceBuffer& buf, size_t bytes, const char* what) {
  if (buf.bytes() >= bytes) return OkStatus();
  if (capturing_) {  // cudaFree would break the recording: refuse before letting go of buf
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: {} must grow while a step is being recorded", name(), what));
  }
  buf = DeviceBuffer();
  Result<DeviceBuffer> grown = Allocate(bytes);
  if (!grown.ok()) return std::move(grown).error().With(what);
  buf = std::move(*grown);
  return OkStatus();
}

Result<TensorRef> CudaBackend::Upload(const TensorRef& tensor) {
  UseDevice();
  if (!kernels::cuda::SupportsWeightType(tensor.type)) {
    return Error(ErrorCode::kUnsupported,
                 fmt::format("{}: no CUDA kernels for {} tensors", name(), NameOf(tensor.type)));
  }
  const uint64_t bytes = tensor.bytes();
  WICK_ASSIGN_OR_RETURN(DeviceBuffer buf, Allocate(bytes));
  // Through the pinned buffers in turn: the copy of one chunk overlaps filling the next,
  // which is where the time goes (page faults of the mapped file).
  const auto* src = static_cast<const uint8_t*>(tensor.data);
  auto* dst = static_cast<uint8_t*>(buf.data());
  int which = 0;
  for (uint64_t off = 0; off < bytes; off += kUploadChunk, which ^= 1) {
    const size_t len = static_cast<size_t>(std::min<uint64_t>(kUploadChunk, bytes - off));
    WICK_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(upload_done_[which]), "uploading weights");
    std::memcpy(upload_staging_[which], src + off, len);
    WICK_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(dst + off, upload_staging_[which], len, cudaMemcpyHostToDevice, stream_),
        "uploading weights");
    WICK_CUDA_RETURN_IF_ERROR(cudaEventRecord(upload_done_[which], stream_), "uploading weights");
  }
  WICK_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_), "uploading weights");
  TensorRef placed = tensor;
  placed.data = buf.data();
  weights_.push_back(std::move(buf));
  return placed;
}

Result<uint8_t*> CudaBackend::Stage(size_t bytes) {
  bytes = (bytes + 255) & ~size_t{255};
  const size_t need = staging_used_ + bytes;
  if (need > staging_bytes_) {
    if (capturing_) {
      return Error(
          ErrorCode::kInvalidArgument,
          fmt::format("{}: step copies outgrew the staging memory while recorded", name()));
    }
    WICK_RETURN_IF_ERROR(Synchronize());
    // A recorded step cannot wait half-way, so the buffer grows to hold every copy of the
    // step so far at once: the eager first step of a shape sizes it for the recorded ones.
    const size_t grown = std::max({need, 2 * kMinStaging, 2 * staging_bytes_});
    (void)cudaFreeHost(staging_);
    staging_ = nullptr;
    staging_bytes_ = 0;
    WICK_CUDA_RETURN_IF_ERROR(
        cudaHostAlloc(reinterpret_cast<void**>(&staging_), grown, cudaHostAllocDefault),
        "allocating pinned staging memory");
    staging_bytes_ = grown;
    ++staging_epoch_;  // recorded copies read the old buffer
  }
  uint8_t* p = staging_ + staging_used_;
  staging_used_ += bytes;
  return p;
}

Status CudaBackend::Synchronize() {
  WICK_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream_), name());
  for (const PendingCopy& c : pending_) std::memcpy(c.dst, c.staged, c.bytes);
  pending_.clear();
  staging_used_ = 0;
  return TakeStatus();
}

Status CudaBackend::CopyToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return OkStatus();
  UseDevice();
  WICK_ASSIGN_OR_RETURN(uint8_t * staged, Stage(bytes));
  std::memcpy(staged, src, bytes);
  // A replayed step's recording copies from this same staging address.
  if (!Launches({10, Key(dst), bytes})) return OkStatus();
  WICK_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, staged, bytes, cudaMemcpyHostToDevice, stream_),
                            "copy to device");
  return OkStatus();
}

Status CudaBackend::CopyToHost(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return OkStatus();
  UseDevice();
  if (capturing_ || replaying_) {
    // Issued by EndStep after the step's kernels, never recorded: so a recording holds no host
    // address, which its owner may free or the next step change, and is the same whether the
    // copy goes straight to pinned memory or through the staging buffer.
    deferred_.push_back({dst, src, bytes});
    return OkStatus();
  }
  WICK_RETURN_IF_ERROR(EnqueueCopyToHost(dst, src, bytes));
  return Synchronize();
}

Status CudaBackend::EnqueueCopyToHost(void* dst, const void* src, size_t bytes) {
  if (pinned_->Contains(dst, bytes)) {
    WICK_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_),
                              "copy to host");
    return OkStatus();
  }
  WICK_ASSIGN_OR_RETURN(uint8_t * staged, Stage(bytes));
  WICK_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(staged, src, bytes, cudaMemcpyDeviceToHost, stream_),
                            "copy to host");
  pending_.push_back({dst, staged, bytes});
  return OkStatus();
}

void CudaBackend::DropStepCopies() {
  pending_.clear();
  deferred_.clear();
  staging_used_ = 0;
}

void CudaBackend::AbortCapture() {
  if (replaying_) {  // nothing was launched: only the host's share of the step goes
    replaying_ = false;
    DropStepCopies();
    return;
  }
  if (!capturing_) return;
  cudaGraph_t graph = nullptr;
  (void)cudaStreamEndCapture(stream_, &graph);
  if (graph != nullptr) (void)cudaGraphDestroy(graph);
  (void)cudaGetLastError();
  capturing_ = false;
  DropStepCopies();
}

void CudaBackend::AbortStep() {
  // Every forward pass ends here: only a step an error left open costs anything.
  if (!capturing_ && !replaying_) return;
  UseDevice();
  AbortCapture();
}

void CudaBackend::BeginStep(int64_t shape) {
  UseDevice();
  // A step that failed half-way never reached EndStep: drop what it recorded.
  AbortCapture();
  step_shape_ = shape;
  step_args_block_ = 0;
  step_args_used_ = 0;
  step_upfront_ = 0;
  step_signature_ = kSignatureSeed;
  step_replayable_ = true;
  if (shape < 0 || !graphs_enabled_) return;
  // The first step of a shape runs eagerly, growing every buffer it needs; recording starts
  // with the second, when nothing allocates any more.
  if (seen_shapes_.insert(shape).second || eager_shapes_.count(shape) != 0) return;
  // Copies queued outside a step would share the staging memory with the recorded ones.
  if (staging_used_ != 0) {
    Status synced = Synchronize();
    if (!synced.ok()) {
      if (status_.ok()) status_ = std::move(synced);
      return;
    }
  }
  // A recording that took every per-step value from device memory, made since the last
  // allocation or free, is launched as it is: the ops of this step only fill the staging
  // memory its copies read.
  auto it = graphs_.find(shape);
  if (it != graphs_.end() && it->second.replayable && it->second.generation == Generation()) {
    replaying_ = true;
    step_upfront_ = it->second.upfront;
    return;
  }
  const cudaError_t err = cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    graphs_enabled_ = false;  // run eagerly from now on
    std::fprintf(stderr, "wick: %s: CUDA graphs unavailable (%s); running kernels directly\n",
                 name().c_str(), cudaGetErrorString(err));
    return;
  }
  capturing_ = true;
  const auto upfront = upfront_args_.find(shape);
  const size_t upfront_bytes = upfront == upfront_args_.end() ? 0 : upfront->second;
  if (upfront_bytes > 0 && step_args_mirror_ != nullptr) {
    // The step's arguments, written to the mirror by its ops before the graph runs.
    Check(cudaMemcpyAsync(step_args_[0].data(), step_args_mirror_, upfront_bytes,
                          cudaMemcpyHostToDevice, stream_),
          "copying the step's arguments");
    step_upfront_ = upfront_bytes;
  }
}

void CudaBackend::NoGraphsFor(int64_t shape) {
  // A shape whose recording failed runs eagerly from now on, rather than failing every step.
  if (eager_shapes_.insert(shape).second) {
    std::fprintf(stderr,
                 "wick: %s: a step of shape %lld could not run as a CUDA graph; "
                 "running its kernels directly\n",
                 name().c_str(), static_cast<long long>(shape));
  }
  auto it = graphs_.find(shape);
  if (it != graphs_.end()) {
    if (it->second.exec != nullptr) (void)cudaGraphExecDestroy(it->second.exec);
    graphs_.erase(it);
  }
  (void)cudaGetLastError();
}

uint64_t CudaBackend::Generation() const {
  return memory_->generation() + staging_epoch_;
}

bool CudaBackend::Launches(std::initializer_list<uint64_t> key, bool per_step_values) {
  if (!deferred_.empty() && status_.ok()) {
    // The copy runs after the whole step: an op after it could change what it copies.
    status_ = Error(ErrorCode::kInvalidArgument,
                    fmt::format("{}: an op after a copy to the host in a recorded step", name()));
  }
  for (const uint64_t v : key) step_signature_ = (step_signature_ ^ v) * 0x100000001b3ull;
  if (per_step_values) step_replayable_ = false;
  return !replaying_;
}

Status CudaBackend::FailStep(cudaError_t err, const char* what) {
  DropStepCopies();
  Check(err, what);
  NoGraphsFor(step_shape_);
  return TakeStatus();
}

Status CudaBackend::EndStep() {
  if (replaying_) {
    replaying_ = false;
    RecordedStep& rec = graphs_[step_shape_];
    if (!step_replayable_ || step_signature_ != rec.signature || Generation() != rec.generation) {
      // Not the recorded ops: nothing ran. Recorded afresh next time.
      rec.replayable = false;
      DropStepCopies();
      return Error(ErrorCode::kUnavailable,
                   fmt::format("{}: a step of shape {} differed from its recording; it did not run",
                               name(), step_shape_));
    }
    const cudaError_t err = cudaGraphLaunch(rec.exec, stream_);
    if (err != cudaSuccess) return FailStep(err, "launching a recorded step");
    ++graph_launches_;
    ++replayed_steps_;
    if (step_upfront_ > 0) ++steps_with_one_args_copy_;
  } else if (capturing_) {
    cudaGraph_t graph = nullptr;
    const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
    capturing_ = false;
    if (end != cudaSuccess || !status_.ok()) {
      if (graph != nullptr) (void)cudaGraphDestroy(graph);
      return FailStep(end, "recording a step");
    }
    RecordedStep& rec = graphs_[step_shape_];
    cudaGraphExec_t& exec = rec.exec;
    if (exec != nullptr) {
      cudaGraphExecUpdateResultInfo info{};
      if (cudaGraphExecUpdate(exec, graph, &info) != cudaSuccess) {
        // Another topology (a different attention path, say): instantiate afresh.
        (void)cudaGetLastError();
        (void)cudaGraphExecDestroy(exec);
        exec = nullptr;
      }
    }
    cudaError_t err = cudaSuccess;
    if (exec == nullptr) err = cudaGraphInstantiate(&exec, graph, 0);
    (void)cudaGraphDestroy(graph);
    if (err == cudaSuccess) err = cudaGraphLaunch(exec, stream_);
    if (err != cudaSuccess) return FailStep(err, "launching a recorded step");
    rec.generation = Generation();
    rec.replayable = step_replayable_;
    rec.signature = step_signature_;
    rec.upfront = step_upfront_;
    ++graph_launches_;
    if (step_upfront_ > 0) ++steps_with_one_args_copy_;
  } else if (step_shape_ >= 0) {
    // An eager step: what its recordings may copy in one piece (not when it spilled past the
    // first block).
    upfront_args_[step_shape_] = step_args_block_ == 0 ? step_args_used_ : 0;
  }
  step_shape_ = -1;
  for (const DeferredCopy& c : deferred_) {
    if (Status st = EnqueueCopyToHost(c.dst, c.src, c.bytes); !st.ok() && status_.ok()) {
      status_ = std::move(st);
    }
  }
  deferred_.clear();
  return Synchronize();
}

Status CudaBackend::GetRows(const TensorRef& table, const int32_t*, int64_t, float*) {
  return Error(
      ErrorCode::kUnsupported,
      fmt::format("{}: embedding lookups of {} tables run on the CPU", name(), NameOf(table.type)));
}

void CudaBackend::RmsNorm(const float* x, const float* weight, float* out, int64_t rows, int64_t n,
                          float eps) {
  if (!Launches({2, Key(x), Key(weight), Key(out), static_cast<uint64_t>(rows),
                 static_cast<uint64_t>(n)})) {
    return;
  }
  Check(kernels::cuda::RmsNorm(x, weight, out, rows, n, eps, stream_), "rms_norm");
}

void CudaBackend::LayerNorm(const float* x, const float* weight, const float* bias, float* out,
                            int64_t rows, int64_t n, float eps) {
  if (!Launches({20, Key(x), Key(weight), Key(bias), Key(out), static_cast<uint64_t>(rows),
                 static_cast<uint64_t>(n)})) {
    return;
  }
  Check(kernels::cuda::LayerNorm(x, weight, bias, out, rows, n, eps, stream_), "layer_norm");
}

void CudaBackend::Rope(float* x, int64_t n_tokens, int64_t n_heads, int64_t head_dim, int64_t pos0,
                       const kernels::RopeConfig& config) {
  if (config.n_dims == 0) return;  // learned positions: nothing to rotate
  if (!Launches({3, Key(x), static_cast<uint64_t>(n_tokens)}, /*per_step_values=*/true)) return;
  Check(kernels::cuda::Rope(x, n_tokens, n_heads, head_dim, pos0, config, stream_), "rope");
}

void CudaBackend::SwiGlu(const float* gate, const float* up, float* out, int64_t rows,
                         int64_t cols) {
  if (!Launches({4, Key(gate), Key(up), Key(out), static_cast<uint64_t>(rows * cols)})) return;
  Check(kernels::cuda::SwiGlu(gate, up, out, rows * cols, stream_), "swiglu");
}

void CudaBackend::GeGlu(const float* gate, const float* up, float* out, int64_t rows,
                        int64_t cols) {
  if (!Launches({17, Key(gate), Key(up), Key(out), static_cast<uint64_t>(rows * cols)})) return;
  Check(kernels::cuda::GeGlu(gate, up, out, rows * cols, stream_), "geglu");
}

void CudaBackend::Gelu(const float* x, float* out, int64_t n) {
  if (!Launches({21, Key(x), Key(out), static_cast<uint64_t>(n)})) return;
  Check(kernels::cuda::Gelu(x, out, n, stream_), "gelu");
}

void CudaBackend::Scale(float* x, float s, int64_t n) {
  if (!Launches({18, Key(x), static_cast<uint64_t>(n), std::bit_cast<uint32_t>(s)})) return;
  Check(kernels::cuda::Scale(x, s, n, stream_), "scale");
}

void CudaBackend::Softcap(float* x, float cap, int64_t n) {
  if (!Launches({19, Key(x), static_cast<uint64_t>(n), std::bit_cast<uint32_t>(cap)})) return;
  Check(kernels::cuda::Softcap(x, cap, n, stream_), "softcap");
}

void CudaBackend::Add(const float* a, const float* b, float* out, int64_t n) {
  if (!Launches({5, Key(a), Key(b), Key(out), static_cast<uint64_t>(n)})) return;
  Check(kernels::cuda::Add(a, b, out, n, stream_), "add");
}

void CudaBackend::AddBias(float* x, const float* bias, int64_t rows, int64_t n) {
  if (!Launches({16, Key(x), Key(bias), static_cast<uint64_t>(rows), static_cast<uint64_t>(n)})) {
    return;
  }
  Check(kernels::cuda::AddBias(x, bias, rows, n, stream_), "bias add");
}

void CudaBackend::StoreRows(const float* src, int64_t rows, int64_t n, void* dst, DType type,
                            int64_t row_bytes) {
  if (!Launches({6, Key(src), static_cast<uint64_t>(rows)}, /*per_step_values=*/true)) return;
  Check(kernels::cuda::StoreRows(src, rows, n, dst, type, row_bytes, stream_), "kv store");
}

void CudaBackend::Copy(const float* src, float* dst, int64_t n) {
  if (n <= 0 || !Launches({7, Key(src), Key(dst), static_cast<uint64_t>(n)})) return;
  Check(cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * sizeof(float), cudaMemcpyDeviceToDevice,
                        stream_),
        "copy");
}

void CudaBackend::MoveBytes(void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return;
  UseDevice();
  auto* d = static_cast<uint8_t*>(dst);
  const auto* s = static_cast<const uint8_t*>(src);
  // A device-to-device copy's regions must not overlap: pieces no longer than the distance
  // between them, in the order that reads each byte before it is overwritten.
  const size_t gap = d < s ? static_cast<size_t>(s - d) : static_cast<size_t>(d - s);
  const size_t piece = std::min(gap, bytes);
  for (size_t done = 0; done < bytes; done += piece) {
    const size_t n = std::min(piece, bytes - done);
    const size_t at = d < s ? done : bytes - done - n;
    Check(cudaMemcpyAsync(d + at, s + at, n, cudaMemcpyDeviceToDevice, stream_), "move");
  }
}

Status CudaBackend::CheckAttention(const kernels::AttentionParams& p) const {
  if (p.q == nullptr || p.k == nullptr || p.v == nullptr || p.out == nullptr || p.n_head <= 0 ||
      p.n_head_kv <= 0 || p.n_head % p.n_head_kv != 0 || p.head_dim <= 0 || p.pos0 < 0 ||
      p.pos0 + p.n_tokens > p.n_kv ||
      (p.kv_type != DType::kF32 && p.kv_type != DType::kF16 && p.kv_type != DType::kQ8_0)) {
    return Error(ErrorCode::kInvalidArgument,
                 fmt::format("{}: attention: bad parameters ({} heads, {} kv heads, head size "
                             "{}, tokens {} at {}, {} cached, cache {})",
                             name(), p.n_head, p.n_head_kv, p.head_dim, p.n_tokens, p.pos0, p.n_kv,
                             NameOf(p.kv_type)));
  }
  return OkStatus();
}

Status CudaBackend::Attention(const kernels::AttentionParams& p) {
  WICK_RETURN_IF_ERROR(TakeStatus());
  if (p.n_tokens <= 0) return OkStatus();
  WICK_RETURN_IF_ERROR(CheckAttention(p));
  if (!Launches({8, Key(p.q), Key(p.out), static_cast<uint64_t>(p.n_tokens)},
                /*per_step_values=*/true)) {
    return OkStatus();
  }
  const size_t scratch = kernels::cuda::AttentionScratchFloats(p) * sizeof(float);
  WICK_RETURN_IF_ERROR(Reserve(attention_scratch_, scratch, "attention scratch"));
  WICK_CUDA_RETURN_IF_ERROR(
      kernels::cuda::Attention(p, static_cast<float*>(attention_scratch_.data()), stream_),
      "attention");
  return OkStatus();
}

Status CudaBackend::AttentionBatch(std::span<const kernels::AttentionParams> batch) {
  // One stream: the calls run in turn, each over the whole device, so they can share the
  // scratch buffer; each row is computed as it would be alone.
  for (const kernels::AttentionParams& p : batch) WICK_RETURN_IF_ERROR(Attention(p));
  return OkStatus();
}

Result<uint8_t*> CudaBackend::StepArgs(size_t bytes) {
  bytes = (bytes + 15) & ~size_t{15};
  constexpr size_t kBlock = 256u << 10;
  while (step_args_block_ < step_args_.size()) {
    DeviceBuffer& block = step_args_[step_args_block_];
    if (step_args_used_ + bytes <= block.bytes()) {
      uint8_t* p = static_cast<uint8_t*>(block.data()) + step_args_used_;
      step_args_used_ += bytes;
      return p;
    }
    ++step_args_block_;
    step_args_used_ = 0;
  }
  // A new block (earlier ones stay: this step's kernels may still read them).
  WICK_ASSIGN_OR_RETURN(DeviceBuffer block, Allocate(std::max(bytes, kBlock)));
  if (step_args_.empty()) {
    WICK_CUDA_RETURN_IF_ERROR(cudaHostAlloc(reinterpret_cast<void**>(&step_args_mirror_),
                                            block.bytes(), cudaHostAllocDefault),
                              "allocating pinned memory for step arguments");
  }
  step_args_.push_back(std::move(block));
  step_args_used_ = bytes;
  return static_cast<uint8_t*>(step_args_.back().data());
}

Status CudaBackend::UploadStepArgs(uint8_t* dst, const void* src, size_t bytes) {
  const auto* block0 = step_args_.empty() ? nullptr : static_cast<uint8_t*>(step_args_[0].data());
  if ((capturing_ || replaying_) && block0 != nullptr && dst >= block0 &&
      dst + bytes <= block0 + step_upfront_) {
    std::memcpy(step_args_mirror_ + (dst - block0), src, bytes);
    (void)Launches({15, Key(dst), bytes});  // part of the step's signature; nothing to launch
    return OkStatus();
  }
  return CopyToDevice(dst, src, bytes);
}

namespace {

// Whether the sequences' new k and v rows are side by side, as their q rows must be, and each
// cache destination is aligned for its stores.
bool RowsSideBySide(std::span<const SequenceAttention> seqs) {
  const kernels::AttentionParams& f = seqs[0].attention;
  const int64_t kv_dim = int64_t{f.n_head_kv} * f.head_dim;
  const uintptr_t align = f.kv_type == DType::kF32 ? 4 : 2;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const auto at = static_cast<int64_t>(i);
    if (seqs[i].k != seqs[0].k + at * kv_dim || seqs[i].v != seqs[0].v + at * kv_dim ||
        reinterpret_cast<uintptr_t>(seqs[i].k_dst) % align != 0 ||
        reinterpret_cast<uintptr_t>(seqs[i].v_dst) % align != 0) {
      return false;
    }
  }
  return true;
}

size_t Align16(size_t n) {
  return (n + 15) & ~size_t{15};
}

}  // namespace

Status CudaBackend::AttendSequences(std::span<const SequenceAttention> seqs,
                                    const kernels::RopeConfig& rope) {
  const std::span<const kernels::AttentionParams> batch = GatherAttention(seqs);
  // One sequence too: its positions and cache rows in device memory make its step replayable.
  if (!kernels::cuda::CanBatchDecode(batch) || !RowsSideBySide(seqs)) {
    return AttendEach(seqs, batch, rope);
  }
  UseDevice();
  WICK_RETURN_IF_ERROR(TakeStatus());
  for (const kernels::AttentionParams& p : batch) WICK_RETURN_IF_ERROR(CheckAttention(p));
  const kernels::AttentionParams& f = batch[0];
  const size_t n = seqs.size();

  // The sequences' own arguments, in one copy: attention's, positions, cache rows for k, v.
  const size_t pos_at = Align16(kernels::cuda::DecodeBatchArgBytes(n));
  const size_t k_dst_at = Align16(pos_at + n * sizeof(int32_t));
  const size_t v_dst_at = k_dst_at + n * sizeof(void*);
  const size_t bytes = v_dst_at + n * sizeof(void*);
  decode_args_.assign(bytes, 0);
  kernels::cuda::PackDecodeBatch(batch, decode_args_.data());
  for (size_t i = 0; i < n; ++i) {
    const auto pos = static_cast<int32_t>(seqs[i].pos0);
    std::memcpy(&decode_args_[pos_at + i * sizeof(int32_t)], &pos, sizeof pos);
    std::memcpy(&decode_args_[k_dst_at + i * sizeof(void*)], &seqs[i].k_dst, sizeof(void*));
    std::memcpy(&decode_args_[v_dst_at + i * sizeof(void*)], &seqs[i].v_dst, sizeof(void*));
  }
  WICK_ASSIGN_OR_RETURN(uint8_t * args, StepArgs(bytes));
  WICK_RETURN_IF_ERROR(UploadStepArgs(args, decode_args_.data(), bytes));
  // Everything that changes from step to step is in that copy.
  if (!Launches({9, Key(f.q), Key(seqs[0].k), Key(seqs[0].v), Key(f.out), n})) {
    ++batched_attention_layers_;
    return OkStatus();
  }
  const auto* positions = reinterpret_cast<const int32_t*>(args + pos_at);
  auto* const* k_dst = reinterpret_cast<uint8_t* const*>(args + k_dst_at);
  auto* const* v_dst = reinterpret_cast<uint8_t* const*>(args + v_dst_at);
  const auto rows = static_cast<int64_t>(n);

  // As the default's calls, for every sequence at once: RoPE and the KV store in one launch.
  float* q = const_cast<float*>(f.q);  // the layer's own rows; attention only reads them
  WICK_CUDA_RETURN_IF_ERROR(
      kernels::cuda::RopeStoreAt(q, seqs[0].k, seqs[0].v, rows, f.n_head, f.n_head_kv, f.head_dim,
                                 positions, rope, k_dst, v_dst, f.kv_type, stream_),
      "rope and kv store");
  const size_t scratch = n * kernels::cuda::AttentionScratchFloats(f) * sizeof(float);
  WICK_RETURN_IF_ERROR(Reserve(attention_scratch_, scratch, "attention scratch"));
  WICK_CUDA_RETURN_IF_ERROR(
      kernels::cuda::AttentionDecodeBatch(batch, args,
                                          static_cast<float*>(attention_scratch_.data()), stream_),
      "attention");
  ++batched_attention_layers_;
  return OkStatus();
}

}  // namespace wick::model
