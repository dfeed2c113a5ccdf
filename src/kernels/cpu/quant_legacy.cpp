// The 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1).
//
// The quantizers must write the bytes llama-quantize writes, so they keep the reference's
// float arithmetic exactly: the scale is computed in f32 and its reciprocal used unrounded
// (only the stored copy is rounded to f16), 4- and 5-bit quants are rounded by adding 0.5 (or
// the offset plus 0.5) and truncating, 8-bit ones with roundf. Each product is its own
// statement, as in the reference, so that clang's default contraction (within an expression)
// cannot fuse it with the following addition into an FMA, which would round differently; GCC
// contracts across statements only in its GNU modes, and the build uses ISO C++.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/quant_ref.h"

namespace wick::kernels::ref {

namespace {

constexpr int kBlock = 32;  // every format in this file
constexpr int kHalfBlock = kBlock / 2;
static_assert(kQK4_0 == kBlock && kQK4_1 == kBlock && kQK5_0 == kBlock && kQK5_1 == kBlock &&
              kQK8_0 == kBlock && kQK8_1 == kBlock);

// The element of largest magnitude, sign kept; on ties the first one wins, as in the
// reference. The symmetric 4- and 5-bit formats map it to the most negative quant, which
// gains them one extra level on that side.
float SignedAbsMax(const float* x) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < kBlock; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

float AbsMax(const float* x) {
  float amax = 0.0f;
  for (int j = 0; j < kBlock; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}

struct Range {
  float min;
  float max;
};

Range MinMax(const float* x) {
  Range r{FLT_MAX, -FLT_MAX};
  for (int j = 0; j < kBlock; ++j) {
    r.min = std::min(r.min, x[j]);
    r.max = std::max(r.max, x[j]);
  }
  return r;
}

// An all-zero block has d == 0; multiplying by 0 instead of dividing by it keeps every quant
// at its zero point rather than producing nan.
float Reciprocal(float d) {
  return d != 0.0f ? 1.0f / d : 0.0f;
}

// Element j sits in the low nibble of qs[j] and element j + 16 in the high nibble.
void PackNibbles(const uint8_t* q, uint8_t* qs) {
  for (int j = 0; j < kHalfBlock; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0x0f) | ((q[j + kHalfBlock] & 0x0f) << 4));
  }
}

void UnpackNibbles(const uint8_t* qs, int* q) {
  for (int j = 0; j < kHalfBlock; ++j) {
    q[j] = qs[j] & 0x0f;
    q[j + kHalfBlock] = qs[j] >> 4;
  }
}

// The fifth bit of element j is bit j of qh, read as a little-endian uint32.
void PackFifthBits(const uint8_t* q, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < kBlock; ++j) bits |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(bits >> (8 * k));
}

void UnpackFiveBits(const uint8_t* qs, const uint8_t* qh, int* q) {
  UnpackNibbles(qs, q);
  uint32_t bits = 0;
  for (int k = 0; k < 4; ++k) bits |= static_cast<uint32_t>(qh[k]) << (8 * k);
  for (int j = 0; j < kBlock; ++j) q[j] |= static_cast<int>((bits >> j) & 1) << 4;
}

// Symmetric formats: q = x / d + offset with d = max / -offset, clamped to [0, top].
void QuantizeSymmetric(const float* x, int offset, int top, uint16_t* d_out, uint8_t* q) {
  const float max = SignedAbsMax(x);
  const float d = max / static_cast<float>(-offset);
  const float id = Reciprocal(d);
  *d_out = F32ToF16(d);
  const float bias = static_cast<float>(offset) + 0.5f;
  for (int j = 0; j < kBlock; ++j) {
    const float scaled = x[j] * id;
    // Truncating through int8 as the reference does; scaled + bias lies in [0, 2 * offset].
    const int v = static_cast<int8_t>(scaled + bias);
    q[j] = static_cast<uint8_t>(std::min(top, v));
  }
}

// Asymmetric formats: q = (x - min) / d with d = (max - min) / top.
void QuantizeAffine(const float* x, int top, uint16_t* d_out, uint16_t* m_out, uint8_t* q) {
  const Range r = MinMax(x);
  const float d = (r.max - r.min) / static_cast<float>(top);
  const float id = Reciprocal(d);
  *d_out = F32ToF16(d);
  *m_out = F32ToF16(r.min);
  for (int j = 0; j < kBlock; ++j) {
    const float scaled = (x[j] - r.min) * id;
    const int v = static_cast<uint8_t>(scaled + 0.5f);  // scaled >= 0: truncation is floor
    q[j] = static_cast<uint8_t>(std::min(top, v));
  }
}

