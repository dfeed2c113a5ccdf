// The CUDA kernels' block decoders and per-lane arithmetic (kernels/cuda/dequant.cuh and
// gemv_chunk.cuh), run on the CPU, where they must agree with the CPU kernels: every weight
// they decode equals the CPU dequantizer's bit for bit, for every type, in place and after
// the GEMV's staging copy from any alignment; the staging copy reproduces every byte; the
// lanes' pieces tile every chunk; and the GEMV's arithmetic replayed on the host in the
// device's order (EmulateGemv, which the GPU tests compare the device against bit for bit)
// agrees with a double-precision product. No GPU is needed: this is what checks the device
// code's index math before one is available.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "core/quant_blocks.h"
#include "gemv_emulation.h"
#include "kernels/cpu/quant_traits.h"
#include "kernels/cuda/gemv_chunk.cuh"
#include "quant_test_util.h"

namespace wick::kernels::cuda {

namespace {

constexpr int kLanes = dq::kWarpLanes;
constexpr int kRowsPerWarp = 4;  // as in quant_matmul.cu

using test::Bits;
using test::Int8Bound;

// The int8 ways of multiplying (the int8 GEMV, and tensor cores where the type has them).
constexpr GemvActivations kInt8Modes[] = {GemvActivations::kInt8,
                                          GemvActivations::kInt8TensorCores};

// Equal bits, or both NaN (a NaN's sign and payload are not part of the contract).
bool SameFloat(float a, float b) {
  return Bits(a) == Bits(b) || (std::isnan(a) && std::isnan(b));
}

// Host bytes at a 16-byte aligned address, like the device's buffers.
class AlignedBytes {
 public:
  explicit AlignedBytes(size_t n, uint8_t fill = 0) : storage_(n + 16, fill) {}
  uint8_t* data() {
    const auto p = reinterpret_cast<uintptr_t>(storage_.data());
    return storage_.data() + (16 - p % 16) % 16;
  }

 private:
  std::vector<uint8_t> storage_;
};

// Copies one row's chunk as the kernel's CopyChunk does, lane by lane (16-byte words by the
// plan, then the 2-byte ends), into `stage` (16-byte aligned), and returns where its first byte
// landed.
const uint8_t* StageChunk(const uint8_t* src, int nbytes, uint8_t* stage) {
  const dq::SegmentPlan p = dq::PlanSegment(reinterpret_cast<uintptr_t>(src), nbytes);
  for (int lane = 0; lane < kLanes; ++lane) {
    for (int off = p.lo + 16 * lane; off < p.hi; off += 16 * kLanes) {
      std::memcpy(stage + off, src + (off - p.s0), 16);
    }
    if (lane < dq::HalfwordCount(p)) {
      const int off = dq::HalfwordPos(p, lane);
      std::memcpy(stage + off, src + (off - p.s0), 2);
    }
  }
  return stage + p.s0;
}

// The device's WarpSum: v += shfl_xor(v, 16), 8, 4, 2, 1. Every lane ends with the same sum.
float WarpSum(const float (&v)[kLanes]) {
  float a[kLanes];
  std::copy(v, v + kLanes, a);
  for (int offset = 16; offset > 0; offset /= 2) {
    float b[kLanes];
    for (int l = 0; l < kLanes; ++l) b[l] = a[l] + a[l ^ offset];
    std::copy(b, b + kLanes, a);
  }
  return a[0];
}

}  // namespace

// ---- The GEMV, replayed ----

namespace emulation {

namespace {

// x's 32-column block v quantised as the device's StageXInt8 does, as its 4 groups.
void QuantizeXBlock(const float (&v)[32], dq::XGroup (&out)[4]) {
  uint32_t bits = 0;
  for (const float e : v) bits = std::max(bits, dq::AbsBits(e));
  const float amax = dq::AmaxOf(bits);
  const float inv = dq::XInverse(amax);
  for (int g = 0; g < 4; ++g) {
    int q[8];
    int sum = 0;
    for (int e = 0; e < 8; ++e) sum += q[e] = dq::QuantizeX(v[8 * g + e], inv);
    out[g] = {{dq::PackInt8(q[0], q[1], q[2], q[3]), dq::PackInt8(q[4], q[5], q[6], q[7])},
              static_cast<float>(sum),
              dq::XScale(amax)};
  }
}

// The device's StageXInt8: columns [0, cols) of a chunk (rows k apart) quantised per 32
// columns into M rows of kChunkGroups groups at GroupSlot; blocks past cols are zeros.
template <class F, int M>
void StageXInt8(const float* xc, int64_t k, int cols, dq::XGroup* xg) {
  for (int i = 0; i < M; ++i) {
    for (int b = 0; b < dq::kChunkCols / 32; ++b) {
      float v[32] = {};
      for (int e = 0; e < 32 && 32 * b < cols; ++e) v[e] = xc[i * k + 32 * b + e];
      dq::XGroup groups[4];
      QuantizeXBlock(v, groups);
      for (int g = 0; g < 4; ++g)
        xg[i * dq::kChunkGroups + dq::GroupSlot<F>(4 * b + g)] = groups[g];
    }
  }
}

// The tensor-core GEMV (quant_matmul_mma.cu): per output, warp w's sum takes blocks w,
// w + kMmaWarps, ... of every chunk (so of the row: chunks hold whole multiples of
// kMmaWarps blocks) in order, one Int8Step each, and the total adds the warps' sums in warp
// order. The block's integer sums are exact, so any order of its pieces gives the mma's.
template <DType T>
void EmulateTensorCores(const uint8_t* w, int64_t n, int64_t k, const float* x, int64_t m,
                        float* y) {
  using F = dq::Format<T>;
  static_assert((dq::kChunkCols / 32) % dq::kMmaWarps == 0);
  const int64_t blocks = k / 32;  // MmaPiece's: a k-quant super-block is 8 of them
  const int64_t row_bytes = k / F::kBlockElems * F::kBlockBytes;
  std::vector<dq::XGroup> xg(m * blocks * 4);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t b = 0; b < blocks; ++b) {
      float v[32];
      std::copy(x + i * k + 32 * b, x + i * k + 32 * b + 32, v);
      dq::XGroup groups[4];
      QuantizeXBlock(v, groups);
      std::copy(groups, groups + 4, xg.begin() + (i * blocks + b) * 4);
    }
  }
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < m; ++i) {
      float sums[dq::kMmaWarps] = {};
      for (int64_t b = 0; b < blocks; ++b) {
        const dq::XGroup* g = &xg[(i * blocks + b) * 4];
        int dot = 0;
        float xsum = 0.0f;
        dq::Piece p{};
        for (int t = 0; t < 4; ++t) {
          p = dq::MmaPiece<F, dq::ExactReader>(w + r * row_bytes, b, t);
          dot = dq::Dp4a(dq::SignedCodes<F>(p.u[0]), g[t].q[0], dot);
          dot = dq::Dp4a(dq::SignedCodes<F>(p.u[1]), g[t].q[1], dot);
          xsum += g[t].sum;
        }
        float& s = sums[b % dq::kMmaWarps];
        s = dq::Int8Step<F>(dot, xsum, g[0].d, p.scale, p.bias, s);
      }
      y[i * n + r] = dq::MmaTotal(sums);
    }
  }
}

