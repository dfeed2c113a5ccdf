// Final samplers: they end a chain by choosing one token (Candidates::Select).
//   greedy: the highest logit, ties to the lower id;
//   dist: a categorical draw from the softmax of the surviving logits, from a std::mt19937_64
//     seeded with `seed`, so the same seed over the same logits gives the same tokens.
// Neither selects anything when every candidate is at -inf; the chain reports that.
#pragma once

#include <cstdint>
#include <random>
#include <string_view>

#include "sampling/sampler.h"

namespace wick::sampling {

class GreedySampler final : public Sampler {
 public:
  std::string_view Name() const override { return "greedy"; }
  void Apply(Candidates& candidates) override;
};

class DistSampler final : public Sampler {
 public:
  explicit DistSampler(uint64_t seed) : seed_(seed), rng_(seed) {}
  std::string_view Name() const override { return "dist"; }
  void Apply(Candidates& candidates) override;
  // Restarts the random stream from the seed, so a reset chain repeats its tokens.
  void Reset() override { rng_.seed(seed_); }

 private:
  uint64_t seed_;
  std::mt19937_64 rng_;
};

}  // namespace wick::sampling