// Q8_0 and Q8_1 share their quants. The file quantizer: round(x * (1 / d)) with
// d = amax / 127, halves away from zero.
float QuantizeQ8(const float* x, int8_t* qs) {
  const float d = AbsMax(x) / 127.0f;
  const float id = Reciprocal(d);
  for (int j = 0; j < kBlock; ++j) {
    const float scaled = x[j] * id;
    qs[j] = static_cast<int8_t>(std::round(scaled));
  }
  return d;
}

// The activation quantizer of llama.cpp's x86 matmuls, which reference outputs come from:
// x * (127 / amax), halves to even. It differs from the file quantizer in one quant in a few
// thousand, enough to move the logits of a random-weight model by 1e-2.
float QuantizeQ8Activations(const float* x, int8_t* qs) {
  const float amax = AbsMax(x);
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  for (int j = 0; j < kBlock; ++j) qs[j] = static_cast<int8_t>(std::nearbyint(x[j] * id));
  return amax / 127.0f;
}

// Q8_1 stores d and d * sum(q), both from the unrounded d, not from the stored f16 copy.
void StoreQ8_1Scales(float d, Q8_1Block& block) {
  int sum = 0;
  for (int8_t v : block.qs) sum += v;
  block.d = F32ToF16(d);
  block.s = F32ToF16(static_cast<float>(sum) * d);
}

// The dot oracles keep the reference's generic vec_dot arithmetic: exact integer sums per
// block, then scaled and accumulated in f32 in the same order, so they reproduce its result
// bit for bit.
int BlockSum(const int* q, const int8_t* a) {
  int sum = 0;
  for (int j = 0; j < kBlock; ++j) sum += q[j] * a[j];
  return sum;
}

}  // namespace

void DequantizeQ4_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Q4_0Block*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float d = F16ToF32(blocks[b].d);
    int q[kBlock];
    UnpackNibbles(blocks[b].qs, q);
    for (int j = 0; j < kBlock; ++j) dst[b * kBlock + j] = static_cast<float>(q[j] - 8) * d;
  }
}

void QuantizeQ4_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q4_0Block*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    uint8_t q[kBlock];
    QuantizeSymmetric(src + b * kBlock, 8, 15, &blocks[b].d, q);
    PackNibbles(q, blocks[b].qs);
  }
}

float DotQ4_0Q8_0(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const Q4_0Block*>(w);
  const auto* ab = static_cast<const Q8_0Block*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    int q[kBlock];
    UnpackNibbles(wb[b].qs, q);
    for (int& v : q) v -= 8;
    const int sumi = BlockSum(q, ab[b].qs);
    sum += static_cast<float>(sumi) * F16ToF32(wb[b].d) * F16ToF32(ab[b].d);
  }
  return sum;
}

void DequantizeQ4_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Q4_1Block*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float d = F16ToF32(blocks[b].d);
    const float m = F16ToF32(blocks[b].m);
    int q[kBlock];
    UnpackNibbles(blocks[b].qs, q);
    for (int j = 0; j < kBlock; ++j) dst[b * kBlock + j] = static_cast<float>(q[j]) * d + m;
  }
}

void QuantizeQ4_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q4_1Block*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    uint8_t q[kBlock];
    QuantizeAffine(src + b * kBlock, 15, &blocks[b].d, &blocks[b].m, q);
    PackNibbles(q, blocks[b].qs);
  }
}

float DotQ4_1Q8_1(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const Q4_1Block*>(w);
  const auto* ab = static_cast<const Q8_1Block*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    int q[kBlock];
    UnpackNibbles(wb[b].qs, q);
    const int sumi = BlockSum(q, ab[b].qs);
    // The min term, m * sum(a), comes from the activation's stored d * sum(qs).
    sum += F16ToF32(wb[b].d) * F16ToF32(ab[b].d) * static_cast<float>(sumi) +
           F16ToF32(wb[b].m) * F16ToF32(ab[b].s);
  }
  return sum;
}

