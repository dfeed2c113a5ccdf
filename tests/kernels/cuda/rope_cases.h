// The RoPE configurations that both the host check of the device's angle arithmetic
// (ops_host_test.cu) and the device kernel's test (ops_test.cpp) run through: every scaling,
// both layouts, partial rotation, freq_factors tables, and a wide head.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"

namespace wick::kernels::cuda::test {

struct RopeCase {
  const char* name;
  RopeConfig config;
  int64_t head_dim;
};

// `freq_factors` must hold at least 32 values (n_dims / 2 of the cases that use it).
inline std::vector<RopeCase> RopeCases(const float* freq_factors) {
  std::vector<RopeCase> cases;
  for (RopeType type : {RopeType::kNormal, RopeType::kNeox}) {
    cases.push_back({"plain", {.n_dims = 128, .type = type}, 128});
    cases.push_back({"partial", {.n_dims = 32, .freq_base = 1e6f, .type = type}, 80});
    cases.push_back({"attn_factor", {.n_dims = 64, .type = type, .attn_factor = 0.75f}, 64});
    cases.push_back({"linear",
                     {.n_dims = 128, .type = type, .scaling = RopeScaling::kLinear, .factor = 4},
                     128});
    cases.push_back({"linear with attn_factor",
                     {.n_dims = 64,
                      .type = type,
                      .scaling = RopeScaling::kLinear,
                      .factor = 4.0f,
                      .attn_factor = 0.75f},
                     64});
    cases.push_back({"yarn",
                     {.n_dims = 128,
                      .freq_base = 1e6f,
                      .type = type,
                      .scaling = RopeScaling::kYarn,
                      .factor = 4.0f,
                      .orig_ctx = 32768},
                     128});
    cases.push_back({"yarn mixed",
                     {.n_dims = 64,
                      .type = type,
                      .scaling = RopeScaling::kYarn,
                      .factor = 8.0f,
                      .orig_ctx = 4096,
                      .beta_fast = 16.0f,
                      .beta_slow = 2.0f,
                      .ext_factor = 0.5f,
                      .attn_factor = 0.5f},
                     96});
    cases.push_back({"llama3",
                     {.n_dims = 128,
                      .freq_base = 500000.0f,
                      .type = type,
                      .scaling = RopeScaling::kLlama3,
                      .factor = 8.0f,
                      .orig_ctx = 8192},
                     128});
    cases.push_back(
        {"freq_factors", {.n_dims = 64, .type = type, .freq_factors = freq_factors}, 64});
    cases.push_back({"yarn with freq_factors",
                     {.n_dims = 64,
                      .type = type,
                      .scaling = RopeScaling::kYarn,
                      .factor = 2.0f,
                      .orig_ctx = 2048,
                      .freq_factors = freq_factors},
                     64});
    cases.push_back({"wide", {.n_dims = 512, .type = type}, 512});
  }
  return cases;
}

}  // namespace wick::kernels::cuda::test
