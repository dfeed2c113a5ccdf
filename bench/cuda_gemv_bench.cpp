// The decode GEMV on the GPU (kernels/cuda/quant_matmul.h) alone, in weight GB/s: a 7B
// model's products (q/k/v together, o, gate and up together, down, the output head) for the
// weight types of the speed table, with f32 and int8 activations (and int8 tensor cores for
// Q4_0 and Q8_0: "mma"), at 1, 8 and 64 activation rows. Each iteration multiplies the next of
// several copies of the weights, together larger than the GPU's L2, so that the weights come from
// memory as they do in a decode step; the time is the GPU's (CUDA events), averaged over a batch of
// launches.
//
//   build/gpu/bench/wick_bench_cuda_gemv --benchmark_filter='Q4_0/.*/1/'
//
// Columns: GB/s is the weight bytes read per second; the roofline is the GPU's memory
// bandwidth (about 3.35 TB/s on an H100 SXM). Without a GPU every case is skipped.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/quant_matmul.h"

namespace wick::kernels::cuda {
namespace {

// Weights read per iteration's launches cycle through this many bytes at least (an H100's L2
// is 50 MB).
constexpr uint64_t kRotationBytes = uint64_t{384} << 20;
constexpr int kLaunchesPerTiming = 20;

struct Shape {
  const char* name;
  int64_t n;  // output rows
  int64_t k;  // row length
};

// llama2-7b's decode products (q, k and v as one 12288-row launch, gate and up as one).
constexpr Shape kShapes[] = {{"qkv", 3 * 4096, 4096},
                             {"o", 4096, 4096},
                             {"gate_up", 2 * 11008, 4096},
                             {"down", 4096, 11008},
                             {"output", 32000, 4096}};

constexpr DType kTypes[] = {DType::kQ4_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K, DType::kF16};

// Device memory freed at scope exit.
class DeviceMemory {
 public:
  explicit DeviceMemory(uint64_t bytes) { ok_ = cudaMalloc(&ptr_, bytes) == cudaSuccess; }
  ~DeviceMemory() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
  bool ok() const { return ok_; }
  uint8_t* bytes() const { return static_cast<uint8_t*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  bool ok_ = false;
};

void BM_Gemv(benchmark::State& state, DType type, Shape shape, GemvActivations activations) {
  std::string why;
  if (!HaveUsableCudaDevice(&why)) {
    state.SkipWithError(("no usable CUDA GPU: " + why).c_str());
    return;
  }
  const int64_t m = state.range(0);
  const Result<uint64_t> matrix = BytesFor(type, static_cast<uint64_t>(shape.n * shape.k));
  if (!matrix.ok()) {
    state.SkipWithError(matrix.error().message().c_str());
    return;
  }
  const uint64_t matrix_bytes = *matrix;
  const uint64_t copies = (kRotationBytes + matrix_bytes - 1) / matrix_bytes;
  DeviceMemory w(copies * matrix_bytes);
  DeviceMemory x(static_cast<uint64_t>(m * shape.k) * sizeof(float));
  DeviceMemory y(static_cast<uint64_t>(m * shape.n) * sizeof(float));
  const size_t workspace_bytes = GemvWorkspaceBytes(type, shape.k, m, activations);
  DeviceMemory workspace(workspace_bytes);
  if (!w.ok() || !x.ok() || !y.ok() || !workspace.ok()) {
    state.SkipWithError("cudaMalloc failed");
    return;
  }
  // Every byte 0x11: f16 scales of about 5e-4 and codes of 1, finite everywhere (the kernels'
  // speed does not depend on the values).
  cudaMemset(w.bytes(), 0x11, copies * matrix_bytes);
  std::vector<float> host_x(static_cast<size_t>(m * shape.k));
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : host_x) v = normal(rng);
  cudaMemcpy(x.bytes(), host_x.data(), host_x.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cudaEventCreate(&start);
  cudaEventCreate(&stop);

  GemvArgs args;
  args.type = type;
  args.n = shape.n;
  args.k = shape.k;
  args.x = reinterpret_cast<const float*>(x.bytes());
  args.m = m;
  args.y = reinterpret_cast<float*>(y.bytes());
  args.activations = activations;
  args.workspace = workspace.bytes();
  args.workspace_bytes = workspace_bytes;
  uint64_t next = 0;
  auto launch = [&] {
    args.w = w.bytes() + (next++ % copies) * matrix_bytes;
    return Gemv(args, stream);
  };
  for (uint64_t i = 0; i < copies; ++i) launch();  // warm-up: every copy once
  if (const cudaError_t err = cudaStreamSynchronize(stream); err != cudaSuccess) {
    state.SkipWithError(cudaGetErrorString(err));
  }
  for (auto _ : state) {
    cudaEventRecord(start, stream);
    for (int i = 0; i < kLaunchesPerTiming; ++i) launch();
    cudaEventRecord(stop, stream);
    cudaEventSynchronize(stop);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms / 1000.0 / kLaunchesPerTiming);
  }
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess) {
    state.SkipWithError(cudaGetErrorString(err));
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(matrix_bytes) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
}

// Names like Gemv/Q4_0/int8/gate_up/1 (f32, int8 or mma; the last part is m).
const bool kRegistered = [] {
  for (const DType type : kTypes) {
    for (const GemvActivations a :
         {GemvActivations::kF32, GemvActivations::kInt8, GemvActivations::kInt8TensorCores}) {
      const bool float_type = type == DType::kF16;
      if (float_type && a != GemvActivations::kF32) continue;  // float weights take f32 x
      // Tensor cores only where the type has them (the others would repeat the int8 rows).
      if (a == GemvActivations::kInt8TensorCores && !TensorCoreGemvTakes(type)) continue;
      const char* mode = a == GemvActivations::kInt8              ? "int8"
                         : a == GemvActivations::kInt8TensorCores ? "mma"
                                                                  : "f32";
      for (const Shape& shape : kShapes) {
        const std::string name =
            std::string("Gemv/") + std::string(NameOf(type)) + "/" + mode + "/" + shape.name;
        auto* bench = benchmark::RegisterBenchmark(
            name.c_str(), [=](benchmark::State& state) { BM_Gemv(state, type, shape, a); });
        // The tensor-core GEMV also at 4 and 5 rows, either side of kMaxFewRows (where its
        // CUDA-core twin hands over to the mma), at 16 (one whole CTA of rows) and at 32
        // (the wide tiles, half full; WICK_CUDA_GEMV_TILES=32 or 64 picks their height, 0
        // runs groups of 16 instead).
        const bool mma = a == GemvActivations::kInt8TensorCores;
        for (const int64_t m : {1, 4, 5, 8, 16, 32, 64}) {
          if (mma || m == 1 || m == 8 || m == 64) bench->Arg(m);
        }
        bench->UseManualTime()->Unit(benchmark::kMicrosecond);
      }
    }
  }
  return true;
}();

}  // namespace
}  // namespace wick::kernels::cuda

BENCHMARK_MAIN();
