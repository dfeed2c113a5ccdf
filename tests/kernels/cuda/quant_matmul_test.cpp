// The CUDA GEMV and f16 dequantisation (kernels/cuda/quant_matmul.h) against the CPU, for every
// supported weight type: row counts that leave partial CTAs, rows that end in a partial chunk,
// m = 1..8, a strided y, misaligned pointers. The device's y must equal the host replay of its
// arithmetic (emulation::EmulateGemv, dequant_host_test.cu) bit for bit, and a double-precision
// product of the CPU's dequantized weights within kTolerance * sum |w x|; each row's outputs
// must not depend on the rows of x beside it; DequantizeRowsF16 must equal the CPU's
// dequantisation rounded to f16. Skipped where no usable GPU is found.
#include "kernels/cuda/quant_matmul.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.h"
#include "core/half.h"
#include "core/quant_blocks.h"
#include "emu_sample.h"
#include "gemv_emulation.h"
#include "kernels/cpu/quant_traits.h"
#include "kernels/cuda/device_info.h"
#include "kernels/cuda/ops.h"
#include "quant_test_util.h"

namespace wick::kernels::cuda {
namespace {

using test::Bits;

#define WICK_SKIP_WITHOUT_GPU()                             \
  do {                                                      \
    std::string why;                                        \
    if (!wick::kernels::cuda::HaveUsableCudaDevice(&why)) { \
      GTEST_SKIP() << "no usable CUDA GPU: " << why;        \
    }                                                       \
  } while (0)

constexpr double kTolerance = 2e-5;  // of sum |w x|: f32 sums of up to a few thousand terms

constexpr DType kTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                            DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ2_K, DType::kQ3_K,
                            DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

bool IsFloat(DType t) {
  return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16;
}

// A row length with a partial last chunk of 1024 columns and, for 18-, 22-, 34-, 110- and
// 210-byte blocks, rows at every even alignment.
int64_t OddK(DType t) {
  if (IsFloat(t)) return 1000;
  return InfoOf(t).block_size == 32 ? 32 * 37 : 256 * 5;
}

// ---- Device memory ----

class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) { error_ = cudaMalloc(&ptr_, bytes == 0 ? 1 : bytes); }
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  cudaError_t error() const { return error_; }
  uint8_t* bytes(size_t offset = 0) const { return static_cast<uint8_t*>(ptr_) + offset; }

 private:
  void* ptr_ = nullptr;
  cudaError_t error_ = cudaSuccess;
};

class Stream {
 public:
  Stream() { error_ = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking); }
  ~Stream() {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  cudaError_t error() const { return error_; }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
  cudaError_t error_ = cudaSuccess;
};

// ---- Weights ----

struct Weights {
  DType type;
  int64_t n;
  int64_t k;
  std::vector<uint8_t> bytes;  // GGUF layout
  std::vector<float> dequant;  // the CPU's dequantisation
};

// n x k weights of type t. Quantised types: by default the CPU quantizer's output for random
// values of varied magnitude per block; with random_blocks, random bytes (every quant and
// sub-scale pattern) under random f16 scales of about 2^-8..2^-4 (and fast to make, for the
// large matrices).
Weights MakeWeights(DType t, int64_t n, int64_t k, uint32_t seed, bool random_blocks = false) {
  std::mt19937 rng(seed);
  const DTypeInfo& info = InfoOf(t);
  Weights w{t, n, k, std::vector<uint8_t>(n * k / info.block_size * info.block_bytes), {}};
  if (random_blocks && !IsFloat(t)) {
    std::uniform_real_distribution<float> scale(0.0039f, 0.0625f);
    for (uint8_t& b : w.bytes) b = static_cast<uint8_t>(rng());
    for (size_t blk = 0; blk < w.bytes.size(); blk += info.block_bytes) {
      for (size_t off : ScaleFieldOffsets(t)) {
        const uint16_t h = F32ToF16(rng() % 2 == 0 ? scale(rng) : -scale(rng));
        std::memcpy(&w.bytes[blk + off], &h, sizeof h);
      }
    }
  } else {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const float kMagnitudes[] = {1.0f, 0.01f, 0.1f, 3.0f};
    std::vector<float> values(n * k);
    for (int64_t b = 0; b < n * k / 32; ++b) {
      const float mag = kMagnitudes[rng() % 4];
      for (int64_t j = 32 * b; j < 32 * b + 32; ++j) values[j] = mag * normal(rng);
    }
    for (int64_t j = n * k / 32 * 32; j < n * k; ++j) values[j] = normal(rng);
    FindQuantTraits(t)->quantize(values.data(), w.bytes.data(), n * k);
  }
  w.dequant.resize(n * k);
  FindQuantTraits(t)->dequantize(w.bytes.data(), w.dequant.data(), n * k);
  return w;
}

std::vector<float> RandomX(int64_t m, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(m * k);
  for (float& v : x) v = normal(rng);
  return x;
}

// ---- Running Gemv ----

