#include "provider/rate_limiter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace wick::provider {

namespace {

// Refill arithmetic in doubles leaves crumbs: a bucket that has waited exactly WaitFor() must
// admit the request.
constexpr double kEpsilon = 1e-6;

}  // namespace

BucketState BucketState::Full(double capacity, double per_minute,
                              std::chrono::steady_clock::time_point now) {
  BucketState state;
  state.capacity = capacity > 0 ? capacity : 0;
  state.per_ms = per_minute > 0 ? per_minute / 60'000.0 : 0;
  state.tokens = state.capacity;
  state.last = now;
  return state;
}

void BucketState::Refill(std::chrono::steady_clock::time_point now) {
  // Callers read the clock before taking their lock, so an older instant may arrive after a
  // newer one: it adds nothing rather than moving `last` back.
  if (unlimited() || now <= last) return;
  const double elapsed_ms = std::chrono::duration<double, std::milli>(now - last).count();
  tokens = std::min(capacity, tokens + elapsed_ms * per_ms);
  last = now;
}

bool BucketState::CanTake(double n) const {
  if (unlimited()) return true;
  return tokens + kEpsilon >= std::min(n, capacity);
}

std::chrono::milliseconds BucketState::WaitFor(double n) const {
  if (CanTake(n)) return std::chrono::milliseconds(0);
  if (per_ms <= 0) return std::chrono::milliseconds::max();
  const double deficit = std::min(n, capacity) - tokens;
  const auto ms = static_cast<int64_t>(std::ceil(deficit / per_ms - kEpsilon));
  return std::chrono::milliseconds(std::max<int64_t>(ms, 1));
}

TokenBucket::TokenBucket(double capacity, double per_minute, const Clock& clock)
    : clock_(clock), state_(BucketState::Full(capacity, per_minute, clock.Monotonic())) {}

bool TokenBucket::TryTake(double n) {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  if (state_.unlimited()) return true;
  state_.Refill(now);
  if (!state_.CanTake(n)) return false;
  state_.tokens -= n;
  return true;
}

std::chrono::milliseconds TokenBucket::WaitFor(double n) const {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  state_.Refill(now);
  return state_.WaitFor(n);
}

void TokenBucket::Adjust(double delta) {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  if (state_.unlimited()) return;
  state_.Refill(now);
  state_.tokens = std::min(state_.capacity, state_.tokens + delta);
}

double TokenBucket::available() const {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  state_.Refill(now);
  return state_.tokens;
}

void RateLimiter::SetLimits(std::string_view subject, int64_t requests_per_min,
                            int64_t tokens_per_min) {
  const auto now = clock_.Monotonic();
  // Keeps what a bucket holds across a change, so that reloading the same limits is not a
  // free refill.
  auto update = [now](BucketState& bucket, int64_t old_limit, int64_t limit) {
    BucketState fresh =
        BucketState::Full(static_cast<double>(limit), static_cast<double>(limit), now);
    if (old_limit > 0 && limit > 0) {
      bucket.Refill(now);
      fresh.tokens = std::min(bucket.tokens, fresh.capacity);
    }
    bucket = fresh;
  };
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) {
    if (requests_per_min <= 0 && tokens_per_min <= 0) return;
    it = subjects_.emplace(std::string(subject), Limits{}).first;
  }
  Limits& limits = it->second;
  update(limits.requests, limits.requests_per_min, requests_per_min);
  update(limits.tokens, limits.tokens_per_min, tokens_per_min);
  limits.requests_per_min = std::max<int64_t>(requests_per_min, 0);
  limits.tokens_per_min = std::max<int64_t>(tokens_per_min, 0);
}

void RateLimiter::ShareThrough(SharedBuckets* shared, std::string prefix) {
  std::lock_guard lock(mu_);
  shared_ = shared;
  shared_prefix_ = std::move(prefix);
}

std::optional<SharedBuckets::Limits> RateLimiter::SharedLimitsOf(std::string_view subject) const {
  std::lock_guard lock(mu_);
  if (shared_ == nullptr) return std::nullopt;
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return std::nullopt;
  return SharedBuckets::Limits{.requests_per_min = it->second.requests_per_min,
                               .tokens_per_min = it->second.tokens_per_min};
}

RateLimiter::Decision RateLimiter::Refusal(std::string_view subject, bool requests_ok,
                                           std::chrono::milliseconds retry_after) const {
  int64_t requests_per_min = 0, tokens_per_min = 0;
  {
    std::lock_guard lock(mu_);
    if (auto it = subjects_.find(subject); it != subjects_.end()) {
      requests_per_min = it->second.requests_per_min;
      tokens_per_min = it->second.tokens_per_min;
    }
  }
  Decision decision;
  decision.ok = false;
  decision.retry_after = retry_after;
  decision.reason =
      requests_ok ? fmt::format("rate limit of {} tokens/min for {}", tokens_per_min, subject)
                  : fmt::format("rate limit of {} requests/min for {}", requests_per_min, subject);
  return decision;
}

RateLimiter::Decision RateLimiter::Admit(std::string_view subject, double estimated_tokens) {
  if (std::optional<SharedBuckets::Limits> limits = SharedLimitsOf(subject)) {
    Result<SharedBuckets::Verdict> verdict =
        shared_->Take(shared_prefix_ + std::string(subject), *limits, estimated_tokens);
    if (verdict.ok()) {
      if (verdict->retry_after.count() == 0) return {};
      return Refusal(subject, !verdict->requests_short, verdict->retry_after);
    }
  }
  const auto now = clock_.Monotonic();
  std::unique_lock lock(mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return {};
  Limits& limits = it->second;
  limits.requests.Refill(now);
  limits.tokens.Refill(now);
  const bool requests_ok = limits.requests.CanTake(1);
  const bool tokens_ok = limits.tokens.CanTake(estimated_tokens);
  if (requests_ok && tokens_ok) {
    if (!limits.requests.unlimited()) limits.requests.tokens -= 1;
    if (!limits.tokens.unlimited()) limits.tokens.tokens -= estimated_tokens;
    return {};
  }
  // Both must admit the retry, so it waits for the slower one.
  const auto retry_after =
      std::max(limits.requests.WaitFor(1), limits.tokens.WaitFor(estimated_tokens));
  lock.unlock();
  return Refusal(subject, requests_ok, retry_after);
}

void RateLimiter::Charge(std::string_view subject, double tokens) {
  if (std::optional<SharedBuckets::Limits> limits = SharedLimitsOf(subject)) {
    if (limits->tokens_per_min <= 0) return;
    if (shared_->Charge(shared_prefix_ + std::string(subject), *limits, tokens).ok()) return;
  }
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return;
  BucketState& bucket = it->second.tokens;
  if (bucket.unlimited()) return;
  bucket.Refill(now);
  bucket.tokens = std::min(bucket.capacity, bucket.tokens - tokens);
}

double RateLimiter::TokensAvailable(std::string_view subject) const {
  const auto now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  auto it = subjects_.find(subject);
  if (it == subjects_.end() || it->second.tokens.unlimited()) return -1;
  BucketState bucket = it->second.tokens;
  bucket.Refill(now);
  return bucket.tokens;
}

}  // namespace wick::provider
