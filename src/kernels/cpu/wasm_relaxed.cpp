#include "kernels/cpu/wasm_relaxed.h"

#if defined(__wasm_simd128__)
#include <cstdint>

namespace wick::kernels {
namespace {

// Bytes the optimizers cannot see through, so that neither LLVM nor Binaryen folds the probe.
volatile int8_t g_probe_a[16] = {-128, 127, -3, 5, 0, -1, 17, -60, 99, -99, 1, 2, -7, 64, 33, -33};
volatile int8_t g_probe_b[16] = {127, 126, 0, 1, 15, 8, 3, 100, 64, 65, 7, 2, 31, 127, 12, 90};
volatile int32_t g_probe_c[4] = {1000, -7, 0, 123456};

bool Probe() {
  int8_t a[16], b[16];
  int32_t c[4];
  for (int i = 0; i < 16; ++i) {
    a[i] = g_probe_a[i];
    b[i] = g_probe_b[i];
  }
  for (int i = 0; i < 4; ++i) c[i] = g_probe_c[i];
  const v128_t va = wasm_v128_load(a), vb = wasm_v128_load(b);
  int16_t pairs[8];
  int32_t quads[4];
  wasm_v128_store(pairs, RelaxedDotI8I7(va, vb));
  wasm_v128_store(quads, RelaxedDotAddI8I7(va, vb, wasm_v128_load(c)));
  for (int t = 0; t < 8; ++t) {
    if (pairs[t] != a[2 * t] * b[2 * t] + a[2 * t + 1] * b[2 * t + 1]) return false;
  }
  for (int t = 0; t < 4; ++t) {
    int32_t want = c[t];
    for (int k = 0; k < 4; ++k) want += a[4 * t + k] * b[4 * t + k];
    if (quads[t] != want) return false;
  }
  return true;
}

}  // namespace

const bool kWasmRelaxedDot = Probe();

}  // namespace wick::kernels
#endif
