// Register-blocked f32 GEMM. Highway compiles this file once per SIMD target (see simd.h);
// HWY_DYNAMIC_DISPATCH picks the best one at run time.
//
// Layout, after GotoBLAS: b is cut into blocks of kNC weight rows by kKC columns of k and
// packed transposed, as panels of kKC x NR floats (NR = two vectors), so the micro-kernel
// reads each step of k as two contiguous vector loads. a is read in place: each step
// broadcasts one element from each of kMR rows. A block of packed b (at most 256 KiB) stays in
// L2 while every row of a passes over it; the kMR rows of a being worked on stay in L1 while
// they meet every panel of the block.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "kernels/cpu/gemm_f32.cpp"
#include "kernels/cpu/gemm_f32.h"

#include <hwy/aligned_allocator.h>
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace wick::kernels::HWY_NAMESPACE {
namespace {
namespace hn = hwy::HWY_NAMESPACE;

// Rows of a per micro-kernel. Each step of k issues 2 * kMR multiply-adds into as many
// accumulators; with the two b vectors and the broadcast they must fit the register file:
// 32 vector registers on AVX-512 take 12 rows (24 accumulators, enough independent chains
// to cover FMA latency on two pipes), 16 registers take 6.
constexpr int64_t kMR = HWY_MAX_BYTES >= 64 ? 12 : 6;
// Steps of k per block: a panel of packed b is kKC x NR floats (32 KiB with AVX-512), which
// fits L1 next to the kMR rows of a it meets.
constexpr int64_t kKC = 256;
// Weight rows per packed block of b: kKC x kNC floats = 256 KiB, a quarter of Zen 5's L2.
constexpr int64_t kNC = 256;

using DF = hn::ScalableTag<float>;

// Packs columns [0, nc) x steps [0, kc) of b (rows of length >= kc, ldb apart) into panels of
// nr columns: panel q holds b[q * nr + jj][p] at dst[q * nr * kc + p * nr + jj]. Columns past
// nc are zero so the micro-kernel needs no column tail.
void PackB(const float* b, int64_t ldb, int64_t nc, int64_t kc, int64_t nr, float* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += nr) {
    float* panel = dst + j0 * kc;
    for (int64_t jj = 0; jj < nr; ++jj) {
      if (j0 + jj < nc) {
        const float* src = b + (j0 + jj) * ldb;
        for (int64_t p = 0; p < kc; ++p) panel[p * nr + jj] = src[p];
      } else {
        for (int64_t p = 0; p < kc; ++p) panel[p * nr + jj] = 0.0f;
      }
    }
  }
}

// c (kMR x NR, ldc apart) = (accumulate ? c : 0) + a (kMR rows, lda apart) x panel. Only the
// first `rows` x `cols` of c are written; the rest is computed from zero padding and dropped.
HWY_INLINE void MicroKernel(const float* a, int64_t lda, const float* panel, int64_t kc, float* c,
                            int64_t ldc, bool accumulate, int64_t rows, int64_t cols) {
  const DF df;
  using V = decltype(hn::Zero(df));
  const auto lanes = static_cast<int64_t>(hn::Lanes(df));
  V acc0[kMR];
  V acc1[kMR];
  HWY_UNROLL(12)
  for (int64_t i = 0; i < kMR; ++i) {
    acc0[i] = hn::Zero(df);
    acc1[i] = hn::Zero(df);
  }
  for (int64_t p = 0; p < kc; ++p) {
    const V b0 = hn::Load(df, panel + 2 * lanes * p);
    const V b1 = hn::Load(df, panel + 2 * lanes * p + lanes);
    HWY_UNROLL(12)
    for (int64_t i = 0; i < kMR; ++i) {
      const V ai = hn::Set(df, a[i * lda + p]);
      acc0[i] = hn::MulAdd(ai, b0, acc0[i]);
      acc1[i] = hn::MulAdd(ai, b1, acc1[i]);
    }
  }
  if (rows == kMR && cols == 2 * lanes) {
    HWY_UNROLL(12)
    for (int64_t i = 0; i < kMR; ++i) {
      float* row = c + i * ldc;
      if (accumulate) {
        acc0[i] = hn::Add(acc0[i], hn::LoadU(df, row));
        acc1[i] = hn::Add(acc1[i], hn::LoadU(df, row + lanes));
      }
      hn::StoreU(acc0[i], df, row);
      hn::StoreU(acc1[i], df, row + lanes);
    }
    return;
  }
  // Edge tile: spill the accumulators and copy the valid part.
  HWY_ALIGN float tile[kMR * 2 * HWY_MAX_BYTES / sizeof(float)];
  for (int64_t i = 0; i < kMR; ++i) {
    hn::Store(acc0[i], df, tile + 2 * lanes * i);
    hn::Store(acc1[i], df, tile + 2 * lanes * i + lanes);
  }
  for (int64_t i = 0; i < rows; ++i) {
    float* row = c + i * ldc;
    const float* t = tile + 2 * lanes * i;
    for (int64_t j = 0; j < cols; ++j) row[j] = accumulate ? row[j] + t[j] : t[j];
  }
}

}  // namespace

void GemmF32Impl(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                 int64_t m, int64_t n, int64_t k) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  const DF df;
  const auto nr = static_cast<int64_t>(2 * hn::Lanes(df));
  const int64_t nc_max = std::max(nr, kNC / nr * nr);
  // Per thread, so callers may run tiles concurrently without passing scratch; allocated once
  // per thread and target at the largest block size.
  thread_local hwy::AlignedFreeUniquePtr<float[]> packed =
      hwy::AllocateAligned<float>(static_cast<size_t>(kKC * nc_max));
  // Rows of a past m read from here, zero-padded, so the micro-kernel has no row tail.
  thread_local hwy::AlignedFreeUniquePtr<float[]> a_edge =
      hwy::AllocateAligned<float>(static_cast<size_t>(kKC * kMR));

  for (int64_t jc = 0; jc < n; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n - jc);
    for (int64_t pc = 0; pc < k; pc += kKC) {
      const int64_t kc = std::min(kKC, k - pc);
      PackB(b + jc * ldb + pc, ldb, nc, kc, nr, packed.get());
      for (int64_t ic = 0; ic < m; ic += kMR) {
        const int64_t rows = std::min(kMR, m - ic);
        const float* ap = a + ic * lda + pc;
        int64_t ap_ld = lda;
        if (rows < kMR) {
          std::fill(a_edge.get(), a_edge.get() + kMR * kc, 0.0f);
          for (int64_t i = 0; i < rows; ++i) {
            std::copy(ap + i * lda, ap + i * lda + kc, a_edge.get() + i * kc);
          }
          ap = a_edge.get();
          ap_ld = kc;
        }
        for (int64_t jr = 0; jr < nc; jr += nr) {
          MicroKernel(ap, ap_ld, packed.get() + jr * kc, kc, c + ic * ldc + jc + jr, ldc, pc > 0,
                      rows, std::min(nr, nc - jr));
        }
      }
    }
  }
}

}  // namespace wick::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace wick::kernels {

HWY_EXPORT(GemmF32Impl);

void GemmF32(const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
             int64_t m, int64_t n, int64_t k) {
  HWY_DYNAMIC_DISPATCH(GemmF32Impl)(a, lda, b, ldb, c, ldc, m, n, k);
}

}  // namespace wick::kernels
#endif  // HWY_ONCE
