// Relaxed SIMD's integer dot products for the WebAssembly kernels. Debian 12's Emscripten
// (LLVM 14) cannot emit them, yet in the browser each is one x86 instruction (pmaddubsw, and
// with AVX-VNNI vpdpbusd) where SIMD128 needs six to eight. So the kernels write placeholders
// that nothing else in the engine uses, and scripts/wasm-relax turns each module into two: a
// *.relaxed.wasm with the relaxed instructions and a .wasm with SIMD128 ones in their place.
#pragma once

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>

#include <cstdint>

#if !defined(__wasm_relaxed_simd__)
#error "the SIMD128 engine is compiled with -mrelaxed-simd (scripts/build-wasm)"
#endif

namespace wick::kernels {

// i16x8.relaxed_dot_i8x16_i7x16_s: lane t = a[2t] b[2t] + a[2t+1] b[2t+1], a int8, b in
// 0..127 (exact). Written as i16x8.q15mulr_sat_s, which the SIMD128 module keeps.
inline v128_t RelaxedDotI8I7(v128_t a, v128_t b) {
  return wasm_i16x8_q15mulr_sat(a, b);
}

// i32x4.relaxed_dot_i8x16_i7x16_add_s: lane t = c[t] + the four products a[4t+k] b[4t+k].
// Written as LLVM 14's prototype f32x4.fma, which the SIMD128 module gets as v128.bitselect.
// c must not be a constant: the optimizers would see a float multiply-add.
inline v128_t RelaxedDotAddI8I7(v128_t a, v128_t b, v128_t c) {
  return (v128_t)__builtin_wasm_fma_f32x4((__f32x4)a, (__f32x4)b, (__f32x4)c);
}

// An all-zero vector the optimizers cannot fold: the `c` of a sum that starts from zero.
inline volatile int32_t g_runtime_zero[4] = {0, 0, 0, 0};
inline v128_t RuntimeZero() {
  return wasm_i32x4_make(g_runtime_zero[0], g_runtime_zero[1], g_runtime_zero[2],
                         g_runtime_zero[3]);
}

// Whether the two functions above compute the relaxed dot products in this module: probed on
// known bytes once, at start-up, so that the SIMD128 module and the relaxed one each take their
// own kernels. Call them only where this is true.
extern const bool kWasmRelaxedDot;

}  // namespace wick::kernels
#endif
