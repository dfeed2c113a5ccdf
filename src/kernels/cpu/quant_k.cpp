// Dequantization and dot-product oracles of the k-quant formats (Q2_K to Q6_K with Q8_K
// activations).
//
// Every format is first unpacked into one common shape, a DecodedBlock: a small integer quant
// per element and an integer scale and min per 16 elements, under the two f16 super-block
// factors. Dequantization and the dot product then share one implementation, so the bit
// layouts live in exactly one place per format (the Decode* functions).
#include <cstdint>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/quant_ref.h"

namespace wick::kernels::ref {

namespace {

constexpr int kSub16 = kQK_K / 16;

// element e dequantizes to (d * scale[e / 16]) * q[e] - dmin * min[e / 16].
struct DecodedBlock {
  float d;
  float dmin;  // 0 for the symmetric formats (Q3_K, Q6_K)
  int scale[kSub16];
  int min[kSub16];
  int8_t q[kQK_K];
};

// Q2_K and Q3_K keep the low two bits of element 128 h + 32 k + l in bits 2k of qs[32 h + l].
int Low2Bits(const uint8_t* qs, int e) {
  const int h = e / 128, k = (e % 128) / 32, l = e % 32;
  return (qs[32 * h + l] >> (2 * k)) & 3;
}

// Q4_K and Q5_K keep element 64 h + l in the low nibble of qs[32 h + l] and element
// 64 h + 32 + l in its high nibble.
int Low4Bits(const uint8_t* qs, int e) {
  const int h = e / 64, upper = (e % 64) / 32, l = e % 32;
  return (qs[32 * h + l] >> (4 * upper)) & 0xF;
}

// Q4_K and Q5_K's eight 6-bit scales and mins in 12 bytes: sub-blocks 0-3 in the low six bits
// of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 with low nibbles in bytes 8-11 and top
// two bits in the spare top bits of bytes 0-3 (scales) and 4-7 (mins).
void UnpackScaleMin6(int j, const uint8_t* packed, int* scale, int* min) {
  if (j < 4) {
    *scale = packed[j] & 63;
    *min = packed[j + 4] & 63;
  } else {
    *scale = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
    *min = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

// Q3_K's sixteen 6-bit scales, stored + 32: low nibbles in bytes 0-7 (sub-block j < 8 in the
// low nibble of byte j, j >= 8 in the high nibble of byte j - 8), top two bits at bits
// 2 (j / 4) of byte 8 + j % 4.
int UnpackQ3_KScale(int j, const uint8_t* packed) {
  const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
  const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
  return (low | (high << 4)) - 32;
}

void Decode(const Q2_KBlock& b, DecodedBlock& out) {
  out.d = F16ToF32(b.d);
  out.dmin = F16ToF32(b.dmin);
  for (int j = 0; j < kSub16; ++j) {
    out.scale[j] = b.scales[j] & 0xF;
    out.min[j] = b.scales[j] >> 4;
  }
  for (int e = 0; e < kQK_K; ++e) out.q[e] = static_cast<int8_t>(Low2Bits(b.qs, e));
}

void Decode(const Q3_KBlock& b, DecodedBlock& out) {
  out.d = F16ToF32(b.d);
  out.dmin = 0;
  for (int j = 0; j < kSub16; ++j) {
    out.scale[j] = UnpackQ3_KScale(j, b.scales);
    out.min[j] = 0;
  }
  // The third bit of element e is bit e / 32 of hmask[e % 32]; when clear, the quant is
  // four lower (quants are -4..3).
  for (int e = 0; e < kQK_K; ++e) {
    const bool high = (b.hmask[e % 32] >> (e / 32)) & 1;
    out.q[e] = static_cast<int8_t>(Low2Bits(b.qs, e) - (high ? 0 : 4));
  }
}

template <typename Block>
void DecodeScaleMin6(const Block& b, DecodedBlock& out) {
  out.d = F16ToF32(b.d);
  out.dmin = F16ToF32(b.dmin);
  for (int j = 0; j < kQK_K / 32; ++j) {
    int scale, min;
    UnpackScaleMin6(j, b.scales, &scale, &min);
    out.scale[2 * j] = out.scale[2 * j + 1] = scale;
    out.min[2 * j] = out.min[2 * j + 1] = min;
  }
}

void Decode(const Q4_KBlock& b, DecodedBlock& out) {
  DecodeScaleMin6(b, out);
  for (int e = 0; e < kQK_K; ++e) out.q[e] = static_cast<int8_t>(Low4Bits(b.qs, e));
}

void Decode(const Q5_KBlock& b, DecodedBlock& out) {
  DecodeScaleMin6(b, out);
  // The fifth bit of element e is bit e / 32 of qh[e % 32].
  for (int e = 0; e < kQK_K; ++e) {
    const int high = (b.qh[e % 32] >> (e / 32)) & 1;
    out.q[e] = static_cast<int8_t>(Low4Bits(b.qs, e) | (high << 4));
  }
}

void Decode(const Q6_KBlock& b, DecodedBlock& out) {
  out.d = F16ToF32(b.d);
  out.dmin = 0;
  for (int j = 0; j < kSub16; ++j) {
    out.scale[j] = b.scales[j];
    out.min[j] = 0;
  }
  // Element 128 h + 32 k + l: low nibble in ql[64 h + 32 (k % 2) + l] (the low nibble for
  // k < 2, the high one for k >= 2), top two bits at bits 2k of qh[32 h + l]; stored + 32.
  for (int e = 0; e < kQK_K; ++e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const int low = (b.ql[64 * h + 32 * (k % 2) + l] >> (4 * (k / 2))) & 0xF;
    const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
    out.q[e] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

template <typename Block>
void DequantizeRow(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Block*>(src);
  DecodedBlock dec;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    Decode(blocks[b], dec);
    float* y = dst + b * kQK_K;
    // One flat loop on purpose: GCC 12.2 at -O2 (ivopts with ipa-modref) decided that the
    // nested per-sub-block form of this loop stored nothing and dropped every call to it.
    for (int e = 0; e < kQK_K; ++e) {
      // The same products in the same order as the reference dequantizers.
      const float dl = dec.d * dec.scale[e / 16];
      const float ml = dec.dmin * dec.min[e / 16];
      y[e] = dl * dec.q[e] - ml;
    }
  }
}

// Exact integer sums per super-block, as the reference's generic kernel forms them: the
// scaled quant products, and the min term from the activations' 16-element sums. Only the
// two per-block float products and the running sum round.
template <typename Block>
float DotRow(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const Block*>(w);
  const auto* ab = static_cast<const Q8_KBlock*>(a);
  DecodedBlock dec;
  float sum = 0;
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    Decode(wb[b], dec);
    const Q8_KBlock& act = ab[b];
    int32_t scaled = 0;
    int32_t mins = 0;
    for (int j = 0; j < kSub16; ++j) {
      int32_t sub = 0;
      for (int i = 0; i < 16; ++i) sub += act.qs[16 * j + i] * dec.q[16 * j + i];
      scaled += dec.scale[j] * sub;
      mins += dec.min[j] * act.bsums[j];
    }
    sum += act.d * dec.d * static_cast<float>(scaled) - act.d * dec.dmin * static_cast<float>(mins);
  }
  return sum;
}

}  // namespace

void DequantizeQ2_K(const void* src, float* dst, int64_t n) {
  DequantizeRow<Q2_KBlock>(src, dst, n);
}
void DequantizeQ3_K(const void* src, float* dst, int64_t n) {
  DequantizeRow<Q3_KBlock>(src, dst, n);
}
void DequantizeQ4_K(const void* src, float* dst, int64_t n) {
  DequantizeRow<Q4_KBlock>(src, dst, n);
}
void DequantizeQ5_K(const void* src, float* dst, int64_t n) {
  DequantizeRow<Q5_KBlock>(src, dst, n);
}
void DequantizeQ6_K(const void* src, float* dst, int64_t n) {
  DequantizeRow<Q6_KBlock>(src, dst, n);
}

void DequantizeQ8_K(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Q8_KBlock*>(src);
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    for (int i = 0; i < kQK_K; ++i) dst[b * kQK_K + i] = blocks[b].d * blocks[b].qs[i];
  }
}

float DotQ2_KQ8_K(const void* w, const void* a, int64_t n) {
  return DotRow<Q2_KBlock>(w, a, n);
}
float DotQ3_KQ8_K(const void* w, const void* a, int64_t n) {
  return DotRow<Q3_KBlock>(w, a, n);
}
float DotQ4_KQ8_K(const void* w, const void* a, int64_t n) {
  return DotRow<Q4_KBlock>(w, a, n);
}
float DotQ5_KQ8_K(const void* w, const void* a, int64_t n) {
  return DotRow<Q5_KBlock>(w, a, n);
}
float DotQ6_KQ8_K(const void* w, const void* a, int64_t n) {
  return DotRow<Q6_KBlock>(w, a, n);
}

}  // namespace wick::kernels::ref