// Where the call's buffers lie, and how the quantised kernels take x.
struct Layout {
  size_t w_offset = 0;  // bytes after a 256-aligned allocation
  size_t x_offset = 0;  // floats
  int64_t y_stride = 0;
  GemvActivations activations = GemvActivations::kF32;
};

constexpr Layout kInt8X{.activations = GemvActivations::kInt8};
constexpr Layout kTensorCoresX{.activations = GemvActivations::kInt8TensorCores};

// Every type with f32 x, then the quantised ones again with int8 x, then on tensor cores the
// types that have them and one that falls back to the int8 GEMV (Q6_K).
std::vector<std::pair<DType, Layout>> WithInt8X() {
  std::vector<std::pair<DType, Layout>> cases;
  for (const DType t : kTypes) cases.push_back({t, Layout{}});
  for (const DType t : kTypes) {
    if (!IsFloat(t)) cases.push_back({t, kInt8X});
  }
  for (const DType t : kTypes) {
    if (TensorCoreGemvTakes(t) || t == DType::kQ6_K) cases.push_back({t, kTensorCoresX});
  }
  return cases;
}

constexpr float kUnwritten = -12345.0f;

// y = Gemv(w, x[0..m)) on the device, with the layout's offsets and stride; empty on failure.
// Also checks that y's gaps between rows stay unwritten.
std::vector<float> RunGemv(const Weights& w, const std::vector<float>& x, int64_t m,
                           const Layout& layout, const Stream& stream, bool* float_vec) {
  const int64_t ys = layout.y_stride == 0 ? w.n : layout.y_stride;
  const size_t workspace = GemvWorkspaceBytes(w.type, w.k, m, layout.activations);
  DeviceBuffer ws(workspace);
  DeviceBuffer dw(w.bytes.size() + layout.w_offset);
  DeviceBuffer dx((m * w.k + layout.x_offset) * sizeof(float));
  DeviceBuffer dy(m * ys * sizeof(float));
  EXPECT_EQ(dw.error(), cudaSuccess);
  EXPECT_EQ(dx.error(), cudaSuccess);
  EXPECT_EQ(dy.error(), cudaSuccess);
  if (dw.error() != cudaSuccess || dx.error() != cudaSuccess || dy.error() != cudaSuccess) {
    return {};
  }
  auto* wp = dw.bytes(layout.w_offset);
  auto* xp = reinterpret_cast<float*>(dx.bytes()) + layout.x_offset;
  auto* yp = reinterpret_cast<float*>(dy.bytes());
  std::vector<float> y(m * ys, kUnwritten);
  if (!w.bytes.empty()) {
    EXPECT_EQ(cudaMemcpy(wp, w.bytes.data(), w.bytes.size(), cudaMemcpyHostToDevice), cudaSuccess);
  }
  if (m * w.k > 0) {
    EXPECT_EQ(cudaMemcpy(xp, x.data(), m * w.k * sizeof(float), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  EXPECT_EQ(cudaMemcpy(yp, y.data(), y.size() * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  GemvArgs args;
  args.w = wp;
  args.type = w.type;
  args.n = w.n;
  args.k = w.k;
  args.x = xp;
  args.m = m;
  args.y = yp;
  args.y_stride = layout.y_stride;
  args.activations = layout.activations;
  args.workspace = ws.bytes();
  args.workspace_bytes = workspace;
  const cudaError_t launched = Gemv(args, stream.get());
  EXPECT_EQ(launched, cudaSuccess) << cudaGetErrorString(launched);
  const cudaError_t ran = cudaStreamSynchronize(stream.get());
  EXPECT_EQ(ran, cudaSuccess) << cudaGetErrorString(ran);
  EXPECT_EQ(cudaMemcpy(y.data(), yp, y.size() * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  if (launched != cudaSuccess || ran != cudaSuccess) return {};
  *float_vec = reinterpret_cast<uintptr_t>(wp) % 16 == 0 &&
               reinterpret_cast<uintptr_t>(xp) % 16 == 0 && w.k % 8 == 0;
  std::vector<float> packed(m * w.n);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t r = 0; r < ys; ++r) {
      if (r < w.n) {
        packed[i * w.n + r] = y[i * ys + r];
      } else {
        EXPECT_EQ(y[i * ys + r], kUnwritten) << "y[" << i << "][" << r << "] past n";
      }
    }
  }
  return packed;
}

// Runs Gemv and checks y against the double-precision product and the host replay. With int8
// x the product may also move by what rounding x to steps of amax / 127 of its 32-column
// block allows: sum |w| * amax / 254.
void ExpectGemvCorrect(const Weights& w, const std::vector<float>& x, int64_t m,
                       const Layout& layout, const Stream& stream) {
  const bool int8 = layout.activations != GemvActivations::kF32 && !IsFloat(w.type);
  SCOPED_TRACE(testing::Message() << NameOf(w.type) << " n " << w.n << " k " << w.k << " m " << m
                                  << " "
                                  << test::ActivationsName(int8 ? layout.activations
                                                                : GemvActivations::kF32));
  bool float_vec = false;
  const std::vector<float> y = RunGemv(w, x, m, layout, stream, &float_vec);
  ASSERT_EQ(static_cast<int64_t>(y.size()), m * w.n);

  std::vector<float> replay(m * w.n);
  emulation::EmulateGemv(w.bytes.data(), w.type, w.n, w.k, x.data(), m, float_vec, replay.data(),
                         layout.activations);
  const std::vector<double> rounding =
      int8 ? test::Int8Bound(w.dequant, w.n, w.k, x, m) : std::vector<double>(m * w.n, 0.0);
  int failures = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t r = 0; r < w.n; ++r) {
      double sum = 0.0, abs = 0.0;
      for (int64_t j = 0; j < w.k; ++j) {
        const double p = static_cast<double>(w.dequant[r * w.k + j]) * x[i * w.k + j];
        sum += p;
        abs += std::fabs(p);
      }
      const float got = y[i * w.n + r];
      const bool near =
          std::fabs(got - sum) <= kTolerance * abs + rounding[i * w.n + r] * (1 + 1e-4) + 1e-30;
      const bool same = Bits(got) == Bits(replay[i * w.n + r]);
      if ((!near || !same) && failures++ < 10) {
        ADD_FAILURE() << "y[" << i << "][" << r << "] = " << got << ": reference " << sum
                      << " (sum |w x| " << abs << "), host replay " << replay[i * w.n + r];
      }
    }
  }
}

TEST(CudaGemv, MatchesCpuForEveryTypeAndBatchSize) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  for (const DType t : kTypes) {
    for (const int64_t n : {67, 300}) {
      const int64_t k = n == 67 ? OddK(t) : 4096;
      const Weights w = MakeWeights(t, n, k, static_cast<uint32_t>(n) + static_cast<uint32_t>(t));
      // Every group size, and (on the small matrix) two whole groups and a partial one.
      const int64_t rows = n == 67 ? 2 * kGemvGroupRows + 3 : kGemvGroupRows;
      const std::vector<float> x = RandomX(rows, k, 5);
      for (int64_t m = 1; m <= kGemvGroupRows; ++m) ExpectGemvCorrect(w, x, m, {}, stream);
      if (rows > kGemvGroupRows) ExpectGemvCorrect(w, x, rows, {}, stream);
      if (IsFloat(t)) continue;
      for (int64_t m = 1; m <= kGemvGroupRows; ++m) ExpectGemvCorrect(w, x, m, kInt8X, stream);
      if (rows > kGemvGroupRows) ExpectGemvCorrect(w, x, rows, kInt8X, stream);
      if (!TensorCoreGemvTakes(t)) continue;
      for (int64_t m = 1; m <= kGemvGroupRows; ++m) {
        ExpectGemvCorrect(w, x, m, kTensorCoresX, stream);
      }
      if (rows > kGemvGroupRows) ExpectGemvCorrect(w, x, rows, kTensorCoresX, stream);
    }
  }
}

// Sets how the tensor-core GEMV runs batches for the scope's calls.
class TilesSetting {
 public:
  explicit TilesSetting(GemvTiles tiles) : saved_(TensorCoreGemvTiles()) {
    SetTensorCoreGemvTiles(tiles);
  }
  ~TilesSetting() { SetTensorCoreGemvTiles(saved_); }
  TilesSetting(const TilesSetting&) = delete;
  TilesSetting& operator=(const TilesSetting&) = delete;

 private:
  GemvTiles saved_;
};

// More than 16 activation rows on tensor cores take the wide tiles (32 or 64 weight rows by 64
// activation rows a CTA; fewer too where a height is set by hand): correct, and the same bits
// as the groups of 16 rows, for a few rows, one tile of activation rows in part, a whole one
// and one more, rows whose 256-column steps end inside a step (37 blocks), and rows at any
// alignment (their steps copied with 2-byte ends).
TEST(CudaGemv, TensorCoreTilesEqualGroupsOf16) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  // Also a one-block row (one k-warp has work) and a 9-block one (a step and a block); for the
  // k-quants, whose rows are whole 256-column steps, one super-block (each k-warp 2 of its 8
  // sub-blocks) and 9 (two chunks and a step).
  const std::pair<int64_t, int64_t> shapes[] = {{67, 0}, {1, 32}, {33, 288}};
  for (const DType t : kTypes) {
    if (!TensorCoreGemvTakes(t)) continue;
    for (const auto& [n, k_or_odd] : shapes) {
      const int64_t k = k_or_odd == 0 ? OddK(t) : k_or_odd * (InfoOf(t).block_size / 32);
      const Weights w = MakeWeights(t, n, k, 71, /*random_blocks=*/true);
      const std::vector<float> x = RandomX(70, k, 72);
      // 5 and 16 take the tiles only with a height set by hand.
      for (const int64_t m : {5, 16, 17, 64, 70}) {
        for (const size_t w_offset : {size_t{0}, size_t{2}}) {
          if (n != 67 && w_offset != 0) continue;
          const Layout layout{.w_offset = w_offset,
                              .y_stride = w_offset == 0 ? 0 : n + 3,
                              .activations = GemvActivations::kInt8TensorCores};
          bool vec = false;
          std::vector<float> groups;
          {
            const TilesSetting off(GemvTiles::kOff);
            groups = RunGemv(w, x, m, layout, stream, &vec);
          }
          for (const GemvTiles rows : {GemvTiles::kRows32, GemvTiles::kRows64}) {
            const TilesSetting on(rows);
            ExpectGemvCorrect(w, x, m, layout, stream);
            const std::vector<float> tiles = RunGemv(w, x, m, layout, stream, &vec);
            ASSERT_EQ(tiles.size(), groups.size());
            for (size_t j = 0; j < tiles.size(); ++j) {
              ASSERT_EQ(Bits(tiles[j]), Bits(groups[j]))
                  << NameOf(t) << " n " << n << " k " << k << " m " << m << " offset " << w_offset
                  << (rows == GemvTiles::kRows64 ? ", 64" : ", 32") << " rows [" << j << "]";
            }
          }
        }
      }
    }
  }
}

TEST(CudaGemv, LargeMatrices) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  // The emulator's mma is 32 shuffles: there, every third tensor-core case (both m).
  test::CaseSample tensor_cores(3);
  for (const DType t : kTypes) {
    const Weights w = MakeWeights(t, 4096, 4096, 11, /*random_blocks=*/true);
    const std::vector<float> x = RandomX(kGemvGroupRows, 4096, 12);
    for (const int64_t m : {1, 8}) ExpectGemvCorrect(w, x, m, {}, stream);
    if (!IsFloat(t)) ExpectGemvCorrect(w, x, 1, kInt8X, stream);
    if (TensorCoreGemvTakes(t)) {
      for (const int64_t m : {1, 8}) {
        if (tensor_cores.Take()) ExpectGemvCorrect(w, x, m, kTensorCoresX, stream);
      }
    }
  }
}

