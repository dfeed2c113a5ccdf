#include "sampling/temperature.h"

#include <limits>
#include <utility>

namespace wick::sampling {

void TemperatureSampler::Apply(Candidates& candidates) {
  if (candidates.empty()) return;
  const size_t best = candidates.ArgMax();
  if (temperature_ <= 0.0f) {
    std::swap(candidates[0], candidates[best]);
    candidates.InvalidateOrder();
    candidates.Truncate(1);
    return;
  }
  const float max_logit = candidates[best].logit;
  if (max_logit == -std::numeric_limits<float>::infinity()) return;  // nothing to scale
  for (TokenData& t : candidates.tokens()) t.logit = (t.logit - max_logit) / temperature_;
  // The map is monotonic, but rounding can make two logits equal, and ties sort by id.
  candidates.InvalidateOrder();
}

}  // namespace wick::sampling
