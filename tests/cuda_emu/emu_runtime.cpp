// The CUDA emulator's runtime API: device memory with guard pages, deferred streams, and graphs
// recorded by stream capture, around the kernels emu_device.cpp runs.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "emu_internal.h"

namespace wick_emu {

namespace {

constexpr size_t kDeviceBytes = size_t{80} << 30;

thread_local cudaError_t last_error = cudaSuccess;

// ---- Device memory: each allocation ends at a PROT_NONE page, as close as 256-byte alignment
// allows, so that a kernel reading past a buffer faults instead of reading a neighbour.

struct Allocation {
  void* map;
  size_t map_bytes;
  size_t bytes;
  bool host;
};
std::mutex memory_mutex;
std::map<uintptr_t, Allocation> allocations;
size_t device_bytes_in_use = 0;

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

void* GuardedAlloc(size_t bytes, bool host) {
  const size_t page = PageSize();
  const size_t body = (bytes + 255) / 256 * 256;
  const size_t body_pages = (body + page - 1) / page * page;
  const size_t map_bytes = body_pages + 2 * page;
  void* map = mmap(nullptr, map_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return nullptr;
  auto* base = static_cast<uint8_t*>(map) + page;
  if (mprotect(base, body_pages, PROT_READ | PROT_WRITE) != 0) {
    munmap(map, map_bytes);
    return nullptr;
  }
  uint8_t* ptr = base + (body_pages - body);
  // Fresh device memory holds garbage on a GPU: NaN-filled here, so reads of unwritten memory
  // show up in results.
  std::memset(ptr, 0xff, body);
  std::lock_guard lock(memory_mutex);
  allocations[reinterpret_cast<uintptr_t>(ptr)] = Allocation{map, map_bytes, bytes, host};
  if (!host) device_bytes_in_use += bytes;
  return ptr;
}

cudaError_t GuardedFree(void* ptr, bool host) {
  if (ptr == nullptr) return cudaSuccess;
  std::lock_guard lock(memory_mutex);
  auto it = allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == allocations.end() || it->second.host != host) {
    return Fail(cudaErrorInvalidValue, host ? "cudaFreeHost of a pointer cudaHostAlloc did not give"
                                            : "cudaFree of a pointer cudaMalloc did not give");
  }
  if (!host) device_bytes_in_use -= it->second.bytes;
  munmap(it->second.map, it->second.map_bytes);
  allocations.erase(it);
  return cudaSuccess;
}

}  // namespace

cudaError_t Fail(cudaError_t err, const std::string& why) {
  std::fprintf(stderr, "cuda-emu: %s\n", why.c_str());
  last_error = err;
  return err;
}

// ---- Streams and graphs ----

struct Op {
  enum Kind { kKernel, kCopy, kSet, kEventRecord } kind;
  LaunchConfig config{};
  std::function<void()> body;
  void* dst = nullptr;
  const void* src = nullptr;
  size_t bytes = 0;
  int value = 0;
  Event* event = nullptr;
};

struct Graph {
  std::vector<Op> ops;
};
struct GraphExec {
  std::vector<Op> ops;
};
struct Event {
  bool recorded = false;
};
struct Stream {
  std::deque<Op> pending;
  Graph* capture = nullptr;
  bool capture_invalidated = false;
};

namespace {

std::mutex stream_mutex;  // one host thread at a time runs device work
Stream legacy_stream;
std::vector<Stream*> streams{&legacy_stream};

Stream* Resolve(cudaStream_t s) {
  return s == nullptr ? &legacy_stream : s;
}

bool AnyCapture() {
  for (Stream* s : streams) {
    if (s->capture != nullptr) return true;
  }
  return false;
}

cudaError_t Execute(Op& op) {
  switch (op.kind) {
    case Op::kKernel:
      return RunKernel(op.config, op.body);
    case Op::kCopy:
      std::memmove(op.dst, op.src, op.bytes);
      return cudaSuccess;
    case Op::kSet:
      std::memset(op.dst, op.value, op.bytes);
      return cudaSuccess;
    case Op::kEventRecord:
      op.event->recorded = true;
      return cudaSuccess;
  }
  return cudaSuccess;
}

cudaError_t Drain(Stream* s) {
  cudaError_t result = cudaSuccess;
  while (!s->pending.empty()) {
    Op op = std::move(s->pending.front());
    s->pending.pop_front();
    const cudaError_t err = Execute(op);
    if (err != cudaSuccess && result == cudaSuccess) result = err;
  }
  return result;
}

cudaError_t DrainAll() {
  cudaError_t result = cudaSuccess;
  for (Stream* s : streams) {
    const cudaError_t err = Drain(s);
    if (err != cudaSuccess && result == cudaSuccess) result = err;
  }
  return result;
}

cudaError_t Submit(cudaStream_t stream, Op op) {
  std::lock_guard lock(stream_mutex);
  Stream* s = Resolve(stream);
  if (s->capture != nullptr) {
    s->capture->ops.push_back(std::move(op));
    return cudaSuccess;
  }
  if (s == &legacy_stream && AnyCapture()) {
    return Fail(cudaErrorStreamCaptureImplicit,
                "work on the legacy default stream while another stream is capturing");
  }
  s->pending.push_back(std::move(op));
  return cudaSuccess;
}

// Calls that a capture forbids (cudaStreamCaptureModeGlobal/ThreadLocal on this thread).
cudaError_t RefuseDuringCapture(const char* call) {
  std::lock_guard lock(stream_mutex);
  for (Stream* s : streams) {
    if (s->capture != nullptr) {
      s->capture_invalidated = true;
      return Fail(cudaErrorStreamCaptureUnsupported,
                  std::string(call) + " while a stream is capturing a graph");
    }
  }
  return cudaSuccess;
}

bool IsDevicePointer(const void* p, size_t bytes) {
  std::lock_guard lock(memory_mutex);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = allocations.upper_bound(a);
  if (it == allocations.begin()) return false;
  --it;
  return !it->second.host && a + bytes <= it->first + it->second.bytes;
}

cudaError_t CheckCopy(const void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  const bool dst_dev = IsDevicePointer(dst, bytes), src_dev = IsDevicePointer(src, bytes);
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToDevice:
      ok = dst_dev && !src_dev;
      break;
    case cudaMemcpyDeviceToHost:
      ok = !dst_dev && src_dev;
      break;
    case cudaMemcpyDeviceToDevice:
      ok = dst_dev && src_dev;
      break;
    case cudaMemcpyHostToHost:
      ok = !dst_dev && !src_dev;
      break;
    case cudaMemcpyDefault:
      break;
  }
  if (!ok && bytes > 0) {
    return Fail(cudaErrorInvalidValue, "cudaMemcpy of " + std::to_string(bytes) +
                                           " bytes: a pointer is not where the copy kind (" +
                                           std::to_string(kind) +
                                           ") says, or runs past its allocation");
  }
  return cudaSuccess;
}

}  // namespace

