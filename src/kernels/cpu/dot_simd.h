// SIMD dot products and activation quantizers, one per weight format, with Highway runtime
// dispatch. Same contracts as the scalar references in quant_ref.h: `n` counts elements and
// is a multiple of the block size; results match the reference up to float summation order
// (the quantizers match it bit for bit).
#pragma once

#include <cstdint>

namespace wick::kernels::simd {

// A token kernel made of a one-row dot, row by row: for the targets without a shared-block one.
// `count` activation rows `a_stride` bytes apart, into out[0..count).
template <float (*kOne)(const void*, const void*, int64_t)>
void DotTokensRowByRow(const void* w, const void* a, uint64_t a_stride, int count, int64_t n,
                       float* out) {
  for (int t = 0; t < count; ++t)
    out[t] = kOne(w, static_cast<const uint8_t*>(a) + t * a_stride, n);
}

float DotF32(const void* w, const void* a, int64_t n);
float DotF16(const void* w, const void* a, int64_t n);   // f16 . f16
float DotBF16(const void* w, const void* a, int64_t n);  // bf16 . bf16
// The same products in the order of llama.cpp's GEMM (steps of several tokens), for rows whose
// length is a multiple of 16 (f32, f16) or 32 (bf16); see ref_order.h.
float DotF32Gemm(const void* w, const void* a, int64_t n);
float DotF16Gemm(const void* w, const void* a, int64_t n);
float DotBF16Gemm(const void* w, const void* a, int64_t n);
// The GEMM order for `rows` weight rows (w_stride bytes apart) x `tokens` activation rows
// (a_stride bytes apart) into y[t * y_stride + r], in register tiles. Each result is
// bit-identical to the one-row Gemm dot's.
void GemmTileF32(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                 int tokens, int64_t k, float* y, int64_t y_stride);
// f16 weights against f32 activations that hold f16 values (F32ThroughF16Row's), each result
// bit-identical to DotF16Gemm on the f16 activations.
void GemmTileF16(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                 int tokens, int64_t k, float* y, int64_t y_stride);
// bf16 weights against bf16 activations, each result bit-identical to DotBF16Gemm.
void GemmTileBF16(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride);

float DotQ4_0Q8_0(const void* w, const void* a, int64_t n);
// Q4_0 in the lane order of the other block formats, for tensors whose row count is not a
// multiple of 8 (which llama.cpp does not repack; see ref_order.h).
float DotQ4_0Q8_0Lanes(const void* w, const void* a, int64_t n);
// One weight row against `count` (at most DotKTokensPerCall()) activation rows `a_stride` bytes
// apart, each result bit-identical to the one-row dot's: a prompt's tokens share each unpacked
// weight block.
void DotQ2_KQ8_KTokens(const void* w, const void* a, uint64_t a_stride, int count, int64_t n,
                       float* out);
void DotQ3_KQ8_KTokens(const void* w, const void* a, uint64_t a_stride, int count, int64_t n,
                       float* out);
void DotQ4_KQ8_KTokens(const void* w, const void* a, uint64_t a_stride, int count, int64_t n,
                       float* out);
void DotQ5_KQ8_KTokens(const void* w, const void* a, uint64_t a_stride, int count, int64_t n,
                       float* out);
void DotQ6_KQ8_KTokens(const void* w, const void* a, uint64_t a_stride, int count, int64_t n,
                       float* out);
// How many tokens the k-quants' tokens kernels take at once on the running target.
int DotKTokensPerCall();
// The same for the tokens kernels of the 32-element block formats (Q4_0's rows kernels too).
int DotLegacyTokensPerCall();
// Q4_0's: its eight-row kernel takes more tokens at once where it can.
int DotQ4_0TokensPerCall();
// Four weight rows, `row_bytes` apart, against one activation row: out[0..3].
void DotQ4_0Q8_0X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out);
// DotQ4_0Q8_0X4 against `count` (1 to kMaxDotTokens) activation rows `a_stride` bytes apart, each
// result bit-identical to a DotQ4_0Q8_0X4 call; out[4 * t + r].
void DotQ4_0Q8_0X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out);
// The same for eight rows: out[8 * t + r].
void DotQ4_0Q8_0X8Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out);
// The same four-row call for the lane-order formats (dot_legacy_rows.cpp), each result
// bit-identical to the one-row dot's.
void DotQ4_0Q8_0LanesX4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out);
void DotQ4_1Q8_1X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out);
void DotQ5_0Q8_0X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out);
void DotQ5_1Q8_1X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out);
void DotQ8_0Q8_0X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out);
// The same rows against `count` (at most DotLegacyTokensPerCall()) activation rows `a_stride`
// bytes apart (a prompt), into out[4 * t + r], each result the one-row dot's bits.
void DotQ4_0Q8_0LanesX4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                              int count, int64_t n, float* out);
void DotQ4_1Q8_1X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out);
void DotQ5_0Q8_0X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out);
void DotQ5_1Q8_1X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out);
void DotQ8_0Q8_0X4Tokens(const void* w, uint64_t row_bytes, const void* a, uint64_t a_stride,
                         int count, int64_t n, float* out);
// `rows` weight rows (w_stride bytes apart) of a lane-order format against `tokens` activation
// rows (a_stride bytes apart) into y[t * y_stride + r], each result bit-identical to the
// one-row dot's (lanes_tile.cpp). For steps of at least LanesTileMinTokens() tokens; 0 says the
// running target has no tile.
int LanesTileMinTokens();
void LanesTileQ4_0(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride);
void LanesTileQ4_1(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride);
void LanesTileQ5_0(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride);
void LanesTileQ5_1(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride);
void LanesTileQ8_0(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                   int tokens, int64_t k, float* y, int64_t y_stride);
// The same for the Q4_0 rows llama.cpp repacks, each result DotQ4_0Q8_0's bits, for steps of
// at least TileQ4_0MinTokens() tokens.
int TileQ4_0MinTokens();
void TileQ4_0Q8_0(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride);
float DotQ4_1Q8_1(const void* w, const void* a, int64_t n);
float DotQ5_0Q8_0(const void* w, const void* a, int64_t n);
float DotQ5_1Q8_1(const void* w, const void* a, int64_t n);
float DotQ8_0Q8_0(const void* w, const void* a, int64_t n);
void QuantizeQ8_0(const float* src, void* dst, int64_t n);
void QuantizeQ8_1(const float* src, void* dst, int64_t n);

float DotQ2_KQ8_K(const void* w, const void* a, int64_t n);
float DotQ3_KQ8_K(const void* w, const void* a, int64_t n);
float DotQ4_KQ8_K(const void* w, const void* a, int64_t n);
float DotQ5_KQ8_K(const void* w, const void* a, int64_t n);
float DotQ6_KQ8_K(const void* w, const void* a, int64_t n);
void QuantizeQ8_K(const float* src, void* dst, int64_t n);
// `rows` Q4_K weight rows (w_stride bytes apart) against `tokens` Q8_K activation rows
// (a_stride bytes apart) into y[t * y_stride + r], each result DotQ4_KQ8_K's bits (k_tile.cpp),
// for steps of at least KTileMinTokens() tokens; 0 says the running target has no tile.
int KTileMinTokens();
void TileQ4_KQ8_K(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride);
// The same for Q5_K and Q6_K, each result their one-row dot's bits.
void TileQ5_KQ8_K(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride);
void TileQ6_KQ8_K(const void* w, uint64_t w_stride, int rows, const void* a, uint64_t a_stride,
                  int tokens, int64_t k, float* y, int64_t y_stride);

}  // namespace wick::kernels::simd
