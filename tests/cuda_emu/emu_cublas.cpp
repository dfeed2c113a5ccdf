// The CUDA emulator's cuBLAS: GemmEx in cuBLAS's column-major terms, queued on the handle's
// stream like any kernel, so that it runs in order with them (and inside recorded steps).
#include <cstdlib>
#include <cstring>
#include <memory>

#include "cublas_v2.h"
#include "cuda_fp16.h"

struct cublasContext {
  cudaStream_t stream = nullptr;
  void* workspace = nullptr;
};

namespace {

float Load(const void* p, cudaDataType type, size_t i) {
  switch (type) {
    case CUDA_R_32F:
      return static_cast<const float*>(p)[i];
    case CUDA_R_16F:
      return __half2float(static_cast<const __half*>(p)[i]);
    case CUDA_R_16BF: {
      const uint32_t bits = uint32_t{static_cast<const uint16_t*>(p)[i]} << 16;
      return __uint_as_float(bits);
    }
  }
  return 0.0f;
}

bool Known(cudaDataType t) {
  return t == CUDA_R_32F || t == CUDA_R_16F || t == CUDA_R_16BF;
}

}  // namespace

cublasStatus_t cublasCreate_v2(cublasHandle_t* handle) {
  if (std::getenv("WICK_EMU_NO_CUBLAS") != nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  *handle = new cublasContext();
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy_v2(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream_v2(cublasHandle_t handle, cudaStream_t stream) {
  handle->stream = stream;
  handle->workspace = nullptr;  // as cuBLAS does: a new stream resets the workspace
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void* workspace, size_t) {
  handle->workspace = workspace;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa,
                            cublasOperation_t transb, int m, int n, int k, const void* alpha,
                            const void* a, cudaDataType a_type, int lda, const void* b,
                            cudaDataType b_type, int ldb, const void* beta, void* c,
                            cudaDataType c_type, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!Known(a_type) || !Known(b_type) || c_type != CUDA_R_32F || compute != CUBLAS_COMPUTE_32F) {
    return CUBLAS_STATUS_NOT_SUPPORTED;
  }
  if (m < 0 || n < 0 || k < 0 || lda < (transa == CUBLAS_OP_N ? m : k) ||
      ldb < (transb == CUBLAS_OP_N ? k : n) || ldc < m) {
    return CUBLAS_STATUS_INVALID_VALUE;
  }
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  auto* out = static_cast<float*>(c);
  // C[i + j*ldc] = alpha * sum_l op(A)[i][l] * op(B)[l][j] + beta * C.
  auto body = [=] {
    for (int j = 0; j < n; ++j) {
      for (int i = 0; i < m; ++i) {
        float acc = 0.0f;
        for (int l = 0; l < k; ++l) {
          const size_t ai =
              transa == CUBLAS_OP_N ? size_t(i) + size_t(l) * lda : size_t(l) + size_t(i) * lda;
          const size_t bi =
              transb == CUBLAS_OP_N ? size_t(l) + size_t(j) * ldb : size_t(j) + size_t(l) * ldb;
          acc += Load(a, a_type, ai) * Load(b, b_type, bi);
        }
        float& dst = out[size_t(i) + size_t(j) * ldc];
        dst = be == 0.0f ? al * acc : al * acc + be * dst;
      }
    }
  };
  // One thread of one block: the product runs where a kernel would, in stream order.
  wick_emu::Enqueue(
      wick_emu::LaunchConfig{"cublasGemmEx", reinterpret_cast<const void*>(&cublasGemmEx), dim3(1),
                             dim3(1), 0, handle->stream},
      body);
  return CUBLAS_STATUS_SUCCESS;
}
