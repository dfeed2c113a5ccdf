// The per-token CUDA ops against the CPU kernels on random data: RmsNorm, LayerNorm, Rope
// (every mode and scaling, and none), SwiGlu, GeGlu, Gelu and Add, the KV store and the f16
// conversion (those two byte for byte). Aligned and misaligned pointers (the vectorised and scalar
// paths) and in-place calls. Skipped where no GPU is usable.
#include "kernels/cuda/ops.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/convert.h"
#include "kernels/cpu/dot_simd.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/device_buffer.h"
#include "rope_cases.h"

namespace wick::kernels::cuda {
namespace {

using test::DeviceBuffer;
using test::RopeCase;
using test::RopeCases;

std::vector<float> RandomFloats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(CudaOpsTest, ZeroSizedCallsLaunchNothing) {
  WICK_REQUIRE_CUDA_DEVICE();
  EXPECT_EQ(RmsNorm(nullptr, nullptr, nullptr, 0, 64, 1e-6f, nullptr), cudaSuccess);
  EXPECT_EQ(SwiGlu(nullptr, nullptr, nullptr, 0, nullptr), cudaSuccess);
  EXPECT_EQ(GeGlu(nullptr, nullptr, nullptr, 0, nullptr), cudaSuccess);
  EXPECT_EQ(cuda::Scale(nullptr, 2.0f, 0, nullptr), cudaSuccess);
  EXPECT_EQ(Softcap(nullptr, 2.0f, 0, nullptr), cudaSuccess);
  EXPECT_EQ(Add(nullptr, nullptr, nullptr, 0, nullptr), cudaSuccess);
  EXPECT_EQ(StoreRows(nullptr, 0, 64, nullptr, DType::kQ8_0, 68, nullptr), cudaSuccess);
  EXPECT_EQ(ConvertF32ToF16(nullptr, nullptr, 0, nullptr), cudaSuccess);
  EXPECT_EQ(Rope(nullptr, 0, 4, 64, 0, RopeConfig{.n_dims = 64}, nullptr), cudaSuccess);
  ASSERT_CUDA_OK(cudaDeviceSynchronize());
}

TEST(CudaOpsTest, RmsNormMatchesCpu) {
  WICK_REQUIRE_CUDA_DEVICE();
  for (int64_t n : {1, 7, 64, 1000, 2048, 2049, 4096, 5120}) {
    for (int64_t rows : {1, 5}) {
      for (bool with_weight : {false, true}) {
        for (int64_t offset : {0, 1}) {  // 1: misaligned, the scalar path
          for (bool in_place : {false, true}) {
            SCOPED_TRACE(::testing::Message()
                         << "n " << n << " rows " << rows << " weight " << with_weight << " offset "
                         << offset << " in place " << in_place);
            const std::vector<float> x = RandomFloats(static_cast<size_t>(rows * n + 1), 1, 3.0f);
            const std::vector<float> w = RandomFloats(static_cast<size_t>(n + 1), 2);
            std::vector<float> want(x.size());
            for (int64_t r = 0; r < rows; ++r) {
              kernels::RmsNorm(x.data() + offset + r * n, with_weight ? w.data() + offset : nullptr,
                               want.data() + offset + r * n, n, 1e-5f);
            }
            DeviceBuffer dx(x), dw(w), dout(x.size() * sizeof(float));
            float* out = in_place ? dx.get<float>() : dout.get<float>();
            ASSERT_CUDA_OK(RmsNorm(dx.get<float>() + offset,
                                   with_weight ? dw.get<float>() + offset : nullptr, out + offset,
                                   rows, n, 1e-5f, nullptr));
            const std::vector<float> got = (in_place ? dx : dout).Download<float>(x.size());
            for (int64_t i = offset; i < offset + rows * n; ++i) {
              // The f64 sums differ only in order: the scale agrees to an ulp.
              ASSERT_NEAR(got[i], want[i], 4e-7 * std::abs(want[i]) + 1e-30) << "element " << i;
            }
          }
        }
      }
    }
  }
}

TEST(CudaOpsTest, RopeMatchesCpu) {
  WICK_REQUIRE_CUDA_DEVICE();
  std::vector<float> factors(256);
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + 0.05f * static_cast<float>(i);
  DeviceBuffer d_factors(factors);
  for (const RopeCase& rc : RopeCases(factors.data())) {
    for (int64_t n_tokens : {1, 7}) {
      for (int64_t pos0 : {0, 1000, 100000}) {
        SCOPED_TRACE(::testing::Message() << rc.name << " type " << static_cast<int>(rc.config.type)
                                          << " tokens " << n_tokens << " pos0 " << pos0);
        const int64_t n_heads = 6;
        const int64_t token_floats = n_heads * rc.head_dim;
        const std::vector<float> x = RandomFloats(static_cast<size_t>(n_tokens * token_floats), 5);
        std::vector<float> want = x;
        for (int64_t t = 0; t < n_tokens; ++t) {
          ApplyRope(want.data() + t * token_floats, n_heads, rc.head_dim, pos0 + t, rc.config);
        }
        RopeConfig device_config = rc.config;
        if (device_config.freq_factors != nullptr) {
          device_config.freq_factors = d_factors.get<float>();
        }
        DeviceBuffer dx(x);
        ASSERT_CUDA_OK(
            Rope(dx.get<float>(), n_tokens, n_heads, rc.head_dim, pos0, device_config, nullptr));
        const std::vector<float> got = dx.Download<float>(x.size());
        float max_abs = 0.0f;
        for (float v : x) max_abs = std::max(max_abs, std::abs(v));
        for (size_t i = 0; i < x.size(); ++i) {
          // Same angles bit for bit; the device's cosf/sinf are within 2 ulps of glibc's.
          ASSERT_NEAR(got[i], want[i], 2e-6 * max_abs) << "element " << i;
        }
      }
    }
  }
}

// Gemma's ops: GeGlu (out separate or in place), Scale and Softcap against the CPU's, on
// values out to where the tanh saturates.
TEST(CudaOpsTest, GeGluScaleAndSoftcapMatchCpu) {
  WICK_REQUIRE_CUDA_DEVICE();
  for (int64_t n : {1, 5, 4096, 10001}) {
    SCOPED_TRACE(::testing::Message() << "n " << n);
    const std::vector<float> a = RandomFloats(static_cast<size_t>(n), 10, 12.0f);
    const std::vector<float> b = RandomFloats(static_cast<size_t>(n), 11);
    std::vector<float> want_geglu(a.size()), want_scale = a, want_cap = a;
    kernels::GeGlu(a.data(), b.data(), want_geglu.data(), n);
    kernels::Scale(want_scale.data(), 0.37f, n);
    kernels::Softcap(want_cap.data(), 5.0f, n);
    for (bool in_place : {false, true}) {
      DeviceBuffer da(a), db(b), dout(a.size() * sizeof(float));
      float* out = in_place ? da.get<float>() : dout.get<float>();
      ASSERT_CUDA_OK(GeGlu(da.get<float>(), db.get<float>(), out, n, nullptr));
      const std::vector<float> got = (in_place ? da : dout).Download<float>(a.size());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(got[i], want_geglu[i], 1e-6 * std::abs(want_geglu[i]) + 1e-30)
            << "geglu element " << i;
      }
    }
    DeviceBuffer ds(a), dc(a);
    ASSERT_CUDA_OK(cuda::Scale(ds.get<float>(), 0.37f, n, nullptr));
    ASSERT_CUDA_OK(Softcap(dc.get<float>(), 5.0f, n, nullptr));
    const std::vector<float> got_scale = ds.Download<float>(a.size());
    const std::vector<float> got_cap = dc.Download<float>(a.size());
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(got_scale[i], want_scale[i]) << "scale element " << i;  // one multiplication
      ASSERT_NEAR(got_cap[i], want_cap[i], 1e-6 * 5.0) << "softcap element " << i;
    }
  }
}

