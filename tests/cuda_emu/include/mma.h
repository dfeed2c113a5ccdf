// The CUDA emulator's <mma.h>: WMMA fragments hold their whole tile in every lane, so the
// warp-wide operations are computed by each lane alone. Code that reads a fragment's elements
// (whose layout the hardware does not define) would see the logical tile here, not the GPU's.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>

#include "cuda_fp16.h"

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int kRows = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int kCols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = kRows * kCols;
  T tile[kRows * kCols];  // logical row-major tile
};

namespace detail {
template <class T>
inline void CheckPointer(const T* p, unsigned ldm, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 32 != 0) {
    wick_emu::DeviceFault(std::string(what) + ": pointer not 256-bit aligned");
  }
  if ((ldm * sizeof(T)) % 16 != 0) {
    wick_emu::DeviceFault(std::string(what) + ": ldm not a multiple of 16 bytes");
  }
}
template <class T>
float ToFloat(T v) {
  return static_cast<float>(v);
}
}  // namespace detail

template <class Use, int M, int N, int K, class T, class Layout, class S>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, S v) {
  for (auto& e : f.tile) e = T(v);
}

template <class Use, int M, int N, int K, class T, class Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm) {
  detail::CheckPointer(p, ldm, "wmma::load_matrix_sync");
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::kRows; ++r) {
    for (int c = 0; c < F::kCols; ++c) {
      f.tile[r * F::kCols + c] =
          std::is_same_v<Layout, col_major> ? p[c * ldm + r] : p[r * ldm + c];
    }
  }
}

template <int M, int N, int K, class T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* p, unsigned ldm,
                      layout_t layout) {
  detail::CheckPointer(p, ldm, "wmma::load_matrix_sync");
  for (int r = 0; r < M; ++r) {
    for (int c = 0; c < N; ++c) {
      f.tile[r * N + c] = layout == mem_col_major ? p[c * ldm + r] : p[r * ldm + c];
    }
  }
}

template <int M, int N, int K, class T>
void store_matrix_sync(T* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm,
                       layout_t layout) {
  detail::CheckPointer(p, ldm, "wmma::store_matrix_sync");
  for (int r = 0; r < M; ++r) {
    for (int c = 0; c < N; ++c) {
      (layout == mem_col_major ? p[c * ldm + r] : p[r * ldm + c]) = f.tile[r * N + c];
    }
  }
}

// d = a * b + c, products and sums in f32 (f16 products are exact in f32).
template <int M, int N, int K, class TA, class LA, class TB, class LB, class TC>
void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, LA>& a,
              const fragment<matrix_b, M, N, K, TB, LB>& b,
              const fragment<accumulator, M, N, K, TC>& c) {
  TC out[M * N];
  for (int r = 0; r < M; ++r) {
    for (int col = 0; col < N; ++col) {
      float acc = detail::ToFloat(c.tile[r * N + col]);
      for (int i = 0; i < K; ++i) {
        acc += detail::ToFloat(a.tile[r * K + i]) * detail::ToFloat(b.tile[i * N + col]);
      }
      out[r * N + col] = TC(acc);
    }
  }
  for (int i = 0; i < M * N; ++i) d.tile[i] = out[i];
}

}  // namespace nvcuda::wmma
