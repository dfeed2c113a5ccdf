// The CUDA devices this process can use, and why there are none when there are none.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"

namespace wick::kernels::cuda {

// Oldest compute capability the kernels are built for (Ampere, sm_80).
inline constexpr int kMinComputeCapability = 80;

struct CudaDeviceInfo {
  int index = 0;
  std::string name;        // "NVIDIA H100 80GB HBM3"
  int compute_capability;  // major * 10 + minor: 90 for sm_90
  int multiprocessors = 0;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;  // when listed
  bool usable = false;      // compute capability >= kMinComputeCapability
};

// Every device the driver reports, usable or not. An error (kUnavailable) says why none can be
// listed: no NVIDIA driver, a driver older than this build's CUDA runtime, no device.
Result<std::vector<CudaDeviceInfo>> ListCudaDevices();

// For tests: true when at least one usable device exists; otherwise false with the reason in
// `why`, for GTEST_SKIP.
bool HaveUsableCudaDevice(std::string* why);

// What kernel launchers ask of the current device (cudaGetDevice), looked up once per device;
// all zeros where the runtime cannot say (the caller then takes its most general path).
struct CurrentDeviceLimits {
  int compute_capability = 0;  // major * 10 + minor
  int multiprocessors = 0;
  int shared_optin = 0;  // dynamic shared memory bytes a CTA may opt into
};
CurrentDeviceLimits LimitsOfCurrentDevice();

// Whether kernels/cuda/launch.cuh overlaps kernel launches on the current device: asked for by
// WICK_CUDA_PDL=1 (off by default until measured) and possible from compute capability 9.0.
// Decided once per device.
bool OverlappedLaunchesEnabled();

}  // namespace wick::kernels::cuda