template <DType T, int M, bool kInt8>
void EmulateQuant(const uint8_t* w, int64_t n, int64_t k, const float* x, float* y) {
  using F = dq::Format<T>;
  using C = dq::Chunk<F>;
  constexpr int R = kRowsPerWarp;
  const int64_t row_bytes = k / F::kBlockElems * F::kBlockBytes;
  const int64_t chunks = (k + dq::kChunkCols - 1) / dq::kChunkCols;
  std::vector<float> xs(static_cast<size_t>(M) * C::kXStride, 0.0f);
  std::vector<dq::XGroup> xg(static_cast<size_t>(M) * dq::kChunkGroups);
  std::vector<AlignedBytes> stage(R, AlignedBytes(C::kSegStride));
  AlignedBytes absent(C::kSegStride);
  // A warp's rows are 4 consecutive ones from a multiple of 4 (16 per CTA, 4 per warp).
  for (int64_t row0 = 0; row0 < n; row0 += R) {
    float acc[kLanes][R][M] = {};
    for (int64_t c = 0; c < chunks; ++c) {
      const auto cols = static_cast<int>(std::min<int64_t>(dq::kChunkCols, k - c * dq::kChunkCols));
      if constexpr (kInt8) {
        StageXInt8<F, M>(x + c * dq::kChunkCols, k, cols, xg.data());
      } else {
        for (int i = 0; i < M; ++i) {
          for (int col = 0; col < cols; ++col) {
            xs[i * C::kXStride + C::XIdx(col)] = x[i * k + c * dq::kChunkCols + col];
          }
        }
      }
      const auto nbytes = static_cast<int>(std::min<int64_t>(C::kBytes, row_bytes - c * C::kBytes));
      const uint8_t* rows[R];
      for (int r = 0; r < R; ++r) {
        rows[r] = row0 + r < n ? StageChunk(w + (row0 + r) * row_bytes + c * C::kBytes, nbytes,
                                            stage[r].data())
                               : absent.data();
      }
      for (int lane = 0; lane < kLanes; ++lane) {
        if (C::LaneBlock(lane) < cols / F::kBlockElems) {
          if constexpr (kInt8) {
            dq::AccumulateChunkInt8<F, M, R>(rows, xg.data(), lane, acc[lane]);
          } else {
            dq::AccumulateChunk<F, M, R>(rows, xs.data(), lane, acc[lane]);
          }
        }
      }
    }
    for (int r = 0; r < R && row0 + r < n; ++r) {
      for (int i = 0; i < M; ++i) {
        float v[kLanes];
        for (int l = 0; l < kLanes; ++l) v[l] = acc[l][r][i];
        y[i * n + row0 + r] = WarpSum(v);
      }
    }
  }
}

template <DType T>
float FloatElement(const uint8_t* w, int64_t i) {
  if constexpr (T == DType::kF32) {
    float v;
    std::memcpy(&v, w + 4 * i, sizeof v);
    return v;
  } else {
    uint16_t h;
    std::memcpy(&h, w + 2 * i, sizeof h);
    return T == DType::kF16 ? dq::F16ToF32(h) : dq::Bf16ToF32(h);
  }
}

// Each lane's sum takes its columns in ascending order: 8 consecutive ones per 256 on the
// vector path, one per 32 otherwise.
template <DType T>
void EmulateFloat(const uint8_t* w, int64_t n, int64_t k, const float* x, int64_t m, bool vec,
                  float* y) {
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < m; ++i) {
      float acc[kLanes] = {};
      for (int lane = 0; lane < kLanes; ++lane) {
        if (vec) {
          for (int64_t col = 8 * lane; col < k; col += 8 * kLanes) {
            for (int e = 0; e < 8; ++e) {
              acc[lane] =
                  dq::FFma(FloatElement<T>(w, r * k + col + e), x[i * k + col + e], acc[lane]);
            }
          }
        } else {
          for (int64_t col = lane; col < k; col += kLanes) {
            acc[lane] = dq::FFma(FloatElement<T>(w, r * k + col), x[i * k + col], acc[lane]);
          }
        }
      }
      y[i * n + r] = WarpSum(acc);
    }
  }
}

