#include "kernels/cuda/cuda_status.h"

#include <fmt/format.h>

namespace wick::kernels::cuda {

Error CudaError(cudaError_t err, std::string_view what) {
  // Out of device memory may pass (a smaller context, fewer GPU layers); the rest is the
  // device or driver refusing.
  const ErrorCode code =
      err == cudaErrorMemoryAllocation ? ErrorCode::kOutOfRange : ErrorCode::kUnavailable;
  return Error(code, fmt::format("{}: CUDA error {} ({})", what, cudaGetErrorName(err),
                                 cudaGetErrorString(err)));
}

}  // namespace wick::kernels::cuda
