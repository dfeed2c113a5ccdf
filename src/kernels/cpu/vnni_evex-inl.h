// AVX512-VNNI's vpdpbusd and vpdpwssd on 256- and 512-bit vectors, always EVEX-encoded, for
// Highway's AVX3_DL target. Include it after <hwy/highway.h> in a file that Highway's
// foreach_target.h re-includes; WICK_VNNI_EVEX says whether this target has them.
//
// Why not the intrinsics: Highway 1.0.3 (Debian 12's) compiles AVX3_DL with AVX-VNNI, the
// VEX-encoded form of these instructions (Alder Lake, Sapphire Rapids, Zen 5), so GCC emits
// _mm256_dpwssd_epi32 as VEX; but it picks AVX3_DL at run time on any CPU with AVX512-VNNI,
// and Ice Lake and Zen 4 have that without AVX-VNNI: the VEX form stops them with SIGILL (the
// k-quant dot products did, on a Zen 4). The EVEX form runs wherever AVX3_DL is picked: the
// helpers below spell it with the {evex} pseudo-prefix (written %{evex%}, since braces mark
// dialect alternatives in GCC's asm templates). tests/kernels/vnni_encoding_test.cpp reads the
// kernels' instructions in its own binary and fails on any VEX form. The 512-bit forms have no
// VEX encoding, but their intrinsics need avx512vnni, which Highway 1.0.3's AVX3_DL does not
// enable, so they are spelled here too (V: __m256i or __m512i).
#if defined(WICK_KERNELS_CPU_VNNI_EVEX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef WICK_KERNELS_CPU_VNNI_EVEX_INL_H_
#undef WICK_KERNELS_CPU_VNNI_EVEX_INL_H_
#else
#define WICK_KERNELS_CPU_VNNI_EVEX_INL_H_
#endif

#include <hwy/highway.h>

#undef WICK_VNNI_EVEX
#if HWY_TARGET == HWY_AVX3_DL && HWY_ARCH_X86
#define WICK_VNNI_EVEX 1
#include <immintrin.h>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace vnni {

// acc + the sums of four products of unsigned bytes of u and signed bytes of s, per int32 lane
// (_mm256_dpbusd_epi32, _mm512_dpbusd_epi32).
template <class V>
HWY_INLINE V DotBytes(V acc, V u, V s) {
  asm("%{evex%} vpdpbusd %[s], %[u], %[acc]" : [acc] "+v"(acc) : [u] "v"(u), [s] "vm"(s));
  return acc;
}

// DotBytes(acc, u, the four bytes at p in every int32 lane), the broadcast folded into the
// instruction's memory operand (256-bit vectors).
HWY_INLINE __m256i DotBytesBroadcast(__m256i acc, __m256i u, const void* p) {
  asm("%{evex%} vpdpbusd %[s]%{1to8%}, %[u], %[acc]"
      : [acc] "+v"(acc)
      : [u] "v"(u), [s] "m"(*static_cast<const int32_t*>(p)));
  return acc;
}

// The same for 512-bit vectors: the four bytes at p in every one of the sixteen lanes.
HWY_INLINE __m512i DotBytesBroadcast(__m512i acc, __m512i u, const void* p) {
  asm("vpdpbusd %[s]%{1to16%}, %[u], %[acc]"
      : [acc] "+v"(acc)
      : [u] "v"(u), [s] "m"(*static_cast<const int32_t*>(p)));
  return acc;
}

// acc + the sums of pairs of products of the int16 lanes of a and b, per int32 lane
// (_mm256_dpwssd_epi32, _mm512_dpwssd_epi32).
template <class V>
HWY_INLINE V DotPairs(V acc, V a, V b) {
  asm("%{evex%} vpdpwssd %[b], %[a], %[acc]" : [acc] "+v"(acc) : [a] "v"(a), [b] "vm"(b));
  return acc;
}

}  // namespace vnni
}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // HWY_TARGET == HWY_AVX3_DL && HWY_ARCH_X86
#endif  // WICK_KERNELS_CPU_VNNI_EVEX_INL_H_ toggle
