// The matmul's WebAssembly kernels, run in a browser by tests/web/wasm_kernels.test.mjs (once as
// the Relaxed SIMD module, once as the SIMD128 one; scripts/build-wasm builds both). For every
// weight type, shapes with ragged row counts and row lengths:
//   - a prompt's results (several tokens: the tiles and multi-token kernels) are bit-identical
//     to one token at a time in the same order (m = 1, MatmulPath::kGemm, which for the
//     quantised types is their one order);
//   - every result is within a small tolerance of the scalar oracle (QuantTraits::dot) on the
//     same activations.
// It prints which kernels the module runs ("relaxed 1|0"), "fail ..." lines, a "hash TYPE HEX"
// line per type (the page compares the two
// modules' hashes: their kernels must give the same bits), and "done N" with the failures.
#include "kernels/cpu/matmul.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/thread_pool.h"
#include "kernels/cpu/quant_traits.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/vec_dot.h"
#include "kernels/cpu/wasm_relaxed.h"

namespace wick {
namespace {

struct Shape {
  int64_t n, k;
};

// FNV-1a over the results' bits.
uint64_t Hash(const std::vector<float>& y, uint64_t h) {
  for (float v : y) {
    uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int i = 0; i < 4; ++i) {
      h ^= (bits >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  }
  return h;
}

int CheckType(DType type, ThreadPool& pool) {
  const kernels::QuantTraits* traits = kernels::FindQuantTraits(type);
  // The oracle takes the activations as the matmul converts them (round half to even, where
  // the GGUF reference quantizer rounds halves away from zero: one tie moves a result by d).
  const kernels::VecDotKernel* kernel = kernels::FindVecDot(type);
  const std::string name(NameOf(type));
  // Row counts below, at and past the tiles' 16 rows and not multiples of 8; for the 32-element
  // formats, row lengths whose blocks end in a partial group of four (39, 25 and 19 blocks).
  const bool super_blocks = InfoOf(type).block_size == 256;
  const Shape shapes[] = {{40, super_blocks ? 1280 : 1248},
                          {24, 1024},
                          {8, super_blocks ? 768 : 800},
                          {21, super_blocks ? 512 : 608}};
  const int token_counts[] = {2, 3, 5, 8, 13};
  constexpr int kMaxTokens = 13;
  int failures = 0;
  uint64_t hash = 1469598103934665603ull;
  std::mt19937 rng(static_cast<uint32_t>(type) + 7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  kernels::MatmulScratch scratch;
  for (const Shape& s : shapes) {
    std::vector<float> wf(static_cast<size_t>(s.n * s.k));
    std::vector<float> x(static_cast<size_t>(kMaxTokens * s.k));
    for (float& v : wf) v = normal(rng);
    for (float& v : x) v = normal(rng);
    const uint64_t w_row = *BytesFor(type, static_cast<uint64_t>(s.k));
    const uint64_t a_row = *BytesFor(traits->dot_type, static_cast<uint64_t>(s.k));
    std::vector<uint8_t> w(static_cast<size_t>(s.n) * w_row);
    for (int64_t r = 0; r < s.n; ++r) traits->quantize(&wf[r * s.k], &w[r * w_row], s.k);

    // One token at a time, and the oracle on the same quantised activations.
    std::vector<float> single(static_cast<size_t>(kMaxTokens * s.n));
    std::vector<uint8_t> a(a_row);
    for (int t = 0; t < kMaxTokens; ++t) {
      const kernels::MatmulParams p{.w = w.data(),
                                    .w_type = type,
                                    .n = s.n,
                                    .k = s.k,
                                    .x = &x[t * s.k],
                                    .m = 1,
                                    .y = &single[t * s.n],
                                    .path = kernels::MatmulPath::kGemm};
      if (Status st = kernels::Matmul(p, pool, scratch); !st.ok()) {
        std::printf("fail %s: %s\n", name.c_str(), st.error().message().c_str());
        return failures + 1;
      }
      kernel->quantize_input(&x[t * s.k], a.data(), s.k);
      for (int64_t r = 0; r < s.n; ++r) {
        // The oracle's own sum is float; its error and the kernel's are both far below this
        // bound, which a wrong block or scale exceeds by orders of magnitude.
        const double want = traits->dot(&w[r * w_row], a.data(), s.k);
        const double got = single[t * s.n + r];
        const double tolerance = 1e-3 * std::sqrt(static_cast<double>(s.k)) + 1e-4 * std::abs(want);
        if (!(std::abs(got - want) <= tolerance)) {
          if (++failures <= 5) {
            std::printf("fail %s n=%lld k=%lld token %d row %lld: %.6f, oracle %.6f\n",
                        name.c_str(), static_cast<long long>(s.n), static_cast<long long>(s.k), t,
                        static_cast<long long>(r), got, want);
          }
        }
      }
    }
    hash = Hash(single, hash);

    for (int m : token_counts) {
      std::vector<float> y(static_cast<size_t>(m * s.n));
      const kernels::MatmulParams p{.w = w.data(),
                                    .w_type = type,
                                    .n = s.n,
                                    .k = s.k,
                                    .x = x.data(),
                                    .m = m,
                                    .y = y.data(),
                                    .path = kernels::MatmulPath::kGemm};
      (void)kernels::Matmul(p, pool, scratch);
      for (int64_t i = 0; i < m * s.n; ++i) {
        if (std::memcmp(&y[i], &single[i], sizeof(float)) != 0 && ++failures <= 5) {
          std::printf("fail %s n=%lld k=%lld %d tokens: token %lld row %lld %.9g, alone %.9g\n",
                      name.c_str(), static_cast<long long>(s.n), static_cast<long long>(s.k), m,
                      static_cast<long long>(i / s.n), static_cast<long long>(i % s.n), y[i],
                      single[i]);
        }
      }
      hash = Hash(y, hash);
    }
  }
  std::printf("hash %s %016llx\n", name.c_str(), static_cast<unsigned long long>(hash));
  return failures;
}

}  // namespace
}  // namespace wick

int main() {
  using wick::DType;
  wick::ThreadPool pool(1);
  std::printf("simd %s\n", wick::kernels::CurrentSimdTarget().c_str());
  // Which integer dot products this module's kernels run (scripts/wasm-relax).
  std::printf("relaxed %d\n", wick::kernels::kWasmRelaxedDot ? 1 : 0);
  int failures = 0;
  for (DType type : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                     DType::kQ5_0, DType::kQ5_1, DType::kQ8_0, DType::kQ2_K, DType::kQ3_K,
                     DType::kQ4_K, DType::kQ5_K, DType::kQ6_K}) {
    failures += wick::CheckType(type, pool);
  }
  std::printf("done %d\n", failures);
  return failures == 0 ? 0 : 1;
}
