// The CUDA attention against the CPU kernel (kernels::Attention) on the same cache bytes:
// every kernel (SIMT and, for f16, tensor-core prefill; split decode), f32/f16/q8_0 caches, grouped
// and plain heads, head dims from 1 to 256, contexts from 1 to ~1000 positions, chunks after cached
// tokens, padded token strides and head-major caches. Cache positions no query may read hold NaN,
// so a kernel reading past the causal limit or n_kv poisons its output; the output's padding
// and the scratch (filled with NaN before each run) check that nothing else is touched or
// read before being written. Skipped where no GPU is usable.
#include "kernels/cuda/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "core/thread_pool.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/emu_sample.h"

namespace wick::kernels::cuda {
namespace {

using test::DeviceBuffer;

// Largest |gpu - cpu| as a fraction of the largest attended |v| (the output is a convex
// combination of V rows). Both compute the same arithmetic up to f32 summation order, except
// that an f16 probability can round to the neighbouring f16 value on one side only (one f16
// ulp of one probability: below 5e-4), as in the CPU kernel's own tests.
constexpr double kTolerance = 2e-5;
constexpr double kF16Tolerance = 5e-4;
constexpr float kSentinel = 12345.0f;

struct Shape {
  DType kv_type = DType::kF32;
  int n_head = 8;
  int n_head_kv = 8;
  int head_dim = 64;
  int64_t n_tokens = 1;
  int64_t pos0 = 0;
  int64_t extra_kv = 3;        // valid cache positions past the last query token
  bool head_major = false;     // cache as [n_head_kv][n_slots][head_dim]
  int64_t head_pad_bytes = 0;  // extra bytes after each head's row (unaligned strides)
  int64_t token_pad = 0;       // extra floats after each token of q and out
  float scale = 0.0f;          // 0: 1 / sqrt(head_dim)
  float key_drift = 0.0f;      // key j += key_drift * j * q(0, 0): scores grow along the cache
  int64_t window = 0;          // sliding window (0: none)
  float softcap = 0.0f;        // tanh-capped scores (0: none)
};

std::string Describe(const Shape& s) {
  return std::string(NameOf(s.kv_type)) + " heads " + std::to_string(s.n_head) + "/" +
         std::to_string(s.n_head_kv) + " dim " + std::to_string(s.head_dim) + " tokens " +
         std::to_string(s.n_tokens) + " pos0 " + std::to_string(s.pos0) + " n_kv " +
         std::to_string(s.pos0 + s.n_tokens + s.extra_kv) + (s.head_major ? " head-major" : "") +
         (s.head_pad_bytes ? " head-padded" : "") + (s.token_pad ? " token-padded" : "") +
         (s.key_drift != 0.0f ? " drifting" : "") +
         (s.window ? " window " + std::to_string(s.window) : "") +
         (s.softcap != 0.0f ? " softcap " + std::to_string(s.softcap) : "");
}

int64_t HeadBytes(DType type, int head_dim) {
  if (type == DType::kQ8_0) return head_dim / 32 * static_cast<int64_t>(sizeof(Q8_0Block));
  return int64_t{head_dim} * (type == DType::kF32 ? 4 : 2);
}

class Problem {
 public:
  Problem(const Shape& s, uint32_t seed) : s_(s) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    token_floats_ = int64_t{s.n_head} * s.head_dim + s.token_pad;
    q_.resize(static_cast<size_t>(s.n_tokens * token_floats_));
    for (float& x : q_) x = normal(rng);
    n_attended_ = s.pos0 + s.n_tokens;
    n_kv_ = n_attended_ + s.extra_kv;
    n_slots_ = n_kv_ + 2;
    const int64_t head_bytes = HeadBytes(s.kv_type, s.head_dim) + s.head_pad_bytes;
    row_stride_ = s.head_major ? head_bytes : s.n_head_kv * head_bytes;
    head_stride_ = s.head_major ? n_slots_ * head_bytes : head_bytes;
    k_ = Encode(rng, /*keys=*/true);
    v_ = Encode(rng, /*keys=*/false);
  }