// EmulateQuant<T, rows> for rows 1..8.
template <DType T, int M = 1>
void EmulateGroup(int rows, const uint8_t* w, int64_t n, int64_t k, const float* x, bool int8,
                  float* y) {
  if constexpr (M <= 8) {
    if (rows == M) {
      return int8 ? EmulateQuant<T, M, true>(w, n, k, x, y)
                  : EmulateQuant<T, M, false>(w, n, k, x, y);
    }
    EmulateGroup<T, M + 1>(rows, w, n, k, x, int8, y);
  }
}

template <DType T>
void EmulateTyped(const uint8_t* w, int64_t n, int64_t k, const float* x, int64_t m, bool vec,
                  GemvActivations activations, float* y) {
  const bool int8 = activations != GemvActivations::kF32;
  if constexpr (T == DType::kF32 || T == DType::kF16 || T == DType::kBF16) {
    EmulateFloat<T>(w, n, k, x, m, vec, y);
  } else if (activations == GemvActivations::kInt8TensorCores && TensorCoreGemvTakes(T)) {
    if constexpr (dq::kMmaFormat<dq::Format<T>>) EmulateTensorCores<T>(w, n, k, x, m, y);
  } else {
    // The device computes whole groups of 8 rows, then the rest, each row alone.
    for (int64_t i0 = 0; i0 < m; i0 += 8) {
      const int64_t rows = std::min<int64_t>(8, m - i0);
      const float* xg = x + i0 * k;
      float* yg = y + i0 * n;
      EmulateGroup<T>(static_cast<int>(rows), w, n, k, xg, int8, yg);
    }
  }
}

}  // namespace

void EmulateGemv(const void* w, DType type, int64_t n, int64_t k, const float* x, int64_t m,
                 bool float_vec, float* y, GemvActivations activations) {
  const auto* wb = static_cast<const uint8_t*>(w);
  switch (type) {
    case DType::kF32:
      return EmulateTyped<DType::kF32>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kF16:
      return EmulateTyped<DType::kF16>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kBF16:
      return EmulateTyped<DType::kBF16>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ4_0:
      return EmulateTyped<DType::kQ4_0>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ4_1:
      return EmulateTyped<DType::kQ4_1>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ5_0:
      return EmulateTyped<DType::kQ5_0>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ5_1:
      return EmulateTyped<DType::kQ5_1>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ8_0:
      return EmulateTyped<DType::kQ8_0>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ2_K:
      return EmulateTyped<DType::kQ2_K>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ3_K:
      return EmulateTyped<DType::kQ3_K>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ4_K:
      return EmulateTyped<DType::kQ4_K>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ5_K:
      return EmulateTyped<DType::kQ5_K>(wb, n, k, x, m, float_vec, activations, y);
    case DType::kQ6_K:
      return EmulateTyped<DType::kQ6_K>(wb, n, k, x, m, float_vec, activations, y);
    default:
      ADD_FAILURE() << "no emulation for " << NameOf(type);
  }
}

}  // namespace emulation

namespace {

// ---- Scalar pieces ----

TEST(CudaDequantHost, BitToolsFollowTheCudaDefinitions) {
  // __byte_perm: byte n of the result is byte (s >> 4n) & 7 of y:x.
  EXPECT_EQ(dq::BytePerm(0x33221100u, 0x77665544u, 0x3210u), 0x33221100u);
  EXPECT_EQ(dq::BytePerm(0x33221100u, 0x77665544u, 0x7654u), 0x77665544u);
  EXPECT_EQ(dq::BytePerm(0x33221100u, 0x77665544u, 0x0123u), 0x00112233u);
  EXPECT_EQ(dq::BytePerm(0x33221100u, 0x77665544u, 0x4567u), 0x44556677u);
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(dq::BytePerm(0x0a0b0c0du, 0x4b000000u, 0x7540u | i),
              0x4b000000u | ((0x0a0b0c0du >> (8 * i)) & 0xff));
  }
  // __funnelshift_r: the low word of hi:lo >> (sh & 31).
  EXPECT_EQ(dq::FunnelShiftR(0x33221100u, 0x77665544u, 0), 0x33221100u);
  EXPECT_EQ(dq::FunnelShiftR(0x33221100u, 0x77665544u, 16), 0x55443322u);
  EXPECT_EQ(dq::FunnelShiftR(0x33221100u, 0x77665544u, 8), 0x44332211u);
  EXPECT_EQ(dq::FunnelShiftR(0x33221100u, 0x77665544u, 32 + 8), 0x44332211u);
  for (uint32_t b = 0; b < 16; ++b) {
    uint32_t want = 0;
    for (int i = 0; i < 4; ++i) want |= ((b >> i) & 1u) << (8 * i);
    EXPECT_EQ(dq::SpreadBits4(b), want) << b;
  }
  const uint32_t words[3] = {0x03020100u, 0x07060504u, 0x0b0a0908u};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(dq::ByteAt(words, i), static_cast<uint32_t>(i));
  // IntToFloat is exact below 2^22 in magnitude (the int8 GEMV's sums stay below 2^20).
  for (int v = -(1 << 22) + 1; v < (1 << 22); v += 997) {
    ASSERT_EQ(Bits(dq::IntToFloat(v)), Bits(static_cast<float>(v))) << v;
  }
  for (const int v : {0, 1, -1, (1 << 22) - 1, -(1 << 22) + 1, 520192, -520192}) {
    EXPECT_EQ(Bits(dq::IntToFloat(v)), Bits(static_cast<float>(v))) << v;
  }
}

TEST(CudaDequantHost, ReadersReturnLittleEndianWordsFromAnyEvenAddress) {
  AlignedBytes buf(64);
  for (int i = 0; i < 64; ++i) buf.data()[i] = static_cast<uint8_t>(i * 7 + 3);
  for (int start = 4; start < 40; start += 2) {
    const uint8_t* p = buf.data() + start;
    uint32_t padded[5], exact[5];
    dq::PaddedReader::Words(p, padded);
    dq::ExactReader::Words(p, exact);
    for (int i = 0; i < 5; ++i) {
      uint32_t want;
      std::memcpy(&want, p + 4 * i, 4);
      EXPECT_EQ(padded[i], want) << start << " " << i;
      EXPECT_EQ(exact[i], want) << start << " " << i;
    }
  }
}

