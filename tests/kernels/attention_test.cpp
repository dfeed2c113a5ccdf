#include "kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/quant_blocks.h"
#include "kernels/cpu/quant_ref.h"
#include "kernels/cpu/simd.h"

namespace wick::kernels {
namespace {

// Largest error allowed, as a fraction of the largest |v| the row averages over: the output
// is a convex combination of V rows, so that is its natural scale (relative to the output
// itself would be meaningless where the average cancels to near zero). The reference reads
// the same f16-decoded values as the kernel and, for an f16 cache, rounds the query and the
// probabilities to f16 where the kernel does, so only float rounding and summation order
// differ (about 1e-6), plus, for f16, a probability that float noise rounds to the
// neighbouring f16 value (one f16 ulp of one probability: below 5e-4).
constexpr double kF32Tolerance = 1e-5;
constexpr double kF16Tolerance = 5e-4;
// What storing the cache in f16 costs: the f16 kernel against the f32 inputs' reference.
constexpr double kF16CacheTolerance = 1e-3;
// Bytes of one head's keys or values at one position.
int64_t HeadBytes(DType type, int head_dim) {
  if (type == DType::kQ8_0) return head_dim / 32 * static_cast<int64_t>(sizeof(Q8_0Block));
  return int64_t{head_dim} * (type == DType::kF32 ? 4 : 2);
}

// Written into out's padding, and checked to survive.
constexpr float kSentinel = 12345.0f;

struct Shape {
  DType kv_type = DType::kF32;
  int n_head = 8;
  int n_head_kv = 8;
  int head_dim = 64;
  int64_t n_tokens = 1;
  int64_t pos0 = 0;
  bool head_major = false;  // cache as [n_head_kv][n_slots][head_dim]
  int64_t token_pad = 0;    // extra floats after each token of q and out
  float scale = 0.0f;       // 0: 1 / sqrt(head_dim)
  float key_drift = 0.0f;   // adds key_drift * j * q(token 0, head 0) to key j: scores grow
  int64_t window = 0;       // sliding window (0: none)
  float softcap = 0.0f;     // scores capped by tanh (0: none)
};

std::string Describe(const Shape& s) {
  return std::string(NameOf(s.kv_type)) + " heads " + std::to_string(s.n_head) + "/" +
         std::to_string(s.n_head_kv) + " dim " + std::to_string(s.head_dim) + " tokens " +
         std::to_string(s.n_tokens) + " pos0 " + std::to_string(s.pos0) +
         (s.head_major ? " head-major" : "") + (s.token_pad ? " padded" : "") +
         (s.window ? " window " + std::to_string(s.window) : "") +
         (s.softcap != 0.0f ? " softcap " + std::to_string(s.softcap) : "");
}

// Random inputs in the layout Shape asks for, the reference, and a comparison.
class Problem {
 public:
  Problem(const Shape& s, uint32_t seed) : s_(s) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const int64_t token_floats = int64_t{s.n_head} * s.head_dim + s.token_pad;
    q_.resize(static_cast<size_t>(s.n_tokens * token_floats));
    for (float& x : q_) x = normal(rng);
    // Positions from pos0 + n_tokens on are valid (n_kv) or spare slots, but no token may
    // attend to them: NaN there would poison the result if the kernel read them.
    n_attended_ = s.pos0 + s.n_tokens;
    n_kv_ = n_attended_ + 3;
    n_slots_ = n_kv_ + 4;
    const int64_t row_bytes = HeadBytes(s.kv_type, s.head_dim);
    row_stride_ = s.head_major ? row_bytes : s.n_head_kv * row_bytes;
    head_stride_ = s.head_major ? n_slots_ * row_bytes : 0;
    const size_t values = static_cast<size_t>(n_slots_ * s.n_head_kv * s.head_dim);
    for (auto* ref : {&k_ref_, &v_ref_}) {
      ref->resize(values);
      for (size_t i = 0; i < values; ++i) {
        const int64_t j = static_cast<int64_t>(i) / (s.n_head_kv * s.head_dim);
        float x = j < n_attended_ ? normal(rng) : std::numeric_limits<float>::quiet_NaN();
        if (ref == &k_ref_ && s.key_drift != 0.0f) {
          x += s.key_drift * static_cast<float>(j) * q_[i % static_cast<size_t>(s.head_dim)];
        }
        (*ref)[i] = x;
      }
    }
    // Encode rounds the references to what the kernel will read.
    k_ = Encode(k_ref_);
    v_ = Encode(v_ref_);
    out_.assign(static_cast<size_t>(s.n_tokens * token_floats), kSentinel);
  }

