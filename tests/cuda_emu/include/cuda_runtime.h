// The CUDA emulator's stand-in for <cuda_runtime.h>: the parts of the CUDA language and runtime
// that wick's kernels and CUDA backend use, run on the CPU so that CI (which has no GPU) can
// execute them. Kernels run as one fiber per GPU thread; __syncthreads, __syncwarp and warp
// shuffles are real barriers between the fibers, and a fiber runs until its next barrier, so a
// missing barrier shows up as a wrong result instead of hiding behind lockstep execution.
// Streams defer their work until something waits on them, so a host read without a
// synchronisation sees stale data here too. See docs/cuda.md ("The CUDA emulator").
#pragma once

#define WICK_CUDA_EMU 1

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// Blocks run one at a time on an OS thread, with all their fibers on it.
#define __shared__ static thread_local

// ---- Vector types ----

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
inline float2 make_float2(float x, float y) {
  return {x, y};
}
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}
inline uint2 make_uint2(unsigned x, unsigned y) {
  return {x, y};
}
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return {x, y, z, w};
}
inline int2 make_int2(int x, int y) {
  return {x, y};
}
inline int4 make_int4(int x, int y, int z, int w) {
  return {x, y, z, w};
}

// ---- Runtime types ----

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevice = 101,
  cudaErrorNoDevice = 100,
  cudaErrorInsufficientDriver = 35,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorNotSupported = 801,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorGraphExecUpdateFailure = 910,
  cudaErrorUnknown = 999,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};
enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};
enum cudaDeviceAttr {
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrL2CacheSize = 38,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor = 81,
};
enum cudaGraphExecUpdateResult {
  cudaGraphExecUpdateSuccess = 0,
  cudaGraphExecUpdateError = 1,
  cudaGraphExecUpdateErrorTopologyChanged = 2,
};
struct CUgraphNode_st;
struct cudaGraphExecUpdateResultInfo {
  cudaGraphExecUpdateResult result;
  CUgraphNode_st* errorNode;
  CUgraphNode_st* errorFromNode;
};
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int major, minor;
  int multiProcessorCount;
  int maxThreadsPerBlock;
  int warpSize;
  int l2CacheSize;
  int memoryBusWidth;
};

constexpr unsigned cudaStreamDefault = 0;
constexpr unsigned cudaStreamNonBlocking = 1;
constexpr unsigned cudaEventDefault = 0;
constexpr unsigned cudaEventDisableTiming = 2;
constexpr unsigned cudaHostAllocDefault = 0;
constexpr unsigned cudaHostAllocPortable = 1;
constexpr unsigned cudaHostAllocMapped = 2;
constexpr unsigned cudaHostAllocWriteCombined = 4;

namespace wick_emu {
struct Stream;
struct Event;
struct Graph;
struct GraphExec;
}  // namespace wick_emu
using cudaStream_t = wick_emu::Stream*;
using cudaEvent_t = wick_emu::Event*;
using cudaGraph_t = wick_emu::Graph*;
using cudaGraphExec_t = wick_emu::GraphExec*;

// ---- Runtime API ----

const char* cudaGetErrorName(cudaError_t err);
const char* cudaGetErrorString(cudaError_t err);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaMalloc(void** ptr, size_t bytes);
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned flags);
cudaError_t cudaMallocHost(void** ptr, size_t bytes);
cudaError_t cudaFreeHost(void* ptr);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags = 0);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                 unsigned long long flags = 0);
cudaError_t cudaGraphExecUpdate(cudaGraphExec_t exec, cudaGraph_t graph,
                                cudaGraphExecUpdateResultInfo* info);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

namespace wick_emu {

// Where one emulated GPU thread is.
struct ThreadContext {
  dim3 thread_idx;
  dim3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};

ThreadContext& Current();
void SyncThreads();
void SyncWarp(unsigned mask);
// Publishes `size` bytes from `in`, waits for the warp's lanes in `mask`, and copies lane
// `src_lane`'s bytes to `out`.
void WarpExchange(unsigned mask, const void* in, void* out, size_t size, int src_lane);
// The same for every lane of a whole warp at once (out: 32 * size bytes, in lane order), for
// the warp-wide instructions (mma) whose operands sit in other lanes' registers.
void WarpGather(const void* in, void* out, size_t size);
int LaneId();
void* DynamicShared();
// Raises a device-side error: the running kernel stops and the launch reports it.
[[noreturn]] void DeviceFault(const std::string& what);

cudaError_t SetMaxDynamicShared(const void* fn, int bytes);

// A kernel launch: the emulator's form of kernel<<<grid, block, smem, stream>>>(args).
struct LaunchConfig {
  const char* name;
  const void* fn;
  dim3 grid;
  dim3 block;
  size_t shared_bytes;
  cudaStream_t stream;
};
void Enqueue(const LaunchConfig& config, std::function<void()> body);

template <class... P>
struct Launcher {
  LaunchConfig config;
  void (*fn)(P...);
  template <class... A>
  void operator()(A&&... args) const {
    // Kernel parameters are copied at launch, as the GPU does.
    auto params = std::make_shared<std::tuple<std::decay_t<P>...>>(std::forward<A>(args)...);
    auto kernel = fn;
    Enqueue(config, [kernel, params] { std::apply(kernel, *params); });
  }
};

template <class... P>
Launcher<P...> Launch(const char* name, void (*fn)(P...), dim3 grid, dim3 block,
                      size_t shared_bytes = 0, cudaStream_t stream = nullptr) {
  return Launcher<P...>{
      LaunchConfig{name, reinterpret_cast<const void*>(fn), grid, block, shared_bytes, stream}, fn};
}

}  // namespace wick_emu

