#include "sampling/truncation.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace wick::sampling {

void TopKSampler::Apply(Candidates& candidates) {
  if (k_ <= 0 || candidates.empty()) return;
  const size_t k = std::max(static_cast<size_t>(k_), min_keep_);
  candidates.SortTopK(k);
  candidates.Truncate(k);
}

void TopPSampler::Apply(Candidates& candidates) {
  if (p_ >= 1.0f || candidates.empty()) return;
  candidates.Softmax();
  // The nucleus is usually a few dozen tokens of a vocabulary of many thousands, so sort a
  // prefix and widen it only while the mass so far falls short of p.
  double cumulative = 0.0;
  size_t scanned = 0;
  size_t window = std::min<size_t>(candidates.size(), 64);
  for (;;) {
    candidates.SortTopK(window);
    for (; scanned < window; ++scanned) {
      cumulative += candidates[scanned].prob;
      if (cumulative >= p_ && scanned + 1 >= min_keep_) {
        candidates.Truncate(scanned + 1);
        return;
      }
    }
    if (window == candidates.size()) return;  // rounding left the sum short of p: keep all
    window = std::min(candidates.size(), window * 2);
  }
}

void MinPSampler::Apply(Candidates& candidates) {
  if (p_ <= 0.0f || candidates.empty()) return;
  const float max_logit = candidates[candidates.ArgMax()].logit;
  if (max_logit == -std::numeric_limits<float>::infinity()) return;
  // prob_i >= p * prob_max  <=>  logit_i >= logit_max + log(p): no softmax needed.
  const float threshold = max_logit + std::log(p_);
  size_t passing = 0;
  for (const TokenData& t : candidates.tokens()) passing += t.logit >= threshold ? 1 : 0;
  if (passing >= min_keep_) {
    candidates.KeepIf([threshold](const TokenData& t) { return t.logit >= threshold; });
  } else {
    candidates.SortTopK(min_keep_);
    candidates.Truncate(min_keep_);
  }
}

}  // namespace wick::sampling