// GPT-2's ops. LayerNorm: rows with a large mean (where a one-pass variance cancels), with and
// without weight and bias, in place or not. Gelu: out separate or in place.
TEST(CudaOpsTest, LayerNormAndGeluMatchCpu) {
  WICK_REQUIRE_CUDA_DEVICE();
  EXPECT_EQ(LayerNorm(nullptr, nullptr, nullptr, nullptr, 0, 64, 1e-5f, nullptr), cudaSuccess);
  EXPECT_EQ(Gelu(nullptr, nullptr, 0, nullptr), cudaSuccess);
  for (int64_t n : {1, 7, 768, 1600, 5000}) {
    for (int64_t rows : {1, 3}) {
      for (bool affine : {false, true}) {
        for (bool in_place : {false, true}) {
          SCOPED_TRACE(::testing::Message() << "n " << n << " rows " << rows << " affine " << affine
                                            << " in place " << in_place);
          std::vector<float> x = RandomFloats(static_cast<size_t>(rows * n), 40, 2.0f);
          for (float& v : x) v += 100.0f;
          const std::vector<float> w = RandomFloats(static_cast<size_t>(n), 41);
          const std::vector<float> b = RandomFloats(static_cast<size_t>(n), 42);
          std::vector<float> want(x.size());
          for (int64_t r = 0; r < rows; ++r) {
            kernels::LayerNorm(x.data() + r * n, affine ? w.data() : nullptr,
                               affine ? b.data() : nullptr, want.data() + r * n, n, 1e-5f);
          }
          DeviceBuffer dx(x), dw(w), db(b), dout(x.size() * sizeof(float));
          float* out = in_place ? dx.get<float>() : dout.get<float>();
          ASSERT_CUDA_OK(LayerNorm(dx.get<float>(), affine ? dw.get<float>() : nullptr,
                                   affine ? db.get<float>() : nullptr, out, rows, n, 1e-5f,
                                   nullptr));
          const std::vector<float> got = (in_place ? dx : dout).Download<float>(x.size());
          for (size_t i = 0; i < x.size(); ++i) {
            // The f64 sums differ only in order; the f32 steps are the CPU's.
            ASSERT_NEAR(got[i], want[i], 1e-6 * std::abs(want[i]) + 1e-6) << "element " << i;
          }
        }
      }
    }
  }
  for (int64_t n : {1, 5, 4096, 10001}) {
    SCOPED_TRACE(::testing::Message() << "gelu n " << n);
    const std::vector<float> a = RandomFloats(static_cast<size_t>(n), 43, 6.0f);
    std::vector<float> want(a.size());
    kernels::Gelu(a.data(), want.data(), n);
    for (bool in_place : {false, true}) {
      DeviceBuffer da(a), dout(a.size() * sizeof(float));
      float* out = in_place ? da.get<float>() : dout.get<float>();
      ASSERT_CUDA_OK(Gelu(da.get<float>(), out, n, nullptr));
      const std::vector<float> got = (in_place ? da : dout).Download<float>(a.size());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_NEAR(got[i], want[i], 1e-6 * std::abs(want[i]) + 1e-30) << "element " << i;
      }
    }
  }
}