  AttentionParams Params(const float* q, const void* k, const void* v, float* out) const {
    const bool default_head_stride = !s_.head_major && s_.head_pad_bytes == 0;
    return {
        .q = q,
        .n_tokens = s_.n_tokens,
        .pos0 = s_.pos0,
        .n_head = s_.n_head,
        .n_head_kv = s_.n_head_kv,
        .head_dim = s_.head_dim,
        .k = k,
        .v = v,
        .kv_type = s_.kv_type,
        .kv_row_stride = row_stride_,
        .kv_head_stride = default_head_stride ? 0 : head_stride_,
        .n_kv = n_kv_,
        .scale = s_.scale != 0.0f ? s_.scale : 1.0f / std::sqrt(static_cast<float>(s_.head_dim)),
        .out = out,
        .q_token_stride = s_.token_pad ? token_floats_ : 0,
        .out_token_stride = s_.token_pad ? token_floats_ : 0,
        .window = s_.window,
        .softcap = s_.softcap,
    };
  }

  // The CPU kernel's output on the same bytes.
  std::vector<float> Cpu(ThreadPool& pool) const {
    std::vector<float> out(q_.size(), kSentinel);
    const Status status =
        kernels::Attention(Params(q_.data(), k_.data(), v_.data(), out.data()), pool);
    EXPECT_TRUE(status.ok()) << status.error().message();
    return out;
  }

  // The GPU's output; scratch and out start as NaN and the sentinel.
  std::vector<float> Gpu() const {
    DeviceBuffer q(q_), k(k_), v(v_), out(std::vector<float>(q_.size(), kSentinel));
    const AttentionParams params = Params(q.get<float>(), k.get(), v.get(), out.get<float>());
    const size_t scratch_floats = AttentionScratchFloats(params);
    DeviceBuffer scratch(std::max<size_t>(scratch_floats, 1) * sizeof(float));
    EXPECT_EQ(cudaMemset(scratch.get(), 0xff, scratch.bytes()), cudaSuccess);
    const cudaError_t err =
        Attention(params, scratch_floats ? scratch.get<float>() : nullptr, nullptr);
    EXPECT_EQ(err, cudaSuccess) << cudaGetErrorString(err);
    return out.Download<float>(q_.size());
  }

  // Largest |got - want| over the attended values' scale; infinity for a NaN or a padding
  // float that changed.
  double MaxError(const std::vector<float>& got, const std::vector<float>& want) const {
    const int64_t row = int64_t{s_.n_head} * s_.head_dim;
    double worst = 0.0;
    for (int64_t t = 0; t < s_.n_tokens; ++t) {
      for (int64_t i = 0; i < token_floats_; ++i) {
        const size_t at = static_cast<size_t>(t * token_floats_ + i);
        if (i >= row) {
          if (got[at] != kSentinel) return std::numeric_limits<double>::infinity();
          continue;
        }
        const double diff = std::abs(static_cast<double>(got[at]) - want[at]);
        if (!(diff <= worst))
          worst = std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff;
      }
    }
    return worst / v_scale_;
  }

 private:
  // A cache with the shape's layout and type; positions from n_attended on hold NaN.
  std::vector<uint8_t> Encode(std::mt19937& rng, bool keys) {
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<uint8_t> cache(
        static_cast<size_t>(n_slots_ * row_stride_ + head_stride_ * s_.n_head_kv), 0);
    std::vector<float> row(static_cast<size_t>(s_.head_dim));
    for (int64_t j = 0; j < n_slots_; ++j) {
      for (int g = 0; g < s_.n_head_kv; ++g) {
        uint8_t* dst = cache.data() + j * row_stride_ + g * head_stride_;
        const bool poison = j >= n_attended_;
        for (int i = 0; i < s_.head_dim; ++i) {
          row[i] = poison ? std::numeric_limits<float>::quiet_NaN() : normal(rng);
          if (keys && s_.key_drift != 0.0f && !poison) row[i] += s_.key_drift * j * q_[i];
          if (!keys && !poison) v_scale_ = std::max(v_scale_, double{std::abs(row[i])});
        }
        if (s_.kv_type == DType::kQ8_0) {
          auto* blocks = reinterpret_cast<Q8_0Block*>(dst);
          if (!poison) {
            ref::QuantizeQ8_0Activations(row.data(), blocks, s_.head_dim);
          } else {
            for (int b = 0; b < s_.head_dim / 32; ++b) {  // a NaN scale
              blocks[b].d = 0x7e00;
              std::fill(std::begin(blocks[b].qs), std::end(blocks[b].qs), int8_t{1});
            }
          }
        } else if (s_.kv_type == DType::kF16) {
          for (int i = 0; i < s_.head_dim; ++i) {
            const uint16_t h = F32ToF16(row[i]);
            std::memcpy(dst + 2 * i, &h, 2);
          }
        } else {
          std::memcpy(dst, row.data(), row.size() * sizeof(float));
        }
      }
    }
    return cache;
  }

