// Which SIMD instruction sets the kernels were compiled for, and forcing one of them (tests
// run every kernel on every target this CPU can execute; users can pin one with WICK_SIMD).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace wick::kernels {

struct SimdTarget {
  int64_t id;        // Highway's target bit
  std::string name;  // "AVX3_DL", "AVX3", "AVX2", "SSE4", "SCALAR" or "EMU128" (portable)…
};

// Targets compiled into this binary that this CPU can run, best first.
std::vector<SimdTarget> RunnableSimdTargets();

// The target the dispatcher picks now.
std::string CurrentSimdTarget();

// Restricts dispatch to one target by name, case-insensitively ("avx2", "scalar" for the
// portable path); "" or "auto" restores the best. Not thread-safe: call before running ops.
Status ForceSimdTarget(std::string_view name);

}  // namespace wick::kernels
