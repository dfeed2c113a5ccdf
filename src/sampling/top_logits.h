// The ids of the largest logits, for log-probability alternatives and logit dumps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace wick::sampling {

// The ids of the min(k, size) largest logits, best first; equal logits in id order, so the
// list is the same wherever it is computed.
std::vector<int32_t> TopLogitIds(std::span<const float> logits, size_t k);

}  // namespace wick::sampling
