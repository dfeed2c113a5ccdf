#include "kernels/cpu/vec_dot.h"

#include <array>

#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/quant_ref.h"

namespace wick::kernels {

namespace {

struct Entry {
  DType weight_type;
  VecDotKernel kernel;
};

// Weight type -> (activation format, activation quantizer, dot). SIMD kernels dispatch to
// the best target at run time; the scalar references stand in where none exists yet.
constexpr std::array kKernels = {
    Entry{DType::kF32, {DType::kF32, ref::QuantizeF32, ref::DotF32}},
    Entry{DType::kF16, {DType::kF16, ref::QuantizeF16, ref::DotF16}},
    Entry{DType::kBF16, {DType::kBF16, ref::QuantizeBF16, ref::DotBF16}},
    Entry{DType::kQ4_0, {DType::kQ8_0, ref::QuantizeQ8_0, ref::DotQ4_0Q8_0}},
    Entry{DType::kQ4_1, {DType::kQ8_1, ref::QuantizeQ8_1, ref::DotQ4_1Q8_1}},
    Entry{DType::kQ5_0, {DType::kQ8_0, ref::QuantizeQ8_0, ref::DotQ5_0Q8_0}},
    Entry{DType::kQ5_1, {DType::kQ8_1, ref::QuantizeQ8_1, ref::DotQ5_1Q8_1}},
    Entry{DType::kQ8_0, {DType::kQ8_0, ref::QuantizeQ8_0, ref::DotQ8_0Q8_0}},
    Entry{DType::kQ2_K, {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ2_KQ8_K}},
    Entry{DType::kQ3_K, {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ3_KQ8_K}},
    Entry{DType::kQ4_K, {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ4_KQ8_K}},
    Entry{DType::kQ5_K, {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ5_KQ8_K}},
    Entry{DType::kQ6_K, {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ6_KQ8_K}},
};

}  // namespace

const VecDotKernel* FindVecDot(DType weight_type) {
  for (const Entry& e : kKernels) {
    if (e.weight_type == weight_type) return &e.kernel;
  }
  return nullptr;
}

}  // namespace wick::kernels