TEST(CudaOpsTest, SwiGluAndAddMatchCpu) {
  WICK_REQUIRE_CUDA_DEVICE();
  for (int64_t n : {1, 5, 4096, 10001}) {
    for (int64_t offset : {0, 1}) {
      for (int alias : {0, 1, 2}) {  // out separate, out = first input, out = second input
        SCOPED_TRACE(::testing::Message()
                     << "n " << n << " offset " << offset << " alias " << alias);
        const std::vector<float> a = RandomFloats(static_cast<size_t>(n + 1), 8, 4.0f);
        const std::vector<float> b = RandomFloats(static_cast<size_t>(n + 1), 9);
        std::vector<float> want_swiglu(a.size()), want_add(a.size());
        kernels::SwiGlu(a.data() + offset, b.data() + offset, want_swiglu.data() + offset, n);
        kernels::Add(a.data() + offset, b.data() + offset, want_add.data() + offset, n);

        for (bool swiglu : {true, false}) {
          DeviceBuffer da(a), db(b), dout(a.size() * sizeof(float));
          DeviceBuffer& result = alias == 1 ? da : alias == 2 ? db : dout;
          float* out = result.get<float>() + offset;
          if (swiglu) {
            ASSERT_CUDA_OK(
                SwiGlu(da.get<float>() + offset, db.get<float>() + offset, out, n, nullptr));
          } else {
            ASSERT_CUDA_OK(
                cuda::Add(da.get<float>() + offset, db.get<float>() + offset, out, n, nullptr));
          }
          const std::vector<float> got = result.Download<float>(a.size());
          const std::vector<float>& want = swiglu ? want_swiglu : want_add;
          for (int64_t i = offset; i < offset + n; ++i) {
            if (swiglu) {
              ASSERT_NEAR(got[i], want[i], 1e-6 * std::abs(want[i]) + 1e-30) << "element " << i;
            } else {
              ASSERT_EQ(got[i], want[i]) << "element " << i;  // one IEEE addition
            }
          }
        }
      }
    }
  }
}

