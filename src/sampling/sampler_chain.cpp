#include "sampling/sampler_chain.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <utility>

#include "sampling/logit_bias.h"
#include "sampling/penalties.h"
#include "sampling/pick.h"
#include "sampling/temperature.h"
#include "sampling/truncation.h"

namespace wick::sampling {
namespace {

Error Invalid(std::string message) {
  return Error(ErrorCode::kInvalidArgument, "sampling: " + std::move(message));
}

}  // namespace

Status Validate(const SamplingParams& params) {
  if (std::isnan(params.temperature)) return Invalid("temperature is NaN");
  if (params.top_k < 0) return Invalid(fmt::format("top_k is {}, must be >= 0", params.top_k));
  if (!(params.top_p > 0.0f && params.top_p <= 1.0f)) {
    return Invalid(fmt::format("top_p is {}, must be in (0, 1]", params.top_p));
  }
  if (!(params.min_p >= 0.0f && params.min_p <= 1.0f)) {
    return Invalid(fmt::format("min_p is {}, must be in [0, 1]", params.min_p));
  }
  if (!(params.repeat_penalty > 0.0f && std::isfinite(params.repeat_penalty))) {
    return Invalid(fmt::format("repeat_penalty is {}, must be > 0", params.repeat_penalty));
  }
  if (params.repeat_last_n < 0) {
    return Invalid(fmt::format("repeat_last_n is {}, must be >= 0", params.repeat_last_n));
  }
  if (!std::isfinite(params.frequency_penalty)) {
    return Invalid(fmt::format("frequency_penalty is {}", params.frequency_penalty));
  }
  if (!std::isfinite(params.presence_penalty)) {
    return Invalid(fmt::format("presence_penalty is {}", params.presence_penalty));
  }
  for (const auto& [id, bias] : params.logit_bias) {
    if (id < 0) return Invalid(fmt::format("logit_bias names token {}", id));
    // -inf bans; +inf or NaN would poison the softmax.
    if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity()) {
      return Invalid(fmt::format("logit_bias for token {} is {}", id, bias));
    }
  }
  if (params.min_keep < 1) {
    return Invalid(fmt::format("min_keep is {}, must be >= 1", params.min_keep));
  }
  return OkStatus();
}

Result<SamplerChain> SamplerChain::Create(const SamplingParams& params) {
  WICK_RETURN_IF_ERROR(Validate(params));
  SamplerChain chain;
  const PenaltyParams penalties{.last_n = params.repeat_last_n,
                                .repeat = params.repeat_penalty,
                                .frequency = params.frequency_penalty,
                                .presence = params.presence_penalty};
  if (penalties.last_n > 0 &&
      (penalties.repeat != 1.0f || penalties.frequency != 0.0f || penalties.presence != 0.0f)) {
    chain.Add(std::make_unique<PenaltiesSampler>(penalties));
  }
  if (!params.logit_bias.empty()) {
    chain.Add(std::make_unique<LogitBiasSampler>(params.logit_bias));
  }
  if (params.temperature <= 0.0f) {
    // Truncation cannot change the argmax, so greedy skips it.
    chain.Add(std::make_unique<GreedySampler>());
    if (chain.samplers_.size() == 1 + (params.logit_bias.empty() ? 0 : 1)) {
      chain.greedy_bias_ = params.logit_bias;
      chain.greedy_only_ = true;
    }
    return chain;
  }
  const auto min_keep = static_cast<size_t>(params.min_keep);
  if (params.top_k > 0) chain.Add(std::make_unique<TopKSampler>(params.top_k, min_keep));
  if (params.top_p < 1.0f) chain.Add(std::make_unique<TopPSampler>(params.top_p, min_keep));
  if (params.min_p > 0.0f) chain.Add(std::make_unique<MinPSampler>(params.min_p, min_keep));
  if (params.temperature != 1.0f) {
    chain.Add(std::make_unique<TemperatureSampler>(params.temperature));
  }
  chain.Add(std::make_unique<DistSampler>(params.seed));
  return chain;
}