  // Parameters for a fresh run: the output is refilled with the sentinel first, so a row the
  // kernel skips cannot pass on an earlier run's result.
  AttentionParams Params() {
    std::fill(out_.begin(), out_.end(), kSentinel);
    return {
        .q = q_.data(),
        .n_tokens = s_.n_tokens,
        .pos0 = s_.pos0,
        .n_head = s_.n_head,
        .n_head_kv = s_.n_head_kv,
        .head_dim = s_.head_dim,
        .k = k_.get(),
        .v = v_.get(),
        .kv_type = s_.kv_type,
        .kv_row_stride = row_stride_,
        .kv_head_stride = head_stride_,
        .n_kv = n_kv_,
        .scale = Scale(),
        .out = out_.data(),
        .q_token_stride = s_.token_pad ? int64_t{s_.n_head} * s_.head_dim + s_.token_pad : 0,
        .out_token_stride = s_.token_pad ? int64_t{s_.n_head} * s_.head_dim + s_.token_pad : 0,
        .window = s_.window,
        .softcap = s_.softcap,
    };
  }

  // Full score matrix, softmax and weighted sum in double: [n_tokens][n_head][head_dim].
  // With an f16 cache the query and the probabilities are rounded to f16, as the kernel (and
  // llama.cpp, whose outputs it is checked against) does.
  std::vector<double> Reference() const {
    const bool f16 = s_.kv_type == DType::kF16;
    auto round = [f16](double x) {
      return f16 ? static_cast<double>(F16ToF32(F32ToF16(static_cast<float>(x)))) : x;
    };
    // A q8_0 cache: the query goes through the Q8_0 activation quantizer, per head.
    std::vector<float> q_rounded = q_;
    if (s_.kv_type == DType::kQ8_0) {
      std::vector<Q8_0Block> blocks(static_cast<size_t>(s_.head_dim / 32));
      for (int64_t t = 0; t < s_.n_tokens; ++t) {
        for (int h = 0; h < s_.n_head; ++h) {
          float* q = &q_rounded[static_cast<size_t>(t * TokenFloats() + h * s_.head_dim)];
          ref::QuantizeQ8_0Activations(q, blocks.data(), s_.head_dim);
          ref::DequantizeQ8_0(blocks.data(), q, s_.head_dim);
        }
      }
    }
    const int hd = s_.head_dim;
    const int group = s_.n_head / s_.n_head_kv;
    std::vector<double> want(static_cast<size_t>(s_.n_tokens * s_.n_head * hd));
    std::vector<double> scores(static_cast<size_t>(n_attended_));
    for (int64_t t = 0; t < s_.n_tokens; ++t) {
      for (int h = 0; h < s_.n_head; ++h) {
        const float* q = &q_rounded[static_cast<size_t>(t * TokenFloats() + h * hd)];
        const int64_t n = s_.pos0 + t + 1;
        const int64_t lo = s_.window > 0 ? std::max<int64_t>(0, n - s_.window) : 0;
        double max = -std::numeric_limits<double>::infinity();
        for (int64_t j = lo; j < n; ++j) {
          const float* k = &k_ref_[Index(j, h / group)];
          double dot = 0.0;
          for (int i = 0; i < hd; ++i) dot += round(q[i]) * k[i];
          double score = dot * static_cast<double>(Scale());
          if (s_.softcap != 0.0f) score = s_.softcap * std::tanh(score / s_.softcap);
          scores[static_cast<size_t>(j)] = score;
          max = std::max(max, score);
        }
        double sum = 0.0;
        for (int64_t j = lo; j < n; ++j) sum += std::exp(scores[static_cast<size_t>(j)] - max);
        double* dst = &want[static_cast<size_t>((t * s_.n_head + h) * hd)];
        for (int64_t j = lo; j < n; ++j) {
          const double p = round(std::exp(scores[static_cast<size_t>(j)] - max) / sum);
          const float* v = &v_ref_[Index(j, h / group)];
          for (int i = 0; i < hd; ++i) dst[i] += p * v[i];
        }
      }
    }
    return want;
  }

