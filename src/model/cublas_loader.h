// cuBLAS, opened at run time. A CUDA build links only the static CUDA runtime, so the binary
// starts on machines without the CUDA libraries; prefill GEMMs use cuBLAS when it loads and
// fall back to the GEMV kernels (slower, same results within rounding) when it does not.
#pragma once

#include <cublas_v2.h>

#include <memory>
#include <string>

#include "core/error.h"

namespace wick::model {

class Cublas {
 public:
  // Opens libcublas and creates a handle on the current device bound to `stream`, with
  // `workspace` (device memory, kept by the caller) so that nothing allocates later.
  static Result<std::unique_ptr<Cublas>> Open(cudaStream_t stream, void* workspace,
                                              size_t workspace_bytes);
  ~Cublas();
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;

  // C = op(A) * op(B) in cuBLAS's column-major terms, f32 accumulation (cublasGemmEx).
  Status GemmEx(cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                const void* a, cudaDataType a_type, int lda, const void* b, cudaDataType b_type,
                int ldb, float* c, int ldc);

 private:
  Cublas() = default;

  void* library_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  decltype(&cublasCreate_v2) create_ = nullptr;
  decltype(&cublasDestroy_v2) destroy_ = nullptr;
  decltype(&cublasSetStream_v2) set_stream_ = nullptr;
  decltype(&cublasSetWorkspace_v2) set_workspace_ = nullptr;
  // cublasGemmEx by hand: C++ sees two overloads of it in cublas_api.h.
  using GemmExFn = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                      int, int, const void*, const void*, cudaDataType, int,
                                      const void*, cudaDataType, int, const void*, void*,
                                      cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);
  GemmExFn gemm_ex_ = nullptr;
};

}  // namespace wick::model