TEST(CudaOpsTest, AddBiasMatchesCpuRowByRow) {
  WICK_REQUIRE_CUDA_DEVICE();
  // n a multiple of 4 or not (the float4 kernel or the scalar one), x aligned or not.
  for (int64_t n : {1, 5, 256, 3584}) {
    for (int64_t rows : {1, 3, 64}) {
      for (int64_t offset : {0, 1}) {
        SCOPED_TRACE(::testing::Message() << "n " << n << " rows " << rows << " offset " << offset);
        const std::vector<float> x = RandomFloats(static_cast<size_t>(rows * n + 1), 8, 4.0f);
        const std::vector<float> bias = RandomFloats(static_cast<size_t>(n), 9);
        std::vector<float> want = x;
        for (int64_t r = 0; r < rows; ++r) {
          float* row = want.data() + offset + r * n;
          kernels::Add(row, bias.data(), row, n);
        }
        DeviceBuffer dx(x), dbias(bias);
        ASSERT_CUDA_OK(AddBias(dx.get<float>() + offset, dbias.get<float>(), rows, n, nullptr));
        const std::vector<float> got = dx.Download<float>(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          ASSERT_EQ(got[i], want[i]) << "element " << i;  // one IEEE addition, or untouched
        }
      }
    }
  }
}

// Inputs with every kind of value an f16 conversion treats specially.
std::vector<float> F16TestValues(size_t n, uint32_t seed) {
  std::vector<float> v = RandomFloats(n, seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> exponent(-30, 20);
  for (size_t i = 0; i < n; ++i) v[i] = std::ldexp(v[i], exponent(rng));
  const float specials[] = {0.0f,
                            -0.0f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(),
                            65504.0f,
                            65520.0f,
                            1e-8f,
                            0x1p-25f,
                            0x1.8p-24f,
                            std::numeric_limits<float>::denorm_min()};
  for (size_t i = 0; i < std::size(specials) && i < n; ++i) v[i * 7 % n] = specials[i];
  return v;
}

TEST(CudaOpsTest, ConvertF32ToF16MatchesHostBitForBit) {
  WICK_REQUIRE_CUDA_DEVICE();
  for (int64_t n : {1, 3, 1024, 1027, 100000}) {
    for (int64_t offset : {0, 1}) {
      SCOPED_TRACE(::testing::Message() << "n " << n << " offset " << offset);
      const std::vector<float> x = F16TestValues(static_cast<size_t>(n + 1), 13);
      DeviceBuffer dx(x), dout((x.size() + 1) * sizeof(uint16_t));
      ASSERT_CUDA_OK(
          ConvertF32ToF16(dx.get<float>() + offset, dout.get<uint16_t>() + offset, n, nullptr));
      const std::vector<uint16_t> got = dout.Download<uint16_t>(x.size());
      for (int64_t i = offset; i < offset + n; ++i) {
        ASSERT_EQ(got[i], F32ToF16(x[i])) << "element " << i << " = " << x[i];
      }
    }
  }
}

// Rows of the KV cache as CpuBackend::StoreRows writes them, with `pad` bytes after each row
// that must stay untouched.
TEST(CudaOpsTest, StoreRowsMatchesCpuBytes) {
  WICK_REQUIRE_CUDA_DEVICE();
  constexpr uint8_t kUntouched = 0xab;
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t n : {32, 128, 4096}) {
      for (int64_t rows : {1, 3, 17}) {
        SCOPED_TRACE(::testing::Message() << NameOf(type) << " n " << n << " rows " << rows);
        const int64_t packed = type == DType::kF32   ? n * 4
                               : type == DType::kF16 ? n * 2
                                                     : n / 32 * int64_t{sizeof(Q8_0Block)};
        const int64_t row_bytes = packed + (type == DType::kF32 ? 8 : 6);  // element-aligned
        std::vector<float> src = RandomFloats(static_cast<size_t>(rows * n), 17);
        // Rows of very different scales, and an all-zero block.
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t i = 0; i < n; ++i)
            src[r * n + i] *= std::ldexp(1.0f, static_cast<int>(r) - 8);
        }
        std::fill(src.begin(), src.begin() + 32, 0.0f);
        std::vector<uint8_t> want(static_cast<size_t>(rows * row_bytes), kUntouched);
        for (int64_t r = 0; r < rows; ++r) {
          uint8_t* dst = want.data() + r * row_bytes;
          if (type == DType::kF16) {
            F32ToF16Row(src.data() + r * n, reinterpret_cast<uint16_t*>(dst), n);
          } else if (type == DType::kQ8_0) {
            simd::QuantizeQ8_0(src.data() + r * n, dst, n);
          } else {
            std::memcpy(dst, src.data() + r * n, static_cast<size_t>(n) * sizeof(float));
          }
        }
        DeviceBuffer dsrc(src);
        DeviceBuffer ddst(std::vector<uint8_t>(want.size(), kUntouched));
        ASSERT_CUDA_OK(StoreRows(dsrc.get<float>(), rows, n, ddst.get(), type, row_bytes, nullptr));
        const std::vector<uint8_t> got = ddst.Download<uint8_t>(want.size());
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(got[i], want[i]) << "byte " << i << " (row " << i / row_bytes << ")";
        }
      }
    }
  }
}

