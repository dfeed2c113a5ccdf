// Penalties on tokens generated recently, over a sliding window of the last `last_n` accepted
// tokens. For a token seen `count` > 0 times in the window:
//   repetition (llama.cpp / CTRL): logit / repeat if logit > 0, else logit * repeat, so that a
//     penalty above 1 always makes the token less likely whatever the logit's sign;
//   frequency and presence (OpenAI): logit -= count * frequency + presence.
// Tokens outside the window are untouched.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_map>

#include "sampling/sampler.h"

namespace wick::sampling {

struct PenaltyParams {
  int32_t last_n = 64;     // window length; 0 disables every penalty
  float repeat = 1.0f;     // 1 disables
  float frequency = 0.0f;  // 0 disables
  float presence = 0.0f;   // 0 disables
};

class PenaltiesSampler final : public Sampler {
 public:
  explicit PenaltiesSampler(PenaltyParams params) : params_(params) {}

  std::string_view Name() const override { return "penalties"; }
  void Apply(Candidates& candidates) override;
  void Accept(int32_t token) override;
  void Reset() override;

  // How often `token` occurs in the current window (for tests and debugging).
  int32_t CountInWindow(int32_t token) const;

 private:
  bool Disabled() const;

  PenaltyParams params_;
  std::deque<int32_t> window_;                   // oldest first
  std::unordered_map<int32_t, int32_t> counts_;  // token -> occurrences in window_
};

}  // namespace wick::sampling
