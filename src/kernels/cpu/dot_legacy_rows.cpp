// Four weight rows of a 32-element block format (Q4_1, Q5_0, Q5_1, Q8_0, and Q4_0 in the lane
// order) against one activation row: a decode step's matmul. Each result is bit-identical to
// the one-row dot's (dot_legacy.cpp). Highway compiles this file once per SIMD target.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/dot_legacy_rows.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <cstdint>

#include "core/quant_blocks.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/ref_dot_x86-inl.h"  // per target: after highway.h
#include "kernels/cpu/vec_dot.h"

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace {

// The four rows with shared activation work where the target has the reference's lane order
// (x86 from AVX2 up), else the one-row dot (kOne) row by row: the same results either way.
#ifdef WICK_REF_ORDER_X86
using namespace ref_x86;  // NOLINT(google-build-using-namespace): the unpackers
template <class WBlock, class ABlock, bool kUnsigned, bool kMins, class Unpack, auto kOne>
void LanesRows(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  DotLanesRows<kDotRows, WBlock, ABlock, kUnsigned, kMins>(
      static_cast<const uint8_t*>(w), row_bytes, static_cast<const ABlock*>(a),
      n / static_cast<int64_t>(kQK8_0), out, Unpack());
}
#else
struct UnpackQ4_0 {};
struct UnpackQ4_1 {};
struct UnpackQ5_0 {};
struct UnpackQ5_1 {};
struct UnpackQ8_0 {};
template <class WBlock, class ABlock, bool kUnsigned, bool kMins, class Unpack, auto kOne>
void LanesRows(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  for (int r = 0; r < kDotRows; ++r) {
    out[r] = kOne(static_cast<const uint8_t*>(w) + r * row_bytes, a, n);
  }
}
#endif

}  // namespace

void DotQ4_0Q8_0LanesX4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n,
                            float* out) {
  LanesRows<Q4_0Block, Q8_0Block, false, false, UnpackQ4_0, simd::DotQ4_0Q8_0Lanes>(w, row_bytes, a,
                                                                                    n, out);
}
void DotQ4_1Q8_1X4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  LanesRows<Q4_1Block, Q8_1Block, true, true, UnpackQ4_1, simd::DotQ4_1Q8_1>(w, row_bytes, a, n,
                                                                             out);
}
void DotQ5_0Q8_0X4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  LanesRows<Q5_0Block, Q8_0Block, false, false, UnpackQ5_0, simd::DotQ5_0Q8_0>(w, row_bytes, a, n,
                                                                               out);
}
void DotQ5_1Q8_1X4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  LanesRows<Q5_1Block, Q8_1Block, true, true, UnpackQ5_1, simd::DotQ5_1Q8_1>(w, row_bytes, a, n,
                                                                             out);
}
void DotQ8_0Q8_0X4Impl(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  LanesRows<Q8_0Block, Q8_0Block, false, false, UnpackQ8_0, simd::DotQ8_0Q8_0>(w, row_bytes, a, n,
                                                                               out);
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels::simd {

HWY_EXPORT(DotQ4_0Q8_0LanesX4Impl);
HWY_EXPORT(DotQ4_1Q8_1X4Impl);
HWY_EXPORT(DotQ5_0Q8_0X4Impl);
HWY_EXPORT(DotQ5_1Q8_1X4Impl);
HWY_EXPORT(DotQ8_0Q8_0X4Impl);

void DotQ4_0Q8_0LanesX4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_0Q8_0LanesX4Impl)(w, row_bytes, a, n, out);
}
void DotQ4_1Q8_1X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ4_1Q8_1X4Impl)(w, row_bytes, a, n, out);
}
void DotQ5_0Q8_0X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ5_0Q8_0X4Impl)(w, row_bytes, a, n, out);
}
void DotQ5_1Q8_1X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ5_1Q8_1X4Impl)(w, row_bytes, a, n, out);
}
void DotQ8_0Q8_0X4(const void* w, uint64_t row_bytes, const void* a, int64_t n, float* out) {
  HWY_DYNAMIC_DISPATCH(DotQ8_0Q8_0X4Impl)(w, row_bytes, a, n, out);
}

}  // namespace wick::kernels::simd
#endif  // HWY_ONCE
