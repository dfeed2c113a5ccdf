#include "kernels/cpu/simd.h"

#include <fmt/format.h>
#include <hwy/highway.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cctype>

namespace wick::kernels {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::vector<SimdTarget> RunnableSimdTargets() {
  std::vector<SimdTarget> out;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    out.push_back({target, hwy::TargetName(target)});
  }
  return out;
}

std::string CurrentSimdTarget() {
  // The best of the supported targets is the one HWY_DYNAMIC_DISPATCH chooses.
  std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  return targets.empty() ? "none" : hwy::TargetName(targets.front());
}

Status ForceSimdTarget(std::string_view name) {
  std::string want = Lower(name);
  // Back to every target first, so that one forced target can be swapped for another.
  hwy::SetSupportedTargetsForTest(0);
  if (want.empty() || want == "auto") return OkStatus();
  std::string known;
  for (const SimdTarget& t : RunnableSimdTargets()) {
    // The portable path is EMU128 or SCALAR, depending on the compiler.
    bool portable = t.id == HWY_EMU128 || t.id == HWY_SCALAR;
    if (Lower(t.name) == want || (want == "scalar" && portable)) {
      hwy::SetSupportedTargetsForTest(t.id);
      return OkStatus();
    }
    known += (known.empty() ? "" : ", ") + Lower(t.name);
  }
  return Error(
      ErrorCode::kUnsupported,
      fmt::format("SIMD target {} is not available here (available: {})", Quote(name), known));
}

}  // namespace wick::kernels
