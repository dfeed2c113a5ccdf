// The dequantisation of GGUF-typed weights to f16 on the GPU, which feeds the tensor-core GEMM
// of prefill (see quant_matmul.h). Each element is the CPU's dequantisation rounded to f16.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cuda/dequant.cuh"
#include "kernels/cuda/quant_matmul.h"
#include "kernels/cuda/weight_types.cuh"

namespace wick::kernels::cuda {

namespace {

constexpr int kDequantThreads = 256;
constexpr int64_t kMaxDequantBlocks = 1 << 16;  // grid-stride beyond

unsigned DequantGrid(int64_t work) {
  return static_cast<unsigned>(
      std::min<int64_t>((work + kDequantThreads - 1) / kDequantThreads, kMaxDequantBlocks));
}

// One thread per 32-element slice of rows [row0, row0 + rows), which are contiguous in both w
// and out. vec: out is 16-byte aligned, so each piece is one 16-byte store.
template <DType T>
__global__ void __launch_bounds__(kDequantThreads)
    DequantQuantKernel(const uint8_t* __restrict__ w, int64_t first_block, int64_t slices,
                       uint16_t* __restrict__ out, bool vec) {
  using F = dq::Format<T>;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < slices;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t block = t / F::kSlots;  // within the rows
    const int slot = static_cast<int>(t % F::kSlots);
    const typename F::Slice slice =
        F::template Load<dq::ExactReader>(w + (first_block + block) * F::kBlockBytes, slot);
    uint16_t* ob = out + block * F::kBlockElems;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const dq::Piece p = F::Decode(slice, k);
      float q[8];
      dq::Quants<F>(p, q);
      uint16_t h[8];
#pragma unroll
      for (int e = 0; e < 8; ++e) h[e] = dq::F32ToF16(dq::Weight<F>(p, q[e]));
      uint16_t* dst = ob + F::PieceCol(slot, k);
      if (vec) {
        uint4 v;
        v.x = h[0] | (static_cast<uint32_t>(h[1]) << 16);
        v.y = h[2] | (static_cast<uint32_t>(h[3]) << 16);
        v.z = h[4] | (static_cast<uint32_t>(h[5]) << 16);
        v.w = h[6] | (static_cast<uint32_t>(h[7]) << 16);
        *reinterpret_cast<uint4*>(dst) = v;
      } else {
#pragma unroll
        for (int e = 0; e < 8; ++e) dst[e] = h[e];
      }
    }
  }
}

// The CPU's F32ToF16(dequantize(element)), one element.
template <DType T>
__device__ __forceinline__ uint16_t FloatElementToF16(const uint8_t* w, int64_t i) {
  if constexpr (T == DType::kF32) {
    return dq::F32ToF16(__ldg(reinterpret_cast<const float*>(w) + i));
  } else {
    const auto h = static_cast<uint16_t>(__ldg(reinterpret_cast<const unsigned short*>(w) + i));
    if constexpr (T == DType::kF16) {
      return dq::F16RoundTrip(h);
    } else {
      return dq::F32ToF16(dq::Bf16ToF32(h));
    }
  }
}

// Elements [0, count) of w (the rows, contiguous) to out; with vec (both 16-byte aligned)
// 8 per thread, the tail of fewer than 8 one per thread.
template <DType T>
__global__ void __launch_bounds__(kDequantThreads)
    DequantFloatKernel(const uint8_t* __restrict__ w, int64_t count, uint16_t* __restrict__ out,
                       bool vec) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t vec_count = vec ? count / 8 : 0;
  for (int64_t t = first; t < vec_count; t += stride) {
    uint16_t h[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) h[e] = FloatElementToF16<T>(w, 8 * t + e);
    uint4 v;
    v.x = h[0] | (static_cast<uint32_t>(h[1]) << 16);
    v.y = h[2] | (static_cast<uint32_t>(h[3]) << 16);
    v.z = h[4] | (static_cast<uint32_t>(h[5]) << 16);
    v.w = h[6] | (static_cast<uint32_t>(h[7]) << 16);
    reinterpret_cast<uint4*>(out)[t] = v;
  }
  for (int64_t i = 8 * vec_count + first; i < count; i += stride) {
    out[i] = FloatElementToF16<T>(w, i);
  }
}

template <DType T>
cudaError_t DequantTyped(const uint8_t* w, int64_t row0, int64_t rows, int64_t k, uint16_t* out,
                         cudaStream_t stream) {
  if constexpr (IsFloatType(T)) {
    const uint8_t* first = w + row0 * k * kElemBytes<T>;
    const int64_t count = rows * k;
    const bool vec = Aligned(first, 16) && Aligned(out, 16);
    DequantFloatKernel<T><<<DequantGrid(vec ? count / 8 + 1 : count), kDequantThreads, 0, stream>>>(
        first, count, out, vec);
  } else {
    using F = dq::Format<T>;
    const int64_t blocks_per_row = k / F::kBlockElems;
    const int64_t slices = rows * blocks_per_row * F::kSlots;
    DequantQuantKernel<T><<<DequantGrid(slices), kDequantThreads, 0, stream>>>(
        w, row0 * blocks_per_row, slices, out, Aligned(out, 16));
  }
  return cudaGetLastError();
}

}  // namespace

cudaError_t DequantizeRowsF16(const void* w, DType type, int64_t row0, int64_t rows, int64_t k,
                              uint16_t* out, cudaStream_t stream) {
  if (row0 < 0 || rows < 0 || k < 0 || !SupportsWeightType(type)) return cudaErrorInvalidValue;
  if (rows == 0 || k == 0) return cudaSuccess;
  const Geometry g = GeometryOf(type);
  if (k % g.block_elems != 0 || w == nullptr || out == nullptr ||
      !Aligned(w, WeightAlignment(type)) || !Aligned(out, 2)) {
    return cudaErrorInvalidValue;
  }
  cudaError_t err = cudaSuccess;
  VisitWeightType(type, [&]<DType T>() {
    err = DequantTyped<T>(static_cast<const uint8_t*>(w), row0, rows, k, out, stream);
  });
  return err;
}

}  // namespace wick::kernels::cuda