  // Largest |out - want| over the scale of the attended values; also checks the padding.
  double MaxError(const std::vector<double>& want) const {
    double v_scale = 0.0;
    for (size_t i = 0; i < Index(n_attended_, 0); ++i) {
      v_scale = std::max(v_scale, std::abs(static_cast<double>(v_ref_[i])));
    }
    double worst = 0.0;
    const int64_t row = int64_t{s_.n_head} * s_.head_dim;
    for (int64_t t = 0; t < s_.n_tokens; ++t) {
      for (int64_t i = 0; i < TokenFloats(); ++i) {
        const float got = out_[static_cast<size_t>(t * TokenFloats() + i)];
        if (i >= row) {
          if (got != kSentinel) return std::numeric_limits<double>::infinity();
          continue;
        }
        const double diff = std::abs(got - want[static_cast<size_t>(t * row + i)]);
        if (!(diff <= worst))
          worst = std::isnan(diff) ? std::numeric_limits<double>::infinity() : diff;
      }
    }
    return worst / v_scale;
  }

 private:
  int64_t TokenFloats() const { return int64_t{s_.n_head} * s_.head_dim + s_.token_pad; }
  float Scale() const {
    return s_.scale != 0.0f ? s_.scale : 1.0f / std::sqrt(static_cast<float>(s_.head_dim));
  }
  size_t Index(int64_t j, int g) const {
    return static_cast<size_t>((j * s_.n_head_kv + g) * s_.head_dim);
  }

  // Writes the reference values into a cache with the shape's layout and element type, and
  // replaces them with what the cache holds, so the reference sees exactly what the kernel
  // reads.
  std::unique_ptr<uint8_t[]> Encode(std::vector<float>& ref) const {
    const int64_t kv_head_stride = head_stride_ != 0 ? head_stride_ : row_stride_ / s_.n_head_kv;
    const int64_t bytes = n_slots_ * row_stride_ + s_.n_head_kv * kv_head_stride;
    auto cache = std::make_unique<uint8_t[]>(static_cast<size_t>(bytes));
    for (int64_t j = 0; j < n_slots_; ++j) {
      for (int g = 0; g < s_.n_head_kv; ++g) {
        uint8_t* dst = cache.get() + j * row_stride_ + g * kv_head_stride;
        float* src = &ref[Index(j, g)];
        if (s_.kv_type == DType::kQ8_0) {
          auto* blocks = reinterpret_cast<Q8_0Block*>(dst);
          if (j < n_attended_) {
            ref::QuantizeQ8_0Activations(src, blocks, s_.head_dim);
            ref::DequantizeQ8_0(blocks, src, s_.head_dim);
          } else {
            for (int b = 0; b < s_.head_dim / 32; ++b) {  // NaN rows: a NaN scale
              blocks[b].d = 0x7e00;
              std::fill(std::begin(blocks[b].qs), std::end(blocks[b].qs), int8_t{1});
            }
          }
          continue;
        }
        for (int i = 0; i < s_.head_dim; ++i) {
          if (s_.kv_type == DType::kF32) {
            std::memcpy(dst + 4 * i, &src[i], 4);
          } else {
            const uint16_t h = F32ToF16(src[i]);
            std::memcpy(dst + 2 * i, &h, 2);
            src[i] = F16ToF32(h);
          }
        }
      }
    }
    return cache;
  }