  Shape s_;
  int64_t token_floats_, n_attended_, n_kv_, n_slots_, row_stride_, head_stride_;
  double v_scale_ = 0.0;
  std::vector<float> q_;
  std::vector<uint8_t> k_, v_;
};

class CudaAttentionTest : public ::testing::Test {
 protected:
  void ExpectMatchesCpu(const Shape& shape) {
    if (!sample_.Take()) return;
    SCOPED_TRACE(Describe(shape));
    Problem problem(shape, seed_++);
    const std::vector<float> want = problem.Cpu(pool_);
    const double tolerance = shape.kv_type == DType::kF16 ? kF16Tolerance : kTolerance;
    EXPECT_LE(problem.MaxError(problem.Gpu(), want), tolerance);
    if (shape.kv_type == DType::kF16) {
      // The SIMT kernel, which the tensor-core one replaces for f16 prefill.
      SetAttentionTensorCores(false);
      EXPECT_LE(problem.MaxError(problem.Gpu(), want), tolerance) << "without tensor cores";
      SetAttentionTensorCores(true);
    }
  }

  uint32_t seed_ = 1;
  ThreadPool pool_{4};
  test::CaseSample sample_{5};
};

TEST_F(CudaAttentionTest, DecodeMatchesCpu) {
  WICK_REQUIRE_CUDA_DEVICE();
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int n_head_kv : {2, 8}) {
      for (int head_dim : {64, 128}) {
        for (int64_t n_tokens : {1, 3, 8}) {
          for (int64_t pos0 : {0, 1, 31, 32, 33, 200, 999}) {
            ExpectMatchesCpu({.kv_type = type,
                              .n_head_kv = n_head_kv,
                              .head_dim = head_dim,
                              .n_tokens = n_tokens,
                              .pos0 = pos0});
          }
        }
      }
    }
  }
}

TEST_F(CudaAttentionTest, PrefillMatchesCpu) {
  WICK_REQUIRE_CUDA_DEVICE();
  sample_ = test::CaseSample(23);  // the emulator takes seconds per prefill case
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int n_head_kv : {2, 8}) {
      for (int head_dim : {64, 128}) {
        for (int64_t n_tokens : {9, 64, 200}) {
          for (int64_t pos0 : {0, 37, 700}) {
            ExpectMatchesCpu({.kv_type = type,
                              .n_head_kv = n_head_kv,
                              .head_dim = head_dim,
                              .n_tokens = n_tokens,
                              .pos0 = pos0});
          }
        }
      }
    }
  }
}

// Gemma 2/3: a sliding window (decode far past it, a prompt whose tiles start inside it) and
// softcapped scores, on every cache type, the tensor-core prefill included.
TEST_F(CudaAttentionTest, SlidingWindowAndSoftcapMatchCpu) {
  WICK_REQUIRE_CUDA_DEVICE();
  sample_ = test::CaseSample(7);
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t window : {int64_t{0}, int64_t{1}, int64_t{5}, int64_t{40}, int64_t{100}}) {
      for (float softcap : {0.0f, 2.0f}) {
        if (window == 0 && softcap == 0.0f) continue;
        for (auto [n_tokens, pos0] :
             {std::pair<int64_t, int64_t>{1, 0}, {1, 300}, {3, 999}, {64, 37}, {100, 0}}) {
          ExpectMatchesCpu({.kv_type = type,
                            .n_head_kv = 2,
                            .head_dim = 64,
                            .n_tokens = n_tokens,
                            .pos0 = pos0,
                            .window = window,
                            .softcap = softcap});
        }
      }
    }
  }
}

TEST_F(CudaAttentionTest, SmallestContextsAndExactCacheEnd) {
  WICK_REQUIRE_CUDA_DEVICE();
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t n_tokens : {1, 2, 8, 9, 33}) {
      // n_kv == pos0 + n_tokens: nothing valid lies past the last query token.
      ExpectMatchesCpu({.kv_type = type, .n_head_kv = 2, .n_tokens = n_tokens, .extra_kv = 0});
      ExpectMatchesCpu(
          {.kv_type = type, .n_head_kv = 2, .n_tokens = n_tokens, .pos0 = 5, .extra_kv = 0});
    }
  }
}

