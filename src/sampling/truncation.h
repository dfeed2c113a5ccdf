// Truncation samplers: drop the unlikely tail of the distribution before the draw.
//   top-k: keep the k highest logits;
//   top-p (nucleus): keep the smallest prefix, by descending probability, whose total
//     probability reaches p;
//   min-p: keep tokens whose probability is at least p times the most likely token's.
// Each keeps at least `min_keep` tokens (when there are that many), as llama.cpp does, so a
// strict setting can never leave the draw with nothing. Ties in logit go to the lower id.
// Out-of-range parameters make a sampler a no-op (k <= 0, p >= 1 for top-p, p <= 0 for min-p);
// SamplingParams validation is where users' mistakes are reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sampling/sampler.h"

namespace wick::sampling {

class TopKSampler final : public Sampler {
 public:
  explicit TopKSampler(int32_t k, size_t min_keep = 1) : k_(k), min_keep_(min_keep) {}
  std::string_view Name() const override { return "top-k"; }
  void Apply(Candidates& candidates) override;

 private:
  int32_t k_;
  size_t min_keep_;
};

class TopPSampler final : public Sampler {
 public:
  explicit TopPSampler(float p, size_t min_keep = 1) : p_(p), min_keep_(min_keep) {}
  std::string_view Name() const override { return "top-p"; }
  // Leaves the survivors sorted by descending logit, with `prob` holding their probabilities
  // before truncation (not renormalised; the final draw renormalises).
  void Apply(Candidates& candidates) override;

 private:
  float p_;
  size_t min_keep_;
};

class MinPSampler final : public Sampler {
 public:
  explicit MinPSampler(float p, size_t min_keep = 1) : p_(p), min_keep_(min_keep) {}
  std::string_view Name() const override { return "min-p"; }
  void Apply(Candidates& candidates) override;

 private:
  float p_;
  size_t min_keep_;
};

}  // namespace wick::sampling