TEST(CudaGemv, RowsAreTheSameAloneOrInABatch) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  for (const auto& [t, layout] : WithInt8X()) {
    SCOPED_TRACE(testing::Message()
                 << NameOf(t) << " " << test::ActivationsName(layout.activations));
    const int64_t n = 300, k = OddK(t);
    const Weights w = MakeWeights(t, n, k, 21, /*random_blocks=*/true);
    // Two whole groups of rows and a partial one, in one call.
    constexpr int64_t kRows = 2 * kGemvGroupRows + 3;
    const std::vector<float> x = RandomX(kRows, k, 22);
    bool vec = false;
    const std::vector<float> all = RunGemv(w, x, kRows, layout, stream, &vec);
    ASSERT_EQ(static_cast<int64_t>(all.size()), kRows * n);
    for (int64_t i = 0; i < kRows; ++i) {
      const std::vector<float> row(x.begin() + i * k, x.begin() + (i + 1) * k);
      const std::vector<float> alone = RunGemv(w, row, 1, layout, stream, &vec);
      ASSERT_EQ(static_cast<int64_t>(alone.size()), n);
      for (int64_t r = 0; r < n; ++r) {
        ASSERT_EQ(Bits(alone[r]), Bits(all[i * n + r])) << "x row " << i << ", y column " << r;
      }
    }
    const std::vector<float> five = RunGemv(w, x, 5, layout, stream, &vec);
    ASSERT_EQ(static_cast<int64_t>(five.size()), 5 * n);
    for (int64_t j = 0; j < 5 * n; ++j) ASSERT_EQ(Bits(five[j]), Bits(all[j])) << j;
  }
}