// ---- The staging copy ----

TEST(CudaDequantHost, SegmentPlanCopiesExactlyTheChunk) {
  std::mt19937 rng(11);
  AlignedBytes src(4096 + 64);
  for (int i = 0; i < 4096 + 64; ++i) src.data()[i] = static_cast<uint8_t>(rng());
  for (int trial = 0; trial < 20000; ++trial) {
    const int s0 = 2 * static_cast<int>(rng() % 8);
    const int nbytes = trial < 200 ? 2 * (trial % 100 + 1) : 2 * static_cast<int>(rng() % 1500 + 1);
    const uint8_t* from = src.data() + 16 * static_cast<int>(rng() % 4) + s0;
    const dq::SegmentPlan p = dq::PlanSegment(reinterpret_cast<uintptr_t>(from), nbytes);
    ASSERT_EQ(p.s0, s0);
    ASSERT_EQ(p.s1, s0 + nbytes);
    ASSERT_LE(dq::HalfwordCount(p), kLanes) << s0 << " " << nbytes;
    ASSERT_TRUE(p.lo % 16 == 0 || p.lo == p.s1);
    ASSERT_TRUE(p.hi % 16 == 0 || p.hi == p.s1);
    ASSERT_LE(p.s0, p.lo);
    ASSERT_LE(p.lo, p.hi);
    ASSERT_LE(p.hi, p.s1);
    AlignedBytes stage(nbytes + 64, 0xa5);
    std::vector<int> writes(nbytes + 32, 0);
    for (int off = p.lo; off < p.hi; off += 16) {
      for (int b = 0; b < 16; ++b) ++writes[off + b];
    }
    for (int j = 0; j < dq::HalfwordCount(p); ++j) {
      const int off = dq::HalfwordPos(p, j);
      ASSERT_EQ(off % 2, 0);
      ++writes[off];
      ++writes[off + 1];
    }
    for (int b = 0; b < nbytes + 32; ++b) {
      ASSERT_EQ(writes[b], b >= p.s0 && b < p.s1 ? 1 : 0) << s0 << " " << nbytes << " " << b;
    }
    const uint8_t* got = StageChunk(from, nbytes, stage.data());
    ASSERT_EQ(got, stage.data() + s0);
    ASSERT_EQ(std::memcmp(got, from, nbytes), 0) << s0 << " " << nbytes;
  }
}

// ---- Per type ----

template <DType T>
struct TypeTag {
  static constexpr DType kType = T;
};

using QuantTypes =
    ::testing::Types<TypeTag<DType::kQ4_0>, TypeTag<DType::kQ4_1>, TypeTag<DType::kQ5_0>,
                     TypeTag<DType::kQ5_1>, TypeTag<DType::kQ8_0>, TypeTag<DType::kQ2_K>,
                     TypeTag<DType::kQ3_K>, TypeTag<DType::kQ4_K>, TypeTag<DType::kQ5_K>,
                     TypeTag<DType::kQ6_K>>;

struct TypeNames {
  template <class Tag>
  static std::string GetName(int) {
    return std::string(NameOf(Tag::kType));
  }
};

template <class Tag>
class CudaDequantHostTyped : public ::testing::Test {};
TYPED_TEST_SUITE(CudaDequantHostTyped, QuantTypes, TypeNames);

// Random weights whose blocks span magnitudes (all zero, f16-subnormal scales, large) and
// offsets (all-positive and all-negative blocks for the formats with a min).
std::vector<float> RandomWeights(int64_t count, int block, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const float kMagnitudes[] = {1.0f, 1.0f, 1.0f, 0.0f, 1e-7f, 1e-3f, 50.0f, 2e4f};
  const float kShifts[] = {0.0f, 0.0f, 3.0f, -3.0f};
  std::vector<float> w(count);
  for (int64_t b = 0; b < count / block; ++b) {
    const float mag = kMagnitudes[rng() % 8];
    const float shift = kShifts[rng() % 4];
    for (int j = 0; j < block; ++j) w[b * block + j] = mag * (normal(rng) + shift);
  }
  return w;
}

std::vector<uint8_t> Quantize(DType t, const std::vector<float>& w) {
  const DTypeInfo& info = InfoOf(t);
  const int64_t count = static_cast<int64_t>(w.size());
  std::vector<uint8_t> bytes(count / info.block_size * info.block_bytes);
  FindQuantTraits(t)->quantize(w.data(), bytes.data(), count);
  return bytes;
}

// Random bytes (every quant and sub-scale pattern, including ones no quantizer writes), with
// f16 scales from a list of extremes: zeros, subnormals, the largest finite, and with
// `special` infinities and NaNs.
template <DType T>
std::vector<uint8_t> RandomBlocks(int64_t count, bool special, std::mt19937& rng) {
  using F = dq::Format<T>;
  const uint16_t kExtremes[] = {0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x3c00, 0xbc00,
                                0x7bff, 0xfbff, 0x2e66, 0x1400, 0x7c00, 0xfc00, 0x7e00, 0x7d01};
  const int choices = special ? 16 : 12;
  std::vector<uint8_t> bytes(count / F::kBlockElems * F::kBlockBytes);
  for (uint8_t& b : bytes) b = static_cast<uint8_t>(rng());
  for (size_t blk = 0; blk < bytes.size(); blk += F::kBlockBytes) {
    for (size_t off : ScaleFieldOffsets(T)) {
      uint16_t h;
      if (rng() % 2 == 0) {
        h = kExtremes[rng() % choices];
      } else {  // a random finite value
        h = static_cast<uint16_t>(rng() & 0xffff);
        if ((h & 0x7c00) == 0x7c00) h &= 0xbfff;
      }
      std::memcpy(&bytes[blk + off], &h, 2);
    }
  }
  return bytes;
}

