// Logit bias: adds a fixed amount to chosen tokens' logits, as OpenAI's `logit_bias` does;
// a bias of -inf bans a token outright.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <utility>

#include "sampling/sampler.h"

namespace wick::sampling {

class LogitBiasSampler final : public Sampler {
 public:
  // Ids that are not in the candidates (e.g. beyond the vocabulary) are ignored, because the
  // vocabulary size is not known when the bias is configured.
  explicit LogitBiasSampler(std::map<int32_t, float> bias) : bias_(std::move(bias)) {}

  std::string_view Name() const override { return "logit-bias"; }
  void Apply(Candidates& candidates) override;

 private:
  std::map<int32_t, float> bias_;
};

}  // namespace wick::sampling
