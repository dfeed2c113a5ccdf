// What the CUDA emulator's two halves share: emu_device.cpp runs kernels, emu_runtime.cpp is the
// runtime API around them.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "cuda_runtime.h"

namespace wick_emu {

constexpr size_t kDefaultDynamicShared = 48 * 1024;
constexpr size_t kMaxDynamicShared = 227 * 1024;  // sm_90's opt-in limit

// Makes `err` the calling thread's last error, says why on stderr, and returns it.
cudaError_t Fail(cudaError_t err, const std::string& why);

// The checks the GPU makes at launch: block and grid limits, dynamic shared memory.
cudaError_t CheckConfig(const LaunchConfig& config);

// Runs every block of a launch, one after another; a device fault stops it and is returned.
cudaError_t RunKernel(const LaunchConfig& config, const std::function<void()>& body);

}  // namespace wick_emu
