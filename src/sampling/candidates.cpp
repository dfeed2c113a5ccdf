#include "sampling/candidates.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace wick::sampling {
namespace {

// Descending by logit, ties to the lower id: a strict weak order as long as there is no NaN.
bool Before(const TokenData& a, const TokenData& b) {
  if (a.logit != b.logit) return a.logit > b.logit;
  return a.id < b.id;
}

}  // namespace

void Candidates::Assign(std::span<const float> logits) {
  data_.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) {
    assert(!std::isnan(logits[i]));
    data_[i] = TokenData{static_cast<int32_t>(i), logits[i], 0.0f};
  }
  sorted_prefix_ = 0;
  selected_ = kNoToken;
}

TokenData* Candidates::Find(int32_t id) {
  if (id < 0) return nullptr;
  const auto index = static_cast<size_t>(id);
  if (index < data_.size() && data_[index].id == id) return &data_[index];
  for (TokenData& t : data_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

void Candidates::SortTopK(size_t k) {
  k = std::min(k, data_.size());
  if (k <= sorted_prefix_) return;
  if (k == data_.size()) {
    std::sort(data_.begin(), data_.end(), Before);
  } else {
    std::partial_sort(data_.begin(), data_.begin() + static_cast<std::ptrdiff_t>(k), data_.end(),
                      Before);
  }
  sorted_prefix_ = k;
}

void Candidates::Truncate(size_t n) {
  if (n >= data_.size()) return;
  data_.resize(n);
  sorted_prefix_ = std::min(sorted_prefix_, n);
}

void Candidates::Softmax() {
  float max_logit = -std::numeric_limits<float>::infinity();
  for (const TokenData& t : data_) max_logit = std::max(max_logit, t.logit);
  if (max_logit == -std::numeric_limits<float>::infinity()) {
    for (TokenData& t : data_) t.prob = 0.0f;
    return;
  }
  // Shifting by the maximum keeps exp() from overflowing; the sum is in double because a
  // vocabulary of 150k small terms loses precision in float.
  double sum = 0.0;
  for (TokenData& t : data_) {
    t.prob = std::exp(t.logit - max_logit);
    sum += t.prob;
  }
  for (TokenData& t : data_) t.prob = static_cast<float>(t.prob / sum);
}

size_t Candidates::ArgMax() const {
  size_t best = 0;
  for (size_t i = 1; i < data_.size(); ++i) {
    if (Before(data_[i], data_[best])) best = i;
  }
  return best;
}

}  // namespace wick::sampling