TEST_F(CudaAttentionTest, HeadDimsFrom1To256) {
  WICK_REQUIRE_CUDA_DEVICE();
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int head_dim : {1, 5, 32, 36, 72, 80, 96, 160, 200, 256}) {
      if (type == DType::kQ8_0 && head_dim % 32 != 0) continue;
      for (int64_t n_tokens : {1, 4, 40}) {
        ExpectMatchesCpu({.kv_type = type,
                          .n_head = 4,
                          .n_head_kv = 2,
                          .head_dim = head_dim,
                          .n_tokens = n_tokens,
                          .pos0 = 300});
      }
    }
  }
}

TEST_F(CudaAttentionTest, GroupSizes) {
  WICK_REQUIRE_CUDA_DEVICE();
  // Groups of 1 to 32 query heads per kv head; 32 spreads one token's rows over two blocks.
  for (DType type : {DType::kF32, DType::kF16}) {
    for (int n_head_kv : {32, 4, 1}) {
      for (int64_t n_tokens : {1, 5, 17}) {
        ExpectMatchesCpu({.kv_type = type,
                          .n_head = 32,
                          .n_head_kv = n_head_kv,
                          .head_dim = 64,
                          .n_tokens = n_tokens,
                          .pos0 = 90});
      }
    }
  }
}

TEST_F(CudaAttentionTest, StridedLayouts) {
  WICK_REQUIRE_CUDA_DEVICE();
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t n_tokens : {1, 6, 40}) {
      for (int variant = 0; variant < 4; ++variant) {
        Shape s{
            .kv_type = type, .n_head_kv = 2, .head_dim = 128, .n_tokens = n_tokens, .pos0 = 150};
        s.head_major = variant == 1 || variant == 3;
        // Element-aligned but not 16-byte aligned strides: the narrow loads.
        s.head_pad_bytes = variant >= 2 ? (type == DType::kF32 ? 4 : 2) : 0;
        s.token_pad = variant == 0 || variant == 3 ? 5 : 0;
        ExpectMatchesCpu(s);
      }
    }
  }
}

TEST_F(CudaAttentionTest, GrowingAndPeakedScores) {
  WICK_REQUIRE_CUDA_DEVICE();
  // Scores that grow along the cache make the online softmax rescale at every tile; a large
  // scale makes the distribution nearly one-hot.
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t n_tokens : {1, 8, 50}) {
      ExpectMatchesCpu({.kv_type = type,
                        .n_head_kv = 2,
                        .n_tokens = n_tokens,
                        .pos0 = 400,
                        .key_drift = 0.002f});
      ExpectMatchesCpu(
          {.kv_type = type, .n_head_kv = 2, .n_tokens = n_tokens, .pos0 = 400, .scale = 1.0f});
    }
  }
}

TEST_F(CudaAttentionTest, ScratchDependsOnlyOnTokensHeadsAndHeadDim) {
  AttentionParams p{.n_tokens = 1, .n_head = 32, .n_head_kv = 8, .head_dim = 128, .n_kv = 10};
  const size_t at_10 = AttentionScratchFloats(p);
  p.n_kv = 100000;
  p.pos0 = 99999;
  EXPECT_EQ(AttentionScratchFloats(p), at_10);
  EXPECT_GT(at_10, 0u);
  p.n_tokens = 512;  // prefill needs none
  EXPECT_EQ(AttentionScratchFloats(p), 0u);
  p.n_tokens = 0;
  EXPECT_EQ(AttentionScratchFloats(p), 0u);
}

