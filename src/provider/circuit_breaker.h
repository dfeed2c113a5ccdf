// A per-provider circuit breaker: after K consecutive failures the router stops sending to the
// provider for a cool-down (each request there would only add a timeout before the fallback),
// then lets exactly one trial request through; its success closes the circuit, its failure
// opens it for another cool-down.
//
//   if (!breaker.Allow()) -> next tier
//   ... call the provider ...
//   success: breaker.OnSuccess(); a provider failure: breaker.OnFailure();
//   neither (the client cancelled, a bad request): breaker.OnAbandon()
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "provider/clock.h"

namespace wick::provider {

struct FallbackConfig;

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };

  // `failures` consecutive failures open the circuit (<= 0: never); `cooldown` is how long it
  // stays open before the trial.
  CircuitBreaker(int failures, std::chrono::milliseconds cooldown, const Clock& clock);
  // circuit_failures and circuit_cooldown.
  CircuitBreaker(const FallbackConfig& config, const Clock& clock);

  // Whether a request may go to the provider now. In the half-open state exactly one caller
  // gets true (the trial) until it reports back.
  bool Allow();
  void OnSuccess();
  void OnFailure();
  // A request that Allow() let through ended without saying anything about the provider: frees
  // the half-open trial for the next caller.
  void OnAbandon();

  // Open turns into half-open here once the cool-down has passed, before any Allow().
  State state() const;
  std::string_view StateName() const;
  // While open: time left in the cool-down (a Retry-After hint); else zero.
  std::chrono::milliseconds RemainingCooldown() const;
  int consecutive_failures() const;

  static std::string_view Name(State state);

 private:
  State StateAt(std::chrono::steady_clock::time_point now) const;
  void Open(std::chrono::steady_clock::time_point now);

  const int threshold_;
  const std::chrono::milliseconds cooldown_;
  const Clock& clock_;

  mutable std::mutex mu_;
  State state_ = State::kClosed;
  int failures_ = 0;
  std::chrono::steady_clock::time_point open_until_{};
  // Half-open: whether the trial is out, and since when. A trial that never reports back (a
  // lost request) must not wedge the circuit, so after another cool-down a new trial is allowed.
  bool trial_out_ = false;
  std::chrono::steady_clock::time_point trial_since_{};
};

}  // namespace wick::provider
