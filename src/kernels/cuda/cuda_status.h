// CUDA runtime errors as wick Statuses, naming what failed.
#pragma once

#include <cuda_runtime_api.h>

#include <string_view>

#include "core/error.h"

namespace wick::kernels::cuda {

// The error "WHAT: CUDA error NAME (message)" for a failed call (`err` not cudaSuccess).
Error CudaError(cudaError_t err, std::string_view what);

// OkStatus for cudaSuccess, otherwise CudaError.
inline Status FromCuda(cudaError_t err, std::string_view what) {
  if (err == cudaSuccess) return OkStatus();
  return CudaError(err, what);
}

}  // namespace wick::kernels::cuda

// Returns an error from the enclosing function (which returns Status or a Result) when `expr`, a
// cudaError_t, is not cudaSuccess.
#define WICK_CUDA_RETURN_IF_ERROR(expr, what)                        \
  do {                                                               \
    const cudaError_t wick_cuda_err_ = (expr);                       \
    if (wick_cuda_err_ != cudaSuccess) {                             \
      return ::wick::kernels::cuda::CudaError(wick_cuda_err_, what); \
    }                                                                \
  } while (0)
