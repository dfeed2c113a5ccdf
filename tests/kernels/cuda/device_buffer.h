// Device memory for the CUDA kernel tests, and the skip that every GPU test starts with.
#pragma once

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/cuda/device_info.h"

// Skips the calling test where no usable GPU exists, saying why.
#define WICK_REQUIRE_CUDA_DEVICE()                                  \
  do {                                                              \
    std::string wick_why_;                                          \
    if (!::wick::kernels::cuda::HaveUsableCudaDevice(&wick_why_)) { \
      GTEST_SKIP() << "no usable CUDA GPU: " << wick_why_;          \
    }                                                               \
  } while (0)

// Fails the test (and returns from it) when a CUDA call fails.
#define ASSERT_CUDA_OK(expr)                                                                  \
  do {                                                                                        \
    const cudaError_t wick_err_ = (expr);                                                     \
    ASSERT_EQ(wick_err_, cudaSuccess) << #expr << ": " << cudaGetErrorName(wick_err_) << " (" \
                                      << cudaGetErrorString(wick_err_) << ")";                \
  } while (0)

namespace wick::kernels::cuda::test {

// `bytes` of device memory, freed on destruction. A failed allocation leaves it null and
// records a test failure.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    const cudaError_t err = cudaMalloc(&ptr_, bytes == 0 ? 1 : bytes);
    if (err != cudaSuccess) {
      ADD_FAILURE() << "cudaMalloc(" << bytes << "): " << cudaGetErrorString(err);
      ptr_ = nullptr;
    }
  }
  // A device copy of `host`.
  template <class T>
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size() * sizeof(T)) {
    Upload(host.data(), host.size() * sizeof(T));
  }
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  template <class T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

  void Upload(const void* host, size_t bytes) {
    if (ptr_ == nullptr) return;
    const cudaError_t err = cudaMemcpy(ptr_, host, bytes, cudaMemcpyHostToDevice);
    if (err != cudaSuccess) ADD_FAILURE() << "upload: " << cudaGetErrorString(err);
  }

  // The first `count` elements of type T, after waiting for the device.
  template <class T>
  std::vector<T> Download(size_t count) const {
    std::vector<T> host(count);
    if (ptr_ == nullptr) return host;
    cudaError_t err = cudaDeviceSynchronize();
    if (err == cudaSuccess)
      err = cudaMemcpy(host.data(), ptr_, count * sizeof(T), cudaMemcpyDeviceToHost);
    if (err != cudaSuccess) ADD_FAILURE() << "download: " << cudaGetErrorString(err);
    return host;
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace wick::kernels::cuda::test