// Every weight of `rows` rows of k, decoded slice by slice in place (as DequantizeRowsF16 does)
// and after the GEMV's staging copy from each even address mod 16, equals the CPU's.
template <DType T>
void ExpectSlicesMatchCpu(const std::vector<uint8_t>& bytes, int64_t rows, int64_t k) {
  using F = dq::Format<T>;
  using C = dq::Chunk<F>;
  std::vector<float> ref(rows * k);
  FindQuantTraits(T)->dequantize(bytes.data(), ref.data(), rows * k);
  const int64_t blocks_per_row = k / F::kBlockElems;
  const int64_t row_bytes = blocks_per_row * F::kBlockBytes;
  ASSERT_EQ(static_cast<int64_t>(bytes.size()), rows * row_bytes);
  int failures = 0;
  auto check = [&](float got, int64_t row, int64_t col, const char* how) {
    const float want = ref[row * k + col];
    if (!SameFloat(got, want) && failures++ < 8) {
      ADD_FAILURE() << NameOf(T) << " " << how << ": row " << row << " column " << col << ": "
                    << got << " (0x" << std::hex << Bits(got) << "), the CPU's " << want << " (0x"
                    << Bits(want) << ")";
    }
  };
  // A piece's 8 weights, columns col .. col + 7 of the row.
  auto check_piece = [&](const dq::Piece& p, int64_t row, int64_t col, const char* how) {
    float q[8];
    dq::Quants<F>(p, q);
    for (int e = 0; e < 8; ++e) check(dq::Weight<F>(p, q[e]), row, col + e, how);
  };

  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t b = 0; b < blocks_per_row; ++b) {
      const uint8_t* blk = bytes.data() + row * row_bytes + b * F::kBlockBytes;
      std::vector<int> seen(F::kBlockElems, 0);
      for (int slot = 0; slot < F::kSlots; ++slot) {
        const auto slice = F::template Load<dq::ExactReader>(blk, slot);
        for (int piece = 0; piece < 4; ++piece) {
          const dq::Piece p = F::Decode(slice, piece);
          float q[8];
          dq::Quants<F>(p, q);
          const int col = F::PieceCol(slot, piece);
          for (int e = 0; e < 8; ++e) {
            ++seen[col + e];
            check(dq::Weight<F>(p, q[e]), row, b * F::kBlockElems + col + e, "in place");
          }
        }
      }
      for (int e = 0; e < F::kBlockElems; ++e) ASSERT_EQ(seen[e], 1) << "block column " << e;
    }
    // The tensor-core GEMV's view: 32-column block b, piece t is columns 32b + 8t ...
    if constexpr (dq::kMmaFormat<F>) {
      for (int64_t b = 0; b < k / 32; ++b) {
        for (int t = 0; t < 4; ++t) {
          check_piece(dq::MmaPiece<F, dq::ExactReader>(bytes.data() + row * row_bytes, b, t), row,
                      32 * b + 8 * t, "mma");
        }
      }
    }
  }

  const int64_t chunks = (k + dq::kChunkCols - 1) / dq::kChunkCols;
  for (int shift = 0; shift < 16; shift += 2) {
    AlignedBytes src(bytes.size() + 16);
    std::memcpy(src.data() + shift, bytes.data(), bytes.size());
    for (int64_t row = 0; row < rows; ++row) {
      for (int64_t c = 0; c < chunks; ++c) {
        AlignedBytes stage(C::kSegStride, 0xa5);
        const auto nbytes =
            static_cast<int>(std::min<int64_t>(C::kBytes, row_bytes - c * C::kBytes));
        const uint8_t* chunk =
            StageChunk(src.data() + shift + row * row_bytes + c * C::kBytes, nbytes, stage.data());
        // The padded reader's reach stays inside the buffer.
        ASSERT_LE(chunk - stage.data() + nbytes + 4, C::kSegStride);
        if constexpr (dq::kMmaFormat<F>) {
          // The tensor-core kernels' copies: 32-column block b of the chunk.
          for (int b = 0; b < nbytes / F::kBlockBytes * F::kSlots; ++b) {
            for (int t = 0; t < 4; ++t) {
              check_piece(dq::MmaPiece<F, dq::PaddedReader>(chunk, b, t), row,
                          c * dq::kChunkCols + 32 * b + 8 * t, "staged mma");
            }
          }
        }
        for (int lane = 0; lane < kLanes; ++lane) {
          if (C::LaneBlock(lane) >= nbytes / F::kBlockBytes) continue;
          const auto slice = F::template Load<dq::PaddedReader>(
              chunk + C::LaneBlock(lane) * F::kBlockBytes, C::LaneSlot(lane));
          for (int piece = 0; piece < 4; ++piece) {
            check_piece(F::Decode(slice, piece), row,
                        c * dq::kChunkCols + C::LanePieceCol(lane, piece), "staged");
          }
        }
      }
    }
  }
}

// Rows of k for the tests: an odd number of blocks (so that rows of 18-, 22- or 210-byte blocks
// start at every even alignment) and a last, partial chunk.
template <DType T>
int64_t OddK() {
  return dq::Format<T>::kBlockElems == 32 ? 32 * 37 : 256 * 5;
}

