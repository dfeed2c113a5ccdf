#include "engine/constrained_sampling.h"

#include <limits>

namespace wick::engine {

Result<int32_t> ConstrainedSampler::Sample(sampling::SamplerChain& chain,
                                           text::GrammarMatcher* matcher,
                                           std::span<const float> logits) {
  if (matcher == nullptr) return chain.Sample(logits);
  Result<int32_t> first = chain.Sample(logits);
  if (first.ok() && matcher->Accepts(*first)) return first;

  matcher->FillMask(mask_);
  masked_.assign(logits.begin(), logits.end());
  bool any = false;
  for (size_t t = 0; t < masked_.size(); ++t) {
    const bool allowed = t / 64 < mask_.size() && ((mask_[t / 64] >> (t % 64)) & 1) != 0;
    if (!allowed) masked_[t] = -std::numeric_limits<float>::infinity();
    any = any || allowed;
  }
  if (!any) {
    if (matcher->overflowed()) {
      return Error(ErrorCode::kUnsupported,
                   "the grammar is too ambiguous to follow (its parses multiply)");
    }
    return Error(ErrorCode::kInvalidArgument,
                 "the grammar allows no token of this vocabulary here");
  }
  Result<int32_t> token = chain.Sample(masked_);
  if (!token.ok()) return std::move(token).error().With("sampling under the grammar");
  return token;
}

}  // namespace wick::engine
