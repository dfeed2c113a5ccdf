#include "model/cublas_loader.h"

#include <dlfcn.h>
#include <fmt/format.h>

namespace wick::model {

namespace {

template <typename Fn>
bool Bind(void* library, const char* name, Fn& fn) {
  fn = reinterpret_cast<Fn>(dlsym(library, name));
  return fn != nullptr;
}

}  // namespace

Result<std::unique_ptr<Cublas>> Cublas::Open(cudaStream_t stream, void* workspace,
                                             size_t workspace_bytes) {
  std::unique_ptr<Cublas> blas(new Cublas());
#ifdef WICK_CUDA_EMU
  // The CUDA emulator (tests/cuda_emu) links its own cuBLAS in.
  blas->create_ = &cublasCreate_v2;
  blas->destroy_ = &cublasDestroy_v2;
  blas->set_stream_ = &cublasSetStream_v2;
  blas->set_workspace_ = &cublasSetWorkspace_v2;
  blas->gemm_ex_ = &cublasGemmEx;
#else
  // The soname of this toolkit's major version first, then whatever libcublas.so is.
  for (const char* name : {"libcublas.so." WICK_CUBLAS_SOVERSION, "libcublas.so"}) {
    blas->library_ = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (blas->library_ != nullptr) break;
  }
  if (blas->library_ == nullptr) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("cannot open libcublas.so." WICK_CUBLAS_SOVERSION ": {}", dlerror()));
  }
  void* lib = blas->library_;
  if (!Bind(lib, "cublasCreate_v2", blas->create_) ||
      !Bind(lib, "cublasDestroy_v2", blas->destroy_) ||
      !Bind(lib, "cublasSetStream_v2", blas->set_stream_) ||
      !Bind(lib, "cublasSetWorkspace_v2", blas->set_workspace_) ||
      !Bind(lib, "cublasGemmEx", blas->gemm_ex_)) {
    return Error(ErrorCode::kUnavailable, "libcublas lacks the functions wick calls");
  }
#endif
  if (blas->create_(&blas->handle_) != CUBLAS_STATUS_SUCCESS) {
    blas->handle_ = nullptr;
    return Error(ErrorCode::kUnavailable, "cublasCreate failed");
  }
  if (blas->set_stream_(blas->handle_, stream) != CUBLAS_STATUS_SUCCESS ||
      blas->set_workspace_(blas->handle_, workspace, workspace_bytes) != CUBLAS_STATUS_SUCCESS) {
    return Error(ErrorCode::kUnavailable, "cuBLAS refused the stream or the workspace");
  }
  return blas;
}

Cublas::~Cublas() {
  if (handle_ != nullptr) destroy_(handle_);
  // The library stays loaded: cuBLAS registers exit handlers that must find its code.
}

Status Cublas::GemmEx(cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                      const void* a, cudaDataType a_type, int lda, const void* b,
                      cudaDataType b_type, int ldb, float* c, int ldc) {
  const float one = 1.0f, zero = 0.0f;
  const cublasStatus_t st =
      gemm_ex_(handle_, transa, transb, m, n, k, &one, a, a_type, lda, b, b_type, ldb, &zero, c,
               CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  if (st != CUBLAS_STATUS_SUCCESS) {
    return Error(ErrorCode::kUnavailable,
                 fmt::format("cublasGemmEx ({}x{}x{}) failed with status {}", m, n, k,
                             static_cast<int>(st)));
  }
  return OkStatus();
}

}  // namespace wick::model
