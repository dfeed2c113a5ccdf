#include "sampling/logit_bias.h"

namespace wick::sampling {

void LogitBiasSampler::Apply(Candidates& candidates) {
  if (bias_.empty()) return;
  for (const auto& [id, bias] : bias_) {
    if (TokenData* t = candidates.Find(id)) t->logit += bias;
  }
  candidates.InvalidateOrder();
}

}  // namespace wick::sampling