TEST(CudaGemv, StridedOutputAndMisalignedInputs) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  for (const DType t : kTypes) {
    const int64_t n = 45, k = OddK(t);
    const Weights w = MakeWeights(t, n, k, 31);
    const std::vector<float> x = RandomX(kGemvGroupRows, k, 32);
    const size_t w_shift = t == DType::kF32 ? 4 : 2;
    ExpectGemvCorrect(w, x, 5, {.y_stride = n + 3}, stream);
    ExpectGemvCorrect(w, x, 3, {.w_offset = w_shift, .x_offset = 1, .y_stride = n + 1}, stream);
    ExpectGemvCorrect(w, x, 1, {.w_offset = 6 * w_shift, .x_offset = 3}, stream);
    ExpectGemvCorrect(w, x, 8, {.w_offset = 16, .x_offset = 4}, stream);
    if (IsFloat(t)) continue;
    // x not 16-byte aligned: the int8 staging's scalar loads.
    for (const GemvActivations a : {GemvActivations::kInt8, GemvActivations::kInt8TensorCores}) {
      if (a == GemvActivations::kInt8TensorCores && !TensorCoreGemvTakes(t)) continue;
      ExpectGemvCorrect(w, x, 3,
                        {.w_offset = w_shift, .x_offset = 1, .y_stride = n + 1, .activations = a},
                        stream);
      ExpectGemvCorrect(w, x, 1, {.x_offset = 3, .activations = a}, stream);
      ExpectGemvCorrect(w, x, 8, {.w_offset = 16, .x_offset = 4, .activations = a}, stream);
    }
  }
}