  Shape s_;
  int64_t n_attended_, n_kv_, n_slots_, row_stride_, head_stride_;
  std::vector<float> q_, k_ref_, v_ref_, out_;
  std::unique_ptr<uint8_t[]> k_, v_;
};

// Each problem runs on every SIMD target this CPU can execute (built once for all of them:
// the long-context references dominate the test's time), on pools of 1, 2 and 3 threads
// (3 leaves uneven shares, and decode then splits the cache across threads).
class AttentionTest : public ::testing::Test {
 protected:
  void TearDown() override { ASSERT_TRUE(ForceSimdTarget("auto").ok()); }

  void ExpectMatchesReference(const Shape& shape) {
    Problem problem(shape, seed_++);
    const std::vector<double> want = problem.Reference();
    const double tolerance = shape.kv_type == DType::kF16 ? kF16Tolerance : kF32Tolerance;
    for (const SimdTarget& target : targets_) {
      ASSERT_TRUE(ForceSimdTarget(target.name).ok());
      for (auto& pool : pools_) {
        Status status = Attention(problem.Params(), *pool);
        ASSERT_TRUE(status.ok()) << status.error().message();
        EXPECT_LE(problem.MaxError(want), tolerance)
            << Describe(shape) << ", " << target.name << ", " << pool->size() << " threads";
      }
    }
  }

  uint32_t seed_ = 1;
  std::vector<SimdTarget> targets_ = RunnableSimdTargets();
  std::vector<std::unique_ptr<ThreadPool>> pools_ = [] {
    std::vector<std::unique_ptr<ThreadPool>> pools;
    for (int n : {1, 2, 3}) pools.push_back(std::make_unique<ThreadPool>(n));
    return pools;
  }();
};

TEST_F(AttentionTest, PrefillMatchesReference) {
  struct Span {
    int64_t n_tokens, pos0;
  };
  // From an empty cache; continuing after a cached prefix across a tile boundary; and two
  // tokens either side of a cache split (pos0 383 with one kv head on 3 threads).
  const Span spans[] = {{77, 0}, {30, 50}, {2, 383}};
  for (DType type : {DType::kF32, DType::kF16}) {
    for (int group : {1, 2, 4, 8}) {
      for (int head_dim : {64, 80, 128}) {
        for (Span span : spans) {
          ExpectMatchesReference({.kv_type = type,
                                  .n_head_kv = 8 / group,
                                  .head_dim = head_dim,
                                  .n_tokens = span.n_tokens,
                                  .pos0 = span.pos0});
        }
      }
    }
  }
}

// Gemma 2/3: each token sees only the last `window` positions (its own included), over a
// prompt that starts empty or after a cached prefix and over decode steps far past the window;
// and scores capped by tanh, whose scale (2.0) is below the random scores' spread.
TEST_F(AttentionTest, SlidingWindowAndSoftcapMatchReference) {
  struct Span {
    int64_t n_tokens, pos0;
  };
  const Span spans[] = {{77, 0}, {30, 50}, {1, 0}, {1, 7}, {1, 300}};
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t window : {int64_t{0}, int64_t{1}, int64_t{5}, int64_t{64}, int64_t{100}}) {
      for (float softcap : {0.0f, 2.0f}) {
        if (window == 0 && softcap == 0.0f) continue;
        for (Span span : spans) {
          ExpectMatchesReference({.kv_type = type,
                                  .n_head_kv = 2,
                                  .head_dim = 64,
                                  .n_tokens = span.n_tokens,
                                  .pos0 = span.pos0,
                                  .window = window,
                                  .softcap = softcap});
        }
      }
    }
  }
}

TEST_F(AttentionTest, DecodeMatchesReferenceAcrossTileBoundaries) {
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int group : {1, 2, 4, 8}) {
      for (int64_t context : {1, 63, 64, 65, 127, 128, 129, 1000, 4096}) {
        ExpectMatchesReference({.kv_type = type,
                                .n_head_kv = 8 / group,
                                .head_dim = 128,
                                .n_tokens = 1,
                                .pos0 = context - 1});
      }
    }
  }
}

