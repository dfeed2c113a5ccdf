// The GPU probe of a CUDA build: what the runtime reports, with free memory.
#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include "kernels/cuda/device_info.h"
#include "model/device.h"

namespace wick::model {

GpuProbe ProbeGpus() {
  GpuProbe probe;
  auto devices = kernels::cuda::ListCudaDevices();
  if (!devices.ok()) {
    probe.why_none = devices.error().message();
    return probe;
  }
  for (const kernels::cuda::CudaDeviceInfo& d : *devices) {
    probe.devices.push_back({.index = d.index,
                             .name = d.name,
                             .compute_capability = d.compute_capability,
                             .total_bytes = d.total_bytes,
                             .free_bytes = d.total_bytes,
                             .usable = d.usable});
  }
  return probe;
}

Result<uint64_t> GpuFreeBytes(int index) {
  size_t free_b = 0, total_b = 0;
  cudaError_t err = cudaSetDevice(index);
  if (err == cudaSuccess) err = cudaMemGetInfo(&free_b, &total_b);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    return Error(ErrorCode::kUnavailable,
                 fmt::format("CUDA device {}: cannot read its free memory: {}", index,
                             cudaGetErrorString(err)));
  }
  return static_cast<uint64_t>(free_b);
}

}  // namespace wick::model
