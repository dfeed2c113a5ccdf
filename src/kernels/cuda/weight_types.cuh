// What the GEMV and the f16 dequantisation (quant_matmul.h) share about weight types on the
// host and the device: which types have kernels, their block geometry and alignment.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/dtype.h"
#include "kernels/cuda/dequant.cuh"

namespace wick::kernels::cuda {

constexpr bool IsFloatType(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

inline bool Aligned(const void* p, uintptr_t to) {
  return reinterpret_cast<uintptr_t>(p) % to == 0;
}

template <DType T>
constexpr int kElemBytes = T == DType::kF32 ? 4 : 2;

// Calls fn.template operator()<T>() for the supported type t; false for the others.
template <class Fn>
inline bool VisitWeightType(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32:
      fn.template operator()<DType::kF32>();
      return true;
    case DType::kF16:
      fn.template operator()<DType::kF16>();
      return true;
    case DType::kBF16:
      fn.template operator()<DType::kBF16>();
      return true;
    case DType::kQ4_0:
      fn.template operator()<DType::kQ4_0>();
      return true;
    case DType::kQ4_1:
      fn.template operator()<DType::kQ4_1>();
      return true;
    case DType::kQ5_0:
      fn.template operator()<DType::kQ5_0>();
      return true;
    case DType::kQ5_1:
      fn.template operator()<DType::kQ5_1>();
      return true;
    case DType::kQ8_0:
      fn.template operator()<DType::kQ8_0>();
      return true;
    case DType::kQ2_K:
      fn.template operator()<DType::kQ2_K>();
      return true;
    case DType::kQ3_K:
      fn.template operator()<DType::kQ3_K>();
      return true;
    case DType::kQ4_K:
      fn.template operator()<DType::kQ4_K>();
      return true;
    case DType::kQ5_K:
      fn.template operator()<DType::kQ5_K>();
      return true;
    case DType::kQ6_K:
      fn.template operator()<DType::kQ6_K>();
      return true;
    default:
      return false;
  }
}

struct Geometry {
  int64_t block_elems;
  int64_t block_bytes;
};

// Block size and bytes of a supported type (elements for the float types).
inline Geometry GeometryOf(DType t) {
  Geometry g{1, 4};
  VisitWeightType(t, [&]<DType T>() {
    if constexpr (IsFloatType(T)) {
      g = {1, kElemBytes<T>};
    } else {
      g = {dq::Format<T>::kBlockElems, dq::Format<T>::kBlockBytes};
    }
  });
  return g;
}

// The weights' alignment the kernels need: their 16- and 32-bit fields.
inline uintptr_t WeightAlignment(DType t) {
  return t == DType::kF32 ? 4 : 2;
}

}  // namespace wick::kernels::cuda
