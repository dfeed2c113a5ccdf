#include "kernels/cpu/vec_dot.h"

#include <array>

#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cpu/simd.h"

namespace wick::kernels {

namespace {

struct Entry {
  DType weight_type;
  VecDotKernel kernel;
};

// Weight type -> (activation format, activation quantizer, dot). The SIMD kernels dispatch
// to the best target at run time. Activations for f16/bf16 weights are converted with the
// exact scalar encoders: k values per token, negligible next to the n x k weights.
constexpr std::array kKernels = {
    Entry{DType::kF32,
          {DType::kF32, ref::QuantizeF32, simd::DotF32, nullptr, nullptr, simd::DotF32Gemm, 16,
           nullptr, simd::GemmTileF32}},
    Entry{DType::kF16,
          {DType::kF16, ref::QuantizeF16, simd::DotF16, nullptr, nullptr, simd::DotF16Gemm, 16,
           nullptr, simd::GemmTileF16}},
    Entry{
        DType::kBF16,
        {DType::kBF16, ref::QuantizeBF16, simd::DotBF16, nullptr, nullptr, simd::DotBF16Gemm, 32}},
    Entry{DType::kQ4_0,
          {DType::kQ8_0, simd::QuantizeQ8_0, simd::DotQ4_0Q8_0, simd::DotQ4_0Q8_0X4,
           simd::DotQ4_0Q8_0X4Tokens}},
    Entry{DType::kQ4_1,
          {DType::kQ8_1, simd::QuantizeQ8_1, simd::DotQ4_1Q8_1, nullptr, nullptr, nullptr, 0,
           simd::DotQ4_1Q8_1Tokens}},
    Entry{DType::kQ5_0,
          {DType::kQ8_0, simd::QuantizeQ8_0, simd::DotQ5_0Q8_0, nullptr, nullptr, nullptr, 0,
           simd::DotQ5_0Q8_0Tokens}},
    Entry{DType::kQ5_1,
          {DType::kQ8_1, simd::QuantizeQ8_1, simd::DotQ5_1Q8_1, nullptr, nullptr, nullptr, 0,
           simd::DotQ5_1Q8_1Tokens}},
    Entry{DType::kQ8_0,
          {DType::kQ8_0, simd::QuantizeQ8_0, simd::DotQ8_0Q8_0, nullptr, nullptr, nullptr, 0,
           simd::DotQ8_0Q8_0Tokens}},
    Entry{DType::kQ2_K,
          {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ2_KQ8_K, nullptr, nullptr, nullptr, 0,
           simd::DotQ2_KQ8_KTokens}},
    Entry{DType::kQ3_K,
          {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ3_KQ8_K, nullptr, nullptr, nullptr, 0,
           simd::DotQ3_KQ8_KTokens}},
    Entry{DType::kQ4_K,
          {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ4_KQ8_K, nullptr, nullptr, nullptr, 0,
           simd::DotQ4_KQ8_KTokens}},
    Entry{DType::kQ5_K,
          {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ5_KQ8_K, nullptr, nullptr, nullptr, 0,
           simd::DotQ5_KQ8_KTokens}},
    Entry{DType::kQ6_K,
          {DType::kQ8_K, simd::QuantizeQ8_K, simd::DotQ6_KQ8_K, nullptr, nullptr, nullptr, 0,
           simd::DotQ6_KQ8_KTokens}},
};

constexpr VecDotKernel kQ4_0Lanes{DType::kQ8_0,
                                  simd::QuantizeQ8_0,
                                  simd::DotQ4_0Q8_0Lanes,
                                  nullptr,
                                  nullptr,
                                  nullptr,
                                  0,
                                  simd::DotQ4_0Q8_0LanesTokens};

}  // namespace

const VecDotKernel* FindVecDot(DType weight_type, int64_t rows) {
  if (weight_type == DType::kQ4_0 && rows % 8 != 0) return &kQ4_0Lanes;
  return FindVecDot(weight_type);
}

const VecDotKernel* FindVecDot(DType weight_type) {
  // Every matmul comes through here first: the place to honour WICK_SIMD.
  static const bool kSimdApplied = ApplySimdEnvironment().ok();
  (void)kSimdApplied;
  for (const Entry& e : kKernels) {
    if (e.weight_type == weight_type) return &e.kernel;
  }
  return nullptr;
}

}  // namespace wick::kernels