TYPED_TEST(CudaDequantHostTyped, DecodesQuantizerOutputExactly) {
  constexpr DType T = TypeParam::kType;
  std::mt19937 rng(1);
  for (const int64_t rows : {1, 5}) {
    for (const int64_t k : {static_cast<int64_t>(dq::Format<T>::kBlockElems), OddK<T>(),
                            int64_t{4096} + 2 * dq::Format<T>::kBlockElems}) {
      SCOPED_TRACE(testing::Message() << rows << " x " << k);
      ExpectSlicesMatchCpu<T>(Quantize(T, RandomWeights(rows * k, 32, rng)), rows, k);
    }
  }
}

TYPED_TEST(CudaDequantHostTyped, DecodesRandomBlocksWithExtremeScalesExactly) {
  constexpr DType T = TypeParam::kType;
  std::mt19937 rng(2);
  for (const bool special : {false, true}) {
    const int64_t rows = 7;
    const int64_t k = OddK<T>();
    SCOPED_TRACE(special ? "with inf and nan" : "finite");
    ExpectSlicesMatchCpu<T>(RandomBlocks<T>(rows * k, special, rng), rows, k);
  }
}

TYPED_TEST(CudaDequantHostTyped, LanesTileTheChunkAndReadDistinctBanks) {
  using F = dq::Format<TypeParam::kType>;
  using C = dq::Chunk<F>;
  std::vector<int> seen(dq::kChunkCols, 0);
  std::vector<int> idx_seen(C::kXStride, 0);
  for (int lane = 0; lane < kLanes; ++lane) {
    for (int piece = 0; piece < 4; ++piece) {
      const int col = C::LanePieceCol(lane, piece);
      ASSERT_EQ(col % 8, 0);
      ASSERT_EQ(C::XIdx(col) % 4, 0) << "float4 loads need 16-byte aligned pieces";
      for (int e = 0; e < 8; ++e) {
        ++seen[col + e];
        ASSERT_EQ(C::XIdx(col + e), C::XIdx(col) + e);
        ASSERT_LT(C::XIdx(col + e), C::kXStride);
        ++idx_seen[C::XIdx(col + e)];
      }
    }
  }
  for (int c = 0; c < dq::kChunkCols; ++c) ASSERT_EQ(seen[c], 1) << c;
  for (int i = 0; i < C::kXStride; ++i) ASSERT_LE(idx_seen[i], 1) << i;
  // A quarter warp's 16-byte loads of x (the piece's first and second half) hit 8 distinct
  // groups of 4 banks: no conflicts.
  for (int piece = 0; piece < 4; ++piece) {
    for (int half = 0; half < 2; ++half) {
      for (int quarter = 0; quarter < 4; ++quarter) {
        std::vector<int> groups;
        for (int lane = 8 * quarter; lane < 8 * quarter + 8; ++lane) {
          groups.push_back((C::XIdx(C::LanePieceCol(lane, piece)) + 4 * half) / 4 % 8);
        }
        std::sort(groups.begin(), groups.end());
        EXPECT_EQ(std::unique(groups.begin(), groups.end()), groups.end())
            << "piece " << piece << " half " << half << " quarter " << quarter;
      }
    }
  }
  // Int8 activations: every 8 groups' slots are those 8 groups permuted, and a quarter warp's
  // 16-byte loads of its pieces' groups hit 8 distinct groups of 4 banks.
  for (int g0 = 0; g0 < dq::kChunkGroups; g0 += 8) {
    std::vector<int> slots;
    for (int g = g0; g < g0 + 8; ++g) slots.push_back(dq::GroupSlot<F>(g));
    std::sort(slots.begin(), slots.end());
    for (int j = 0; j < 8; ++j) ASSERT_EQ(slots[j], g0 + j);
  }
  for (int piece = 0; piece < 4; ++piece) {
    for (int quarter = 0; quarter < 4; ++quarter) {
      std::vector<int> banks;
      for (int lane = 8 * quarter; lane < 8 * quarter + 8; ++lane) {
        banks.push_back(dq::GroupSlot<F>(C::LanePieceCol(lane, piece) / 8) % 8);
      }
      std::sort(banks.begin(), banks.end());
      EXPECT_EQ(std::unique(banks.begin(), banks.end()), banks.end())
          << "int8 piece " << piece << " quarter " << quarter;
    }
  }
}

// The int8 GEMV sums the pieces of a run as one: they must share their scale and bias (in
// every block, for every slot) and their 32-column block of x.
TYPED_TEST(CudaDequantHostTyped, PiecesOfAScaleRunShareScaleBiasAndXBlock) {
  constexpr DType T = TypeParam::kType;
  using F = dq::Format<T>;
  static_assert(4 % F::kScaleRun == 0);
  std::mt19937 rng(11);
  const std::vector<uint8_t> blocks = RandomBlocks<T>(4 * F::kBlockElems, false, rng);
  for (int b = 0; b < 4; ++b) {
    for (int slot = 0; slot < F::kSlots; ++slot) {
      const auto s = F::template Load<dq::ExactReader>(blocks.data() + b * F::kBlockBytes, slot);
      for (int k = 0; k < 4; ++k) {
        const int first = k / F::kScaleRun * F::kScaleRun;
        const dq::Piece p = F::Decode(s, k), q = F::Decode(s, first);
        EXPECT_TRUE(SameFloat(p.scale, q.scale) && SameFloat(p.bias, q.bias))
            << "block " << b << " slot " << slot << " piece " << k;
        EXPECT_EQ(F::PieceCol(slot, k) / 32, F::PieceCol(slot, first) / 32)
            << "slot " << slot << " piece " << k;
      }
    }
  }
}

// ---- The GEMV's arithmetic ----

