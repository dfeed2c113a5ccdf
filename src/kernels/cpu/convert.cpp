// Highway compiles this file once per SIMD target (see simd.h); HWY_DYNAMIC_DISPATCH picks
// the best one the CPU supports at run time.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/convert.cpp"
#include "kernels/cpu/convert.h"

#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#if HWY_ARCH_X86
#include <immintrin.h>
#endif

#include "core/half.h"

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

void F16ToF32RowImpl(const uint16_t* src, float* dst, int64_t n) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<hwy::float16_t, decltype(df)> dh;
  const hn::RebindToUnsigned<decltype(df)> du32;
  const hn::Rebind<uint16_t, decltype(df)> du16;
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  const auto* in = reinterpret_cast<const hwy::float16_t*>(src);
  // Targets without a hardware conversion emulate it and turn infinities and NaNs into
  // large finite numbers; those lanes are rebuilt from the bits.
  const auto exp_mask = hn::Set(du32, 0x7c00);
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto promoted = hn::PromoteTo(df, hn::LoadU(dh, in + i));
    auto h = hn::PromoteTo(du32, hn::LoadU(du16, src + i));
    auto special = hn::Eq(hn::And(h, exp_mask), exp_mask);
    auto rebuilt = hn::Or(
        hn::ShiftLeft<16>(hn::And(h, hn::Set(du32, 0x8000))),
        hn::Or(hn::Set(du32, 0x7f800000), hn::ShiftLeft<13>(hn::And(h, hn::Set(du32, 0x3ff)))));
    auto out = hn::IfThenElse(hn::RebindMask(df, special), hn::BitCast(df, rebuilt), promoted);
    hn::StoreU(out, df, dst + i);
  }
  for (; i < n; ++i) dst[i] = F16ToF32(src[i]);
}

void Bf16ToF32RowImpl(const uint16_t* src, float* dst, int64_t n) {
  // bf16 is the top half of an f32: widen the bits and shift them into place.
  const hn::ScalableTag<uint32_t> du32;
  const hn::Rebind<uint16_t, decltype(du32)> du16;
  const hn::RebindToFloat<decltype(du32)> df;
  const auto lanes = static_cast<int64_t>(hn::Lanes(du32));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto bits = hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, src + i)));
    hn::StoreU(hn::BitCast(df, bits), df, dst + i);
  }
  for (; i < n; ++i) dst[i] = Bf16ToF32(src[i]);
}

void F32ToBf16RowImpl(const float* src, uint16_t* dst, int64_t n) {
  // Round to nearest even on the integer bits; NaNs take the scalar path so their quiet
  // bit is set exactly as core/half.h does.
  const hn::ScalableTag<uint32_t> du32;
  const hn::RebindToFloat<decltype(du32)> df;
  const hn::RebindToSigned<decltype(du32)> di32;
  const hn::Rebind<uint16_t, decltype(du32)> du16;
  const auto lanes = static_cast<int64_t>(hn::Lanes(du32));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    auto v = hn::LoadU(df, src + i);
    if (!hn::AllFalse(df, hn::IsNaN(v))) {
      for (int64_t k = 0; k < lanes; ++k) dst[i + k] = F32ToBf16(src[i + k]);
      continue;
    }
    auto bits = hn::BitCast(du32, v);
    auto lsb = hn::And(hn::ShiftRight<16>(bits), hn::Set(du32, 1));
    auto rounded = hn::Add(bits, hn::Add(hn::Set(du32, 0x7fff), lsb));
    // Values are at most 0xffff after the shift, so the signed saturating demotion (the one
    // every target has) is exact.
    auto high = hn::BitCast(di32, hn::ShiftRight<16>(rounded));
    hn::StoreU(hn::DemoteTo(du16, high), du16, dst + i);
  }
  for (; i < n; ++i) dst[i] = F32ToBf16(src[i]);
}

// f16 encoding: the activations of every f16 matmul (a prompt's, m x k values a call). F16C's
// vcvtps2ph rounds to nearest even as F32ToF16 does, subnormals and infinities included, and
// quiets a NaN keeping its payload's top bits as F32ToF16 does, so x86 from AVX2 up takes
// eight at a time; elsewhere (Highway's emulation does not round the same way) the scalar
// encoder.
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
constexpr int kRoundToNearestEven = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
#endif

void F32ToF16RowImpl(const float* src, uint16_t* dst, int64_t n) {
  int64_t i = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  for (; i + 8 <= n; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), kRoundToNearestEven));
  }
#endif
  for (; i < n; ++i) dst[i] = F32ToF16(src[i]);
}

void F32ThroughF16RowImpl(const float* src, float* dst, int64_t n) {
  int64_t i = 0;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), kRoundToNearestEven);
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
#endif
  for (; i < n; ++i) dst[i] = F16ToF32(F32ToF16(src[i]));
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels {

HWY_EXPORT(F16ToF32RowImpl);
HWY_EXPORT(Bf16ToF32RowImpl);
HWY_EXPORT(F32ToBf16RowImpl);
HWY_EXPORT(F32ToF16RowImpl);
HWY_EXPORT(F32ThroughF16RowImpl);

void F16ToF32Row(const uint16_t* src, float* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(F16ToF32RowImpl)(src, dst, n);
}

void F32ToF16Row(const float* src, uint16_t* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(F32ToF16RowImpl)(src, dst, n);
}

void F32ThroughF16Row(const float* src, float* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(F32ThroughF16RowImpl)(src, dst, n);
}

void Bf16ToF32Row(const uint16_t* src, float* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(Bf16ToF32RowImpl)(src, dst, n);
}

void F32ToBf16Row(const float* src, uint16_t* dst, int64_t n) {
  HWY_DYNAMIC_DISPATCH(F32ToBf16RowImpl)(src, dst, n);
}

}  // namespace wick::kernels
#endif  // HWY_ONCE