TEST_F(AttentionTest, OddHeadDimsUseTheTails) {
  for (DType type : {DType::kF32, DType::kF16}) {
    for (int head_dim : {1, 5, 36, 72}) {
      ExpectMatchesReference(
          {.kv_type = type, .n_head = 4, .n_head_kv = 2, .head_dim = head_dim, .n_tokens = 9});
      ExpectMatchesReference({.kv_type = type,
                              .n_head = 4,
                              .n_head_kv = 1,
                              .head_dim = head_dim,
                              .n_tokens = 1,
                              .pos0 = 700});
    }
  }
}

TEST_F(AttentionTest, StridedLayouts) {
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int64_t n_tokens : {1, 20}) {
      ExpectMatchesReference({.kv_type = type,
                              .n_head = 6,
                              .n_head_kv = 2,
                              .head_dim = 64,
                              .n_tokens = n_tokens,
                              .pos0 = 300,
                              .head_major = true,
                              .token_pad = 7});
    }
  }
}

TEST_F(AttentionTest, RescalesWhenTheMaximumKeepsGrowing) {
  // Later keys align more and more with the query, so almost every tile raises the running
  // maximum; with scale 1 the scores span tens of units.
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    ExpectMatchesReference({.kv_type = type,
                            .n_head = 1,
                            .n_head_kv = 1,
                            .n_tokens = 1,
                            .pos0 = 999,
                            .key_drift = 0.0005f});
    ExpectMatchesReference({.kv_type = type,
                            .n_head = 2,
                            .n_head_kv = 1,
                            .n_tokens = 100,
                            .pos0 = 200,
                            .scale = 1.0f,
                            .key_drift = 0.0002f});
  }
}

TEST_F(AttentionTest, F16CacheStaysNearTheF32Result) {
  // The same seed draws the same values; only the f16 problem rounds them.
  const Shape f32{.n_head_kv = 2, .head_dim = 128, .n_tokens = 40, .pos0 = 500};
  Shape f16 = f32;
  f16.kv_type = DType::kF16;
  const std::vector<double> want = Problem(f32, 7).Reference();
  Problem half(f16, 7);
  ThreadPool pool(2);
  ASSERT_TRUE(Attention(half.Params(), pool).ok());
  const double error = half.MaxError(want);
  EXPECT_LE(error, kF16CacheTolerance);
  EXPECT_GT(error, kF32Tolerance);  // it did read f16 values
}

// Where a target has kernels that take a block of cache positions at a time (x86 from AVX2
// up), they keep the one-position kernels' products, slots and trees: the outputs' bits match,
// for prompts and decode steps over every cache type and head size.
TEST_F(AttentionTest, BlockKernelsGiveTheOnePositionBits) {
  struct Case {
    DType type;
    int head_dim;
    int64_t n_tokens, pos0;
  };
  std::vector<Case> cases;
  for (DType type : {DType::kF32, DType::kF16, DType::kQ8_0}) {
    for (int head_dim : {64, 96, 128}) {
      for (int64_t n_tokens : {1, 3, 37}) {
        for (int64_t pos0 : {0, 61, 700}) cases.push_back({type, head_dim, n_tokens, pos0});
      }
    }
  }
  cases.push_back({DType::kF16, 128, 1, 4095});
  cases.push_back({DType::kF16, 256, 1, 300});
  cases.push_back({DType::kF16, 80, 1, 1000});
  cases.push_back({DType::kF32, 48, 5, 90});
  ThreadPool pool(2);
  auto run = [&](Problem& problem, size_t n) {
    AttentionParams params = problem.Params();
    EXPECT_TRUE(Attention(params, pool).ok());
    std::vector<uint32_t> bits(n);
    std::memcpy(bits.data(), params.out, n * sizeof(float));
    return bits;
  };
  for (const SimdTarget& target : targets_) {
    ASSERT_TRUE(ForceSimdTarget(target.name).ok());
    for (const Case& c : cases) {
      for (int group : {1, 3, 4, 6}) {
        Problem problem({.kv_type = c.type,
                         .n_head = 2 * group,
                         .n_head_kv = 2,
                         .head_dim = c.head_dim,
                         .n_tokens = c.n_tokens,
                         .pos0 = c.pos0},
                        seed_++);
        const size_t n = static_cast<size_t>(c.n_tokens * 2 * group * c.head_dim);
        UseOnePositionAttentionKernels(true);
        const std::vector<uint32_t> want = run(problem, n);
        UseOnePositionAttentionKernels(false);
        const std::vector<uint32_t> got = run(problem, n);
        size_t diff = 0;
        while (diff < n && got[diff] == want[diff]) ++diff;
        EXPECT_EQ(diff, n) << target.name << " " << NameOf(c.type) << " group " << group << " dim "
                           << c.head_dim << " tokens " << c.n_tokens << " pos0 " << c.pos0
                           << ": first difference at output " << diff;
      }
    }
  }
}

