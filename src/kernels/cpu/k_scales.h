// The k-quants' packed sub-block scales, unpacked into two little-endian words, for the SIMD
// dot products (dot_k.cpp and its per-target x86 kernels).
#ifndef WICK_KERNELS_CPU_K_SCALES_H_
#define WICK_KERNELS_CPU_K_SCALES_H_

#include <cstdint>
#include <cstring>

namespace wick::kernels {

// Sixteen bytes as two little-endian words. The unpacked scales stay in registers: storing
// them as bytes and loading a vector back stalls on store-to-load forwarding.
struct Bytes16 {
  uint64_t lo;
  uint64_t hi;
};

// Q4_K and Q5_K's twelve packed bytes to eight 6-bit scales (lo) and eight 6-bit mins (hi),
// layout in quant_k.cpp's UnpackScaleMin6, four bytes at a time.
inline Bytes16 UnpackScaleMin6(const uint8_t* packed) {
  uint32_t w[3];
  std::memcpy(w, packed, sizeof(w));
  const uint64_t s_lo = w[0] & 0x3f3f3f3f;
  const uint64_t s_hi = (w[2] & 0x0f0f0f0f) | (((w[0] >> 6) & 0x03030303) << 4);
  const uint64_t m_lo = w[1] & 0x3f3f3f3f;
  const uint64_t m_hi = ((w[2] >> 4) & 0x0f0f0f0f) | (((w[1] >> 6) & 0x03030303) << 4);
  return {s_lo | (s_hi << 32), m_lo | (m_hi << 32)};
}

// Q3_K's twelve packed bytes to sixteen 6-bit scales, still stored + 32 (layout in quant_k.cpp's
// UnpackQ3_KScale): low nibbles from bytes 0-7, top two bits from bytes 8-11.
inline Bytes16 UnpackQ3_KScales(const uint8_t* packed) {
  uint32_t w[3];
  std::memcpy(w, packed, sizeof(w));
  const uint64_t s0 = (w[0] & 0x0f0f0f0f) | ((w[2] & 0x03030303) << 4);
  const uint64_t s1 = (w[1] & 0x0f0f0f0f) | (((w[2] >> 2) & 0x03030303) << 4);
  const uint64_t s2 = ((w[0] >> 4) & 0x0f0f0f0f) | (((w[2] >> 4) & 0x03030303) << 4);
  const uint64_t s3 = ((w[1] >> 4) & 0x0f0f0f0f) | (((w[2] >> 6) & 0x03030303) << 4);
  return {s0 | (s1 << 32), s2 | (s3 << 32)};
}

}  // namespace wick::kernels

#endif  // WICK_KERNELS_CPU_K_SCALES_H_
