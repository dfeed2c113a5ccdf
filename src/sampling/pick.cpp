#include "sampling/pick.h"

#include <cmath>
#include <limits>

namespace wick::sampling {
namespace {

constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

// A double uniform in [0, 1) from the top 53 bits. std::uniform_real_distribution would do,
// but its algorithm differs between standard libraries; this keeps seeded output portable.
double UniformUnit(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

}  // namespace

void GreedySampler::Apply(Candidates& candidates) {
  if (candidates.empty()) return;
  const size_t best = candidates.ArgMax();
  if (candidates[best].logit == kMinusInf) return;
  candidates.Select(best);
}

void DistSampler::Apply(Candidates& candidates) {
  if (candidates.empty()) return;
  const float max_logit = candidates[candidates.ArgMax()].logit;
  if (max_logit == kMinusInf) return;
  candidates.Softmax();
  // Inverse-CDF over the probabilities in their current order; accumulated in double so the
  // last bucket is not starved by float rounding over a large vocabulary.
  const double target = UniformUnit(rng_);
  double cumulative = 0.0;
  size_t last_possible = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const float p = candidates[i].prob;
    if (p <= 0.0f) continue;
    cumulative += p;
    last_possible = i;
    if (target < cumulative) {
      candidates.Select(i);
      return;
    }
  }
  // The probabilities summed to slightly under 1 and the draw landed in the gap.
  candidates.Select(last_possible);
}

}  // namespace wick::sampling
