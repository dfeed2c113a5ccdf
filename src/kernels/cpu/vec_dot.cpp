#include "kernels/cpu/vec_dot.h"

#include <utility>
#include <vector>

#include "kernels/cpu/quant_traits.h"

namespace wick::kernels {

const VecDotKernel* FindVecDot(DType weight_type) {
  // Built from the traits table: the scalar oracles until a type has a SIMD kernel.
  static const auto* const kKernels = [] {
    auto* table = new std::vector<std::pair<DType, VecDotKernel>>();
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                       DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ2_K, DType::kQ3_K,
                       DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
      const QuantTraits* w = FindQuantTraits(type);
      const QuantTraits* a = FindQuantTraits(w->dot_type);
      table->push_back({type, VecDotKernel{w->dot_type, a->quantize, w->dot}});
    }
    return table;
  }();
  for (const auto& [type, kernel] : *kKernels) {
    if (type == weight_type) return &kernel;
  }
  return nullptr;
}

}  // namespace wick::kernels