void DequantizeQ5_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Q5_0Block*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float d = F16ToF32(blocks[b].d);
    int q[kBlock];
    UnpackFiveBits(blocks[b].qs, blocks[b].qh, q);
    for (int j = 0; j < kBlock; ++j) dst[b * kBlock + j] = static_cast<float>(q[j] - 16) * d;
  }
}

void QuantizeQ5_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q5_0Block*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    uint8_t q[kBlock];
    QuantizeSymmetric(src + b * kBlock, 16, 31, &blocks[b].d, q);
    PackNibbles(q, blocks[b].qs);
    PackFifthBits(q, blocks[b].qh);
  }
}

float DotQ5_0Q8_0(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const Q5_0Block*>(w);
  const auto* ab = static_cast<const Q8_0Block*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    int q[kBlock];
    UnpackFiveBits(wb[b].qs, wb[b].qh, q);
    for (int& v : q) v -= 16;
    const int sumi = BlockSum(q, ab[b].qs);
    sum += F16ToF32(wb[b].d) * F16ToF32(ab[b].d) * static_cast<float>(sumi);
  }
  return sum;
}

void DequantizeQ5_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Q5_1Block*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float d = F16ToF32(blocks[b].d);
    const float m = F16ToF32(blocks[b].m);
    int q[kBlock];
    UnpackFiveBits(blocks[b].qs, blocks[b].qh, q);
    for (int j = 0; j < kBlock; ++j) dst[b * kBlock + j] = static_cast<float>(q[j]) * d + m;
  }
}

void QuantizeQ5_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q5_1Block*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    uint8_t q[kBlock];
    QuantizeAffine(src + b * kBlock, 31, &blocks[b].d, &blocks[b].m, q);
    PackNibbles(q, blocks[b].qs);
    PackFifthBits(q, blocks[b].qh);
  }
}

float DotQ5_1Q8_1(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const Q5_1Block*>(w);
  const auto* ab = static_cast<const Q8_1Block*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    int q[kBlock];
    UnpackFiveBits(wb[b].qs, wb[b].qh, q);
    const int sumi = BlockSum(q, ab[b].qs);
    sum += F16ToF32(wb[b].d) * F16ToF32(ab[b].d) * static_cast<float>(sumi) +
           F16ToF32(wb[b].m) * F16ToF32(ab[b].s);
  }
  return sum;
}

void DequantizeQ8_0(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Q8_0Block*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float d = F16ToF32(blocks[b].d);
    for (int j = 0; j < kBlock; ++j) {
      dst[b * kBlock + j] = static_cast<float>(blocks[b].qs[j]) * d;
    }
  }
}

void QuantizeQ8_0(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q8_0Block*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    blocks[b].d = F32ToF16(QuantizeQ8(src + b * kBlock, blocks[b].qs));
  }
}

float DotQ8_0Q8_0(const void* w, const void* a, int64_t n) {
  const auto* wb = static_cast<const Q8_0Block*>(w);
  const auto* ab = static_cast<const Q8_0Block*>(a);
  float sum = 0.0f;
  for (int64_t b = 0; b < n / kBlock; ++b) {
    int q[kBlock];
    std::copy(wb[b].qs, wb[b].qs + kBlock, q);
    const int sumi = BlockSum(q, ab[b].qs);
    sum += static_cast<float>(sumi) * (F16ToF32(wb[b].d) * F16ToF32(ab[b].d));
  }
  return sum;
}

void DequantizeQ8_1(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const Q8_1Block*>(src);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    const float d = F16ToF32(blocks[b].d);
    for (int j = 0; j < kBlock; ++j) {
      dst[b * kBlock + j] = static_cast<float>(blocks[b].qs[j]) * d;
    }
  }
}

void QuantizeQ8_1(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q8_1Block*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    StoreQ8_1Scales(QuantizeQ8(src + b * kBlock, blocks[b].qs), blocks[b]);
  }
}

void QuantizeQ8_0Activations(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q8_0Block*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    blocks[b].d = F32ToF16(QuantizeQ8Activations(src + b * kBlock, blocks[b].qs));
  }
}

void QuantizeQ8_1Activations(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<Q8_1Block*>(dst);
  for (int64_t b = 0; b < n / kBlock; ++b) {
    StoreQ8_1Scales(QuantizeQ8Activations(src + b * kBlock, blocks[b].qs), blocks[b]);
  }
}

}  // namespace wick::kernels::ref
