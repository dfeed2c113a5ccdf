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

// Targets compiled into this binary that this CPU can run, best first; only the one named by
// the WICK_SIMD environment variable ("avx2", "scalar"…) when it names one of them.
std::vector<SimdTarget> RunnableSimdTargets();

// Puts WICK_SIMD in force for every kernel (idempotent; called when the kernel tables are
// first used). An unknown name is reported once on stderr and ignored.
Status ApplySimdEnvironment();

// The target the dispatcher picks now.
std::string CurrentSimdTarget();

// Restricts dispatch to one target by name, case-insensitively ("avx2", "scalar" for the
// portable path); "" or "auto" restores the best (or WICK_SIMD's). Not thread-safe: call
// before running ops.
Status ForceSimdTarget(std::string_view name);

}  // namespace wick::kernels
