#include "sampling/penalties.h"

namespace wick::sampling {

bool PenaltiesSampler::Disabled() const {
  return params_.last_n <= 0 ||
         (params_.repeat == 1.0f && params_.frequency == 0.0f && params_.presence == 0.0f);
}

void PenaltiesSampler::Apply(Candidates& candidates) {
  if (Disabled() || counts_.empty()) return;
  // Walking the window's distinct tokens rather than the vocabulary: the window holds at most
  // last_n tokens while the vocabulary can hold 150k.
  for (const auto& [id, count] : counts_) {
    TokenData* t = candidates.Find(id);
    if (t == nullptr) continue;
    if (t->logit > 0.0f) {
      t->logit /= params_.repeat;
    } else {
      t->logit *= params_.repeat;
    }
    t->logit -= static_cast<float>(count) * params_.frequency + params_.presence;
  }
  candidates.InvalidateOrder();
}

void PenaltiesSampler::Accept(int32_t token) {
  if (Disabled()) return;
  window_.push_back(token);
  ++counts_[token];
  if (window_.size() > static_cast<size_t>(params_.last_n)) {
    const int32_t oldest = window_.front();
    window_.pop_front();
    if (--counts_[oldest] == 0) counts_.erase(oldest);
  }
}

void PenaltiesSampler::Reset() {
  window_.clear();
  counts_.clear();
}

int32_t PenaltiesSampler::CountInWindow(int32_t token) const {
  const auto it = counts_.find(token);
  return it == counts_.end() ? 0 : it->second;
}

}  // namespace wick::sampling