// The decode batch's fused RoPE and KV store against RopeAt and StoreRowsAt, bit for bit: every
// RoPE case, each cache type, tokens at scattered positions and cache rows.
TEST(CudaOpsTest, RopeStoreAtEqualsRopeAtThenStoreRowsAt) {
  WICK_REQUIRE_CUDA_DEVICE();
  std::vector<float> factors(256);
  for (size_t i = 0; i < factors.size(); ++i) factors[i] = 1.0f + 0.05f * static_cast<float>(i);
  DeviceBuffer d_factors(factors);
  const std::vector<int32_t> positions = {0, 17, 4095, 100000, 3};
  const auto n_tokens = static_cast<int64_t>(positions.size());
  DeviceBuffer d_positions(positions);
  std::vector<RopeCase> cases = RopeCases(factors.data());
  // GPT-2's learned positions: no RoPE, the store alone.
  cases.push_back({"none", RopeConfig{.n_dims = 0}, 64});
  for (const RopeCase& rc : cases) {
    for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
      SCOPED_TRACE(::testing::Message() << rc.name << " rope " << static_cast<int>(rc.config.type)
                                        << " cache " << NameOf(type));
      const int64_t n_head = 6, n_head_kv = 2, kv_dim = n_head_kv * rc.head_dim;
      if (type == DType::kQ8_0 && kv_dim % 32 != 0) continue;
      RopeConfig config = rc.config;
      if (config.freq_factors != nullptr) config.freq_factors = d_factors.get<float>();
      const std::vector<float> q =
          RandomFloats(static_cast<size_t>(n_tokens * n_head * rc.head_dim), 31);
      const std::vector<float> k = RandomFloats(static_cast<size_t>(n_tokens * kv_dim), 32);
      const std::vector<float> v = RandomFloats(static_cast<size_t>(n_tokens * kv_dim), 33);
      const int64_t row_bytes = kv_dim * 4 + 16;  // room for any type; rows in reverse order
      const size_t cache_bytes = static_cast<size_t>(2 * n_tokens * row_bytes);
      auto row_pointers = [&](const DeviceBuffer& cache, int64_t first) {
        std::vector<uint8_t*> rows;
        for (int64_t t = 0; t < n_tokens; ++t) {
          rows.push_back(cache.get<uint8_t>() + (first + n_tokens - 1 - t) * row_bytes);
        }
        return rows;
      };
      // Reference: the separate kernels.
      DeviceBuffer q1(q), k1(k), v1(v), cache1(std::vector<uint8_t>(cache_bytes, 0xab));
      DeviceBuffer kd1(row_pointers(cache1, 0)), vd1(row_pointers(cache1, n_tokens));
      ASSERT_CUDA_OK(RopeAt(q1.get<float>(), n_tokens, n_head, rc.head_dim,
                            d_positions.get<int32_t>(), config, nullptr));
      ASSERT_CUDA_OK(RopeAt(k1.get<float>(), n_tokens, n_head_kv, rc.head_dim,
                            d_positions.get<int32_t>(), config, nullptr));
      ASSERT_CUDA_OK(
          StoreRowsAt(k1.get<float>(), n_tokens, kv_dim, kd1.get<uint8_t* const>(), type, nullptr));
      ASSERT_CUDA_OK(
          StoreRowsAt(v1.get<float>(), n_tokens, kv_dim, vd1.get<uint8_t* const>(), type, nullptr));
      // Fused.
      DeviceBuffer q2(q), k2(k), v2(v), cache2(std::vector<uint8_t>(cache_bytes, 0xab));
      DeviceBuffer kd2(row_pointers(cache2, 0)), vd2(row_pointers(cache2, n_tokens));
      ASSERT_CUDA_OK(RopeStoreAt(q2.get<float>(), k2.get<float>(), v2.get<float>(), n_tokens,
                                 n_head, n_head_kv, rc.head_dim, d_positions.get<int32_t>(), config,
                                 kd2.get<uint8_t* const>(), vd2.get<uint8_t* const>(), type,
                                 nullptr));
      EXPECT_EQ(q2.Download<uint32_t>(q.size()), q1.Download<uint32_t>(q.size()));
      EXPECT_EQ(k2.Download<uint32_t>(k.size()), k1.Download<uint32_t>(k.size()));
      if (config.n_dims == 0) {
        EXPECT_EQ(q2.Download<float>(q.size()), q);
      }
      EXPECT_EQ(cache2.Download<uint8_t>(cache_bytes), cache1.Download<uint8_t>(cache_bytes));
    }
  }
  DeviceBuffer buf(std::vector<uint8_t>(4096, 0));
  const RopeConfig plain{.n_dims = 64};
  float* f = buf.get<float>();
  auto* rows = buf.get<uint8_t* const>();
  EXPECT_EQ(RopeStoreAt(f, f, f, 1, 1, 1, 64, nullptr, plain, rows, rows, DType::kF16, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(RopeStoreAt(f, f, f, 1, 1, 1, 64, buf.get<int32_t>(), plain, rows, rows, DType::kQ4_0,
                        nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(RopeStoreAt(f, f, f, 1, 1, 1, 48, buf.get<int32_t>(), {.n_dims = 48}, rows, rows,
                        DType::kQ8_0, nullptr),
            cudaErrorInvalidValue);  // 48 values are not whole q8_0 blocks
  EXPECT_EQ(
      RopeStoreAt(f, f, f, 0, 1, 1, 64, nullptr, plain, nullptr, nullptr, DType::kF16, nullptr),
      cudaSuccess);
}

// Elements are stored whole, so a destination or row stride off their alignment is refused
// (the GPU would fault) instead of launched.
TEST(CudaOpsTest, StoreRowsRefusesMisalignedRows) {
  WICK_REQUIRE_CUDA_DEVICE();
  DeviceBuffer src(std::vector<float>(64, 1.0f));
  DeviceBuffer dst(std::vector<uint8_t>(1024, 0));
  auto* base = dst.get<uint8_t>();
  EXPECT_EQ(StoreRows(src.get<float>(), 2, 32, base + 2, DType::kF32, 256, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(StoreRows(src.get<float>(), 2, 32, base, DType::kF32, 130, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(StoreRows(src.get<float>(), 2, 32, base + 1, DType::kF16, 128, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(StoreRows(src.get<float>(), 2, 32, base, DType::kQ8_0, 35, nullptr),
            cudaErrorInvalidValue);
  EXPECT_EQ(StoreRows(src.get<float>(), 2, 32, base + 2, DType::kF16, 66, nullptr), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace wick::kernels::cuda
