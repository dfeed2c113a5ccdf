#include "kernels/cuda/device_info.h"

#include <cuda_runtime_api.h>
#include <fmt/format.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>

namespace wick::kernels::cuda {

Result<std::vector<CudaDeviceInfo>> ListCudaDevices() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaErrorNoDevice || (err == cudaSuccess && count == 0)) {
    return Error(ErrorCode::kUnavailable, "no CUDA device found");
  }
  if (err == cudaErrorInsufficientDriver) {
    return Error(ErrorCode::kUnavailable,
                 "no NVIDIA driver, or one older than this build's CUDA runtime");
  }
  if (err != cudaSuccess) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("the CUDA runtime cannot list devices: {} ({})", cudaGetErrorName(err),
                             cudaGetErrorString(err)));
  }
  std::vector<CudaDeviceInfo> devices;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    CudaDeviceInfo d;
    d.index = i;
    d.name = prop.name;
    d.compute_capability = prop.major * 10 + prop.minor;
    d.multiprocessors = prop.multiProcessorCount;
    d.total_bytes = prop.totalGlobalMem;
    d.usable = d.compute_capability >= kMinComputeCapability;
    devices.push_back(std::move(d));
  }
  if (devices.empty()) {
    (void)cudaGetLastError();
    return Error(ErrorCode::kUnavailable, "the CUDA runtime reports devices but none answers");
  }
  return devices;
}

bool HaveUsableCudaDevice(std::string* why) {
  auto devices = ListCudaDevices();
  if (!devices.ok()) {
    if (why) *why = devices.error().message();
    return false;
  }
  for (const CudaDeviceInfo& d : *devices) {
    if (d.usable) return true;
  }
  if (why) {
    *why = fmt::format("no CUDA device of compute capability {}.{} or newer (found {}, sm_{})",
                       kMinComputeCapability / 10, kMinComputeCapability % 10,
                       devices->front().name, devices->front().compute_capability);
  }
  return false;
}

CurrentDeviceLimits LimitsOfCurrentDevice() {
  // Per device, packed into one word so that a reader sees all of it or none (0: not yet):
  // compute capability in bits 0-7, multiprocessors 8-23, shared_optin 24-55.
  static std::array<std::atomic<uint64_t>, 64> known{};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess || device < 0 || device >= 64) {
    (void)cudaGetLastError();
    return {};
  }
  uint64_t packed = known[device].load(std::memory_order_relaxed);
  if (packed == 0) {
    int major = 0, minor = 0, sms = 0, optin = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) !=
            cudaSuccess) {
      (void)cudaGetLastError();
      return {};
    }
    packed = static_cast<uint64_t>((major * 10 + minor) & 0xff) |
             static_cast<uint64_t>(sms & 0xffff) << 8 |
             static_cast<uint64_t>(static_cast<uint32_t>(optin)) << 24;
    known[device].store(packed, std::memory_order_relaxed);
  }
  return {static_cast<int>(packed & 0xff), static_cast<int>((packed >> 8) & 0xffff),
          static_cast<int>(packed >> 24)};
}

bool OverlappedLaunchesEnabled() {
  static const bool requested = [] {
    const char* env = std::getenv("WICK_CUDA_PDL");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }();
  return requested && LimitsOfCurrentDevice().compute_capability >= 90;
}

}  // namespace wick::kernels::cuda