void SamplerChain::Add(std::unique_ptr<Sampler> sampler) {
  samplers_.push_back(std::move(sampler));
  greedy_only_ = false;
}

// The chain logit-bias -> greedy in one pass over the logits, without filling the candidates:
// a server samples every sequence of every step, and the full path costs a vocabulary-sized
// copy and a branchy scan. Same result: the biased maximum, ties to the lower id.
Result<int32_t> SamplerChain::SampleGreedy(std::span<const float> logits) {
  // Eight independent lanes, so the compiler turns the scan into vector max and compare
  // instructions: NaN and +inf are found by `bad`, the maximum by `max`, and its first index
  // by a last pass that stops there.
  constexpr size_t kLanes = 8;
  float lane_max[kLanes];
  bool lane_bad[kLanes];
  for (size_t j = 0; j < kLanes; ++j) {
    lane_max[j] = -std::numeric_limits<float>::infinity();
    lane_bad[j] = false;
  }
  const size_t n = logits.size();
  const size_t full = n - n % kLanes;
  for (size_t i = 0; i < full; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) {
      const float l = logits[i + j];
      lane_bad[j] |= !(l < std::numeric_limits<float>::infinity());  // NaN or +inf
      lane_max[j] = l > lane_max[j] ? l : lane_max[j];
    }
  }
  bool bad = false;
  for (size_t j = 0; j < kLanes; ++j) bad |= lane_bad[j];
  for (size_t i = full; i < n; ++i) bad |= !(logits[i] < std::numeric_limits<float>::infinity());
  if (bad) {
    for (size_t i = 0; i < n; ++i) {
      if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity()) {
        return Invalid(fmt::format("logit of token {} is {}", i, logits[i]));
      }
    }
  }
  std::span<const float> scores = logits;
  float max = -std::numeric_limits<float>::infinity();
  if (greedy_bias_.empty()) {
    for (size_t j = 0; j < kLanes; ++j) max = std::max(max, lane_max[j]);
    for (size_t i = full; i < n; ++i) max = std::max(max, logits[i]);
  } else {
    biased_.assign(logits.begin(), logits.end());
    for (const auto& [id, bias] : greedy_bias_) {
      if (id >= 0 && static_cast<size_t>(id) < biased_.size()) {
        biased_[static_cast<size_t>(id)] += bias;
      }
    }
    scores = biased_;
    for (float l : scores) max = std::max(max, l);
  }
  candidates_ = Candidates();
  if (max == -std::numeric_limits<float>::infinity()) {
    return Invalid(
        "no token was chosen: every candidate is at -inf, or the chain does not end in a final "
        "sampler (greedy, dist)");
  }
  size_t best = 0;
  while (scores[best] != max) ++best;
  return static_cast<int32_t>(best);
}

Result<int32_t> SamplerChain::Sample(std::span<const float> logits) {
  if (logits.empty()) return Invalid("no logits to sample from");
  if (greedy_only_) return SampleGreedy(logits);
  for (size_t i = 0; i < logits.size(); ++i) {
    if (std::isnan(logits[i]) || logits[i] == std::numeric_limits<float>::infinity()) {
      return Invalid(fmt::format("logit of token {} is {}", i, logits[i]));
    }
  }
  candidates_.Assign(logits);
  for (const auto& sampler : samplers_) sampler->Apply(candidates_);
  if (candidates_.selected() == kNoToken) {
    return Invalid(
        "no token was chosen: every candidate is at -inf, or the chain does not end in a final "
        "sampler (greedy, dist)");
  }
  return candidates_.selected();
}

void SamplerChain::Accept(int32_t token) {
  for (const auto& sampler : samplers_) sampler->Accept(token);
}

void SamplerChain::Reset() {
  for (const auto& sampler : samplers_) sampler->Reset();
}

std::string SamplerChain::Describe() const {
  std::string names;
  for (const auto& sampler : samplers_) {
    if (!names.empty()) names += " -> ";
    names += sampler->Name();
  }
  return names;
}

}  // namespace wick::sampling