void Enqueue(const LaunchConfig& config, std::function<void()> body) {
  if (CheckConfig(config) != cudaSuccess) return;  // the launch error is the last error
  Op op;
  op.kind = Op::kKernel;
  op.config = config;
  op.body = std::move(body);
  (void)Submit(config.stream, std::move(op));
}

}  // namespace wick_emu

using wick_emu::Fail;

// ---- The runtime API ----

const char* cudaGetErrorName(cudaError_t err) {
  switch (err) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInsufficientDriver:
      return "cudaErrorInsufficientDriver";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorNotSupported:
      return "cudaErrorNotSupported";
    case cudaErrorIllegalAddress:
      return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
    case cudaErrorStreamCaptureImplicit:
      return "cudaErrorStreamCaptureImplicit";
    case cudaErrorGraphExecUpdateFailure:
      return "cudaErrorGraphExecUpdateFailure";
    default:
      return "cudaErrorUnknown";
  }
}
const char* cudaGetErrorString(cudaError_t err) {
  return cudaGetErrorName(err);
}

cudaError_t cudaGetLastError() {
  const cudaError_t err = wick_emu::last_error;
  wick_emu::last_error = cudaSuccess;
  return err;
}
cudaError_t cudaPeekAtLastError() {
  return wick_emu::last_error;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : Fail(cudaErrorInvalidDevice, "only device 0 exists");
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (device != 0) return Fail(cudaErrorInvalidDevice, "only device 0 exists");
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "wick CUDA emulator (sm_90)");
  prop->totalGlobalMem = wick_emu::kDeviceBytes;
  prop->sharedMemPerBlock = wick_emu::kDefaultDynamicShared;
  prop->sharedMemPerBlockOptin = wick_emu::kMaxDynamicShared;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 132;
  prop->maxThreadsPerBlock = 1024;
  prop->warpSize = 32;
  prop->l2CacheSize = 50 << 20;
  prop->memoryBusWidth = 5120;
  return cudaSuccess;
}
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (device != 0) return Fail(cudaErrorInvalidDevice, "only device 0 exists");
  switch (attr) {
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *value = wick_emu::kMaxDynamicShared;
      break;
    case cudaDevAttrMultiProcessorCount:
      *value = 132;
      break;
    case cudaDevAttrComputeCapabilityMajor:
      *value = 9;
      break;
    case cudaDevAttrComputeCapabilityMinor:
      *value = 0;
      break;
    case cudaDevAttrL2CacheSize:
      *value = 50 << 20;
      break;
    case cudaDevAttrMaxSharedMemoryPerMultiprocessor:
      *value = 228 * 1024;
      break;
    default:
      return Fail(cudaErrorInvalidValue, "an attribute the emulator does not know");
  }
  return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}
cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = 13000;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  if (cudaError_t err = wick_emu::RefuseDuringCapture("cudaDeviceSynchronize")) return err;
  std::lock_guard lock(wick_emu::stream_mutex);
  return wick_emu::DrainAll();
}

cudaError_t cudaMalloc(void** ptr, size_t bytes) {
  if (cudaError_t err = wick_emu::RefuseDuringCapture("cudaMalloc")) return err;
  {
    std::lock_guard lock(wick_emu::memory_mutex);
    if (wick_emu::device_bytes_in_use + bytes > wick_emu::kDeviceBytes) {
      *ptr = nullptr;
      return Fail(cudaErrorMemoryAllocation, "cudaMalloc: out of emulated device memory");
    }
  }
  *ptr = wick_emu::GuardedAlloc(bytes, false);
  return *ptr != nullptr ? cudaSuccess : Fail(cudaErrorMemoryAllocation, "cudaMalloc failed");
}
cudaError_t cudaFree(void* ptr) {
  if (cudaError_t err = wick_emu::RefuseDuringCapture("cudaFree")) return err;
  // cudaFree synchronises the device: work still queued may use the memory.
  {
    std::lock_guard lock(wick_emu::stream_mutex);
    (void)wick_emu::DrainAll();
  }
  return wick_emu::GuardedFree(ptr, false);
}
cudaError_t cudaHostAlloc(void** ptr, size_t bytes, unsigned) {
  if (cudaError_t err = wick_emu::RefuseDuringCapture("cudaHostAlloc")) return err;
  *ptr = wick_emu::GuardedAlloc(bytes, true);
  return *ptr != nullptr ? cudaSuccess : Fail(cudaErrorMemoryAllocation, "cudaHostAlloc failed");
}
cudaError_t cudaMallocHost(void** ptr, size_t bytes) {
  return cudaHostAlloc(ptr, bytes, 0);
}
cudaError_t cudaFreeHost(void* ptr) {
  if (cudaError_t err = wick_emu::RefuseDuringCapture("cudaFreeHost")) return err;
  {
    std::lock_guard lock(wick_emu::stream_mutex);
    (void)wick_emu::DrainAll();
  }
  return wick_emu::GuardedFree(ptr, true);
}
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  std::lock_guard lock(wick_emu::memory_mutex);
  *total_bytes = wick_emu::kDeviceBytes;
  *free_bytes = wick_emu::kDeviceBytes - wick_emu::device_bytes_in_use;
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
  if (cudaError_t err = wick_emu::RefuseDuringCapture("cudaMemcpy")) return err;
  if (cudaError_t err = wick_emu::CheckCopy(dst, src, bytes, kind)) return err;
  std::lock_guard lock(wick_emu::stream_mutex);
  // The legacy stream waits for the blocking streams; waiting for all is the safe superset.
  const cudaError_t err = wick_emu::DrainAll();
  if (err != cudaSuccess) return err;
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  if (cudaError_t err = wick_emu::CheckCopy(dst, src, bytes, kind)) return err;
  wick_emu::Op op;
  op.kind = wick_emu::Op::kCopy;
  op.dst = dst;
  op.src = src;
  op.bytes = bytes;
  return wick_emu::Submit(stream, std::move(op));
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  if (cudaError_t err = wick_emu::RefuseDuringCapture("cudaMemset")) return err;
  if (!wick_emu::IsDevicePointer(dst, bytes)) {
    return Fail(cudaErrorInvalidValue, "cudaMemset outside a device allocation");
  }
  std::lock_guard lock(wick_emu::stream_mutex);
  const cudaError_t err = wick_emu::DrainAll();
  std::memset(dst, value, bytes);
  return err;
}
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream) {
  if (!wick_emu::IsDevicePointer(dst, bytes)) {
    return Fail(cudaErrorInvalidValue, "cudaMemsetAsync outside a device allocation");
  }
  wick_emu::Op op;
  op.kind = wick_emu::Op::kSet;
  op.dst = dst;
  op.value = value;
  op.bytes = bytes;
  return wick_emu::Submit(stream, std::move(op));
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, 0);
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned) {
  std::lock_guard lock(wick_emu::stream_mutex);
  *stream = new wick_emu::Stream();
  wick_emu::streams.push_back(*stream);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  std::lock_guard lock(wick_emu::stream_mutex);
  if (stream == nullptr) return Fail(cudaErrorInvalidResourceHandle, "destroying stream 0");
  (void)wick_emu::Drain(stream);
  std::erase(wick_emu::streams, stream);
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  std::lock_guard lock(wick_emu::stream_mutex);
  wick_emu::Stream* s = wick_emu::Resolve(stream);
  if (s->capture != nullptr) {
    s->capture_invalidated = true;
    return Fail(cudaErrorStreamCaptureUnsupported, "cudaStreamSynchronize of a capturing stream");
  }
  return wick_emu::Drain(s);
}
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode) {
  std::lock_guard lock(wick_emu::stream_mutex);
  if (stream == nullptr) return Fail(cudaErrorStreamCaptureUnsupported, "capturing stream 0");
  if (stream->capture != nullptr) return Fail(cudaErrorInvalidValue, "already capturing");
  // Work queued before the capture is not part of it.
  (void)wick_emu::Drain(stream);
  stream->capture = new wick_emu::Graph();
  stream->capture_invalidated = false;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  std::lock_guard lock(wick_emu::stream_mutex);
  if (stream == nullptr || stream->capture == nullptr) {
    return Fail(cudaErrorInvalidValue, "cudaStreamEndCapture without a capture");
  }
  wick_emu::Graph* g = stream->capture;
  stream->capture = nullptr;
  if (stream->capture_invalidated) {
    delete g;
    *graph = nullptr;
    return Fail(cudaErrorStreamCaptureInvalidated, "the capture was invalidated");
  }
  *graph = g;
  return cudaSuccess;
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  return cudaEventCreateWithFlags(event, 0);
}
cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned) {
  *event = new wick_emu::Event();
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  wick_emu::Op op;
  op.kind = wick_emu::Op::kEventRecord;
  op.event = event;
  event->recorded = false;
  return wick_emu::Submit(stream, std::move(op));
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (cudaError_t err = wick_emu::RefuseDuringCapture("cudaEventSynchronize")) return err;
  std::lock_guard lock(wick_emu::stream_mutex);
  // Drains every stream until the event has happened.
  for (wick_emu::Stream* s : wick_emu::streams) {
    while (!event->recorded && !s->pending.empty()) {
      wick_emu::Op op = std::move(s->pending.front());
      s->pending.pop_front();
      const cudaError_t err = wick_emu::Execute(op);
      if (err != cudaSuccess) return err;
    }
    if (event->recorded) return cudaSuccess;
  }
  return cudaSuccess;
}
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) {
  // Every stream drains in order when waited on; nothing runs concurrently.
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (graph == nullptr) return Fail(cudaErrorInvalidValue, "cudaGraphInstantiate of no graph");
  *exec = new wick_emu::GraphExec{graph->ops};
  return cudaSuccess;
}
cudaError_t cudaGraphExecUpdate(cudaGraphExec_t exec, cudaGraph_t graph,
                                cudaGraphExecUpdateResultInfo* info) {
  if (info != nullptr) *info = cudaGraphExecUpdateResultInfo{};
  bool same = exec->ops.size() == graph->ops.size();
  for (size_t i = 0; same && i < graph->ops.size(); ++i) {
    const auto& a = exec->ops[i];
    const auto& b = graph->ops[i];
    // A kernel node keeps its function's context; a copy keeps its direction.
    same = a.kind == b.kind;
  }
  if (!same) {
    if (info != nullptr) info->result = cudaGraphExecUpdateErrorTopologyChanged;
    return cudaErrorGraphExecUpdateFailure;  // not sticky: the caller re-instantiates
  }
  exec->ops = graph->ops;
  if (info != nullptr) info->result = cudaGraphExecUpdateSuccess;
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  for (const wick_emu::Op& op : exec->ops) {
    if (cudaError_t err = wick_emu::Submit(stream, op)) return err;
  }
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
