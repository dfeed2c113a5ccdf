// SamplerChain: turns a model's logits into the next token, through a list of samplers built
// from SamplingParams in llama.cpp's default order:
//   penalties -> logit-bias -> top-k -> top-p -> min-p -> temperature -> dist
// or, when temperature <= 0, penalties -> logit-bias -> greedy. Samplers whose settings make
// them no-ops are left out, so Describe() shows what actually runs.
//
//   WICK_ASSIGN_OR_RETURN(auto chain, SamplerChain::Create({.temperature = 0.7f, .seed = 42}));
//   WICK_ASSIGN_OR_RETURN(int32_t token, chain.Sample(logits));
//   chain.Accept(token);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "sampling/candidates.h"
#include "sampling/sampler.h"

namespace wick::sampling {

// Seeded draws are reproducible by default; a caller that wants fresh randomness per request
// passes a random seed (and reports it, so the run can be repeated).
inline constexpr uint64_t kDefaultSeed = 0x5eed'5eed'5eed'5eedULL;

struct SamplingParams {
  float temperature = 0.8f;        // <= 0: greedy
  int32_t top_k = 40;              // 0: off; negative is an error
  float top_p = 0.95f;             // in (0, 1]; 1: off
  float min_p = 0.05f;             // in [0, 1]; 0: off
  float repeat_penalty = 1.0f;     // > 0; 1: off
  int32_t repeat_last_n = 64;      // >= 0; 0: no penalties at all
  float frequency_penalty = 0.0f;  // OpenAI-style, subtracted per occurrence
  float presence_penalty = 0.0f;   // OpenAI-style, subtracted once if present
  uint64_t seed = kDefaultSeed;
  std::map<int32_t, float> logit_bias = {};  // token id -> added to its logit; -inf bans it
  int32_t min_keep = 1;                      // truncation samplers keep at least this many, >= 1
};

// kInvalidArgument naming the first unusable field, e.g. "top_p is 1.5, must be in (0, 1]".
Status Validate(const SamplingParams& params);

class SamplerChain {
 public:
  SamplerChain() = default;
  SamplerChain(SamplerChain&&) = default;
  SamplerChain& operator=(SamplerChain&&) = default;

  // Validates `params` and builds the default chain.
  static Result<SamplerChain> Create(const SamplingParams& params);

  // Appends a sampler; the last one must be a final sampler (greedy, dist) for Sample().
  void Add(std::unique_ptr<Sampler> sampler);

  // Runs the chain over one logit per vocabulary entry and returns the chosen token id.
  // Fails with kInvalidArgument when `logits` is empty or holds NaN or +inf (a broken forward
  // pass should not quietly turn into text), and when no token is left to choose (every logit
  // -inf, or banned by logit bias). Does not Accept() the token: the caller does, since it
  // may stop on it or replace it.
  Result<int32_t> Sample(std::span<const float> logits);

  // Tells every sampler the token that was generated (or fed in, e.g. from the prompt).
  void Accept(int32_t token);
  // Forgets accepted tokens and restarts the seeded draw, as for a new request.
  void Reset();

  // Sampler names in order, e.g. "penalties -> top-k -> top-p -> min-p -> temperature -> dist".
  std::string Describe() const;
  size_t size() const { return samplers_.size(); }
  // The candidates as the last Sample() left them (the survivors of truncation).
  const Candidates& candidates() const { return candidates_; }

 private:
  Result<int32_t> SampleGreedy(std::span<const float> logits);

  std::vector<std::unique_ptr<Sampler>> samplers_;
  Candidates candidates_;  // reused between calls to avoid a vocabulary-sized allocation
  // Create() built exactly [logit-bias ->] greedy: Sample takes a one-pass shortcut.
  bool greedy_only_ = false;
  std::map<int32_t, float> greedy_bias_;
  std::vector<float> biased_;
};

}  // namespace wick::sampling
