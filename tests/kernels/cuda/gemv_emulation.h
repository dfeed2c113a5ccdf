// The CUDA Gemv's arithmetic replayed on the host, operation for operation and in the device's
// order (defined in dequant_host_test.cu, with the device's own decoders from
// kernels/cuda/dequant.cuh). The host tests hold it to a double-precision product; the GPU tests
// require the device's y to equal it bit for bit.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "kernels/cuda/quant_matmul.h"

namespace wick::kernels::cuda::emulation {

// y[i][r] (y: [m][n], rows n apart) for w: [n][k] in `type`, x: [m][k]. float_vec: which path
// the float kernels take on the device (w and x 16-byte aligned there and k % 8 == 0); the
// quantised types have one path per GemvActivations (the float types ignore it), chosen as
// GemvMany chooses: kInt8TensorCores is kInt8 for the types TensorCoreGemvTakes does not take.
void EmulateGemv(const void* w, DType type, int64_t n, int64_t k, const float* x, int64_t m,
                 bool float_vec, float* y, GemvActivations activations = GemvActivations::kF32);

}  // namespace wick::kernels::cuda::emulation
