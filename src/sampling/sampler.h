// The interface every sampler implements, after llama.cpp's: a chain calls Apply() on each
// sampler in turn for every generated token, and Accept() once the token is chosen, so that
// stateful samplers (penalties, the seeded draw) can remember what was generated.
#pragma once

#include <cstdint>
#include <string_view>

#include "sampling/candidates.h"

namespace wick::sampling {

class Sampler {
 public:
  virtual ~Sampler() = default;

  // A short stable name for logs and SamplerChain::Describe() ("top-k", "dist").
  virtual std::string_view Name() const = 0;
  // Narrows or reshapes the candidates; a final sampler also calls candidates.Select().
  virtual void Apply(Candidates& candidates) = 0;
  // Told the token that was finally generated (or forced by the caller, e.g. the prompt).
  virtual void Accept(int32_t /*token*/) {}
  // Forgets everything accepted so far and restarts any random stream, as for a new request.
  virtual void Reset() {}
};

}  // namespace wick::sampling