// A double-precision y = w x of the CPU's dequantized weights, and sum |w||x| per output.
void Reference(const std::vector<float>& w, int64_t n, int64_t k, const std::vector<float>& x,
               int64_t m, std::vector<double>* y, std::vector<double>* scale) {
  y->assign(m * n, 0.0);
  scale->assign(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t r = 0; r < n; ++r) {
      double sum = 0.0, abs = 0.0;
      for (int64_t j = 0; j < k; ++j) {
        const double p = static_cast<double>(w[r * k + j]) * x[i * k + j];
        sum += p;
        abs += std::fabs(p);
      }
      (*y)[i * n + r] = sum;
      (*scale)[i * n + r] = abs;
    }
  }
}

// Emulated y against the reference within kTolerance * sum |w||x| (and, with int8 x, the
// rounding of x), and each row of x's outputs the same bits as with that row alone.
void ExpectEmulationMatchesReference(DType t, const std::vector<uint8_t>& bytes, int64_t n,
                                     int64_t k, bool float_vec, std::mt19937& rng,
                                     GemvActivations activations = GemvActivations::kF32) {
  const bool int8 = activations != GemvActivations::kF32;
  constexpr double kTolerance = 2e-5;
  std::vector<float> w(n * k);
  FindQuantTraits(t)->dequantize(bytes.data(), w.data(), n * k);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t max_m = 8;
  std::vector<float> x(max_m * k);
  for (float& v : x) v = normal(rng);
  std::vector<float> y8(max_m * n);
  emulation::EmulateGemv(bytes.data(), t, n, k, x.data(), max_m, float_vec, y8.data(), activations);
  std::vector<double> ref, scale;
  Reference(w, n, k, x, max_m, &ref, &scale);
  const std::vector<double> rounding =
      int8 ? Int8Bound(w, n, k, x, max_m) : std::vector<double>(max_m * n, 0.0);
  int failures = 0;
  for (int64_t i = 0; i < max_m * n; ++i) {
    const double err = std::fabs(y8[i] - ref[i]);
    if (!(err <= kTolerance * scale[i] + rounding[i] * (1 + 1e-4) + 1e-30) && failures++ < 8) {
      ADD_FAILURE() << NameOf(t) << " " << n << " x " << k << ": y[" << i / n << "][" << i % n
                    << "] = " << y8[i] << ", reference " << ref[i] << " (sum |w x| " << scale[i]
                    << ")";
    }
  }
  for (int64_t i = 0; i < max_m; ++i) {
    std::vector<float> y1(n);
    emulation::EmulateGemv(bytes.data(), t, n, k, x.data() + i * k, 1, float_vec, y1.data(),
                           activations);
    for (int64_t r = 0; r < n; ++r) {
      ASSERT_EQ(Bits(y1[r]), Bits(y8[i * n + r])) << NameOf(t) << " row " << r << " of x row " << i;
    }
  }
  // m = 3: the first three rows again.
  std::vector<float> y3(3 * n);
  emulation::EmulateGemv(bytes.data(), t, n, k, x.data(), 3, float_vec, y3.data(), activations);
  for (int64_t i = 0; i < 3 * n; ++i) ASSERT_EQ(Bits(y3[i]), Bits(y8[i]));
}

TYPED_TEST(CudaDequantHostTyped, EmulatedGemvMatchesDoubleReference) {
  constexpr DType T = TypeParam::kType;
  std::mt19937 rng(3);
  const std::pair<int64_t, int64_t> shapes[] = {
      {1, dq::Format<T>::kBlockElems}, {37, OddK<T>()}, {21, 4096}, {6, 3 * 4096 + 512}};
  for (const auto& [n, k] : shapes) {
    SCOPED_TRACE(testing::Message() << n << " x " << k);
    std::vector<float> w = RandomWeights(n * k, 32, rng);
    for (float& v : w) v *= 1e-2f;
    const std::vector<uint8_t> bytes = Quantize(T, w);
    ExpectEmulationMatchesReference(T, bytes, n, k, false, rng);
    for (const GemvActivations a : kInt8Modes) {
      SCOPED_TRACE(test::ActivationsName(a));
      ExpectEmulationMatchesReference(T, bytes, n, k, false, rng, a);
    }
  }
  // Blocks no quantizer writes, with finite scales.
  const int64_t n = 19, k = OddK<T>();
  const std::vector<uint8_t> blocks = RandomBlocks<T>(n * k, false, rng);
  ExpectEmulationMatchesReference(T, blocks, n, k, false, rng);
  for (const GemvActivations a : kInt8Modes) {
    SCOPED_TRACE(test::ActivationsName(a));
    ExpectEmulationMatchesReference(T, blocks, n, k, false, rng, a);
  }
}

// Int8 x keeps zeros zero and lets a NaN or an infinity in x reach every output it touches.
TYPED_TEST(CudaDequantHostTyped, EmulatedInt8GemvOfZerosAndNonFiniteX) {
  constexpr DType T = TypeParam::kType;
  std::mt19937 rng(5);
  const int64_t n = 5, k = 2 * dq::Format<T>::kBlockElems;
  std::vector<float> w = RandomWeights(n * k, 32, rng);
  for (float& v : w) v *= 1e-2f;
  const std::vector<uint8_t> bytes = Quantize(T, w);
  for (const GemvActivations a : kInt8Modes) {
    SCOPED_TRACE(test::ActivationsName(a));
    std::vector<float> x(k, 0.0f), y(n);
    emulation::EmulateGemv(bytes.data(), T, n, k, x.data(), 1, false, y.data(), a);
    for (const float v : y) EXPECT_EQ(v, 0.0f);
    for (const float bad : {NAN, INFINITY}) {
      std::fill(x.begin(), x.end(), 0.5f);
      x[k - 3] = bad;
      emulation::EmulateGemv(bytes.data(), T, n, k, x.data(), 1, false, y.data(), a);
      for (int64_t r = 0; r < n; ++r)
        EXPECT_FALSE(std::isfinite(y[r])) << "row " << r << " x " << bad;
    }
  }
}

