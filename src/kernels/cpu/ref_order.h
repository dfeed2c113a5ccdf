// The summation orders of llama.cpp's CPU backend (x86, AVX-512 build), which the reference
// outputs in ../shared/golden come from. On random-weight models a logit one ulp off can turn
// a Q8 activation's rounding and, a few layers later, a near-tied greedy pick, so wick's CPU
// kernels add in these orders whatever vector width they run with.
#ifndef WICK_KERNELS_CPU_REF_ORDER_H_
#define WICK_KERNELS_CPU_REF_ORDER_H_

#include <cstdint>

namespace wick::kernels {

// A 16-lane vector summed as _mm512_reduce_add_ps sums it: halves, then quarters, then pairs.
inline float SumTree16(const float* x) {
  float t[8];
  for (int i = 0; i < 8; ++i) t[i] = x[i + 8] + x[i];
  float u[4];
  for (int i = 0; i < 4; ++i) u[i] = t[i + 4] + t[i];
  return (u[0] + u[2]) + (u[1] + u[3]);
}

// An 8-lane vector summed as ggml's hsum_float_8 sums it.
inline float SumTree8(const float* x) {
  float r[4];
  for (int i = 0; i < 4; ++i) r[i] = x[i + 4] + x[i];
  return (r[0] + r[2]) + (r[1] + r[3]);
}

// ggml's f16 and f32 dot products (ggml_vec_dot_f16/f32) run four 16-lane accumulators over
// steps of 64 elements: element i of a step feeds slot i % 64. This folds the 64 slots into
// 16 lanes as GGML_F32x16_REDUCE does before its final SumTree16.
inline void FoldSlots64(const float* slots, float* lanes16) {
  for (int s = 0; s < 16; ++s) {
    const float x0 = slots[s] + slots[32 + s];
    const float x1 = slots[16 + s] + slots[48 + s];
    lanes16[s] = x0 + x1;
  }
}

// Elements of an n-element ggml f16/f32 dot product that go through the 64-element steps;
// the rest are added one by one.
constexpr int64_t VectorPart64(int64_t n) {
  return n & ~int64_t{63};
}

}  // namespace wick::kernels

#endif  // WICK_KERNELS_CPU_REF_ORDER_H_
