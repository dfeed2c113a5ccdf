// Unquantized row formats: f32 rows are copied, f16 and bf16 rows are converted element by
// element with the exact scalar conversions of core/half.h.
#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "kernels/cpu/quant_ref.h"

namespace wick::kernels::ref {

namespace {

// The dot oracles accumulate in double and round once at the end, so that they are at least
// as accurate as any kernel they check and the tolerance in tests only has to cover the
// kernel's own error.
template <float (*kDecode)(uint16_t)>
float DotHalf(const void* w, const void* a, int64_t n) {
  const auto* wh = static_cast<const uint16_t*>(w);
  const auto* ah = static_cast<const uint16_t*>(a);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    sum += static_cast<double>(kDecode(wh[i])) * static_cast<double>(kDecode(ah[i]));
  }
  return static_cast<float>(sum);
}

}  // namespace

// Empty rows may come with null pointers, which memcpy must never see.
void DequantizeF32(const void* src, float* dst, int64_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void QuantizeF32(const float* src, void* dst, int64_t n) {
  if (n > 0) std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

float DotF32(const void* w, const void* a, int64_t n) {
  const auto* wf = static_cast<const float*>(w);
  const auto* af = static_cast<const float*>(a);
  double sum = 0;  // double accumulator: see DotHalf
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(wf[i]) * static_cast<double>(af[i]);
  return static_cast<float>(sum);
}

void DequantizeF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = F16ToF32(h[i]);
}

void QuantizeF16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = F32ToF16(src[i]);
}

float DotF16(const void* w, const void* a, int64_t n) {
  return DotHalf<F16ToF32>(w, a, n);
}

void DequantizeBF16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToF32(h[i]);
}

void QuantizeBF16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = F32ToBf16(src[i]);
}

float DotBF16(const void* w, const void* a, int64_t n) {
  return DotHalf<Bf16ToF32>(w, a, n);
}

}  // namespace wick::kernels::ref
