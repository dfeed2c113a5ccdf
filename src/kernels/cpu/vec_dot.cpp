#include "kernels/cpu/vec_dot.h"

#include <array>

#include "kernels/cpu/convert.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cpu/simd.h"

namespace wick::kernels {

namespace {

void QuantizeF16(const float* src, void* dst, int64_t n) {
  F32ToF16Row(src, static_cast<uint16_t*>(dst), n);
}
void RoundThroughF16(const float* src, void* dst, int64_t n) {
  F32ThroughF16Row(src, static_cast<float*>(dst), n);
}

struct Entry {
  DType weight_type;
  VecDotKernel kernel;
};

// Weight type -> (activation format, activation quantizer, dot). The SIMD kernels dispatch
// to the best target at run time. Activations for bf16 weights are converted with the exact
// scalar encoder: k values per token, little next to the n x k weights; f16's with F16C where
// x86 has it (the scalar encoder took about 5 % of an f16 prompt's time).
constexpr std::array kKernels = {
    Entry{DType::kF32,
          {.dot_type = DType::kF32,
           .quantize_input = ref::QuantizeF32,
           .dot = simd::DotF32,
           .dot_gemm = simd::DotF32Gemm,
           .gemm_multiple = 16,
           .gemm_tile = simd::GemmTileF32}},
    Entry{DType::kF16,
          {.dot_type = DType::kF16,
           .quantize_input = QuantizeF16,
           .dot = simd::DotF16,
           .dot_gemm = simd::DotF16Gemm,
           .gemm_multiple = 16,
           .gemm_tile = simd::GemmTileF16,
           .gemm_quantize_input = RoundThroughF16,
           .gemm_input_type = DType::kF32}},
    Entry{DType::kBF16,
          {.dot_type = DType::kBF16,
           .quantize_input = ref::QuantizeBF16,
           .dot = simd::DotBF16,
           .dot_gemm = simd::DotBF16Gemm,
           .gemm_multiple = 32,
           .gemm_tile = simd::GemmTileBF16}},
    Entry{DType::kQ4_0,
          {.dot_type = DType::kQ8_0,
           .quantize_input = simd::QuantizeQ8_0,
           .dot = simd::DotQ4_0Q8_0,
           .dot_rows = simd::DotQ4_0Q8_0X4,
           .dot_rows_tokens = simd::DotQ4_0Q8_0X4Tokens,
           .dot_rows8_tokens = simd::DotQ4_0Q8_0X8Tokens,
           .tokens_per_call = simd::DotQ4_0TokensPerCall,
           .tokens_tile = simd::TileQ4_0Q8_0,
           .tokens_tile_min = simd::TileQ4_0MinTokens}},
    Entry{DType::kQ4_1,
          {.dot_type = DType::kQ8_1,
           .quantize_input = simd::QuantizeQ8_1,
           .dot = simd::DotQ4_1Q8_1,
           .dot_rows = simd::DotQ4_1Q8_1X4,
           .dot_rows_tokens = simd::DotQ4_1Q8_1X4Tokens,
           .tokens_per_call = simd::DotLegacyTokensPerCall,
           .tokens_tile = simd::LanesTileQ4_1,
           .tokens_tile_min = simd::LanesTileMinTokens}},
    Entry{DType::kQ5_0,
          {.dot_type = DType::kQ8_0,
           .quantize_input = simd::QuantizeQ8_0,
           .dot = simd::DotQ5_0Q8_0,
           .dot_rows = simd::DotQ5_0Q8_0X4,
           .dot_rows_tokens = simd::DotQ5_0Q8_0X4Tokens,
           .tokens_per_call = simd::DotLegacyTokensPerCall,
           .tokens_tile = simd::LanesTileQ5_0,
           .tokens_tile_min = simd::LanesTileMinTokens}},
    Entry{DType::kQ5_1,
          {.dot_type = DType::kQ8_1,
           .quantize_input = simd::QuantizeQ8_1,
           .dot = simd::DotQ5_1Q8_1,
           .dot_rows = simd::DotQ5_1Q8_1X4,
           .dot_rows_tokens = simd::DotQ5_1Q8_1X4Tokens,
           .tokens_per_call = simd::DotLegacyTokensPerCall,
           .tokens_tile = simd::LanesTileQ5_1,
           .tokens_tile_min = simd::LanesTileMinTokens}},
    Entry{DType::kQ8_0,
          {.dot_type = DType::kQ8_0,
           .quantize_input = simd::QuantizeQ8_0,
           .dot = simd::DotQ8_0Q8_0,
           .dot_rows = simd::DotQ8_0Q8_0X4,
           .dot_rows_tokens = simd::DotQ8_0Q8_0X4Tokens,
           .tokens_per_call = simd::DotLegacyTokensPerCall,
           .tokens_tile = simd::LanesTileQ8_0,
           .tokens_tile_min = simd::LanesTileMinTokens}},
    Entry{DType::kQ2_K,
          {.dot_type = DType::kQ8_K,
           .quantize_input = simd::QuantizeQ8_K,
           .dot = simd::DotQ2_KQ8_K,
           .dot_tokens = simd::DotQ2_KQ8_KTokens,
           .tokens_per_call = simd::DotKTokensPerCall}},
    Entry{DType::kQ3_K,
          {.dot_type = DType::kQ8_K,
           .quantize_input = simd::QuantizeQ8_K,
           .dot = simd::DotQ3_KQ8_K,
           .dot_tokens = simd::DotQ3_KQ8_KTokens,
           .tokens_per_call = simd::DotKTokensPerCall}},
    Entry{DType::kQ4_K,
          {.dot_type = DType::kQ8_K,
           .quantize_input = simd::QuantizeQ8_K,
           .dot = simd::DotQ4_KQ8_K,
           .dot_tokens = simd::DotQ4_KQ8_KTokens,
           .tokens_per_call = simd::DotKTokensPerCall,
           .tokens_tile = simd::TileQ4_KQ8_K,
           .tokens_tile_min = simd::KTileMinTokens}},
    Entry{DType::kQ5_K,
          {.dot_type = DType::kQ8_K,
           .quantize_input = simd::QuantizeQ8_K,
           .dot = simd::DotQ5_KQ8_K,
           .dot_tokens = simd::DotQ5_KQ8_KTokens,
           .tokens_per_call = simd::DotKTokensPerCall,
           .tokens_tile = simd::TileQ5_KQ8_K,
           .tokens_tile_min = simd::KTileMinTokens}},
    Entry{DType::kQ6_K,
          {.dot_type = DType::kQ8_K,
           .quantize_input = simd::QuantizeQ8_K,
           .dot = simd::DotQ6_KQ8_K,
           .dot_tokens = simd::DotQ6_KQ8_KTokens,
           .tokens_per_call = simd::DotKTokensPerCall,
           .tokens_tile = simd::TileQ6_KQ8_K,
           .tokens_tile_min = simd::KTileMinTokens}},
};

constexpr VecDotKernel kQ4_0Lanes{.dot_type = DType::kQ8_0,
                                  .quantize_input = simd::QuantizeQ8_0,
                                  .dot = simd::DotQ4_0Q8_0Lanes,
                                  .dot_rows = simd::DotQ4_0Q8_0LanesX4,
                                  .dot_rows_tokens = simd::DotQ4_0Q8_0LanesX4Tokens,
                                  .tokens_per_call = simd::DotLegacyTokensPerCall,
                                  .tokens_tile = simd::LanesTileQ4_0,
                                  .tokens_tile_min = simd::LanesTileMinTokens};

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
