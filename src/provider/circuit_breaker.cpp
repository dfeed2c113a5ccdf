#include "provider/circuit_breaker.h"

#include <algorithm>

#include "provider/config.h"

namespace wick::provider {

CircuitBreaker::CircuitBreaker(int failures, std::chrono::milliseconds cooldown, const Clock& clock)
    : threshold_(failures),
      cooldown_(std::max(cooldown, std::chrono::milliseconds(0))),
      clock_(clock) {}

CircuitBreaker::CircuitBreaker(const FallbackConfig& config, const Clock& clock)
    : CircuitBreaker(config.circuit_failures, config.circuit_cooldown, clock) {}

std::string_view CircuitBreaker::Name(State state) {
  switch (state) {
    case State::kClosed:
      return "closed";
    case State::kOpen:
      return "open";
    case State::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

CircuitBreaker::State CircuitBreaker::StateAt(std::chrono::steady_clock::time_point now) const {
  if (state_ == State::kOpen && now >= open_until_) return State::kHalfOpen;
  return state_;
}

void CircuitBreaker::Open(std::chrono::steady_clock::time_point now) {
  state_ = State::kOpen;
  open_until_ = now + cooldown_;
  trial_out_ = false;
}

bool CircuitBreaker::Allow() {
  // Every method reads the clock before locking, so the clock's own lock (ManualClock) is never
  // taken inside this one.
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  if (state_ == State::kClosed) return true;
  if (state_ == State::kOpen) {
    if (now < open_until_) return false;
    state_ = State::kHalfOpen;
    trial_out_ = false;
  }
  if (trial_out_ && now - trial_since_ < cooldown_) return false;
  trial_out_ = true;
  trial_since_ = now;
  return true;
}

void CircuitBreaker::OnSuccess() {
  std::lock_guard lock(mu_);
  // A success that started before the circuit opened says little about the provider now: the
  // trial decides.
  if (state_ == State::kOpen) return;
  state_ = State::kClosed;
  failures_ = 0;
  trial_out_ = false;
}

void CircuitBreaker::OnFailure() {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  switch (state_) {
    case State::kClosed:
      if (threshold_ > 0 && ++failures_ >= threshold_) Open(now);
      break;
    case State::kHalfOpen:
      ++failures_;
      Open(now);
      break;
    case State::kOpen:
      // Requests sent before it opened are still failing: they do not extend the cool-down.
      break;
  }
}

void CircuitBreaker::OnAbandon() {
  std::lock_guard lock(mu_);
  if (state_ == State::kHalfOpen) trial_out_ = false;
}

CircuitBreaker::State CircuitBreaker::state() const {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  return StateAt(now);
}

std::string_view CircuitBreaker::StateName() const {
  return Name(state());
}

std::chrono::milliseconds CircuitBreaker::RemainingCooldown() const {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  if (state_ != State::kOpen) return std::chrono::milliseconds(0);
  if (now >= open_until_) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(open_until_ - now);
}

int CircuitBreaker::consecutive_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

}  // namespace wick::provider
