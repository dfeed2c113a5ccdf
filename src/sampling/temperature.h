// Temperature: divides the logits by t, sharpening the distribution for t < 1 and flattening
// it for t > 1. A temperature of 0 or below means greedy: only the most likely token survives
// (ties to the lower id), so a following draw becomes deterministic.
#pragma once

#include <string_view>

#include "sampling/sampler.h"

namespace wick::sampling {

class TemperatureSampler final : public Sampler {
 public:
  explicit TemperatureSampler(float temperature) : temperature_(temperature) {}
  std::string_view Name() const override { return "temperature"; }
  // The scaled logits are shifted so that the largest is 0: the probabilities are the same,
  // and a tiny temperature then underflows the others to -inf instead of overflowing the
  // largest to +inf (which would turn the softmax into NaN).
  void Apply(Candidates& candidates) override;

 private:
  float temperature_;
};

}  // namespace wick::sampling
