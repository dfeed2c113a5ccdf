// Token-bucket rate limits: requests per minute and tokens per minute, per provider or per API
// key. The router asks before dispatch with an estimate of the prompt and completion tokens and
// corrects the token bucket afterwards with what was actually used, so a request that turned
// out bigger than estimated makes the next ones wait instead of being forgotten.
//
// Time comes from an injected Clock (its monotonic side), so tests can refill a bucket by
// advancing a ManualClock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "provider/clock.h"
#include "provider/shared_store.h"

namespace wick::provider {

// The state of one bucket without a lock or a clock, so that RateLimiter can check two buckets
// under one lock at one instant. Tokens may go negative (a charge after the fact): the bucket
// then refills back through zero before anything is admitted again.
struct BucketState {
  double capacity = 0;  // also the burst size; <= 0: unlimited
  double per_ms = 0;    // refill rate
  double tokens = 0;    // available now (after Refill)
  std::chrono::steady_clock::time_point last{};

  static BucketState Full(double capacity, double per_minute,
                          std::chrono::steady_clock::time_point now);
  bool unlimited() const { return capacity <= 0; }
  void Refill(std::chrono::steady_clock::time_point now);
  // Whether `n` can be taken now. A request bigger than the whole bucket is let through when the
  // bucket is full (and drives it negative), or it could never run at all.
  bool CanTake(double n) const;
  // Time until CanTake(n) holds at the current refill rate; zero when it holds now.
  std::chrono::milliseconds WaitFor(double n) const;
};

// One bucket, thread-safe: `capacity` tokens at most, refilled continuously at `per_minute`.
// Starts full. A capacity of 0 means unlimited.
class TokenBucket {
 public:
  TokenBucket(double capacity, double per_minute, const Clock& clock);

  bool TryTake(double n);
  // Time until `n` would be available (zero when it is now).
  std::chrono::milliseconds WaitFor(double n) const;
  // Adds (a refund) or removes (a late charge, may go negative) tokens; never above capacity.
  void Adjust(double delta);
  double available() const;

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  mutable BucketState state_;
};

// Named pairs of buckets (requests/min, tokens/min). Subjects without limits are admitted
// without a lookup cost beyond the hash. Keep providers and API keys in separate RateLimiters
// (or prefix their names) so that a key named like a provider does not share its buckets.
class RateLimiter {
 public:
  struct Decision {
    bool ok = true;
    std::chrono::milliseconds retry_after{0};  // when not ok: until both buckets would admit it
    std::string reason;  // when not ok: "rate limit of 100 requests/min for hf"
  };

  explicit RateLimiter(const Clock& clock) : clock_(clock) {}

  // Keeps the buckets in `shared` (a PostgreSQL ledger's) under `prefix` + subject, so that
  // every wick instance on that database draws from the same ones; time is then the database
  // server's, not the injected clock. When the database fails, a call falls back to this
  // instance's own buckets. Null: in memory only.
  void ShareThrough(SharedBuckets* shared, std::string prefix);

  // Sets (or changes) a subject's limits; 0 means unlimited. A new subject starts with full
  // buckets; a changed one keeps what it had, capped at the new capacity.
  void SetLimits(std::string_view subject, int64_t requests_per_min, int64_t tokens_per_min);

  // Takes one request and `estimated_tokens` tokens, both or neither.
  Decision Admit(std::string_view subject, double estimated_tokens);

  // Corrects the token bucket after the fact: Charge(actual - estimated) when the request used
  // more than estimated (the bucket may go negative: later requests wait), Refund when it used
  // less. A negative Charge is a Refund.
  void Charge(std::string_view subject, double tokens);
  void Refund(std::string_view subject, double tokens) { Charge(subject, -tokens); }

  // Tokens left in the subject's token bucket now (for tests and /metrics); -1 when unlimited.
  double TokensAvailable(std::string_view subject) const;

 private:
  struct Limits {
    int64_t requests_per_min = 0;
    int64_t tokens_per_min = 0;
    BucketState requests;
    BucketState tokens;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  // The subject's limits when it has any (and the database to ask), read under the lock.
  std::optional<SharedBuckets::Limits> SharedLimitsOf(std::string_view subject) const;
  Decision Refusal(std::string_view subject, bool requests_ok,
                   std::chrono::milliseconds retry_after) const;

  const Clock& clock_;
  SharedBuckets* shared_ = nullptr;
  std::string shared_prefix_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Limits, Hash, std::equal_to<>> subjects_;
};

}  // namespace wick::provider
