#include "kernels/cpu/quant_traits.h"

#include <array>

#include "kernels/cpu/quant_ref.h"

namespace wick::kernels {

namespace {

using namespace ref;  // NOLINT(google-build-using-namespace): a table of its functions

constexpr std::array kTraits = {
    QuantTraits{DType::kF32, DType::kF32, DequantizeF32, QuantizeF32, DotF32},
    QuantTraits{DType::kF16, DType::kF16, DequantizeF16, QuantizeF16, DotF16},
    QuantTraits{DType::kBF16, DType::kBF16, DequantizeBF16, QuantizeBF16, DotBF16},
    QuantTraits{DType::kQ4_0, DType::kQ8_0, DequantizeQ4_0, QuantizeQ4_0, DotQ4_0Q8_0},
    QuantTraits{DType::kQ4_1, DType::kQ8_1, DequantizeQ4_1, QuantizeQ4_1, DotQ4_1Q8_1},
    QuantTraits{DType::kQ5_0, DType::kQ8_0, DequantizeQ5_0, QuantizeQ5_0, DotQ5_0Q8_0},
    QuantTraits{DType::kQ5_1, DType::kQ8_1, DequantizeQ5_1, QuantizeQ5_1, DotQ5_1Q8_1},
    QuantTraits{DType::kQ8_0, DType::kQ8_0, DequantizeQ8_0, QuantizeQ8_0, DotQ8_0Q8_0},
    QuantTraits{DType::kQ8_1, DType::kQ8_1, DequantizeQ8_1, QuantizeQ8_1, nullptr},
    QuantTraits{DType::kQ2_K, DType::kQ8_K, DequantizeQ2_K, QuantizeQ2_K, DotQ2_KQ8_K},
    QuantTraits{DType::kQ3_K, DType::kQ8_K, DequantizeQ3_K, QuantizeQ3_K, DotQ3_KQ8_K},
    QuantTraits{DType::kQ4_K, DType::kQ8_K, DequantizeQ4_K, QuantizeQ4_K, DotQ4_KQ8_K},
    QuantTraits{DType::kQ5_K, DType::kQ8_K, DequantizeQ5_K, QuantizeQ5_K, DotQ5_KQ8_K},
    QuantTraits{DType::kQ6_K, DType::kQ8_K, DequantizeQ6_K, QuantizeQ6_K, DotQ6_KQ8_K},
    QuantTraits{DType::kQ8_K, DType::kQ8_K, DequantizeQ8_K, QuantizeQ8_K, nullptr},
};

}  // namespace

const QuantTraits* FindQuantTraits(DType type) {
  for (const QuantTraits& t : kTraits) {
    if (t.type == type) return &t;
  }
  return nullptr;
}

}  // namespace wick::kernels
