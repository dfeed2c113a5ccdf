// f16 -> f32 by table, for kernels on CPUs without a conversion instruction (WebAssembly,
// SSE4): one load where the bit manipulation takes a dozen operations and a branch.
#pragma once

#include <cstdint>

namespace wick::kernels {

// All 65536 f16 bit patterns as f32, filled before main (256 KiB).
extern const float* const kF16ToF32Table;

inline float F16ToF32ByTable(uint16_t h) {
  return kF16ToF32Table[h];
}

}  // namespace wick::kernels