TEST(AttentionErrorTest, InvalidParamsAreErrors) {
  ThreadPool pool(2);
  Problem problem({.n_head = 4, .n_head_kv = 2, .n_tokens = 3, .pos0 = 5}, 1);
  ASSERT_TRUE(Attention(problem.Params(), pool).ok());

  auto expect_error = [&](ErrorCode code, auto&& change) {
    AttentionParams p = problem.Params();
    change(p);
    Status status = Attention(p, pool);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code(), code) << status.error().message();
  };
  const ErrorCode invalid = ErrorCode::kInvalidArgument;
  expect_error(invalid, [](AttentionParams& p) { p.n_head = 3; });  // not a multiple
  expect_error(invalid, [](AttentionParams& p) { p.n_head_kv = 0; });
  expect_error(invalid, [](AttentionParams& p) { p.head_dim = 0; });
  expect_error(invalid, [](AttentionParams& p) { p.n_kv = p.pos0 + p.n_tokens - 1; });
  expect_error(invalid, [](AttentionParams& p) { p.pos0 = -1; });
  expect_error(invalid, [](AttentionParams& p) { p.n_tokens = -1; });
  expect_error(invalid, [](AttentionParams& p) { p.q = nullptr; });
  expect_error(invalid, [](AttentionParams& p) { p.out = nullptr; });
  expect_error(invalid, [](AttentionParams& p) { p.kv_row_stride = 4 * p.head_dim - 4; });
  expect_error(invalid, [](AttentionParams& p) { p.kv_row_stride += 2; });  // misaligned
  expect_error(invalid, [](AttentionParams& p) { p.kv_head_stride = 4; });
  expect_error(invalid, [](AttentionParams& p) { p.q_token_stride = 1; });
  expect_error(invalid, [](AttentionParams& p) { p.scale = std::nanf(""); });
  expect_error(invalid, [](AttentionParams& p) { p.window = -1; });
  expect_error(invalid, [](AttentionParams& p) { p.softcap = -1.0f; });
  expect_error(invalid, [](AttentionParams& p) { p.softcap = std::nanf(""); });
  expect_error(invalid, [](AttentionParams& p) {
    p.k = static_cast<const uint8_t*>(p.k) + 2;  // f32 cache at an odd address
  });
  expect_error(invalid, [](AttentionParams& p) {
    p.kv_type = DType::kQ8_0;  // head_dim not a multiple of the block
    p.head_dim = 40;
  });
  expect_error(ErrorCode::kUnsupported, [](AttentionParams& p) { p.kv_type = DType::kBF16; });
}

TEST(AttentionErrorTest, NoTokensIsANoOp) {
  ThreadPool pool(1);
  AttentionParams p{
      .n_tokens = 0, .n_head = 2, .n_head_kv = 1, .head_dim = 8, .kv_row_stride = 32, .scale = 1};
  EXPECT_TRUE(Attention(p, pool).ok());
}

}  // namespace
}  // namespace wick::kernels
