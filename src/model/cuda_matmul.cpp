// The CUDA backend's matrix products: the GEMV kernels for decode rows (several products, the
// SwiGLU and the residual add in one launch where they can), cuBLAS on f16 tensor cores for
// prompt rows.
#include <fmt/format.h>

#include <algorithm>

#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/quant_matmul.h"
#include "model/cuda_backend.h"

namespace wick::model {

namespace {

// Weight rows dequantised to f16 at a time for a cuBLAS GEMM: bounds that scratch buffer.
constexpr int64_t kGemmScratchElements = int64_t{32} << 20;

}  // namespace

bool CudaBackend::UsesGemv(int64_t m, kernels::MatmulPath path) const {
  // A forced path is kept whatever m is, so a row's result does not depend on how many rows
  // share the call: decode rows take the GEMV (each output computed alone), prompt rows the
  // tensor cores. Unforced calls of a few rows take the GEMV, which reads the weights once.
  return blas_ == nullptr || path == kernels::MatmulPath::kDot ||
         (path == kernels::MatmulPath::kAuto && m <= kernels::cuda::kGemvGroupRows);
}

Status CudaBackend::Gemm(const TensorRef& w, const float* x, int64_t m, float* y) {
  const int64_t n = w.rows, k = w.row_len;
  if (n > INT32_MAX || k > INT32_MAX || m > INT32_MAX) {
    return Error(ErrorCode::kOutOfRange, fmt::format("matmul of {}x{} by {} rows", n, k, m));
  }
  if (w.type == DType::kF32) {
    return blas_->GemmEx(CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                         static_cast<int>(k), w.data, CUDA_R_32F, static_cast<int>(k), x,
                         CUDA_R_32F, static_cast<int>(k), y, static_cast<int>(n));
  }
  // f16 activations and f16 weights (dequantised a slab of rows at a time) on tensor cores,
  // f32 accumulation, as cuBLAS's GemmEx does with a 32F compute type.
  const size_t x_bytes = static_cast<size_t>(m * k) * sizeof(uint16_t);
  WICK_RETURN_IF_ERROR(Reserve(gemm_activations_, x_bytes, "GEMM activations"));
  auto* x16 = static_cast<uint16_t*>(gemm_activations_.data());
  WICK_CUDA_RETURN_IF_ERROR(kernels::cuda::ConvertF32ToF16(x, x16, m * k, stream_),
                            "f16 activations");
  const int64_t slab = w.type == DType::kF16
                           ? n
                           : std::min<int64_t>(n, std::max<int64_t>(64, kGemmScratchElements / k));
  if (w.type != DType::kF16) {
    WICK_RETURN_IF_ERROR(
        Reserve(gemm_weights_, static_cast<size_t>(slab * k) * 2, "GEMM weight slab"));
  }
  WICK_ASSIGN_OR_RETURN(uint64_t row_bytes, BytesFor(w.type, static_cast<uint64_t>(k)));
  for (int64_t r0 = 0; r0 < n; r0 += slab) {
    const int64_t rows = std::min(slab, n - r0);
    const void* a = static_cast<const uint8_t*>(w.data) + static_cast<uint64_t>(r0) * row_bytes;
    if (w.type != DType::kF16) {
      auto* w16 = static_cast<uint16_t*>(gemm_weights_.data());
      WICK_CUDA_RETURN_IF_ERROR(
          kernels::cuda::DequantizeRowsF16(w.data, w.type, r0, rows, k, w16, stream_),
          "dequantising weights");
      a = w16;
    }
    WICK_RETURN_IF_ERROR(blas_->GemmEx(CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(rows),
                                       static_cast<int>(m), static_cast<int>(k), a, CUDA_R_16F,
                                       static_cast<int>(k), x16, CUDA_R_16F, static_cast<int>(k),
                                       y + r0, static_cast<int>(n)));
  }
  return OkStatus();
}

Status CudaBackend::Matmul(const TensorRef& w, const float* x, int64_t m, float* y,
                           kernels::MatmulPath path) {
  UseDevice();
  WICK_RETURN_IF_ERROR(TakeStatus());
  if (m <= 0 || w.rows <= 0) return OkStatus();
  if (!Launches({1, Key(w.data), Key(x), Key(y), static_cast<uint64_t>(m),
                 static_cast<uint64_t>(path)})) {
    return OkStatus();
  }
  if (UsesGemv(m, path)) return GemvRows(w, x, m, y);
  return Gemm(w, x, m, y);
}

namespace {

// Whether weights can share one GemvMany launch: same type and row length.
bool SameGemvShape(const TensorRef& a, const TensorRef& b) {
  return a.type == b.type && a.row_len == b.row_len;
}

kernels::cuda::GemvPart PartOf(const TensorRef& w, float* y) {
  return {.w = w.data, .n = w.rows, .y = y};
}

// A GemvMany call of m rows of x on weights like w, `output` its results, w's part first
// (LaunchGemv picks its activations).
kernels::cuda::GemvManyArgs GemvCall(const TensorRef& w, float* y, const float* x, int64_t m,
                                     kernels::cuda::GemvOutput output) {
  kernels::cuda::GemvManyArgs args;
  args.parts[0] = PartOf(w, y);
  args.type = w.type;
  args.k = w.row_len;
  args.x = x;
  args.m = m;
  args.output = output;
  return args;
}

}  // namespace

Status CudaBackend::LaunchGemv(kernels::cuda::GemvManyArgs args, const char* what) {
  args.activations = GemvActivationsFor(args.type);
  const size_t workspace =
      kernels::cuda::GemvWorkspaceBytes(args.type, args.k, args.m, args.activations);
  if (workspace > 0) {
    WICK_RETURN_IF_ERROR(Reserve(gemv_workspace_, workspace, "GEMV workspace"));
    args.workspace = gemv_workspace_.data();
    args.workspace_bytes = gemv_workspace_.bytes();
  }
  WICK_CUDA_RETURN_IF_ERROR(kernels::cuda::GemvMany(args, stream_), what);
  return OkStatus();
}

Status CudaBackend::GemvRows(const TensorRef& w, const float* x, int64_t m, float* y) {
  return LaunchGemv(GemvCall(w, y, x, m, kernels::cuda::GemvOutput::kStore), "gemv");
}

void CudaBackend::set_fused_products(bool on) {
  fuse_products_ = on;
  RecordStepsAgain();
}

void CudaBackend::set_gemv_activations(std::optional<kernels::cuda::GemvActivations> a) {
  gemv_activations_ = a;
  RecordStepsAgain();
}

void CudaBackend::RecordStepsAgain() {
  for (auto& [shape, rec] : graphs_) rec.replayable = false;  // their kernels were the others
}

Status CudaBackend::MatmulMany(std::span<const MatmulTarget> targets, const float* x, int64_t m,
                               kernels::MatmulPath path) {
  if (!fuse_products_ || !UsesGemv(m, path)) return Backend::MatmulMany(targets, x, m, path);
  UseDevice();
  WICK_RETURN_IF_ERROR(TakeStatus());
  if (m <= 0) return OkStatus();
  // Runs of targets whose weights share a type and row length, kMaxGemvParts at most, each
  // one launch (a Q4_K_M layer's q and k together, its Q6_K v alone).
  for (size_t i = 0; i < targets.size();) {
    const TensorRef& first = *targets[i].w;
    kernels::cuda::GemvManyArgs args =
        GemvCall(first, targets[i].y, x, m, kernels::cuda::GemvOutput::kStore);
    size_t j = i + 1;
    for (; j < targets.size() && args.n_parts < kernels::cuda::kMaxGemvParts &&
           SameGemvShape(*targets[j].w, first);
         ++j) {
      args.parts[args.n_parts++] = PartOf(*targets[j].w, targets[j].y);
    }
    const auto w_key = [&](int p) { return p < args.n_parts ? Key(args.parts[p].w) : 0; };
    const auto y_key = [&](int p) { return p < args.n_parts ? Key(args.parts[p].y) : 0; };
    if (Launches({12, Key(x), static_cast<uint64_t>(m), w_key(0), y_key(0), w_key(1), y_key(1),
                  w_key(2), y_key(2)})) {
      WICK_RETURN_IF_ERROR(LaunchGemv(args, "gemv"));
    }
    i = j;
  }
  return OkStatus();
}

Status CudaBackend::MatmulSwiGlu(const TensorRef& gate, const TensorRef& up, const float* x,
                                 int64_t m, float* out, float* up_scratch,
                                 kernels::MatmulPath path) {
  if (!fuse_products_ || !UsesGemv(m, path) || !SameGemvShape(gate, up) || gate.rows != up.rows) {
    return Backend::MatmulSwiGlu(gate, up, x, m, out, up_scratch, path);
  }
  if (!kernels::cuda::GemvSwiGluKeepsLayout(gate.type, m)) {
    // Not at the cost of the products' measured layout: one launch for both products and the
    // SwiGLU kernel after it.
    const MatmulTarget both[] = {{&gate, out}, {&up, up_scratch}};
    WICK_RETURN_IF_ERROR(MatmulMany(both, x, m, path));
    SwiGlu(out, up_scratch, out, m, gate.rows);
    return OkStatus();
  }
  UseDevice();
  WICK_RETURN_IF_ERROR(TakeStatus());
  if (m <= 0 ||
      !Launches({13, Key(gate.data), Key(up.data), Key(x), Key(out), static_cast<uint64_t>(m)})) {
    return OkStatus();
  }
  kernels::cuda::GemvManyArgs args = GemvCall(gate, out, x, m, kernels::cuda::GemvOutput::kSwiGlu);
  args.parts[1] = PartOf(up, nullptr);
  args.n_parts = 2;
  return LaunchGemv(args, "gemv with SwiGLU");
}

Status CudaBackend::MatmulAdd(const TensorRef& w, const float* x, int64_t m, float* residual,
                              float* scratch, kernels::MatmulPath path) {
  if (!fuse_products_ || !UsesGemv(m, path)) {
    return Backend::MatmulAdd(w, x, m, residual, scratch, path);
  }
  UseDevice();
  WICK_RETURN_IF_ERROR(TakeStatus());
  if (m <= 0 || !Launches({14, Key(w.data), Key(x), Key(residual), static_cast<uint64_t>(m)})) {
    return OkStatus();
  }
  return LaunchGemv(GemvCall(w, residual, x, m, kernels::cuda::GemvOutput::kAccumulate),
                    "gemv into the residual");
}

}  // namespace wick::model