template <class... P>
cudaError_t cudaFuncSetAttribute(void (*fn)(P...), cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaSuccess;
  return wick_emu::SetMaxDynamicShared(reinterpret_cast<const void*>(fn), value);
}

// ---- Device built-ins ----

#define threadIdx (::wick_emu::Current().thread_idx)
#define blockIdx (::wick_emu::Current().block_idx)
#define blockDim (::wick_emu::Current().block_dim)
#define gridDim (::wick_emu::Current().grid_dim)
constexpr int warpSize = 32;

inline void __syncthreads() {
  wick_emu::SyncThreads();
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  wick_emu::SyncWarp(mask);
}
inline void __threadfence() {}
inline void __threadfence_block() {}

template <class T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 16);
  const int lane = wick_emu::LaneId();
  const int src = (lane & ~(width - 1)) | ((lane ^ lane_mask) & (width - 1));
  T out;
  wick_emu::WarpExchange(mask, &v, &out, sizeof(T), src);
  return out;
}
template <class T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 16);
  const int lane = wick_emu::LaneId();
  const int src = (lane & ~(width - 1)) | (src_lane & (width - 1));
  T out;
  wick_emu::WarpExchange(mask, &v, &out, sizeof(T), src);
  return out;
}
template <class T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  const int lane = wick_emu::LaneId();
  const int in_seg = lane & (width - 1);
  const int src = in_seg + static_cast<int>(delta) < width ? lane + static_cast<int>(delta) : lane;
  T out;
  wick_emu::WarpExchange(mask, &v, &out, sizeof(T), src);
  return out;
}

// CUDA's global min/max overloads.
#define WICK_EMU_MINMAX(T) \
  inline T min(T a, T b) { \
    return b < a ? b : a;  \
  }                        \
  inline T max(T a, T b) { \
    return a < b ? b : a;  \
  }
WICK_EMU_MINMAX(int)
WICK_EMU_MINMAX(unsigned)
WICK_EMU_MINMAX(long)
WICK_EMU_MINMAX(unsigned long)
WICK_EMU_MINMAX(long long)
WICK_EMU_MINMAX(unsigned long long)
#undef WICK_EMU_MINMAX
inline float min(float a, float b) {
  return std::fmin(a, b);
}
inline float max(float a, float b) {
  return std::fmax(a, b);
}

template <class T>
T __ldg(const T* p) {
  return *p;
}
namespace wick_emu {
template <class To, class From>
To BitCast(From from) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &from, sizeof to);
  return to;
}
}  // namespace wick_emu
inline float __uint_as_float(unsigned u) {
  return wick_emu::BitCast<float>(u);
}
inline unsigned __float_as_uint(float f) {
  return wick_emu::BitCast<unsigned>(f);
}
inline float __int_as_float(int u) {
  return wick_emu::BitCast<float>(u);
}
inline int __float_as_int(float f) {
  return wick_emu::BitCast<int>(f);
}
inline float __expf(float x) {
  return std::exp(x);
}
inline float __logf(float x) {
  return std::log(x);
}
inline float __fdividef(float a, float b) {
  return a / b;
}
inline float rsqrtf(float x) {
  return 1.0f / std::sqrt(x);
}
inline float __saturatef(float x) {
  return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}
template <class T>
T atomicAdd(T* p, T v) {
  // Blocks run one at a time per OS thread, but several OS threads may run blocks.
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
inline float atomicAdd(float* p, float v) {
  auto* word = reinterpret_cast<unsigned*>(p);
  unsigned expected = __atomic_load_n(word, __ATOMIC_RELAXED);
  for (;;) {
    const float old = __uint_as_float(expected);
    const unsigned desired = __float_as_uint(old + v);
    if (__atomic_compare_exchange_n(word, &expected, desired, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED)) {
      return old;
    }
  }
}
