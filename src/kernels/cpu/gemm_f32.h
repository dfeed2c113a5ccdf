// Single-threaded f32 matrix product for prefill, register-blocked and cache-blocked, SIMD
// with runtime dispatch. Multithreading is the caller's job: split n (the weight rows) into
// tiles and call GemmF32 once per tile.
#pragma once

#include <cstdint>

namespace wick::kernels {

// c[i * ldc + j] = sum over p < k of a[i * lda + p] * b[j * ldb + p], for i < m and j < n.
// Both operands run along k: a holds m activation rows, b holds n weight rows. c is
// overwritten, not accumulated into. Needs lda, ldb >= k and ldc >= n; m, n or k of 0 is
// allowed (k == 0 writes zeros). Uses a thread-local packing buffer, so concurrent calls from
// different threads are safe; the result does not depend on the SIMD target beyond rounding.
void GemmF32(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
             int64_t m, int64_t n, int64_t k);

}  // namespace wick::kernels