TEST(CudaGemv, OddShapes) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  // Float rows of any length (the scalar path), one-row and one-block matrices.
  for (const DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (const int64_t k : {1, 37, 100, 8}) {
      const Weights w = MakeWeights(t, 5, k, 41);
      ExpectGemvCorrect(w, RandomX(kGemvGroupRows, k, 42), 4, {}, stream);
    }
  }
  for (const DType t : kTypes) {
    const int64_t k = IsFloat(t) ? 8 : InfoOf(t).block_size;
    ExpectGemvCorrect(MakeWeights(t, 1, k, 43), RandomX(kGemvGroupRows, k, 44), 2, {}, stream);
    ExpectGemvCorrect(MakeWeights(t, 17, 3 * 1024, 45), RandomX(kGemvGroupRows, 3 * 1024, 46), 7,
                      {}, stream);
  }
}

TEST(CudaGemv, RejectsBadArgumentsAndSkipsEmptyWork) {
  WICK_SKIP_WITHOUT_GPU();
  for (const DType t : kTypes) EXPECT_TRUE(SupportsWeightType(t)) << NameOf(t);
  for (const DType t : {DType::kQ8_1, DType::kQ8_K, DType::kI8, DType::kIQ4_NL}) {
    EXPECT_FALSE(SupportsWeightType(t)) << NameOf(t);
  }
  DeviceBuffer buf(1 << 16);
  ASSERT_EQ(buf.error(), cudaSuccess);
  GemvArgs ok;
  ok.w = buf.bytes();
  ok.type = DType::kQ4_0;
  ok.n = 4;
  ok.k = 64;
  ok.x = reinterpret_cast<const float*>(buf.bytes(8192));
  ok.m = 2;
  ok.y = reinterpret_cast<float*>(buf.bytes(16384));
  EXPECT_EQ(Gemv(ok, nullptr), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  GemvArgs bad = ok;
  bad.m = -1;
  EXPECT_EQ(Gemv(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.type = DType::kQ8_K;
  EXPECT_EQ(Gemv(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.k = 48;  // not a whole number of blocks
  EXPECT_EQ(Gemv(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.y_stride = 3;  // rows of y would overlap
  EXPECT_EQ(Gemv(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.w = buf.bytes(1);  // a block's f16 scale cannot be read
  EXPECT_EQ(Gemv(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.x = nullptr;
  EXPECT_EQ(Gemv(bad, nullptr), cudaErrorInvalidValue);

  // Tensor cores for 5 rows or more quantise x into a workspace, which must be there.
  EXPECT_EQ(GemvWorkspaceBytes(DType::kQ4_0, 64, 4, GemvActivations::kInt8TensorCores), 0u);
  EXPECT_EQ(GemvWorkspaceBytes(DType::kQ4_0, 64, 5, GemvActivations::kInt8), 0u);
  EXPECT_EQ(GemvWorkspaceBytes(DType::kQ4_K, 256, 5, GemvActivations::kInt8TensorCores),
            5u * (1024 + 32 * 8));  // Q4_K takes the tensor cores too
  EXPECT_EQ(GemvWorkspaceBytes(DType::kQ6_K, 256, 5, GemvActivations::kInt8TensorCores), 0u);
  // The int8 GEMV quantises the rows of its whole groups of 8 once: 16 bytes per 8 columns.
  EXPECT_EQ(GemvWorkspaceBytes(DType::kQ4_K, 256, 7, GemvActivations::kInt8), 0u);
  EXPECT_EQ(GemvWorkspaceBytes(DType::kQ4_K, 1280, 8, GemvActivations::kInt8), 8u * 2 * 2048);
  EXPECT_EQ(GemvWorkspaceBytes(DType::kQ6_K, 256, 17, GemvActivations::kInt8TensorCores),
            16u * 2048);  // its whole groups of 8
  EXPECT_EQ(GemvWorkspaceBytes(DType::kF16, 256, 9, GemvActivations::kInt8), 0u);
  EXPECT_EQ(GemvWorkspaceBytes(DType::kQ4_0, 256, 9, GemvActivations::kF32), 0u);
  GemvArgs int8 = ok;
  int8.m = 8;
  int8.activations = GemvActivations::kInt8;
  EXPECT_EQ(Gemv(int8, nullptr), cudaErrorInvalidValue);
  const size_t need = GemvWorkspaceBytes(DType::kQ4_0, 64, 5, GemvActivations::kInt8TensorCores);
  EXPECT_EQ(need, 5u * (1024 + 32 * 8));  // per row a chunk's codes and block sums
  GemvArgs mma = ok;
  mma.m = 5;
  mma.activations = GemvActivations::kInt8TensorCores;
  EXPECT_EQ(Gemv(mma, nullptr), cudaErrorInvalidValue);
  mma.workspace = buf.bytes(32768);
  mma.workspace_bytes = need - 1;
  EXPECT_EQ(Gemv(mma, nullptr), cudaErrorInvalidValue);
  mma.workspace_bytes = need;
  mma.workspace = buf.bytes(32768 + 8);
  EXPECT_EQ(Gemv(mma, nullptr), cudaErrorInvalidValue);
  mma.workspace = buf.bytes(32768);
  EXPECT_EQ(Gemv(mma, nullptr), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  GemvArgs empty;  // nothing to do: no launch, even with null pointers
  empty.type = DType::kQ4_K;
  empty.n = 0;
  empty.m = 3;
  EXPECT_EQ(Gemv(empty, nullptr), cudaSuccess);
  empty.n = 5;
  empty.m = 0;
  EXPECT_EQ(Gemv(empty, nullptr), cudaSuccess);

  EXPECT_EQ(DequantizeRowsF16(buf.bytes(), DType::kQ8_K, 0, 1, 256,
                              reinterpret_cast<uint16_t*>(buf.bytes(8192)), nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(DequantizeRowsF16(buf.bytes(), DType::kQ4_0, 0, 1, 40,
                              reinterpret_cast<uint16_t*>(buf.bytes(8192)), nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(DequantizeRowsF16(nullptr, DType::kQ4_0, 0, 0, 64, nullptr, nullptr), cudaSuccess);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(CudaGemv, EmptyRowsGiveZeros) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  for (const DType t : {DType::kF16, DType::kQ4_0, DType::kQ6_K}) {
    Weights w{t, 20, 0, {}, {}};
    bool vec = false;
    const std::vector<float> y = RunGemv(w, {}, 3, {}, stream, &vec);
    ASSERT_EQ(y.size(), 60u);
    for (float v : y) EXPECT_EQ(v, 0.0f) << NameOf(t);
  }
}

// ---- GemvMany ----

// Device copies of several weight matrices and one x, for GemvMany against separate calls.
struct ManyFixture {
  std::vector<const Weights*> weights;
  int64_t k = 0;
  int64_t m = 0;
  std::vector<std::unique_ptr<DeviceBuffer>> w;
  std::unique_ptr<DeviceBuffer> x;

  ManyFixture(std::vector<const Weights*> ws, const std::vector<float>& host_x, int64_t rows)
      : weights(std::move(ws)), k(weights[0]->k), m(rows) {
    for (const Weights* wt : weights) {
      w.push_back(std::make_unique<DeviceBuffer>(wt->bytes.size()));
      EXPECT_EQ(
          cudaMemcpy(w.back()->bytes(), wt->bytes.data(), wt->bytes.size(), cudaMemcpyHostToDevice),
          cudaSuccess);
    }
    x = std::make_unique<DeviceBuffer>(m * k * sizeof(float));
    EXPECT_EQ(cudaMemcpy(x->bytes(), host_x.data(), m * k * sizeof(float), cudaMemcpyHostToDevice),
              cudaSuccess);
  }

  const float* dx() const { return reinterpret_cast<const float*>(x->bytes()); }

  // Gemv of matrix p alone, left on the device at y.
  void Alone(size_t p, float* y, cudaStream_t stream) {
    GemvArgs a;
    a.w = w[p]->bytes();
    a.type = weights[p]->type;
    a.n = weights[p]->n;
    a.k = k;
    a.x = dx();
    a.m = m;
    a.y = y;
    a.activations = activations;
    GiveWorkspace(a);
    EXPECT_EQ(Gemv(a, stream), cudaSuccess);
  }

  // The workspace of a call of the fixture's type, k, m and activations (one buffer: the calls
  // run in stream order).
  template <class Args>
  void GiveWorkspace(Args& a) {
    const size_t bytes = GemvWorkspaceBytes(weights[0]->type, k, m, activations);
    if (bytes == 0) return;
    if (workspace == nullptr) workspace = std::make_unique<DeviceBuffer>(bytes);
    a.workspace = workspace->bytes();
    a.workspace_bytes = bytes;
  }

  GemvActivations activations = GemvActivations::kF32;
  std::unique_ptr<DeviceBuffer> workspace;
};

std::vector<float> Download(const float* p, size_t n) {
  std::vector<float> v(n);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(v.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  return v;
}

void ExpectSameBits(const std::vector<float>& got, const std::vector<float>& want,
                    const char* what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int failures = 0;
  for (size_t j = 0; j < got.size(); ++j) {
    if (Bits(got[j]) != Bits(want[j]) && failures++ < 10) {
      ADD_FAILURE() << what << " [" << j << "]: " << got[j] << ", separately " << want[j];
    }
  }
}

// Three matrices of different heights in one launch, each output as Gemv gives it alone; an
// accumulating call adds to y exactly as Add does; a SwiGLU call equals SwiGlu of the gate and
// up products. For every type and 1, 3, 8 and 19 activation rows (groups and a remainder), and
// 70 on tensor cores.
TEST(CudaGemvMany, EqualsSeparateCallsForEveryOutput) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  for (const auto& [t, layout] : WithInt8X()) {
    const int64_t k = OddK(t);
    const Weights a = MakeWeights(t, 67, k, 61, /*random_blocks=*/true);
    const Weights b = MakeWeights(t, 16, k, 62, /*random_blocks=*/true);
    const Weights c = MakeWeights(t, 45, k, 63, /*random_blocks=*/true);
    const Weights up = MakeWeights(t, 67, k, 64, /*random_blocks=*/true);
    for (const int64_t m : {1, 3, 8, 19, 70}) {
      // 70: the tensor cores' wide tiles, a whole tile of activation rows and a part of one.
      const bool tiles =
          layout.activations == GemvActivations::kInt8TensorCores && TensorCoreGemvTakes(t);
      if (m == 70 && !tiles) continue;
      SCOPED_TRACE(testing::Message() << NameOf(t) << " m " << m << " activations "
                                      << static_cast<int>(layout.activations));
      ManyFixture f({&a, &b, &c, &up}, RandomX(m, k, 65), m);
      f.activations = layout.activations;
      std::vector<std::vector<float>> alone;
      for (size_t p = 0; p < 4; ++p) {
        DeviceBuffer y(m * f.weights[p]->n * sizeof(float));
        f.Alone(p, reinterpret_cast<float*>(y.bytes()), stream.get());
        alone.push_back(Download(reinterpret_cast<float*>(y.bytes()), m * f.weights[p]->n));
      }

      // kStore: three parts, the middle one with a strided y.
      const int64_t stride1 = b.n + 5;
      DeviceBuffer y0(m * a.n * sizeof(float)), y1(m * stride1 * sizeof(float)),
          y2(m * c.n * sizeof(float));
      GemvManyArgs many;
      many.parts[0] = {.w = f.w[0]->bytes(), .n = a.n, .y = reinterpret_cast<float*>(y0.bytes())};
      many.parts[1] = {.w = f.w[1]->bytes(),
                       .n = b.n,
                       .y = reinterpret_cast<float*>(y1.bytes()),
                       .y_stride = stride1};
      many.parts[2] = {.w = f.w[2]->bytes(), .n = c.n, .y = reinterpret_cast<float*>(y2.bytes())};
      many.n_parts = 3;
      many.type = t;
      many.k = k;
      many.x = f.dx();
      many.m = m;
      many.activations = layout.activations;
      f.GiveWorkspace(many);
      ASSERT_EQ(GemvMany(many, stream.get()), cudaSuccess);
      ExpectSameBits(Download(reinterpret_cast<float*>(y0.bytes()), m * a.n), alone[0], "part 0");
      const std::vector<float> strided =
          Download(reinterpret_cast<float*>(y1.bytes()), m * stride1);
      std::vector<float> part1;
      for (int64_t i = 0; i < m; ++i) {
        part1.insert(part1.end(), strided.begin() + i * stride1,
                     strided.begin() + i * stride1 + b.n);
      }
      ExpectSameBits(part1, alone[1], "part 1");
      ExpectSameBits(Download(reinterpret_cast<float*>(y2.bytes()), m * c.n), alone[2], "part 2");

      // kAccumulate onto a residual: y + v, as Add(y, v).
      const std::vector<float> residual = RandomX(m, a.n, 66);
      DeviceBuffer acc(m * a.n * sizeof(float)), want(m * a.n * sizeof(float)),
          v(m * a.n * sizeof(float));
      auto* acc_p = reinterpret_cast<float*>(acc.bytes());
      auto* want_p = reinterpret_cast<float*>(want.bytes());
      auto* v_p = reinterpret_cast<float*>(v.bytes());
      ASSERT_EQ(cudaMemcpy(acc_p, residual.data(), residual.size() * sizeof(float),
                           cudaMemcpyHostToDevice),
                cudaSuccess);
      ASSERT_EQ(cudaMemcpy(want_p, residual.data(), residual.size() * sizeof(float),
                           cudaMemcpyHostToDevice),
                cudaSuccess);
      f.Alone(0, v_p, stream.get());
      ASSERT_EQ(Add(want_p, v_p, want_p, m * a.n, stream.get()), cudaSuccess);
      GemvManyArgs add = many;
      add.parts[0].y = acc_p;
      add.n_parts = 1;
      add.output = GemvOutput::kAccumulate;
      ASSERT_EQ(GemvMany(add, stream.get()), cudaSuccess);
      ExpectSameBits(Download(acc_p, m * a.n), Download(want_p, m * a.n), "accumulated");

      // kSwiGlu: silu(gate) * up into the gate part's y.
      DeviceBuffer gate(m * a.n * sizeof(float)), upv(m * a.n * sizeof(float)),
          fused(m * a.n * sizeof(float));
      auto* gate_p = reinterpret_cast<float*>(gate.bytes());
      auto* up_p = reinterpret_cast<float*>(upv.bytes());
      auto* fused_p = reinterpret_cast<float*>(fused.bytes());
      f.Alone(0, gate_p, stream.get());
      f.Alone(3, up_p, stream.get());
      ASSERT_EQ(SwiGlu(gate_p, up_p, gate_p, m * a.n, stream.get()), cudaSuccess);
      GemvManyArgs glu = many;
      glu.parts[0].y = fused_p;
      glu.parts[1] = {.w = f.w[3]->bytes(), .n = up.n, .y = nullptr};
      glu.n_parts = 2;
      glu.output = GemvOutput::kSwiGlu;
      ASSERT_EQ(GemvMany(glu, stream.get()), cudaSuccess);
      ExpectSameBits(Download(fused_p, m * a.n), Download(gate_p, m * a.n), "swiglu");
    }
  }
}

TEST(CudaGemvMany, RejectsBadParts) {
  WICK_SKIP_WITHOUT_GPU();
  DeviceBuffer buf(1 << 16);
  ASSERT_EQ(buf.error(), cudaSuccess);
  GemvManyArgs ok;
  ok.parts[0] = {.w = buf.bytes(), .n = 4, .y = reinterpret_cast<float*>(buf.bytes(16384))};
  ok.parts[1] = {.w = buf.bytes(4096), .n = 4, .y = reinterpret_cast<float*>(buf.bytes(20480))};
  ok.n_parts = 2;
  ok.type = DType::kQ4_0;
  ok.k = 64;
  ok.x = reinterpret_cast<const float*>(buf.bytes(8192));
  ok.m = 2;
  EXPECT_EQ(GemvMany(ok, nullptr), cudaSuccess);
  ok.output = GemvOutput::kSwiGlu;
  EXPECT_EQ(GemvMany(ok, nullptr), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);

  GemvManyArgs bad = ok;
  bad.n_parts = 0;
  EXPECT_EQ(GemvMany(bad, nullptr), cudaErrorInvalidValue);
  bad.n_parts = kMaxGemvParts + 1;
  EXPECT_EQ(GemvMany(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.parts[1].n = 5;  // SwiGLU's gate and up rows pair up
  EXPECT_EQ(GemvMany(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.n_parts = 3;  // SwiGLU takes exactly two
  bad.parts[2] = bad.parts[1];
  EXPECT_EQ(GemvMany(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.output = GemvOutput::kStore;
  bad.parts[1].y = nullptr;  // only SwiGLU's up part writes nothing
  EXPECT_EQ(GemvMany(bad, nullptr), cudaErrorInvalidValue);
  bad = ok;
  bad.parts[1].w = buf.bytes(4097);
  EXPECT_EQ(GemvMany(bad, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

// ---- DequantizeRowsF16 ----

// Rows [row0, row0 + rows) to f16 on the device, against the CPU's dequantisation rounded by
// core/half.h, bit for bit (either a NaN where the CPU has one).
void ExpectDequantMatches(const Weights& w, int64_t row0, int64_t rows, size_t out_offset,
                          const Stream& stream) {
  SCOPED_TRACE(testing::Message() << NameOf(w.type) << " rows " << row0 << ".." << row0 + rows
                                  << " of " << w.n << " x " << w.k << ", out + " << out_offset);
  DeviceBuffer dw(w.bytes.size());
  DeviceBuffer dout(rows * w.k * sizeof(uint16_t) + out_offset);
  ASSERT_EQ(dw.error(), cudaSuccess);
  ASSERT_EQ(dout.error(), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dw.bytes(), w.bytes.data(), w.bytes.size(), cudaMemcpyHostToDevice),
            cudaSuccess);
  auto* out = reinterpret_cast<uint16_t*>(dout.bytes(out_offset));
  ASSERT_EQ(DequantizeRowsF16(dw.bytes(), w.type, row0, rows, w.k, out, stream.get()), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream.get()), cudaSuccess);
  std::vector<uint16_t> got(rows * w.k);
  ASSERT_EQ(cudaMemcpy(got.data(), out, got.size() * sizeof(uint16_t), cudaMemcpyDeviceToHost),
            cudaSuccess);
  int failures = 0;
  for (int64_t j = 0; j < rows * w.k; ++j) {
    const uint16_t want = F32ToF16(w.dequant[row0 * w.k + j]);
    const bool both_nan = (got[j] & 0x7fff) > 0x7c00 && (want & 0x7fff) > 0x7c00;
    if (got[j] != want && !both_nan && failures++ < 10) {
      ADD_FAILURE() << "element " << j / w.k << ", " << j % w.k << ": 0x" << std::hex << got[j]
                    << ", the CPU's 0x" << want;
    }
  }
}

TEST(CudaDequantizeRowsF16, MatchesCpuRoundedToF16) {
  WICK_SKIP_WITHOUT_GPU();
  Stream stream;
  ASSERT_EQ(stream.error(), cudaSuccess);
  for (const DType t : kTypes) {
    const Weights w = MakeWeights(t, 67, OddK(t), 51);
    ExpectDequantMatches(w, 5, 60, 0, stream);
    ExpectDequantMatches(w, 0, 67, 2, stream);  // misaligned output: 2-byte stores
    ExpectDequantMatches(w, 66, 1, 0, stream);
    const Weights blocks = MakeWeights(t, 9, OddK(t), 52, /*random_blocks=*/true);
    ExpectDequantMatches(blocks, 3, 6, 0, stream);
  }
  for (const DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    const Weights w = MakeWeights(t, 7, 37, 53);
    ExpectDequantMatches(w, 1, 5, 0, stream);
    ExpectDequantMatches(w, 2, 3, 6, stream);
  }
}

}  // namespace
}  // namespace wick::kernels::cuda