// The tensor-core GEMV reads a piece wherever its lane sits: PieceAt must be Decode(Load).
// (The k-quants' sub-block pieces have no slice to compare with: ExpectSlicesMatchCpu holds
// their weights to the CPU's.)
TYPED_TEST(CudaDequantHostTyped, PieceAtIsTheDecodedPiece) {
  constexpr DType T = TypeParam::kType;
  using F = dq::Format<T>;
  EXPECT_EQ(TensorCoreGemvTakes(T), dq::kMmaFormat<F>);
  if constexpr (F::kSlots == 1) {
    ASSERT_TRUE(TensorCoreGemvTakes(T));
    std::mt19937 rng(13);
    const std::vector<uint8_t> blocks = RandomBlocks<T>(6 * F::kBlockElems, true, rng);
    for (int b = 0; b < 6; ++b) {
      const uint8_t* blk = blocks.data() + b * F::kBlockBytes;
      const auto s = F::template Load<dq::ExactReader>(blk, 0);
      for (int k = 0; k < 4; ++k) {
        const dq::Piece want = F::Decode(s, k);
        const dq::Piece got = F::template PieceAt<dq::ExactReader>(blk, k);
        EXPECT_EQ(got.u[0], want.u[0]) << "block " << b << " piece " << k;
        EXPECT_EQ(got.u[1], want.u[1]) << "block " << b << " piece " << k;
        EXPECT_TRUE(SameFloat(got.scale, want.scale) && SameFloat(got.bias, want.bias))
            << "block " << b << " piece " << k;
      }
    }
  }
}

// The tensor-core kernels' float step (Int8StepBiased over OffsetFreeCodes, the integer sum
// started at kIntToFloatBits as the mma's accumulator input) has Int8Step's bits, which the
// host replay and FewRowsGemvKernel take: for every code, and for blocks whose x is random or
// at the int8 extremes (the largest integer sums).
TYPED_TEST(CudaDequantHostTyped, OffsetFreeStepIsInt8Step) {
  constexpr DType T = TypeParam::kType;
  using F = dq::Format<T>;
  if constexpr (dq::kMmaFormat<F>) {
    const int max_code = dq::kCodesAreInt8<F>                                          ? 255
                         : T == DType::kQ5_0 || T == DType::kQ5_1 || T == DType::kQ5_K ? 31
                                                                                       : 15;
    for (int code = 0; code <= max_code; ++code) {
      const uint32_t word = static_cast<uint32_t>(code) * 0x01010101u;
      const uint32_t got = dq::OffsetFreeCodes<F>(word);
      const int want = dq::kCodesAreInt8<F> ? static_cast<int8_t>(code ^ 0x80)
                                            : code - static_cast<int>(F::kOffset);
      for (int byte = 0; byte < 4; ++byte) {
        ASSERT_EQ(static_cast<int8_t>(got >> (8 * byte)), want) << "code " << code;
      }
    }
    std::mt19937 rng(17);
    // 64 blocks of 32 columns (8 k-quant super-blocks).
    const std::vector<uint8_t> blocks = RandomBlocks<T>(64 * 32, true, rng);
    std::uniform_real_distribution<float> uniform(-3.0f, 3.0f);
    for (int b = 0; b < 64; ++b) {
      float v[32];
      for (int e = 0; e < 32; ++e) {
        // Blocks 0..3: every value at +amax or -amax, the largest integer sums.
        v[e] = b == 0   ? 1.0f
               : b == 1 ? -1.0f
               : b < 4  ? (e % 2 == b % 2 ? 2.5f : -2.5f)
                        : uniform(rng);
      }
      dq::XGroup g[4];
      emulation::QuantizeXBlock(v, g);
      int dot = 0, biased = static_cast<int>(dq::kIntToFloatBits);
      float xsum = 0.0f;
      dq::Piece p{};
      for (int t = 0; t < 4; ++t) {
        p = dq::MmaPiece<F, dq::ExactReader>(blocks.data(), b, t);
        for (int h = 0; h < 2; ++h) {
          dot = dq::Dp4a(dq::SignedCodes<F>(p.u[h]), g[t].q[h], dot);
          biased = dq::Dp4a(dq::OffsetFreeCodes<F>(p.u[h]), g[t].q[h], biased);
        }
        xsum += g[t].sum;
      }
      for (const float acc : {0.0f, uniform(rng), -1e-3f}) {
        const float want = dq::Int8Step<F>(dot, xsum, g[0].d, p.scale, p.bias, acc);
        const float got = dq::Int8StepBiased<F>(biased, xsum, g[0].d, p.scale, p.bias, acc);
        ASSERT_TRUE(SameFloat(got, want)) << "block " << b << ": " << got << " against " << want;
      }
    }
  }
}

TEST(CudaDequantHost, EmulatedFloatGemvMatchesDoubleReference) {
  std::mt19937 rng(4);
  auto weights = [&](int64_t count) {
    std::vector<float> w = RandomWeights(count, 1, rng);
    for (float& v : w) v *= 1e-2f;  // within f16's range
    return w;
  };
  const std::pair<int64_t, int64_t> shapes[] = {{5, 8}, {23, 1000}, {17, 4096}};
  for (const DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (const auto& [n, k] : shapes) {
      SCOPED_TRACE(testing::Message() << NameOf(t) << " " << n << " x " << k);
      const std::vector<uint8_t> bytes = Quantize(t, weights(n * k));
      ExpectEmulationMatchesReference(t, bytes, n, k, true, rng);
      ExpectEmulationMatchesReference(t, bytes, n, k, false, rng);
    }
    SCOPED_TRACE(testing::Message() << NameOf(t) << " 9 x 37");
    ExpectEmulationMatchesReference(t, Quantize(t, weights(9 * 37)), 9, 37, false, rng);
  }
}

}  // namespace

}  // namespace wick::kernels::cuda
