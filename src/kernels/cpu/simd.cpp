#include "kernels/cpu/simd.h"

#include <fmt/format.h>
#include <hwy/highway.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/ascii.h"
#include "kernels/cpu/wasm_relaxed.h"

namespace wick::kernels {

namespace {

bool Matches(const SimdTarget& t, const std::string& want) {
  // The portable path is EMU128 or SCALAR, depending on the compiler.
  bool portable = t.id == HWY_EMU128 || t.id == HWY_SCALAR;
  return AsciiLower(t.name) == want || (want == "scalar" && portable);
}

// Every target compiled in and runnable here, ignoring (and keeping) any restriction in force.
std::vector<SimdTarget> AllRunnable() {
  const int64_t in_force = hwy::SupportedTargets();
  hwy::SetSupportedTargetsForTest(0);
  std::vector<SimdTarget> out;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    out.push_back({target, hwy::TargetName(target)});
  }
  hwy::SetSupportedTargetsForTest(in_force);
  return out;
}

std::string EnvironmentTarget() {
  const char* env = std::getenv("WICK_SIMD");
  return env == nullptr ? "" : AsciiLower(env);
}

// Restricts dispatch to `want`, or lifts the restriction for "" / "auto".
Status Restrict(const std::string& want, std::string_view shown) {
  std::vector<SimdTarget> all = AllRunnable();
  if (want.empty() || want == "auto") {
    hwy::SetSupportedTargetsForTest(0);
    return OkStatus();
  }
  std::string known;
  for (const SimdTarget& t : all) {
    if (Matches(t, want)) {
      hwy::SetSupportedTargetsForTest(t.id);
      return OkStatus();
    }
    known += (known.empty() ? "" : ", ") + AsciiLower(t.name);
  }
  return Error(
      ErrorCode::kUnsupported,
      fmt::format("SIMD target {} is not available here (available: {})", Quote(shown), known));
}

}  // namespace

Status ApplySimdEnvironment() {
  static Status status = [] {
    std::string want = EnvironmentTarget();
    Status st = Restrict(want, want);
    if (!st.ok()) {
      std::fprintf(stderr, "wick: warning: WICK_SIMD: %s\n", st.error().message().c_str());
    }
    return st;
  }();
  return status;
}

std::vector<SimdTarget> RunnableSimdTargets() {
  std::string env = EnvironmentTarget();
  std::vector<SimdTarget> all = AllRunnable();
  std::vector<SimdTarget> out;
  for (const SimdTarget& t : all) {
    if (Matches(t, env)) out.push_back(t);
  }
  // No (usable) WICK_SIMD: every target; ApplySimdEnvironment reports a bad name.
  return out.empty() ? all : out;
}

std::string CurrentSimdTarget() {
  // The best of the supported targets is the one HWY_DYNAMIC_DISPATCH chooses.
  std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  if (targets.empty()) return "none";
  std::string name = hwy::TargetName(targets.front());
#if defined(__wasm_simd128__)
  if (kWasmRelaxedDot) name += "+relaxed";
#endif
  return name;
}

Status ForceSimdTarget(std::string_view name) {
  std::string want = AsciiLower(name);
  if (want.empty() || want == "auto") {
    // The one WICK_SIMD names, else (unset or not runnable here) the best.
    if (!Restrict(EnvironmentTarget(), name).ok()) return Restrict("", name);
    return OkStatus();
  }
  return Restrict(want, name);
}

}  // namespace wick::kernels