// A batch of sequences' decode rows in one launch gives each sequence's own call's bits,
// for batches whose CTAs each walk one split (3 sequences), several (16: SplitGroups) or all
// 32 (64), over caches from 1 position to past 32 tiles (every split in use).
TEST_F(CudaAttentionTest, BatchedDecodeEqualsEachSequenceAlone) {
  WICK_REQUIRE_CUDA_DEVICE();
  constexpr int kHeads = 32;
  constexpr int kDim = 64;
  constexpr int64_t kTokenFloats = int64_t{kHeads} * kDim;
  for (const DType kv : {DType::kF16, DType::kF32}) {
    for (const int n_seq : {3, 16, 64}) {
      // Gemma 2's local layers: a window of 50 and softcapped scores.
      const bool gemma = n_seq == 16;
      SCOPED_TRACE(std::string(NameOf(kv)) + " sequences " + std::to_string(n_seq) +
                   (gemma ? " window 50, softcap 3" : ""));
      std::mt19937 rng(static_cast<uint32_t>(n_seq));
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> q(static_cast<size_t>(n_seq * kTokenFloats));
      for (float& x : q) x = normal(rng);
      const std::vector<float> sentinels(q.size(), kSentinel);
      DeviceBuffer q_dev(q), batched_out(sentinels), alone_out(sentinels);
      const int64_t row_bytes = kHeads * HeadBytes(kv, kDim);
      std::deque<DeviceBuffer> caches;
      std::vector<AttentionParams> batch;
      for (int s = 0; s < n_seq; ++s) {
        const int64_t n_kv = s % 8 == 5 ? 1030 + s : 1 + (37 * s) % 200;
        std::vector<uint8_t> k(static_cast<size_t>(n_kv * row_bytes));
        std::vector<uint8_t> v(k.size());
        for (std::vector<uint8_t>* cache : {&k, &v}) {
          for (int64_t e = 0; e < n_kv * kTokenFloats; ++e) {
            const float x = normal(rng);
            if (kv == DType::kF16) {
              const uint16_t h = F32ToF16(x);
              std::memcpy(cache->data() + 2 * e, &h, 2);
            } else {
              std::memcpy(cache->data() + 4 * e, &x, 4);
            }
          }
        }
        const DeviceBuffer& k_dev = caches.emplace_back(k);
        const DeviceBuffer& v_dev = caches.emplace_back(v);
        batch.push_back({.q = q_dev.get<float>() + s * kTokenFloats,
                         .n_tokens = 1,
                         .pos0 = n_kv - 1,
                         .n_head = kHeads,
                         .n_head_kv = kHeads,
                         .head_dim = kDim,
                         .k = k_dev.get(),
                         .v = v_dev.get(),
                         .kv_type = kv,
                         .kv_row_stride = row_bytes,
                         .n_kv = n_kv,
                         .scale = 0.125f,
                         .out = batched_out.get<float>() + s * kTokenFloats,
                         .window = gemma ? 50 : 0,
                         .softcap = gemma ? 3.0f : 0.0f});
      }
      const size_t scratch_floats = AttentionScratchFloats(batch[0]);
      DeviceBuffer scratch(n_seq * scratch_floats * sizeof(float));
      ASSERT_EQ(cudaMemset(scratch.get(), 0xff, scratch.bytes()), cudaSuccess);
      for (int s = 0; s < n_seq; ++s) {
        AttentionParams alone = batch[s];
        alone.out = alone_out.get<float>() + s * kTokenFloats;
        ASSERT_EQ(Attention(alone, scratch.get<float>(), nullptr), cudaSuccess);
      }
      ASSERT_TRUE(CanBatchDecode(batch));
      std::vector<uint8_t> args(DecodeBatchArgBytes(batch.size()));
      PackDecodeBatch(batch, args.data());
      DeviceBuffer args_dev(args);
      ASSERT_EQ(cudaMemset(scratch.get(), 0xff, scratch.bytes()), cudaSuccess);
      ASSERT_EQ(AttentionDecodeBatch(batch, args_dev.get(), scratch.get<float>(), nullptr),
                cudaSuccess);
      const std::vector<float> alone = alone_out.Download<float>(q.size());
      const std::vector<float> batched = batched_out.Download<float>(q.size());
      for (int s = 0; s < n_seq; ++s) {
        const size_t at = static_cast<size_t>(s * kTokenFloats);
        EXPECT_EQ(std::memcmp(alone.data() + at, batched.data() + at, kTokenFloats * 4), 0)
            << "sequence " << s << " (n_kv " << batch[s].n_kv << ")";
        EXPECT_NE(batched[at], kSentinel) << "sequence " << s;
      }
    }
  }
}

TEST_F(CudaAttentionTest, NoTokensLaunchesNothing) {
  WICK_REQUIRE_CUDA_DEVICE();
  const AttentionParams p{.n_tokens = 0, .n_head = 8, .n_head_kv = 2, .head_dim = 64};
  EXPECT_EQ(Attention(p, nullptr, nullptr), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace wick::kernels::cuda
